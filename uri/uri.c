#include "uri/uri.h"

#include "cache/error.h"

#include <stdlib.h>
#include <string.h>

/* RFC 7512 path and query attributes that p11-kit 0.24 parses. */
static const char *const known_path[] = {
    "token",
    "manufacturer",
    "serial",
    "model",
    "library-manufacturer",
    "library-description",
    "library-version",
    "object",
    "type",
    "id",
    "slot-description",
    "slot-manufacturer",
    "slot-id",
    NULL,
};
static const char *const known_query[] = {
    "pin-value", "pin-source", "module-name", "module-path", NULL,
};

static bool in_list(const char *const *list, const char *name, size_t len)
{
    for (; *list != NULL; list++)
        if (strlen(*list) == len && strncmp(*list, name, len) == 0)
            return true;
    return false;
}

/* Walks "a=1;b=2" (or "&"-separated) and checks every name against |list|. */
static bool find_unknown_in(const char *start, const char *end, char sep, const char *const *list,
                            char *buf, size_t buflen)
{
    const char *p = start;

    while (p < end) {
        const char *next = memchr(p, sep, (size_t)(end - p));
        const char *stop = next != NULL ? next : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        size_t len = (size_t)((eq != NULL ? eq : stop) - p);

        if (stop > p && !in_list(list, p, len)) {
            size_t n = len < buflen - 1 ? len : buflen - 1;
            memcpy(buf, p, n);
            buf[n] = '\0';
            return true;
        }
        p = stop + 1;
    }
    return false;
}

/*
 * Repeated attributes and NUL bytes in text attributes: p11-kit keeps the
 * last of a repeated attribute and reads a text value that starts with %00
 * as "not given", so either would widen or silently change a match. Both
 * are refused; |buf| names the attribute. An id is binary: %00 is a byte.
 */
static bool find_repeat_or_nul_in(const char *start, const char *end, char sep, char *buf,
                                  size_t buflen, bool *nul)
{
    for (const char *p = start; p < end;) {
        const char *next = memchr(p, sep, (size_t)(end - p));
        const char *stop = next != NULL ? next : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        size_t len = (size_t)((eq != NULL ? eq : stop) - p);

        /* A CKA_ID is binary and may hold any byte; text attributes may not. */
        bool binary = len == 2 && strncmp(p, "id", 2) == 0;

        for (const char *v = eq != NULL ? eq + 1 : stop; !binary && v + 2 < stop; v++) {
            if (v[0] == '%' && v[1] == '0' && v[2] == '0') {
                *nul = true;
                goto name;
            }
        }
        for (const char *q = stop + 1; len > 0 && q < end;) {
            const char *qnext = memchr(q, sep, (size_t)(end - q));
            const char *qstop = qnext != NULL ? qnext : end;
            const char *qeq = memchr(q, '=', (size_t)(qstop - q));
            size_t qlen = (size_t)((qeq != NULL ? qeq : qstop) - q);

            if (qlen == len && strncmp(p, q, len) == 0) {
                *nul = false;
                goto name;
            }
            q = qstop + 1;
        }
        p = stop + 1;
        continue;
    name:
        len = len < buflen - 1 ? len : buflen - 1;
        memcpy(buf, p, len);
        buf[len] = '\0';
        return true;
    }
    return false;
}

bool hsm_uri_find_repeat_or_nul(const char *text, char *buf, size_t buflen, bool *nul)
{
    const char *path = text + strlen("pkcs11:");
    const char *query = strchr(path, '?');
    const char *path_end = query != NULL ? query : path + strlen(path);

    if (buflen == 0)
        return false;
    if (find_repeat_or_nul_in(path, path_end, ';', buf, buflen, nul))
        return true;
    return query != NULL &&
           find_repeat_or_nul_in(query + 1, query + 1 + strlen(query + 1), '&', buf, buflen, nul);
}

bool hsm_uri_find_unknown_attribute(const char *text, char *buf, size_t buflen)
{
    const char *path = text + strlen("pkcs11:");
    const char *query = strchr(path, '?');
    const char *path_end = query != NULL ? query : path + strlen(path);

    if (buflen == 0)
        return false;
    if (find_unknown_in(path, path_end, ';', known_path, buf, buflen))
        return true;
    return query != NULL &&
           find_unknown_in(query + 1, query + 1 + strlen(query + 1), '&', known_query, buf, buflen);
}

char *hsm_uri_redact(const char *text)
{
    char *out = strdup(text);
    char *q, *src, *dst;

    if (out == NULL || (q = strchr(out, '?')) == NULL)
        return out;
    /* Every pin-value=... component of the query goes, the rest is kept:
     * one pass, so that a query of a million components costs no more
     * than reading it. */
    src = dst = q + 1;
    while (*src != '\0') {
        char *amp = strchr(src, '&');
        size_t name_len = amp != NULL ? (size_t)(amp - src) : strlen(src);
        size_t len = name_len + (amp != NULL ? 1 : 0);
        bool pin = strncmp(src, "pin-value=", 10) == 0 ||
                   (name_len == 9 && strncmp(src, "pin-value", 9) == 0);

        if (!pin) {
            memmove(dst, src, len);
            dst += len;
        }
        src += len;
    }
    *dst = '\0';
    /* Tidy a trailing '&' or an empty query. */
    while (dst > out && (dst[-1] == '&' || dst[-1] == '?'))
        *--dst = '\0';
    return out;
}

struct hsm_uri *hsm_uri_parse(const char *text)
{
    struct hsm_uri *uri;
    char unknown[64];
    char *redacted;
    int rc;

    if (text == NULL || strncasecmp(text, "pkcs11:", 7) != 0) {
        hsm_error(HSM_R_URI_MALFORMED, "a pkcs11: URI must start with \"pkcs11:\"");
        return NULL;
    }
    redacted = hsm_uri_redact(text);
    if (redacted == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return NULL;
    }
    if (hsm_uri_find_unknown_attribute(text, unknown, sizeof(unknown))) {
        /* The URI itself is not shown: a misspelt pin-value would carry
         * the PIN into the message. */
        hsm_error(HSM_R_URI_UNKNOWN_ATTRIBUTE,
                  "attribute \"%s\" is not a pkcs11: URI attribute (RFC 7512); check its "
                  "spelling",
                  unknown);
        free(redacted);
        return NULL;
    }
    bool nul = false;
    if (hsm_uri_find_repeat_or_nul(text, unknown, sizeof(unknown), &nul)) {
        hsm_error(HSM_R_URI_MALFORMED,
                  nul ? "attribute \"%s\" holds a NUL byte (%%00), which tokens cannot match"
                      : "attribute \"%s\" is given more than once; give each attribute once",
                  unknown);
        free(redacted);
        return NULL;
    }
    uri = calloc(1, sizeof(*uri));
    if (uri == NULL || (uri->p11 = p11_kit_uri_new()) == NULL) {
        free(uri);
        free(redacted);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return NULL;
    }
    uri->redacted = redacted;
    rc = p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, uri->p11);
    if (rc != P11_KIT_URI_OK) {
        hsm_error(HSM_R_URI_MALFORMED, "%s: %s", redacted, p11_kit_uri_message(rc));
        hsm_uri_free(uri);
        return NULL;
    }
    if (p11_kit_uri_any_unrecognized(uri->p11)) {
        hsm_error(HSM_R_URI_UNKNOWN_ATTRIBUTE, "%s has a value that p11-kit does not understand",
                  redacted);
        hsm_uri_free(uri);
        return NULL;
    }
    /*
     * p11-kit names a module after its registration file (softhsm2 for
     * softhsm2.module), a name that neither a module loaded by path nor
     * p11-kit's proxy, which merges every registered module's slots, can be
     * compared with: ignoring it would widen the match, and honouring it
     * would mean loading a library a URI names. Refused, with what to use.
     */
    if (p11_kit_uri_get_module_name(uri->p11) != NULL) {
        hsm_error(HSM_R_MODULE_NOT_ALLOWED,
                  "%s names a module by module-name, which this provider cannot match: it uses "
                  "one module (pkcs11-module-path in the configuration, or p11-kit's proxy); "
                  "remove module-name and tell tokens apart by token=, serial= or slot-id=",
                  redacted);
        hsm_uri_free(uri);
        return NULL;
    }

    CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(uri->p11, CKA_CLASS);
    if (a != NULL && a->ulValueLen == sizeof(CK_OBJECT_CLASS)) {
        uri->has_class = true;
        memcpy(&uri->klass, a->pValue, sizeof(CK_OBJECT_CLASS));
    }
    uri->has_id = p11_kit_uri_get_attribute(uri->p11, CKA_ID) != NULL;
    uri->has_label = p11_kit_uri_get_attribute(uri->p11, CKA_LABEL) != NULL;
    return uri;
}

void hsm_uri_free(struct hsm_uri *uri)
{
    if (uri == NULL)
        return;
    if (uri->p11 != NULL)
        p11_kit_uri_free(uri->p11);
    free(uri->redacted);
    free(uri);
}

bool hsm_uri_names_object(const struct hsm_uri *uri)
{
    return uri->has_class || uri->has_id || uri->has_label;
}

size_t hsm_uri_object_template(const struct hsm_uri *uri, const CK_OBJECT_CLASS *force_class,
                               CK_ATTRIBUTE tmpl[3])
{
    static const CK_ATTRIBUTE_TYPE types[] = {CKA_ID, CKA_LABEL};
    size_t n = 0;

    if (force_class != NULL) {
        tmpl[n].type = CKA_CLASS;
        tmpl[n].pValue = (void *)force_class;
        tmpl[n].ulValueLen = sizeof(*force_class);
        n++;
    } else if (uri->has_class) {
        tmpl[n].type = CKA_CLASS;
        tmpl[n].pValue = (void *)&uri->klass;
        tmpl[n].ulValueLen = sizeof(uri->klass);
        n++;
    }
    for (size_t i = 0; i < 2; i++) {
        CK_ATTRIBUTE *a = p11_kit_uri_get_attribute(uri->p11, types[i]);
        if (a != NULL)
            tmpl[n++] = *a;
    }
    return n;
}

bool hsm_uri_match_module(const struct hsm_uri *uri, CK_INFO *info)
{
    return p11_kit_uri_match_module_info(uri->p11, info) != 0;
}

bool hsm_uri_match_slot(const struct hsm_uri *uri, CK_SLOT_ID id, CK_SLOT_INFO *info)
{
    CK_SLOT_ID want = p11_kit_uri_get_slot_id(uri->p11);

    if (want != (CK_SLOT_ID)-1 && want != id)
        return false;
    return p11_kit_uri_match_slot_info(uri->p11, info) != 0;
}

bool hsm_uri_match_token(const struct hsm_uri *uri, CK_TOKEN_INFO *info)
{
    return p11_kit_uri_match_token_info(uri->p11, info) != 0;
}

const char *hsm_uri_pin_value(const struct hsm_uri *uri)
{
    return p11_kit_uri_get_pin_value(uri->p11);
}

const char *hsm_uri_pin_source(const struct hsm_uri *uri)
{
    return p11_kit_uri_get_pin_source(uri->p11);
}

const char *hsm_uri_module_path(const struct hsm_uri *uri)
{
    return p11_kit_uri_get_module_path(uri->p11);
}
