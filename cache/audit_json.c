#include "cache/audit_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at |s| (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (n < len)
        return 0;
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

void hsm_json_free(struct hsm_json *j)
{
    free(j->buf);
    memset(j, 0, sizeof(*j));
}

void hsm_json_raw(struct hsm_json *j, const char *text, size_t len)
{
    if (j->failed)
        return;
    if (j->len + len + 1 > j->cap) {
        size_t cap = j->cap == 0 ? 512 : j->cap;
        char *p;

        while (cap < j->len + len + 1)
            cap *= 2;
        if ((p = realloc(j->buf, cap)) == NULL) {
            j->failed = true;
            return;
        }
        j->buf = p;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, text, len);
    j->len += len;
    j->buf[j->len] = '\0';
}

static void add_text(struct hsm_json *j, const char *text)
{
    hsm_json_raw(j, text, strlen(text));
}

static void add_name(struct hsm_json *j, const char *name)
{
    if (j->len > 0 && j->buf[j->len - 1] != '{')
        add_text(j, ",");
    add_text(j, "\"");
    add_text(j, name);
    add_text(j, "\":");
}

static void add_quoted(struct hsm_json *j, const char *value, size_t len)
{
    const unsigned char *s = (const unsigned char *)value;
    size_t i = 0, run = 0;

    add_text(j, "\"");
    while (i < len) {
        size_t n = utf8_len(s + i, len - i);
        char esc[8];

        if (n > 1 || (n == 1 && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\' && s[i] != 0x7f)) {
            run += n;
            i += n;
            continue;
        }
        hsm_json_raw(j, (const char *)s + i - run, run);
        run = 0;
        if (n == 0 || s[i] == 0)
            add_text(j, "\\ufffd"); /* not UTF-8, or NUL: the replacement character */
        else if (s[i] == '"' || s[i] == '\\')
            hsm_json_raw(j, (const char[]){'\\', (char)s[i]}, 2);
        else if (s[i] == '\n')
            add_text(j, "\\n");
        else if (s[i] == '\r')
            add_text(j, "\\r");
        else if (s[i] == '\t')
            add_text(j, "\\t");
        else {
            snprintf(esc, sizeof(esc), "\\u%04x", s[i]);
            add_text(j, esc);
        }
        i++;
    }
    hsm_json_raw(j, (const char *)s + i - run, run);
    add_text(j, "\"");
}

void hsm_json_string_n(struct hsm_json *j, const char *name, const char *value, size_t len)
{
    add_name(j, name);
    add_quoted(j, value, len);
}

void hsm_json_string(struct hsm_json *j, const char *name, const char *value)
{
    hsm_json_string_n(j, name, value, strlen(value));
}

void hsm_json_uint(struct hsm_json *j, const char *name, unsigned long long value)
{
    char num[24];

    add_name(j, name);
    snprintf(num, sizeof(num), "%llu", value);
    add_text(j, num);
}

void hsm_json_strings(struct hsm_json *j, const char *name, char *const *values, size_t n)
{
    add_name(j, name);
    add_text(j, "[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            add_text(j, ",");
        add_quoted(j, values[i], strlen(values[i]));
    }
    add_text(j, "]");
}

void hsm_json_hex(struct hsm_json *j, const char *name, const unsigned char *bytes, size_t n)
{
    static const char digits[] = "0123456789abcdef";

    add_name(j, name);
    add_text(j, "\"");
    for (size_t i = 0; i < n; i++)
        hsm_json_raw(j, (const char[]){digits[bytes[i] >> 4], digits[bytes[i] & 15]}, 2);
    add_text(j, "\"");
}

/* The strict reader. */

struct reader {
    const unsigned char *s;
    size_t len, pos;
    char *why;
    size_t whylen;
};

static bool fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool fail(struct reader *r, const char *fmt, ...)
{
    char text[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    snprintf(r->why, r->whylen, "%s at byte %zu", text, r->pos + 1);
    return false;
}

static bool expect(struct reader *r, char c)
{
    if (r->pos < r->len && r->s[r->pos] == (unsigned char)c) {
        r->pos++;
        return true;
    }
    return fail(r, "expected '%c'", c);
}

static int hex4(const unsigned char *p)
{
    int v = 0;

    for (int i = 0; i < 4; i++) {
        int d = p[i] >= '0' && p[i] <= '9'   ? p[i] - '0'
                : p[i] >= 'a' && p[i] <= 'f' ? p[i] - 'a' + 10
                : p[i] >= 'A' && p[i] <= 'F' ? p[i] - 'A' + 10
                                             : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t put_utf8(unsigned char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A \uXXXX escape (with its low surrogate when it is a high one). */
static bool read_u_escape(struct reader *r, uint32_t *cp)
{
    int hi, lo;

    if (r->pos + 4 > r->len || (hi = hex4(r->s + r->pos)) < 0)
        return fail(r, "bad \\u escape");
    r->pos += 4;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return fail(r, "lone low surrogate");
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (r->pos + 6 > r->len || r->s[r->pos] != '\\' || r->s[r->pos + 1] != 'u' ||
            (lo = hex4(r->s + r->pos + 2)) < 0xdc00 || lo > 0xdfff)
            return fail(r, "high surrogate without its low half");
        r->pos += 6;
        *cp = 0x10000 + (((uint32_t)hi - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
        return true;
    }
    if (hi == 0)
        return fail(r, "\\u0000 in a string");
    *cp = (uint32_t)hi;
    return true;
}

/* A string after its opening quote; |*out| is malloc'd and decoded. */
static bool read_string(struct reader *r, char **out)
{
    /* Decoding never lengthens: the raw length bounds the result. */
    unsigned char *buf = malloc(r->len - r->pos + 1);
    size_t n = 0;

    if (buf == NULL)
        return fail(r, "out of memory");
    while (r->pos < r->len) {
        unsigned char c = r->s[r->pos];
        size_t ulen;
        uint32_t cp = 0;

        if (c == '"') {
            r->pos++;
            buf[n] = '\0';
            *out = (char *)buf;
            return true;
        }
        if (c < 0x20) {
            free(buf);
            return fail(r, "control character 0x%02x in a string", c);
        }
        if (c != '\\') {
            if ((ulen = utf8_len(r->s + r->pos, r->len - r->pos)) == 0) {
                free(buf);
                return fail(r, "invalid UTF-8");
            }
            memcpy(buf + n, r->s + r->pos, ulen);
            n += ulen;
            r->pos += ulen;
            continue;
        }
        if (++r->pos >= r->len)
            break;
        c = r->s[r->pos++];
        switch (c) {
        case '"':
        case '\\':
        case '/':
            buf[n++] = c;
            break;
        case 'b':
            buf[n++] = '\b';
            break;
        case 'f':
            buf[n++] = '\f';
            break;
        case 'n':
            buf[n++] = '\n';
            break;
        case 'r':
            buf[n++] = '\r';
            break;
        case 't':
            buf[n++] = '\t';
            break;
        case 'u':
            if (!read_u_escape(r, &cp)) {
                free(buf);
                return false;
            }
            n += put_utf8(buf + n, cp);
            break;
        default:
            r->pos--;
            free(buf);
            return fail(r, "unknown escape \\%c", c);
        }
    }
    free(buf);
    return fail(r, "unterminated string");
}

static bool read_uint(struct reader *r, unsigned long long *out)
{
    unsigned long long v = 0;
    size_t start = r->pos;

    while (r->pos < r->len && r->s[r->pos] >= '0' && r->s[r->pos] <= '9') {
        unsigned d = r->s[r->pos] - '0';

        if (v > (~0ULL - d) / 10)
            return fail(r, "integer too large");
        v = v * 10 + d;
        r->pos++;
    }
    if (r->pos == start)
        return fail(r, "expected a string, an integer or an array of strings");
    if (r->s[start] == '0' && r->pos - start > 1)
        return fail(r, "integer with a leading zero");
    *out = v;
    return true;
}

static bool read_strings(struct reader *r, struct hsm_json_member *m)
{
    size_t cap = 0;

    if (r->pos < r->len && r->s[r->pos] == ']') {
        r->pos++;
        return true;
    }
    for (;;) {
        char *item;

        if (!expect(r, '"') || !read_string(r, &item))
            return false;
        if (m->n_items == cap) {
            char **p = realloc(m->items, (cap = cap ? cap * 2 : 8) * sizeof(*p));

            if (p == NULL) {
                free(item);
                return fail(r, "out of memory");
            }
            m->items = p;
        }
        m->items[m->n_items++] = item;
        if (r->pos < r->len && r->s[r->pos] == ']') {
            r->pos++;
            return true;
        }
        if (!expect(r, ','))
            return false;
    }
}

static bool read_value(struct reader *r, struct hsm_json_member *m)
{
    if (r->pos < r->len && r->s[r->pos] == '"') {
        r->pos++;
        m->kind = HSM_JSON_STRING;
        return read_string(r, &m->text);
    }
    if (r->pos < r->len && r->s[r->pos] == '[') {
        r->pos++;
        m->kind = HSM_JSON_STRINGS;
        return read_strings(r, m);
    }
    m->kind = HSM_JSON_UINT;
    return read_uint(r, &m->u);
}

bool hsm_json_parse(const char *line, size_t len, struct hsm_json_object *out, char *why,
                    size_t whylen)
{
    struct reader r = {(const unsigned char *)line, len, 0, why, whylen};
    size_t cap = 0;

    memset(out, 0, sizeof(*out));
    if (!expect(&r, '{'))
        goto bad;
    for (;;) {
        struct hsm_json_member *m;

        if (out->n == cap) {
            struct hsm_json_member *p = realloc(out->m, (cap = cap ? cap * 2 : 32) * sizeof(*p));

            if (p == NULL) {
                fail(&r, "out of memory");
                goto bad;
            }
            out->m = p;
        }
        m = &out->m[out->n];
        memset(m, 0, sizeof(*m));
        out->n++;
        if (!expect(&r, '"') || !read_string(&r, &m->name))
            goto bad;
        if (hsm_json_find(out, m->name) != m) {
            fail(&r, "\"%s\" appears twice", m->name);
            goto bad;
        }
        if (!expect(&r, ':') || !read_value(&r, m))
            goto bad;
        if (r.pos < r.len && r.s[r.pos] == '}')
            break;
        if (!expect(&r, ','))
            goto bad;
    }
    if (++r.pos != r.len) {
        fail(&r, "text after the closing brace");
        goto bad;
    }
    return true;
bad:
    hsm_json_object_clear(out);
    return false;
}

void hsm_json_object_clear(struct hsm_json_object *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->m[i].name);
        free(o->m[i].text);
        for (size_t k = 0; k < o->m[i].n_items; k++)
            free(o->m[i].items[k]);
        free(o->m[i].items);
    }
    free(o->m);
    memset(o, 0, sizeof(*o));
}

const struct hsm_json_member *hsm_json_find(const struct hsm_json_object *o, const char *name)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->m[i].name != NULL && strcmp(o->m[i].name, name) == 0)
            return &o->m[i];
    return NULL;
}

const char *hsm_json_get(const struct hsm_json_object *o, const char *name)
{
    const struct hsm_json_member *m = hsm_json_find(o, name);

    return m != NULL && m->kind == HSM_JSON_STRING ? m->text : NULL;
}

bool hsm_json_get_uint(const struct hsm_json_object *o, const char *name, unsigned long long *out)
{
    const struct hsm_json_member *m = hsm_json_find(o, name);

    if (m == NULL || m->kind != HSM_JSON_UINT)
        return false;
    *out = m->u;
    return true;
}
