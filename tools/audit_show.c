/* hsm-audit show: records as a person reads them, filtered. */
#include "tools/audit_tool.h"

#include "cache/audit_log.h"
#include "uri/uri.h"

#include <stdlib.h>
#include <string.h>

/* Log text is printed as text, never as terminal control sequences. */
static void put_text(FILE *out, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
}

/* An argument as a shell would need it written. */
static void put_argument(FILE *out, const char *s)
{
    if (s[0] != '\0' && strpbrk(s, " \t'\"\\$`;&|<>()*?[]{}~#!") == NULL) {
        put_text(out, s);
        return;
    }
    fputc('\'', out);
    for (const char *p = s; *p != '\0'; p++) {
        char one[2] = {*p, '\0'};

        if (*p == '\'')
            fputs("'\\''", out);
        else
            put_text(out, one);
    }
    fputc('\'', out);
}

static const char *get_or(const struct hsm_json_object *o, const char *name, const char *dflt)
{
    const char *v = hsm_json_get(o, name);

    return v != NULL ? v : dflt;
}

void audit_print_record(FILE *out, const struct hsm_audit_line *line)
{
    static const char *const in_head[] = {"v", "seq", "type", "time", "operation", "result"};
    const struct hsm_json_object *o = line->obj;
    unsigned long long seq = 0;

    if (o == NULL) {
        fprintf(out, "line %zu: not a record\n\n", line->number);
        return;
    }
    (void)hsm_json_get_uint(o, "seq", &seq);
    fprintf(out, "seq %llu  ", seq);
    put_text(out, get_or(o, "time", "(no time)"));
    fputs("  ", out);
    put_text(out, get_or(o, "type", "?"));
    if (hsm_json_get(o, "operation") != NULL) {
        fputc(' ', out);
        put_text(out, hsm_json_get(o, "operation"));
    }
    if (hsm_json_get(o, "result") != NULL) {
        fputs(": ", out);
        put_text(out, hsm_json_get(o, "result"));
    }
    fprintf(out, "%s\n", line->linked ? "" : "  [NOT LINKED: the chain is broken before or here]");
    for (size_t i = 0; i < o->n; i++) {
        const struct hsm_json_member *m = &o->m[i];
        bool skip = false;

        for (size_t k = 0; k < sizeof(in_head) / sizeof(in_head[0]); k++)
            skip = skip || strcmp(m->name, in_head[k]) == 0;
        if (skip)
            continue;
        fputs("  ", out);
        put_text(out, m->name);
        fprintf(out, "%*s", strlen(m->name) < 19 ? (int)(20 - strlen(m->name)) : 1, "");
        if (m->kind == HSM_JSON_UINT)
            fprintf(out, "%llu", m->u);
        else if (m->kind == HSM_JSON_STRING)
            put_text(out, m->text);
        for (size_t k = 0; m->kind == HSM_JSON_STRINGS && k < m->n_items; k++) {
            if (k > 0)
                fputc(' ', out);
            put_argument(out, m->items[k]);
        }
        fputc('\n', out);
    }
    fputc('\n', out);
}

struct filter {
    struct hsm_uri *key;
    const char *since, *until, *op;
    size_t shown;
};

/* A time as the log writes it, or a leading part of one. */
static bool time_prefix(const char *t)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddddd";
    size_t n = strlen(t);

    if (n > 0 && t[n - 1] == 'Z')
        n--;
    if (n < 4 || n > sizeof(shape) - 1)
        return false;
    for (size_t i = 0; i < n; i++)
        if (shape[i] == 'd' ? !(t[i] >= '0' && t[i] <= '9') : t[i] != shape[i])
            return false;
    return true;
}

static bool wanted(const struct filter *f, const struct hsm_json_object *o)
{
    const char *type = get_or(o, "type", ""), *time = get_or(o, "time", "");
    const char *op = strcmp(type, "note") == 0 ? "note" : get_or(o, "operation", "");
    const char *key = hsm_json_get(o, "key");

    if (strcmp(type, "header") == 0)
        return f->key == NULL && f->op == NULL && f->since == NULL && f->until == NULL;
    if (f->op != NULL && strcmp(op, f->op) != 0)
        return false;
    if (f->key != NULL && (key == NULL || !hsm_audit_uri_names(f->key, key)))
        return false;
    /* A time names a moment or a whole day, hour, ...: compare that much. */
    if (f->since != NULL && strncmp(time, f->since, strcspn(f->since, "Z")) < 0)
        return false;
    if (f->until != NULL && strncmp(time, f->until, strcspn(f->until, "Z")) > 0)
        return false;
    return true;
}

static bool show_one(void *arg, const struct hsm_audit_line *line)
{
    struct filter *f = arg;

    if (line->obj != NULL && !wanted(f, line->obj))
        return true;
    if (line->obj == NULL && (f->key != NULL || f->op != NULL))
        return true;
    audit_print_record(stdout, line);
    f->shown++;
    return true;
}

int audit_show(const char *path, int argc, char **argv)
{
    static const char *const ops[] = {
        "sign", "prove-possession", "decrypt", "derive", "generate", "load", "note"};
    struct filter f = {0};
    struct hsm_audit_verdict v;
    int rc = AUDIT_EXIT_USAGE;

    for (int i = 0; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        bool known_op = false;

        if (val == NULL) {
            fprintf(stderr, "hsm-audit show: %s needs a value\n", opt);
            goto done;
        }
        if (strcmp(opt, "--key") == 0 && f.key == NULL) {
            if ((f.key = hsm_uri_parse(val)) == NULL) {
                audit_print_error("--key is not a pkcs11: URI this provider reads");
                goto done;
            }
        } else if ((strcmp(opt, "--since") == 0 && f.since == NULL) ||
                   (strcmp(opt, "--until") == 0 && f.until == NULL)) {
            if (!time_prefix(val)) {
                fprintf(stderr,
                        "hsm-audit show: %s %s: give a UTC time as the log writes it, "
                        "or its beginning (2025-06-01, 2025-06-01T12:30)\n",
                        opt, val);
                goto done;
            }
            *(opt[2] == 's' ? &f.since : &f.until) = val;
        } else if (strcmp(opt, "--op") == 0 && f.op == NULL) {
            for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
                known_op = known_op || strcmp(val, ops[k]) == 0;
            if (!known_op) {
                fprintf(stderr, "hsm-audit show: --op %s: not an operation of the log\n", val);
                goto done;
            }
            f.op = val;
        } else {
            fprintf(stderr, "hsm-audit show: unknown or repeated option %s\n", opt);
            goto done;
        }
    }
    if (!hsm_audit_read(path, show_one, &f, &v)) {
        audit_print_error("cannot read the log");
        goto done;
    }
    printf("%zu of %zu lines shown\n", f.shown, v.lines);
    rc = audit_report_verdict(stderr, path, &v) ? AUDIT_EXIT_OK : AUDIT_EXIT_FAILED;
done:
    hsm_uri_free(f.key);
    return rc;
}
