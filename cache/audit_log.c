#include "cache/audit_log.h"

#include "cache/audit_chain.h"
#include "cache/audit_json.h"
#include "cache/audit_record.h"
#include "cache/debug_log.h"
#include "cache/provider_property.h"
#include "uri/uri.h"

#include <ctype.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hsm_audit_log {
    char *path;
    struct hsm_uri **keys; /* none: every key */
    size_t n_keys;
    bool continue_on_failure;
};

static const char *const op_names[] = {
    [HSM_AUDIT_SIGN] = "sign",         [HSM_AUDIT_PROVE_POSSESSION] = "prove-possession",
    [HSM_AUDIT_DECRYPT] = "decrypt",   [HSM_AUDIT_DERIVE] = "derive",
    [HSM_AUDIT_GENERATE] = "generate", [HSM_AUDIT_LOAD] = "load",
};

/* What the caller withholds when the record cannot be written. */
static const char *const withheld[] = {
    [HSM_AUDIT_SIGN] = "the signature was not returned",
    [HSM_AUDIT_PROVE_POSSESSION] = "the key was not loaded",
    [HSM_AUDIT_DECRYPT] = "the decrypted data was not returned",
    [HSM_AUDIT_DERIVE] = "the shared secret was not returned",
    [HSM_AUDIT_GENERATE] = "the new key was not handed out",
    [HSM_AUDIT_LOAD] = "the refusal stands",
};

static bool known_op(enum hsm_audit_op op)
{
    return op >= HSM_AUDIT_SIGN && op <= HSM_AUDIT_LOAD;
}

void hsm_audit_log_free(struct hsm_audit_log *log)
{
    if (log == NULL)
        return;
    for (size_t i = 0; i < log->n_keys; i++)
        hsm_uri_free(log->keys[i]);
    free(log->keys);
    free(log->path);
    free(log);
}

const char *hsm_audit_log_path(const struct hsm_audit_log *log)
{
    return log != NULL ? log->path : NULL;
}

/* One entry of audit-log-keys; |text| is trimmed and NUL-terminated. */
static bool add_key_filter(struct hsm_audit_log *log, const char *text)
{
    struct hsm_uri *uri, **p;

    if (strncmp(text, "pkcs11:", 7) != 0) {
        hsm_error(HSM_R_CONFIG, "audit-log-keys: \"%s\" is not a pkcs11: URI", text);
        return false;
    }
    if ((uri = hsm_uri_parse(text)) == NULL)
        return false;
    if (hsm_uri_pin_value(uri) != NULL || hsm_uri_pin_source(uri) != NULL) {
        hsm_error(HSM_R_CONFIG, "audit-log-keys: %s names a PIN; these URIs only name keys",
                  uri->redacted);
        hsm_uri_free(uri);
        return false;
    }
    if ((p = realloc(log->keys, (log->n_keys + 1) * sizeof(*p))) == NULL) {
        hsm_uri_free(uri);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return false;
    }
    log->keys = p;
    log->keys[log->n_keys++] = uri;
    return true;
}

/* URIs may hold commas in their values: entries are split only at a comma
 * that a "pkcs11:" follows (after white space). */
static bool parse_key_filters(struct hsm_audit_log *log, const char *keys)
{
    char *copy = strdup(keys), *at;
    bool ok = true;

    if (copy == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return false;
    }
    at = copy;
    while (ok && *at != '\0') {
        char *end = at, *next = NULL;

        while (isspace((unsigned char)*at))
            at++;
        for (end = at; *end != '\0'; end++) {
            char *after = end + 1;

            while (*end == ',' && isspace((unsigned char)*after))
                after++;
            if (*end == ',' && strncmp(after, "pkcs11:", 7) == 0) {
                next = after;
                break;
            }
        }
        while (end > at && isspace((unsigned char)end[-1]))
            end--;
        *end = '\0';
        ok = add_key_filter(log, at);
        if (next == NULL)
            break;
        at = next;
    }
    free(copy);
    return ok;
}

bool hsm_audit_log_configure(const char *path, const char *keys, const char *on_failure,
                             struct hsm_audit_log **out)
{
    struct hsm_audit_log *log;

    *out = NULL;
    if (path[0] != '/') {
        hsm_error(HSM_R_CONFIG,
                  "audit-log = %s: give an absolute path (a server may change its working "
                  "directory)",
                  path);
        return false;
    }
    if ((log = calloc(1, sizeof(*log))) == NULL || (log->path = strdup(path)) == NULL) {
        free(log);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return false;
    }
    if (strcmp(on_failure, "continue") == 0) {
        log->continue_on_failure = true;
    } else if (strcmp(on_failure, "fail") != 0) {
        hsm_error(HSM_R_CONFIG, "audit-log-on-failure = \"%s\": use fail or continue", on_failure);
        hsm_audit_log_free(log);
        return false;
    }
    if (keys != NULL && keys[0] != '\0' && !parse_key_filters(log, keys)) {
        hsm_audit_log_free(log);
        return false;
    }
    *out = log;
    return true;
}

bool hsm_audit_uri_names(const struct hsm_uri *filter, const char *key_uri)
{
    P11KitUri *key = p11_kit_uri_new();
    CK_ATTRIBUTE *attrs;
    CK_ULONG n = 0;
    bool match;

    if (key == NULL || p11_kit_uri_parse(key_uri, P11_KIT_URI_FOR_ANY, key) != P11_KIT_URI_OK) {
        p11_kit_uri_free(key);
        return false;
    }
    attrs = p11_kit_uri_get_attributes(key, &n);
    match = p11_kit_uri_match_token_info(filter->p11, p11_kit_uri_get_token_info(key)) &&
            p11_kit_uri_match_attributes(filter->p11, attrs, n);
    p11_kit_uri_free(key);
    return match;
}

static bool wanted(const struct hsm_audit_log *log, const struct hsm_key *key)
{
    if (key == NULL || log->n_keys == 0)
        return true; /* a refusal before a key is known is always recorded */
    if (key->uri == NULL)
        return false;
    for (size_t i = 0; i < log->n_keys; i++)
        if (hsm_audit_uri_names(log->keys[i], key->uri))
            return true;
    return false;
}

static const char *reason_text(int reason)
{
    for (size_t i = 0; hsm_reason_strings[i].ptr != NULL; i++)
        if ((int)hsm_reason_strings[i].id == reason)
            return hsm_reason_strings[i].ptr;
    return NULL;
}

static void add_sha256(struct hsm_json *j, const char *name, const unsigned char *data, size_t len)
{
    unsigned char md[32];

    if (EVP_Q_digest(NULL, "SHA256", HSM_SOFTWARE_PROPQ, data, len, md, NULL))
        hsm_json_hex(j, name, md, sizeof(md));
    else
        j->failed = true;
}

static void add_token(struct hsm_json *j, const struct hsm_token_identity *t)
{
    if (t->label[0] != '\0')
        hsm_json_string(j, "token_label", t->label);
    if (t->serial[0] != '\0')
        hsm_json_string(j, "token_serial", t->serial);
    if (t->model[0] != '\0')
        hsm_json_string(j, "token_model", t->model);
    if (t->manufacturer[0] != '\0')
        hsm_json_string(j, "token_manufacturer", t->manufacturer);
}

static void build(struct hsm_json *j, const struct hsm_audit_event *ev, int reason,
                  const char *detail)
{
    const struct hsm_key *key = ev->key;
    const char *reason_name = reason != 0 ? reason_text(reason) : NULL;

    hsm_json_string(j, "type", "operation");
    hsm_audit_process_facts(j);
    hsm_json_string(j, "operation", op_names[ev->op]);
    if (key != NULL && key->uri != NULL)
        hsm_json_string(j, "key", key->uri);
    if (key != NULL && key->fingerprint[0] != '\0')
        hsm_json_string(j, "key_sha256", key->fingerprint);
    if (key == NULL && ev->uri != NULL)
        hsm_json_string(j, "uri", ev->uri);
    if (key != NULL)
        add_token(j, &key->token_id);
    else if (ev->token != NULL)
        add_token(j, ev->token);
    if (ev->mechanism != NULL) {
        char name[32];

        hsm_json_string(j, "mechanism", hsm_ckm_name(*ev->mechanism, name));
    }
    if (ev->digest != NULL)
        hsm_json_string(j, "digest", ev->digest);
    if (ev->data != NULL) {
        add_sha256(j, "data_sha256", ev->data, ev->data_len);
        hsm_json_uint(j, "data_len", ev->data_len);
    }
    if (ev->signature != NULL)
        add_sha256(j, "signature_sha256", ev->signature, ev->signature_len);
    hsm_json_string(j, "result", ev->ok ? "ok" : "refused");
    if (!ev->ok && reason_name != NULL)
        hsm_json_string(j, "reason", reason_name);
    if (!ev->ok && detail != NULL && detail[0] != '\0')
        hsm_json_string(j, "detail", detail);
}

static const char *subject(const struct hsm_audit_event *ev)
{
    return ev->key != NULL && ev->key->uri != NULL ? ev->key->uri
           : ev->uri != NULL                       ? ev->uri
                                                   : "a token key";
}

bool hsm_audit_operation(const struct hsm_audit_log *log, const struct hsm_audit_event *ev)
{
    static int warned;
    struct hsm_json j = {0};
    int reason = ev->reason;
    char detail[1024] = "";
    bool ok;

    if (log == NULL || !known_op(ev->op) || !wanted(log, ev->key))
        return log == NULL || known_op(ev->op);
    /* Taken first: writing the record may raise errors of its own. */
    if (!ev->ok && reason == 0) {
        reason = hsm_error_last_reason();
        snprintf(detail, sizeof(detail), "%s", hsm_error_last_detail());
    } else if (!ev->ok && ev->detail != NULL) {
        snprintf(detail, sizeof(detail), "%s", ev->detail);
    }
    build(&j, ev, reason, detail);
    if (log->continue_on_failure)
        ERR_set_mark();
    if (j.failed) {
        hsm_error(HSM_R_AUDIT_LOG, "audit log %s: out of memory while making a record", log->path);
        ok = false;
    } else {
        ok = hsm_audit_append(log->path, j.buf, j.len, NULL);
    }
    hsm_json_free(&j);
    if (ok) {
        if (log->continue_on_failure)
            ERR_clear_last_mark();
        return true;
    }
    if (log->continue_on_failure) {
        const char *why = hsm_error_last_detail();

        /* The caller succeeds: no error may stay in its queue (libssl reads
         * the queue after a handshake step). */
        ERR_pop_to_mark();
        hsm_debug(1,
                  "audit record of %s %s not written (%s); going on as "
                  "audit-log-on-failure = continue says",
                  op_names[ev->op], subject(ev), why);
        if (__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED) == 0)
            fprintf(stderr,
                    "hsm: %s; key uses are not being recorded (audit-log-on-failure = "
                    "continue)\n",
                    why);
        return true;
    }
    hsm_error(HSM_R_AUDIT_LOG,
              "%s of %s: %s because its audit record could not be written to %s; nothing may "
              "be done unrecorded (audit-log-on-failure = continue would allow it)",
              op_names[ev->op], subject(ev), withheld[ev->op], log->path);
    return false;
}

bool hsm_audit_note(const char *path, const char *text, struct hsm_audit_link *link)
{
    struct hsm_json j = {0};
    bool ok;

    hsm_json_string(&j, "type", "note");
    hsm_audit_process_facts(&j);
    hsm_json_string(&j, "text", text);
    if (j.failed) {
        hsm_json_free(&j);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return false;
    }
    ok = hsm_audit_append(path, j.buf, j.len, link);
    hsm_json_free(&j);
    return ok;
}
