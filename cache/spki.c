#include "cache/spki.h"

#include <stdlib.h>
#include <string.h>

struct der {
    unsigned char *p;
    size_t len;
    bool failed;
};

static void put(struct der *d, const void *data, size_t len)
{
    unsigned char *more;

    if (d->failed || len == 0)
        return;
    more = realloc(d->p, d->len + len);
    if (more == NULL) {
        d->failed = true;
        return;
    }
    memcpy(more + d->len, data, len);
    d->p = more;
    d->len += len;
}

static void put_header(struct der *d, unsigned char tag, size_t len)
{
    unsigned char h[6];
    size_t n = 0;

    h[n++] = tag;
    if (len < 0x80) {
        h[n++] = (unsigned char)len;
    } else {
        size_t bytes = 0;
        for (size_t l = len; l > 0; l >>= 8)
            bytes++;
        h[n++] = (unsigned char)(0x80 | bytes);
        for (size_t i = bytes; i > 0; i--)
            h[n++] = (unsigned char)(len >> (8 * (i - 1)));
    }
    put(d, h, n);
}

static void put_tlv(struct der *d, unsigned char tag, const void *v, size_t len)
{
    put_header(d, tag, len);
    put(d, v, len);
}

/* A positive INTEGER: leading zeros dropped, one added if the top bit is set. */
static void put_uint(struct der *d, const unsigned char *v, size_t len)
{
    static const unsigned char zero = 0;

    while (len > 1 && v[0] == 0) {
        v++;
        len--;
    }
    if (len == 0) {
        put_tlv(d, 0x02, &zero, 1);
        return;
    }
    put_header(d, 0x02, len + (v[0] & 0x80 ? 1 : 0));
    if (v[0] & 0x80)
        put(d, &zero, 1);
    put(d, v, len);
}

static bool finish(struct der *body, unsigned char tag, unsigned char **der, size_t *derlen)
{
    struct der out = {0};

    put_tlv(&out, tag, body->p, body->len);
    free(body->p);
    if (out.failed || body->failed) {
        free(out.p);
        return false;
    }
    *der = out.p;
    *derlen = out.len;
    return true;
}

/* SEQUENCE { algorithm, BIT STRING { key } } */
static bool spki(const struct der *alg, const unsigned char *key, size_t keylen,
                 unsigned char **der, size_t *derlen)
{
    struct der body = {0};
    static const unsigned char no_unused_bits = 0;

    put_tlv(&body, 0x30, alg->p, alg->len);
    put_header(&body, 0x03, keylen + 1);
    put(&body, &no_unused_bits, 1);
    put(&body, key, keylen);
    return !alg->failed && finish(&body, 0x30, der, derlen);
}

bool hsm_spki_rsa(const unsigned char *n, size_t nlen, const unsigned char *e, size_t elen,
                  unsigned char **der, size_t *derlen)
{
    static const unsigned char rsa_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                            0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
    struct der alg = {0}, key = {0}, keyseq = {0};
    bool ok;

    if (nlen == 0 || elen == 0)
        return false;
    put(&alg, rsa_oid, sizeof(rsa_oid));
    put_uint(&key, n, nlen);
    put_uint(&key, e, elen);
    put_tlv(&keyseq, 0x30, key.p, key.len);
    ok = !key.failed && !keyseq.failed && spki(&alg, keyseq.p, keyseq.len, der, derlen);
    free(alg.p);
    free(key.p);
    free(keyseq.p);
    return ok;
}

void hsm_ec_point_unwrap(const unsigned char *in, size_t inlen, const unsigned char **pt,
                         size_t *ptlen)
{
    size_t len, hdr;

    *pt = in;
    *ptlen = inlen;
    if (inlen < 2 || in[0] != 0x04)
        return;
    if (in[1] < 0x80) {
        len = in[1];
        hdr = 2;
    } else if (in[1] == 0x81 && inlen >= 3) {
        len = in[2];
        hdr = 3;
    } else if (in[1] == 0x82 && inlen >= 4) {
        len = ((size_t)in[2] << 8) | in[3];
        hdr = 4;
    } else {
        return;
    }
    if (hdr + len == inlen) {
        *pt = in + hdr;
        *ptlen = len;
    }
}

/* Byte length of a field element for the curves tokens use; 0 if unknown. */
static size_t field_bytes(const unsigned char *params, size_t plen)
{
    static const struct {
        unsigned char oid[10];
        size_t len, bytes;
    } curves[] = {
        {{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, 10, 32}, /* P-256 */
        {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 7, 48},                   /* P-384 */
        {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, 7, 66},                   /* P-521 */
        {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}, 7, 32},                   /* secp256k1 */
    };

    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
        if (plen == curves[i].len && memcmp(params, curves[i].oid, plen) == 0)
            return curves[i].bytes;
    return 0;
}

/*
 * A raw point can look like a DER OCTET STRING (04 3f ... when X starts
 * with 0x3f). Where the curve is known, the reading whose length is a real
 * point length wins.
 */
static void ec_point(const unsigned char *params, size_t plen, const unsigned char *in,
                     size_t inlen, const unsigned char **pt, size_t *ptlen)
{
    size_t fb = field_bytes(params, plen);

    hsm_ec_point_unwrap(in, inlen, pt, ptlen);
    if (fb == 0 || *pt == in)
        return;
    bool unwrapped_ok = *ptlen == 2 * fb + 1 || *ptlen == fb + 1;
    bool raw_ok = (inlen == 2 * fb + 1 && in[0] == 0x04) ||
                  (inlen == fb + 1 && (in[0] == 0x02 || in[0] == 0x03));
    if (!unwrapped_ok && raw_ok) {
        *pt = in;
        *ptlen = inlen;
    }
}

bool hsm_spki_ec(const unsigned char *params, size_t plen, const unsigned char *point,
                 size_t ptlen, unsigned char **der, size_t *derlen)
{
    static const unsigned char ec_oid[] = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
    struct der alg = {0};
    const unsigned char *pt;
    size_t len;
    bool ok;

    /* Named curves only: explicit parameters are refused, never passed on. */
    if (plen < 2 || params[0] != 0x06)
        return false;
    ec_point(params, plen, point, ptlen, &pt, &len);
    if (len == 0)
        return false;
    put(&alg, ec_oid, sizeof(ec_oid));
    put(&alg, params, plen);
    ok = spki(&alg, pt, len, der, derlen);
    free(alg.p);
    return ok;
}

bool hsm_spki_eddsa(const unsigned char *params, size_t plen, const unsigned char *point,
                    size_t ptlen, unsigned char **der, size_t *derlen)
{
    /* id-Ed25519 1.3.101.112 and id-Ed448 1.3.101.113 (RFC 8410). */
    static const unsigned char ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
    static const unsigned char ed448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
    const unsigned char *oid = NULL, *pt;
    struct der alg = {0};
    size_t len;
    bool ok;

    if (plen == sizeof(ed25519) && memcmp(params, ed25519, plen) == 0)
        oid = ed25519;
    else if (plen == sizeof(ed448) && memcmp(params, ed448, plen) == 0)
        oid = ed448;
    /* PKCS#11 3.0 also allows the curve's name as a PrintableString. */
    else if (plen > 2 && params[0] == 0x13 && memmem(params, plen, "25519", 5) != NULL)
        oid = ed25519;
    else if (plen > 2 && params[0] == 0x13 && memmem(params, plen, "448", 3) != NULL)
        oid = ed448;
    if (oid == NULL)
        return false;
    /* Ed25519 points are 32 bytes, Ed448 57: a raw point of that length is
     * taken as it is even when its first bytes look like a DER header. */
    if (ptlen == (oid == ed25519 ? 32u : 57u)) {
        pt = point;
        len = ptlen;
    } else {
        hsm_ec_point_unwrap(point, ptlen, &pt, &len);
    }
    put(&alg, oid, 5);
    ok = spki(&alg, pt, len, der, derlen);
    free(alg.p);
    return ok;
}
