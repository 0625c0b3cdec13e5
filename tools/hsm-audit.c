/*
 * hsm-audit: checks, reads and extends the provider's audit log
 * (docs/audit-log.md). The chain, the lock and the format are the
 * provider's own code (cache/audit_*.c).
 */
#include "tools/audit_tool.h"

#include "cache/audit_log.h"
#include "cache/error.h"

#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: hsm-audit verify LOG\n"
                    "       hsm-audit verify --cert CERT-OR-CRL LOG\n"
                    "       hsm-audit show LOG [--key URI] [--since TIME] [--until TIME] "
                    "[--op OP]\n"
                    "       hsm-audit note LOG TEXT\n"
                    "TIME is UTC, as in the log: 2025-06-01, 2025-06-01T12:30, ...\n"
                    "OP is sign, prove-possession, decrypt, derive, generate, load or note\n");
    return AUDIT_EXIT_USAGE;
}

void audit_print_error(const char *what)
{
    const char *detail = hsm_error_last_detail();

    fprintf(stderr, "hsm-audit: %s%s%s\n", what, detail[0] != '\0' ? ": " : "", detail);
}

bool audit_report_verdict(FILE *out, const char *path, const struct hsm_audit_verdict *v)
{
    if (v->broken_line == 0)
        return true;
    fprintf(out, "%s: the chain is broken at %s\n", path, v->why);
    return false;
}

struct last_link {
    size_t records;
    char hash[65];
};

static bool remember_last(void *arg, const struct hsm_audit_line *line)
{
    struct last_link *last = arg;
    const char *hash = line->obj != NULL ? hsm_json_get(line->obj, "hash") : NULL;

    if (line->linked && hash != NULL) {
        snprintf(last->hash, sizeof(last->hash), "%s", hash);
        last->records = line->number - 1;
    }
    return true;
}

static int verify(const char *path)
{
    struct hsm_audit_verdict v;
    struct last_link last = {0};

    if (!hsm_audit_read(path, remember_last, &last, &v)) {
        audit_print_error("cannot read the log");
        return AUDIT_EXIT_USAGE;
    }
    if (!audit_report_verdict(stdout, path, &v))
        return AUDIT_EXIT_FAILED;
    printf("%s: the chain holds: a header and %zu records; last link seq %zu hash %s\n", path,
           last.records, last.records, last.hash);
    return AUDIT_EXIT_OK;
}

struct cert_search {
    char data[65], signature[65];
    char *found;   /* copy of the record's line */
    size_t number; /* its line */
    bool linked;
};

static bool match_cert(void *arg, const struct hsm_audit_line *line)
{
    struct cert_search *s = arg;
    const char *type, *op, *result, *data, *sig;

    if (line->obj == NULL || s->found != NULL)
        return true;
    type = hsm_json_get(line->obj, "type");
    op = hsm_json_get(line->obj, "operation");
    result = hsm_json_get(line->obj, "result");
    data = hsm_json_get(line->obj, "data_sha256");
    sig = hsm_json_get(line->obj, "signature_sha256");
    if (type == NULL || strcmp(type, "operation") != 0 || op == NULL || strcmp(op, "sign") != 0 ||
        result == NULL || strcmp(result, "ok") != 0 || data == NULL || sig == NULL ||
        strcmp(data, s->data) != 0 || strcmp(sig, s->signature) != 0)
        return true;
    s->found = strndup(line->text, line->len);
    s->number = line->number;
    s->linked = line->linked;
    return true;
}

static int verify_cert(const char *cert, const char *path)
{
    struct cert_search s = {0};
    struct hsm_audit_verdict v;
    struct hsm_json_object obj;
    char why[256];
    int rc = AUDIT_EXIT_FAILED;

    if (!audit_cert_expect(cert, s.data, s.signature))
        return AUDIT_EXIT_USAGE;
    if (!hsm_audit_read(path, match_cert, &s, &v)) {
        audit_print_error("cannot read the log");
        return AUDIT_EXIT_USAGE;
    }
    if (s.found == NULL) {
        printf("%s: no record of the signature of %s (data SHA-256 %s, signature SHA-256 %s)\n",
               path, cert, s.data, s.signature);
    } else if (hsm_json_parse(s.found, strlen(s.found), &obj, why, sizeof(why))) {
        struct hsm_audit_line line = {s.number, s.found, strlen(s.found), &obj, s.linked};
        unsigned long long seq = 0;

        /* One line a script can read: the record's link (a transcript
         * names it). */
        (void)hsm_json_get_uint(&obj, "seq", &seq);
        printf("%s: the signature of %s is record seq %llu hash %s, line %zu:\n", path, cert, seq,
               hsm_json_get(&obj, "hash"), s.number);
        audit_print_record(stdout, &line);
        hsm_json_object_clear(&obj);
        if (!s.linked)
            printf("but the chain does not hold up to it:\n");
        else
            rc = AUDIT_EXIT_OK;
    }
    (void)audit_report_verdict(stdout, path, &v);
    free(s.found);
    return rc;
}

static int note(const char *path, const char *text)
{
    struct hsm_audit_link link;

    if (!hsm_audit_note(path, text, &link)) {
        audit_print_error("the note was not recorded");
        return AUDIT_EXIT_FAILED;
    }
    printf("%s: note recorded as seq %llu hash %s\n", path, link.seq, link.hash);
    return AUDIT_EXIT_OK;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return usage();
    if (strcmp(argv[1], "verify") == 0 && argc == 3)
        return verify(argv[2]);
    if (strcmp(argv[1], "verify") == 0 && argc == 5 && strcmp(argv[2], "--cert") == 0)
        return verify_cert(argv[3], argv[4]);
    if (strcmp(argv[1], "show") == 0)
        return audit_show(argv[2], argc - 3, argv + 3);
    if (strcmp(argv[1], "note") == 0 && argc == 4)
        return note(argv[2], argv[3]);
    return usage();
}
