/*
 * Audit records: the JSON line format (escaping, the strict reader), the
 * masking of secrets in command lines, every field of a record, the
 * options and audit-log-keys. Each record is written to a real file in a
 * mkdtemp directory and read back with the reader hsm-audit uses.
 */
#include "tests/unit/unit.h"

#include "cache/audit_chain.h"
#include "cache/audit_json.h"
#include "cache/audit_log.h"
#include "cache/audit_record.h"
#include "cache/error.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/hsm-unit-audit-XXXXXX";
static char path[256];
static int serial;

static int setup(void)
{
    return mkdtemp(dir) == NULL;
}

static int teardown(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd);
}

/* A fresh log path for each test. */
static const char *new_log(void)
{
    snprintf(path, sizeof(path), "%s/log-%d", dir, ++serial);
    return path;
}

/* The last record of |log|, parsed (the caller clears it). */
struct last {
    char *text;
    struct hsm_json_object obj;
};

static bool keep_last(void *arg, const struct hsm_audit_line *line)
{
    struct last *l = arg;

    free(l->text);
    l->text = strndup(line->text, line->len);
    return true;
}

static void read_last(const char *log, struct last *l)
{
    struct hsm_audit_verdict v;
    char why[256];

    memset(l, 0, sizeof(*l));
    CU_ASSERT_FATAL(hsm_audit_read(log, keep_last, l, &v));
    CU_ASSERT_EQUAL(v.broken_line, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l->text);
    CU_ASSERT_FATAL(hsm_json_parse(l->text, strlen(l->text), &l->obj, why, sizeof(why)));
}

static void clear_last(struct last *l)
{
    hsm_json_object_clear(&l->obj);
    free(l->text);
}

/* JSON */

static char *round_trip(const char *value, size_t len, char **line_out)
{
    struct hsm_json j = {0};
    struct hsm_json_object o;
    char why[256], *line, *got = NULL;

    hsm_json_raw(&j, "{", 1);
    hsm_json_string_n(&j, "s", value, len);
    hsm_json_raw(&j, "}", 1);
    CU_ASSERT_FATAL(!j.failed);
    line = j.buf;
    if (hsm_json_parse(line, j.len, &o, why, sizeof(why))) {
        got = strdup(hsm_json_get(&o, "s"));
        hsm_json_object_clear(&o);
    }
    if (line_out != NULL)
        *line_out = line;
    else
        free(line);
    return got;
}

static void json_escapes_what_it_must(void)
{
    static const char tricky[] = "a\"b\\c\nd\re\tf\x01g\x1fh\x7fi/j\xc3\xa9k\xe2\x82\xac"
                                 "l\xf0\x9f\x94\x91m";
    char *line, *got = round_trip(tricky, strlen(tricky), &line);

    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got, tricky);
    /* What is written: escapes for quote, backslash and controls; UTF-8 as is. */
    UNIT_ASSERT_CONTAINS(line, "a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh\\u007fi/j\xc3\xa9k");
    for (const char *p = line; *p != '\0'; p++)
        CU_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
    free(line);
    free(got);
}

static void json_replaces_bytes_that_are_not_utf8(void)
{
    /* A lone continuation byte, an overlong '/', a surrogate, a cut-off
     * sequence, a NUL inside a counted value. */
    static const char bad[] = "x\x80y\xc0\xafz\xed\xa0\x80w\xe2\x82";
    static const char want[] = "x\xef\xbf\xbdy\xef\xbf\xbd\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd"
                               "\xef\xbf\xbdw\xef\xbf\xbd\xef\xbf\xbd";
    char *got = round_trip(bad, sizeof(bad) - 1, NULL);
    char *nul = round_trip("a\0b", 3, NULL);

    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got, want);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nul);
    CU_ASSERT_STRING_EQUAL(nul, "a\xef\xbf\xbd"
                                "b");
    free(got);
    free(nul);
}

static void json_reader_is_strict(void)
{
    static const char *const refused[] = {
        "{\"a\": 1}",
        "{ \"a\":1}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":01}",
        "{\"a\":-1}",
        "{\"a\":1.5}",
        "{\"a\":1}x",
        "{\"a\":1}\n",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":\"\\u0000\"}",
        "{\"a\":\"\x01\"}",
        "{\"a\":\"\xff\"}",
        "{\"a\":true}",
        "{\"a\":null}",
        "{\"a\":{}}",
        "{\"a\":[1]}",
        "{\"a\":\"x}",
        "{}",
        "[]",
        "",
        "{\"a\":99999999999999999999}",
        "{\"a\":\"\\q\"}",
    };
    static const char ok[] =
        "{\"a\":18446744073709551615,\"b\":\"\\ud83d\\udd11\\/\",\"c\":[],\"d\":[\"x\",\"\"]}";
    struct hsm_json_object o;
    unsigned long long u;
    char why[256];

    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        bool parsed = hsm_json_parse(refused[i], strlen(refused[i]), &o, why, sizeof(why));

        CU_ASSERT_FALSE(parsed);
        if (parsed) {
            fprintf(stderr, "accepted: %s\n", refused[i]);
            hsm_json_object_clear(&o);
        }
    }
    CU_ASSERT_FATAL(hsm_json_parse(ok, strlen(ok), &o, why, sizeof(why)));
    CU_ASSERT(hsm_json_get_uint(&o, "a", &u) && u == 18446744073709551615ULL);
    CU_ASSERT_STRING_EQUAL(hsm_json_get(&o, "b"), "\xf0\x9f\x94\x91/");
    CU_ASSERT_EQUAL(hsm_json_find(&o, "c")->n_items, 0);
    CU_ASSERT_EQUAL(hsm_json_find(&o, "d")->n_items, 2);
    CU_ASSERT_STRING_EQUAL(hsm_json_find(&o, "d")->items[1], "");
    hsm_json_object_clear(&o);
}

/* Masking */

static void expect_masked(const char *prev, const char *arg, const char *want)
{
    char *got = hsm_audit_mask_argument(prev, arg);

    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_assertImplementation(strcmp(got, want) == 0, __LINE__,
                            unit_msg("masked to \"%s\", want \"%s\"", got, want), __FILE__, "",
                            CU_FALSE);
    free(got);
}

static void secrets_in_arguments_are_masked(void)
{
    expect_masked("-passin", "pass:s3cret", "****");
    expect_masked("-passout", "file:/etc/pw", "****");
    expect_masked("-pass", "env:PW", "****");
    expect_masked("--password", "hunter2", "****");
    expect_masked("-pin", "1234", "****");
    expect_masked("--pin", "1234", "****");
    expect_masked(NULL, "pass:s3cret", "pass:****");
    expect_masked("-in", "pass:s3cret", "pass:****");
    expect_masked(NULL, "--passin=pass:s3cret", "--passin=****");
    expect_masked(NULL, "-password=x", "-password=****");
    expect_masked(NULL, "key=pass:s3cret", "key=pass:****");
    expect_masked(NULL, "pkcs11:token=ca;object=k;type=private?pin-value=1234",
                  "pkcs11:token=ca;object=k;type=private?pin-value=****");
    expect_masked(NULL, "pkcs11:token=ca?pin-value=12%3B34&module-name=x",
                  "pkcs11:token=ca?pin-value=****&module-name=x");
    expect_masked(NULL, "pkcs11:pin-value=1;token=a?pin-value=2",
                  "pkcs11:pin-value=****;token=a?pin-value=****");
    expect_masked(NULL, "pkcs11:token=ca?pin-value=", "pkcs11:token=ca?pin-value=****");
    /* Left alone: no secret in them. */
    expect_masked(NULL, "-passin", "-passin");
    expect_masked("-key", "pkcs11:token=ca;object=k", "pkcs11:token=ca;object=k");
    expect_masked(NULL, "password.txt", "password.txt");
    expect_masked(NULL, "bypass:x", "bypass:x");
    expect_masked("---passin", "x", "x");
    expect_masked("-passinx", "x", "x");
}

static void command_line_is_recorded_masked(void)
{
    static const char raw[] = "openssl\0dgst\0-sign\0pkcs11:token=ca?pin-value=9876\0-passin\0"
                              "pass:4321\0-out\0sig\0";
    struct hsm_json j = {0};
    struct hsm_json_object o;
    const struct hsm_json_member *m;
    char why[256];

    hsm_json_raw(&j, "{", 1);
    hsm_audit_cmdline(&j, raw, sizeof(raw) - 1);
    hsm_json_raw(&j, "}", 1);
    CU_ASSERT_FATAL(!j.failed);
    UNIT_ASSERT_LACKS(j.buf, "9876");
    UNIT_ASSERT_LACKS(j.buf, "4321");
    CU_ASSERT_FATAL(hsm_json_parse(j.buf, j.len, &o, why, sizeof(why)));
    m = hsm_json_find(&o, "cmdline");
    CU_ASSERT_FATAL(m != NULL && m->kind == HSM_JSON_STRINGS && m->n_items == 8);
    CU_ASSERT_STRING_EQUAL(m->items[3], "pkcs11:token=ca?pin-value=****");
    CU_ASSERT_STRING_EQUAL(m->items[4], "-passin");
    CU_ASSERT_STRING_EQUAL(m->items[5], "****");
    CU_ASSERT_STRING_EQUAL(m->items[7], "sig");
    CU_ASSERT_PTR_NULL(hsm_json_find(&o, "cmdline_omitted"));
    hsm_json_object_clear(&o);
    hsm_json_free(&j);
}

static void long_command_line_is_cut_and_counted(void)
{
    size_t arg = 1000, n = 20, len = n * (arg + 1);
    char *raw = malloc(len);
    struct hsm_json j = {0};
    struct hsm_json_object o;
    unsigned long long omitted = 0;
    char why[256];

    CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
    memset(raw, 'a', len);
    for (size_t i = 0; i < n; i++)
        raw[i * (arg + 1) + arg] = '\0';
    hsm_json_raw(&j, "{", 1);
    hsm_audit_cmdline(&j, raw, len);
    hsm_json_raw(&j, "}", 1);
    CU_ASSERT_FATAL(hsm_json_parse(j.buf, j.len, &o, why, sizeof(why)));
    CU_ASSERT_EQUAL(hsm_json_find(&o, "cmdline")->n_items, HSM_AUDIT_CMDLINE_MAX / arg);
    CU_ASSERT(hsm_json_get_uint(&o, "cmdline_omitted", &omitted));
    CU_ASSERT_EQUAL(omitted, n - HSM_AUDIT_CMDLINE_MAX / arg);
    hsm_json_object_clear(&o);
    hsm_json_free(&j);
    free(raw);
}

/* The process's own command line, as /proc/self/cmdline gives it: this
 * program runs itself again with secrets among its arguments. */
static void process_command_line_is_masked(void)
{
    const char *log = new_log();
    struct last l;
    const struct hsm_json_member *m;
    pid_t pid = fork();
    int status;

    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        execl("/proc/self/exe", "test_audit_record", "--write-note", log, "-passin",
              "pass:Zq8-PIN-7781", "pkcs11:token=ca;object=root?pin-value=Zq8-PIN-7781",
              "--pin=Zq8-PIN-7781", (char *)NULL);
        _exit(127);
    }
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    CU_ASSERT_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    read_last(log, &l);
    UNIT_ASSERT_LACKS(l.text, "Zq8-PIN");
    m = hsm_json_find(&l.obj, "cmdline");
    CU_ASSERT_FATAL(m != NULL && m->n_items == 7);
    CU_ASSERT_STRING_EQUAL(m->items[0], "test_audit_record");
    CU_ASSERT_STRING_EQUAL(m->items[2], log);
    CU_ASSERT_STRING_EQUAL(m->items[4], "****");
    CU_ASSERT_STRING_EQUAL(m->items[5], "pkcs11:token=ca;object=root?pin-value=****");
    CU_ASSERT_STRING_EQUAL(m->items[6], "--pin=****");
    CU_ASSERT_STRING_EQUAL(hsm_json_get(&l.obj, "text"), "written by a child");
    clear_last(&l);
}

/* Records */

static void sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];

    CU_ASSERT_FATAL(EVP_Q_digest(NULL, "SHA256", NULL, data, len, md, NULL));
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void fill_key(struct hsm_key *key)
{
    memset(key, 0, sizeof(*key));
    key->uri = "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=9a3f2c;"
               "token=ca%20root;id=%01;object=root;type=private";
    strcpy(key->fingerprint, "5d41402abc4b2a76b9719d911017c592aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    strcpy(key->token_id.label, "ca root");
    strcpy(key->token_id.serial, "9a3f2c");
    strcpy(key->token_id.model, "SoftHSM v2");
    strcpy(key->token_id.manufacturer, "SoftHSM project");
}

static struct hsm_audit_log *configure(const char *log, const char *keys)
{
    struct hsm_audit_log *cfg = NULL;

    CU_ASSERT_FATAL(hsm_audit_log_configure(log, keys, "fail", &cfg));
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    return cfg;
}

static void expect_member(const struct hsm_json_object *o, const char *name, const char *want)
{
    const char *got = hsm_json_get(o, name);

    CU_assertImplementation(got != NULL && strcmp(got, want) == 0, __LINE__,
                            unit_msg("member %s is not \"%.400s\"", name, want), __FILE__, "",
                            CU_FALSE);
}

static void signature_record_has_every_field(void)
{
    const char *log = new_log();
    struct hsm_audit_log *cfg = configure(log, NULL);
    static const unsigned char digest[32] = {1, 2, 3, 4, 5};
    static const unsigned char sig[71] = {0x30, 0x45, 0x02};
    CK_MECHANISM_TYPE mech = CKM_ECDSA;
    struct hsm_key key;
    struct hsm_audit_event ev = {.op = HSM_AUDIT_SIGN,
                                 .key = &key,
                                 .mechanism = &mech,
                                 .digest = "SHA2-256",
                                 .data = digest,
                                 .data_len = sizeof(digest),
                                 .signature = sig,
                                 .signature_len = sizeof(sig),
                                 .ok = true};
    char hex[65], exe[4096], host[256], num[32];
    unsigned long long u;
    struct last l;
    ssize_t n;

    fill_key(&key);
    CU_ASSERT_FATAL(hsm_audit_operation(cfg, &ev));
    read_last(log, &l);
    CU_ASSERT(hsm_json_get_uint(&l.obj, "v", &u) && u == 1);
    CU_ASSERT_STRING_EQUAL(l.obj.m[0].name, "v");
    CU_ASSERT(hsm_json_get_uint(&l.obj, "seq", &u) && u == 1);
    expect_member(&l.obj, "type", "operation");
    /* 2025-06-01T12:00:00.123456Z */
    CU_ASSERT_EQUAL(strlen(hsm_json_get(&l.obj, "time")), 27);
    CU_ASSERT_EQUAL(hsm_json_get(&l.obj, "time")[26], 'Z');
    CU_ASSERT_FATAL(gethostname(host, sizeof(host)) == 0);
    expect_member(&l.obj, "host", host);
    CU_ASSERT(hsm_json_get_uint(&l.obj, "pid", &u) && u == (unsigned long long)getpid());
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    CU_ASSERT_FATAL(n > 0);
    exe[n] = '\0';
    expect_member(&l.obj, "program", exe);
    CU_ASSERT_EQUAL(hsm_json_find(&l.obj, "cmdline")->kind, HSM_JSON_STRINGS);
    CU_ASSERT(hsm_json_get_uint(&l.obj, "uid", &u) && u == (unsigned long long)getuid());
    CU_ASSERT_PTR_NOT_NULL(hsm_json_get(&l.obj, "user"));
    expect_member(&l.obj, "operation", "sign");
    expect_member(&l.obj, "key", key.uri);
    expect_member(&l.obj, "key_sha256", key.fingerprint);
    expect_member(&l.obj, "token_label", "ca root");
    expect_member(&l.obj, "token_serial", "9a3f2c");
    expect_member(&l.obj, "token_model", "SoftHSM v2");
    expect_member(&l.obj, "token_manufacturer", "SoftHSM project");
    expect_member(&l.obj, "mechanism", "CKM_ECDSA");
    expect_member(&l.obj, "digest", "SHA2-256");
    sha256_hex(digest, sizeof(digest), hex);
    expect_member(&l.obj, "data_sha256", hex);
    CU_ASSERT(hsm_json_get_uint(&l.obj, "data_len", &u) && u == sizeof(digest));
    sha256_hex(sig, sizeof(sig), hex);
    expect_member(&l.obj, "signature_sha256", hex);
    expect_member(&l.obj, "result", "ok");
    CU_ASSERT_PTR_NULL(hsm_json_find(&l.obj, "reason"));
    CU_ASSERT_PTR_NULL(hsm_json_find(&l.obj, "detail"));
    CU_ASSERT_PTR_NULL(hsm_json_find(&l.obj, "uri"));
    CU_ASSERT_PTR_NOT_NULL(hsm_json_get(&l.obj, "prev"));
    CU_ASSERT_STRING_EQUAL(l.obj.m[l.obj.n - 1].name, "hash");
    snprintf(num, sizeof(num), "%zu", l.obj.n);
    /* v seq type time host pid program cmdline uid user operation key key_sha256, four of
     * the token, mechanism digest data_sha256 data_len signature_sha256 result prev hash */
    CU_assertImplementation(l.obj.n == 25, __LINE__, unit_msg("%s members, want %s", num, "25"),
                            __FILE__, "", CU_FALSE);
    clear_last(&l);
    hsm_audit_log_free(cfg);
}

static void refusal_without_a_key_leaves_the_rest_out(void)
{
    const char *log = new_log();
    struct hsm_audit_log *cfg = configure(log, "pkcs11:token=other");
    struct hsm_audit_event ev = {.op = HSM_AUDIT_LOAD, .uri = "pkcs11:token=ca;object=root"};
    static const char *const absent[] = {"key",          "key_sha256",      "token_label",
                                         "token_serial", "token_model",     "token_manufacturer",
                                         "mechanism",    "digest",          "data_sha256",
                                         "data_len",     "signature_sha256"};
    struct last l;

    /* The refusal's reason is the error this thread raised last. */
    hsm_error(HSM_R_PIN_INCORRECT, "token 'ca' (serial 9a3f2c): C_Login: CKR_PIN_INCORRECT");
    CU_ASSERT_FATAL(hsm_audit_operation(cfg, &ev));
    read_last(log, &l);
    expect_member(&l.obj, "operation", "load");
    expect_member(&l.obj, "uri", "pkcs11:token=ca;object=root");
    expect_member(&l.obj, "result", "refused");
    expect_member(&l.obj, "reason", "wrong PIN");
    expect_member(&l.obj, "detail", "token 'ca' (serial 9a3f2c): C_Login: CKR_PIN_INCORRECT");
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        CU_ASSERT_PTR_NULL(hsm_json_find(&l.obj, absent[i]));
    for (size_t i = 0; i < l.obj.n; i++)
        CU_ASSERT(l.obj.m[i].kind != HSM_JSON_STRING || l.obj.m[i].text[0] != '\0');
    clear_last(&l);

    /* A token chosen, a reason given by the caller. */
    struct hsm_token_identity tok = {.label = "ca", .serial = "77"};
    ev.token = &tok;
    ev.reason = HSM_R_AMBIGUOUS_OBJECT;
    ev.detail = "two keys";
    CU_ASSERT_FATAL(hsm_audit_operation(cfg, &ev));
    read_last(log, &l);
    expect_member(&l.obj, "token_label", "ca");
    expect_member(&l.obj, "token_serial", "77");
    CU_ASSERT_PTR_NULL(hsm_json_find(&l.obj, "token_model"));
    expect_member(&l.obj, "reason", "several objects match the URI");
    expect_member(&l.obj, "detail", "two keys");
    clear_last(&l);
    hsm_audit_log_free(cfg);
}

static void refusal_with_a_key_keeps_its_identity(void)
{
    const char *log = new_log();
    struct hsm_audit_log *cfg = configure(log, NULL);
    CK_MECHANISM_TYPE mech = CKM_RSA_PKCS;
    struct hsm_key key;
    struct hsm_audit_event ev = {.op = HSM_AUDIT_SIGN,
                                 .key = &key,
                                 .mechanism = &mech,
                                 .data = (const unsigned char *)"",
                                 .data_len = 0};
    char hex[65];
    struct last l;

    fill_key(&key);
    hsm_error(HSM_R_KEY_CHANGED, "%s: the token now holds another key", key.uri);
    CU_ASSERT_FATAL(hsm_audit_operation(cfg, &ev));
    read_last(log, &l);
    expect_member(&l.obj, "key", key.uri);
    expect_member(&l.obj, "reason", "key changed on token since it was loaded");
    sha256_hex("", 0, hex);
    expect_member(&l.obj, "data_sha256", hex); /* empty data is data */
    CU_ASSERT_PTR_NULL(hsm_json_find(&l.obj, "signature_sha256"));
    clear_last(&l);
    hsm_audit_log_free(cfg);
}

static bool records_key(const char *keys, const char *key_uri)
{
    const char *log = new_log();
    struct hsm_audit_log *cfg = configure(log, keys);
    struct hsm_key key;
    struct hsm_audit_event ev = {.op = HSM_AUDIT_DECRYPT, .key = &key, .ok = true};
    bool written;

    fill_key(&key);
    key.uri = (char *)key_uri;
    CU_ASSERT_FATAL(hsm_audit_operation(cfg, &ev));
    written = access(log, F_OK) == 0;
    hsm_audit_log_free(cfg);
    return written;
}

static void audit_log_keys_choose_what_is_recorded(void)
{
    const char *uri = "pkcs11:model=SoftHSM%20v2;manufacturer=SoftHSM%20project;serial=9a3f2c;"
                      "token=ca%20root;id=%01;object=root;type=private";

    CU_ASSERT(records_key(NULL, uri));
    CU_ASSERT(records_key("pkcs11:token=ca%20root", uri));
    CU_ASSERT(records_key("pkcs11:token=ca%20root;object=root;type=private", uri));
    CU_ASSERT(records_key("pkcs11:serial=9a3f2c;id=%01", uri));
    CU_ASSERT(records_key("pkcs11:token=tls, pkcs11:token=ca%20root;id=%01", uri));
    CU_ASSERT(records_key("pkcs11:object=a,b;token=x,pkcs11:object=root", uri));
    CU_ASSERT_FALSE(records_key("pkcs11:token=ca", uri));
    CU_ASSERT_FALSE(records_key("pkcs11:token=ca%20root;id=%02", uri));
    CU_ASSERT_FALSE(records_key("pkcs11:token=ca%20root;type=cert", uri));
    CU_ASSERT_FALSE(records_key("pkcs11:object=a,b;token=x", uri));
}

static void expect_config_refused(const char *log, const char *keys, const char *on_failure,
                                  const char *says)
{
    struct hsm_audit_log *cfg = (struct hsm_audit_log *)1;

    CU_ASSERT_FALSE(hsm_audit_log_configure(log, keys, on_failure, &cfg));
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_CONFIG);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), says);
}

static void bad_options_are_refused(void)
{
    struct hsm_audit_log *cfg = (struct hsm_audit_log *)1;

    /* Options set without audit-log: tests/unit/test_options.c. */
    expect_config_refused("audit.log", NULL, "fail", "absolute path");
    expect_config_refused("/var/log/a", NULL, "ignore", "use fail or continue");
    expect_config_refused("/var/log/a", "token=ca", "fail", "not a pkcs11: URI");
    expect_config_refused("/var/log/a", "pkcs11:token=ca?pin-value=1234", "fail", "names a PIN");
    UNIT_ASSERT_LACKS(hsm_error_last_detail(), "1234");
    CU_ASSERT_FALSE(hsm_audit_log_configure("/var/log/a", "pkcs11:tokn=ca", "fail", &cfg));
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_URI_UNKNOWN_ATTRIBUTE);
}

static void off_writes_nothing(void)
{
    struct hsm_audit_event ev = {.op = HSM_AUDIT_SIGN, .ok = true};

    CU_ASSERT(hsm_audit_operation(NULL, &ev));
}

int main(int argc, char **argv)
{
    /* Run by process_command_line_is_masked. */
    if (argc == 7 && strcmp(argv[1], "--write-note") == 0)
        return hsm_audit_note(argv[2], "written by a child", NULL) ? 0 : 1;

    CU_TestInfo json[] = {
        UNIT_TEST(json_escapes_what_it_must),
        UNIT_TEST(json_replaces_bytes_that_are_not_utf8),
        UNIT_TEST(json_reader_is_strict),
        CU_TEST_INFO_NULL,
    };
    CU_TestInfo masking[] = {
        UNIT_TEST(secrets_in_arguments_are_masked),
        UNIT_TEST(command_line_is_recorded_masked),
        UNIT_TEST(long_command_line_is_cut_and_counted),
        UNIT_TEST(process_command_line_is_masked),
        CU_TEST_INFO_NULL,
    };
    CU_TestInfo records[] = {
        UNIT_TEST(signature_record_has_every_field),
        UNIT_TEST(refusal_without_a_key_leaves_the_rest_out),
        UNIT_TEST(refusal_with_a_key_keeps_its_identity),
        UNIT_TEST(audit_log_keys_choose_what_is_recorded),
        UNIT_TEST(bad_options_are_refused),
        UNIT_TEST(off_writes_nothing),
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {
        {"json", NULL, NULL, NULL, NULL, json},
        {"masking", NULL, NULL, NULL, NULL, masking},
        {"records", NULL, NULL, NULL, NULL, records},
        CU_SUITE_INFO_NULL,
    };
    int rc;

    if (setup() != 0)
        return 2;
    rc = unit_run(suites);
    return teardown() != 0 ? 2 : rc;
}
