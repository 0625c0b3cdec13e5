#include "cache/der.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Four length bytes reach 4 GiB: more than any module answer is allowed. */
#define LENGTH_BYTES_MAX 4

struct hsm_der hsm_der_reader(const unsigned char *p, size_t len)
{
    struct hsm_der d = {p, p + len};

    return d;
}

size_t hsm_der_left(const struct hsm_der *d)
{
    return (size_t)(d->end - d->p);
}

bool hsm_der_peek(const struct hsm_der *d, unsigned char tag)
{
    return d->p < d->end && d->p[0] == tag;
}

/* The header at |d|: tag, and where the contents start and end. */
static bool header(const struct hsm_der *d, unsigned char *tag, const unsigned char **start,
                   size_t *len)
{
    const unsigned char *p = d->p;
    size_t left = hsm_der_left(d), l, nbytes;

    /* Tags of more than one byte (low bits 11111) appear in none of the
     * structures read here. */
    if (left < 2 || (p[0] & 0x1f) == 0x1f)
        return false;
    l = p[1];
    p += 2;
    left -= 2;
    if (l & 0x80) {
        nbytes = l & 0x7f;
        /* 0x80 is BER's indefinite length; a leading zero byte, or a long
         * form for a length under 128, is not the minimal encoding. */
        if (nbytes == 0 || nbytes > LENGTH_BYTES_MAX || nbytes > left || p[0] == 0)
            return false;
        for (l = 0; nbytes > 0; nbytes--, left--)
            l = (l << 8) | *p++;
        if (l < 0x80)
            return false;
    }
    if (l > left)
        return false;
    *tag = d->p[0];
    *start = p;
    *len = l;
    return true;
}

bool hsm_der_read_any(struct hsm_der *d, unsigned char *tag, struct hsm_der *content)
{
    const unsigned char *start;
    size_t len;

    if (!header(d, tag, &start, &len))
        return false;
    if (content != NULL)
        *content = hsm_der_reader(start, len);
    d->p = start + len;
    return true;
}

bool hsm_der_read(struct hsm_der *d, unsigned char tag, struct hsm_der *content)
{
    unsigned char got;
    const unsigned char *start;
    size_t len;

    if (!header(d, &got, &start, &len) || got != tag)
        return false;
    if (content != NULL)
        *content = hsm_der_reader(start, len);
    d->p = start + len;
    return true;
}

bool hsm_der_read_element(struct hsm_der *d, unsigned char tag, const unsigned char **start,
                          size_t *len)
{
    const unsigned char *begin = d->p;

    if (!hsm_der_read(d, tag, NULL))
        return false;
    *start = begin;
    *len = (size_t)(d->p - begin);
    return true;
}

size_t hsm_der_header_size(size_t len)
{
    size_t n = 2;

    if (len >= 0x80)
        for (; len > 0; len >>= 8)
            n++;
    return n;
}

void hsm_der_put_raw(struct hsm_der_out *o, const void *bytes, size_t len)
{
    unsigned char *more;

    if (o->failed || len == 0)
        return;
    if (len > SIZE_MAX - o->len || (more = realloc(o->p, o->len + len)) == NULL) {
        o->failed = true;
        return;
    }
    memcpy(more + o->len, bytes, len);
    o->p = more;
    o->len += len;
}

void hsm_der_put_header(struct hsm_der_out *o, unsigned char tag, size_t len)
{
    unsigned char h[2 + sizeof(size_t)];
    size_t n = hsm_der_header_size(len);

    /* What the reader would refuse is never written. */
    if ((tag & 0x1f) == 0x1f || n - 2 > LENGTH_BYTES_MAX) {
        o->failed = true;
        return;
    }
    h[0] = tag;
    if (n == 2) {
        h[1] = (unsigned char)len;
    } else {
        h[1] = (unsigned char)(0x80 | (n - 2));
        for (size_t i = n - 1; i >= 2; i--, len >>= 8)
            h[i] = (unsigned char)len;
    }
    hsm_der_put_raw(o, h, n);
}

void hsm_der_put(struct hsm_der_out *o, unsigned char tag, const void *contents, size_t len)
{
    hsm_der_put_header(o, tag, len);
    hsm_der_put_raw(o, contents, len);
}

void hsm_der_put_out(struct hsm_der_out *o, unsigned char tag, struct hsm_der_out *inner)
{
    if (inner->failed)
        o->failed = true;
    else
        hsm_der_put(o, tag, inner->p, inner->len);
    hsm_der_out_free(inner);
}

void hsm_der_put_uint(struct hsm_der_out *o, const unsigned char *be, size_t len)
{
    static const unsigned char zero = 0;
    bool pad;

    while (len > 0 && be[0] == 0) {
        be++;
        len--;
    }
    if (len == 0) {
        hsm_der_put(o, 0x02, &zero, 1);
        return;
    }
    pad = (be[0] & 0x80) != 0;
    hsm_der_put_header(o, 0x02, len + (pad ? 1 : 0));
    if (pad)
        hsm_der_put_raw(o, &zero, 1);
    hsm_der_put_raw(o, be, len);
}

bool hsm_der_out_take(struct hsm_der_out *o, unsigned char **der, size_t *len)
{
    if (o->failed || o->len == 0) {
        hsm_der_out_free(o);
        return false;
    }
    *der = o->p;
    *len = o->len;
    o->p = NULL;
    o->len = 0;
    return true;
}

void hsm_der_out_free(struct hsm_der_out *o)
{
    free(o->p);
    o->p = NULL;
    o->len = 0;
    o->failed = false;
}
