#include "cache/spki.h"

#include "cache/der.h"

#include <stdlib.h>
#include <string.h>

/* SEQUENCE { algorithm, BIT STRING { key } }; |alg| is freed. */
static bool spki(struct hsm_der_out *alg, const unsigned char *key, size_t keylen,
                 unsigned char **der, size_t *derlen)
{
    struct hsm_der_out body = {0}, out = {0};
    static const unsigned char no_unused_bits = 0;

    hsm_der_put_out(&body, 0x30, alg);
    hsm_der_put_header(&body, 0x03, keylen + 1);
    hsm_der_put_raw(&body, &no_unused_bits, 1);
    hsm_der_put_raw(&body, key, keylen);
    hsm_der_put_out(&out, 0x30, &body);
    return hsm_der_out_take(&out, der, derlen);
}

bool hsm_spki_rsa(const unsigned char *n, size_t nlen, const unsigned char *e, size_t elen,
                  unsigned char **der, size_t *derlen)
{
    static const unsigned char rsa_oid[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                            0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
    struct hsm_der_out alg = {0}, key = {0}, keyseq = {0};
    bool ok;

    if (nlen == 0 || elen == 0)
        return false;
    hsm_der_put_raw(&alg, rsa_oid, sizeof(rsa_oid));
    hsm_der_put_uint(&key, n, nlen);
    hsm_der_put_uint(&key, e, elen);
    hsm_der_put_out(&keyseq, 0x30, &key);
    ok = !keyseq.failed && spki(&alg, keyseq.p, keyseq.len, der, derlen);
    hsm_der_out_free(&alg);
    hsm_der_out_free(&keyseq);
    return ok;
}

void hsm_ec_point_unwrap(const unsigned char *in, size_t inlen, const unsigned char **pt,
                         size_t *ptlen)
{
    struct hsm_der d = hsm_der_reader(in, inlen), os;

    *pt = in;
    *ptlen = inlen;
    if (hsm_der_read(&d, 0x04, &os) && hsm_der_left(&d) == 0) {
        *pt = os.p;
        *ptlen = hsm_der_left(&os);
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
        {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 7, 48},                    /* P-384 */
        {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, 7, 66},                    /* P-521 */
        {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a}, 7, 32},                    /* secp256k1 */
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

bool hsm_spki_ec(const unsigned char *params, size_t plen, const unsigned char *point, size_t ptlen,
                 unsigned char **der, size_t *derlen)
{
    static const unsigned char ec_oid[] = {0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
    struct hsm_der_out alg = {0};
    const unsigned char *pt;
    size_t len;

    /* Named curves only: explicit parameters are refused, never passed on. */
    if (plen < 2 || params[0] != 0x06)
        return false;
    ec_point(params, plen, point, ptlen, &pt, &len);
    if (len == 0)
        return false;
    hsm_der_put_raw(&alg, ec_oid, sizeof(ec_oid));
    hsm_der_put_raw(&alg, params, plen);
    return spki(&alg, pt, len, der, derlen);
}

bool hsm_spki_eddsa(const unsigned char *params, size_t plen, const unsigned char *point,
                    size_t ptlen, unsigned char **der, size_t *derlen)
{
    /* id-Ed25519 1.3.101.112 and id-Ed448 1.3.101.113 (RFC 8410). */
    static const unsigned char ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
    static const unsigned char ed448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
    const unsigned char *oid = NULL, *pt;
    struct hsm_der_out alg = {0};
    size_t len;

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
    hsm_der_put_raw(&alg, oid, 5);
    return spki(&alg, pt, len, der, derlen);
}
