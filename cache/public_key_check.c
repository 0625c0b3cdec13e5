#include "cache/public_key_check.h"

#include "cache/key_sizes.h"
#include "cache/provider_property.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static bool refuse(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool refuse(char *why, size_t whysize, const char *fmt, ...)
{
    va_list ap;

    if (why != NULL && whysize > 0) {
        va_start(ap, fmt);
        vsnprintf(why, whysize, fmt, ap);
        va_end(ap);
    }
    return false;
}

/*
 * Not SP 800-56B's checks of the modulus itself (OpenSSL's
 * EVP_PKEY_public_check for RSA: no small factors, composite, not a prime
 * power): they cost about 10 ms per RSA-2048 load and 225 ms at 8192 bits,
 * where a whole load takes under 1 ms, and a module that could serve such a
 * modulus could as well serve a key pair of its own making. A modulus that
 * is merely wrong (a stale or damaged copy) is caught by comparing views
 * and by the possession proof.
 */
static bool rsa_check(EVP_PKEY *pkey, char *why, size_t whysize)
{
    /* One parameter query for both: each costs about 50,000 instructions. */
    unsigned char nbuf[HSM_RSA_MAX_BITS / 8], ebuf[HSM_RSA_MAX_BITS / 8];
    OSSL_PARAM params[] = {
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, nbuf, sizeof(nbuf)),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, ebuf, sizeof(ebuf)),
        OSSL_PARAM_END,
    };
    BIGNUM *n = NULL, *e = NULL;
    int nbits = EVP_PKEY_get_bits(pkey), ebits;
    bool ok = false;

    if (nbits < HSM_RSA_MIN_BITS || nbits > HSM_RSA_MAX_BITS)
        return refuse(why, whysize,
                      "the RSA modulus has %d bits; the provider accepts %d to %d bits", nbits,
                      HSM_RSA_MIN_BITS, HSM_RSA_MAX_BITS);
    if (EVP_PKEY_get_params(pkey, params) != 1 || !OSSL_PARAM_get_BN(&params[0], &n) ||
        !OSSL_PARAM_get_BN(&params[1], &e)) {
        refuse(why, whysize, "the RSA key's modulus and exponent cannot be read");
        goto done;
    }
    ebits = BN_num_bits(e);
    if (!BN_is_odd(n))
        refuse(why, whysize, "the RSA modulus is even");
    else if (!BN_is_odd(e))
        refuse(why, whysize, "the RSA public exponent is even");
    else if (BN_is_one(e))
        refuse(why, whysize, "the RSA public exponent is 1 (it signs nothing)");
    else if (ebits > HSM_RSA_E_MAX_BITS)
        refuse(why, whysize, "the RSA public exponent has %d bits; at most %d are accepted", ebits,
               HSM_RSA_E_MAX_BITS);
    else
        ok = true;
done:
    BN_free(n);
    BN_free(e);
    return ok;
}

/* Curves of cofactor 1: every point of the curve but infinity is in the
 * group of the curve's order. */
static bool prime_order_curve(const char *group)
{
    static const char *const curves[] = {
        "prime256v1", "secp384r1",       "secp521r1",       "secp224r1",
        "secp256k1",  "brainpoolP256r1", "brainpoolP384r1", "brainpoolP512r1",
    };

    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
        if (strcmp(group, curves[i]) == 0)
            return true;
    return false;
}

/*
 * OpenSSL's quick check (not infinity, coordinates in range, on the curve)
 * is the full check on a curve of cofactor 1; elsewhere the full check adds
 * the scalar multiplication that shows the point is in the right subgroup
 * (0.2 ms per P-256 view, 1.7 ms per P-384 view here: not spent where it
 * shows nothing).
 */
static bool ec_check(EVP_PKEY *pkey, OSSL_LIB_CTX *libctx, char *why, size_t whysize)
{
    unsigned char point[256];
    char group[64];
    size_t len = 0;
    EVP_PKEY_CTX *ctx;
    int checked = 0;

    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) != 1)
        return refuse(why, whysize, "the EC key is not on a named curve");
    /* In a software provider, never this one. */
    ctx = EVP_PKEY_CTX_new_from_pkey(libctx, pkey, HSM_SOFTWARE_PROPQ);
    if (ctx != NULL)
        checked = prime_order_curve(group) ? EVP_PKEY_public_check_quick(ctx)
                                           : EVP_PKEY_public_check(ctx);
    EVP_PKEY_CTX_free(ctx);
    if (checked == 1)
        return true;
    /* OpenSSL decodes a lone 0x00 as the point at infinity, with which
     * ECDSA verification accepts r = x(G), s = e for any digest e. */
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                        &len) == 1 &&
        len == 1 && point[0] == 0x00)
        return refuse(why, whysize, "the EC point is the point at infinity");
    return refuse(why, whysize,
                  "the EC point is not in the group of the order of curve %s (off the curve, "
                  "out of range, or in a small subgroup)",
                  group);
}

/* Twisted Edwards curves a*x^2 + y^2 = 1 + d*x^2*y^2 (RFC 8032). */
struct edwards {
    const char *name;
    size_t len;     /* encoded point */
    int a;          /* -1 or 1 */
    unsigned d_num; /* d = -d_num / d_den */
    unsigned d_den;
    int doublings; /* log2 of the cofactor */
};

static const struct edwards ed25519 = {"Ed25519", 32, -1, 121665, 121666, 3};
static const struct edwards ed448 = {"Ed448", 57, 1, 39081, 1, 2};

/* p = 2^255 - 19, or 2^448 - 2^224 - 1. */
static bool field_prime(const struct edwards *c, BIGNUM *p)
{
    BIGNUM *t;
    bool ok;

    BN_zero(p);
    if (c == &ed25519)
        return BN_set_bit(p, 255) && BN_sub_word(p, 19);
    t = BN_new();
    ok = t != NULL && BN_set_bit(p, 448) && BN_set_bit(t, 224) && BN_sub(p, p, t) &&
         BN_sub_word(p, 1);
    BN_free(t);
    return ok;
}

/* A point as x^2 = xn/xd and y = yn/yd: doubling needs x only as x^2, and
 * fractions need no inversion, so the order is found cheaply. */
struct edwards_point {
    BIGNUM *xn, *xd, *yn, *yd;
};

/*
 * 2P from P, with x' = 2xy / (a*x^2 + y^2), y' = (y^2 - a*x^2) / (2 - a*x^2 -
 * y^2) (RFC 8032's doubling, affine), written over common denominators:
 *   x'^2 = 4 xn xd yn^2 yd^2 / (a xn yd^2 + xd yn^2)^2
 *   y'   = (xd yn^2 - a xn yd^2) / (2 xd yd^2 - a xn yd^2 - xd yn^2)
 * The denominators are 1 +- d x^2 y^2 times non-zero factors: never 0 on
 * these complete curves.
 */
static bool edwards_double(const struct edwards *c, struct edwards_point *pt, const BIGNUM *p,
                           BN_CTX *bn)
{
    BIGNUM *yn2 = BN_CTX_get(bn), *yd2 = BN_CTX_get(bn), *axy = BN_CTX_get(bn);
    BIGNUM *xy = BN_CTX_get(bn), *t = BN_CTX_get(bn);

    /* axy = a xn yd^2, xy = xd yn^2 */
    if (t == NULL || !BN_mod_sqr(yn2, pt->yn, p, bn) || !BN_mod_sqr(yd2, pt->yd, p, bn) ||
        !BN_mod_mul(axy, pt->xn, yd2, p, bn) || (c->a < 0 && !BN_mod_sub(axy, p, axy, p, bn)) ||
        !BN_mod_mul(xy, pt->xd, yn2, p, bn))
        return false;
    /* y: yd' = 2 xd yd^2 - axy - xy, yn' = xy - axy */
    if (!BN_mod_mul(t, pt->xd, yd2, p, bn) || !BN_mod_lshift1_quick(t, t, p) ||
        !BN_mod_sub(t, t, axy, p, bn) || !BN_mod_sub(pt->yd, t, xy, p, bn) ||
        !BN_mod_sub(pt->yn, xy, axy, p, bn))
        return false;
    /* x^2: xn' = 4 xn xd yn^2 yd^2, xd' = (axy + xy)^2 */
    return BN_mod_mul(t, pt->xn, pt->xd, p, bn) && BN_mod_mul(t, t, yn2, p, bn) &&
           BN_mod_mul(t, t, yd2, p, bn) && BN_mod_lshift_quick(pt->xn, t, 2, p) &&
           BN_mod_add(t, axy, xy, p, bn) && BN_mod_sqr(pt->xd, t, p, bn);
}

/*
 * Decodes the point as RFC 8032 (5.1.3, 5.2.3) does, and refuses the small
 * subgroup: with a public key A of small order, [s]B = R + [k]A holds for
 * R = [s]B whatever the message.
 */
static bool eddsa_check(EVP_PKEY *pkey, const struct edwards *c, char *why, size_t whysize)
{
    unsigned char enc[57];
    size_t len = 0, ylen = c == &ed25519 ? 32 : 56;
    BN_CTX *bn = BN_CTX_new();
    struct edwards_point pt;
    BIGNUM *p, *yy, *t;
    bool sign, ok = false, failed = true;

    if (bn == NULL)
        return refuse(why, whysize, "out of memory checking the %s key", c->name);
    BN_CTX_start(bn);
    p = BN_CTX_get(bn), yy = BN_CTX_get(bn), t = BN_CTX_get(bn);
    pt.xn = BN_CTX_get(bn), pt.xd = BN_CTX_get(bn), pt.yn = BN_CTX_get(bn);
    pt.yd = BN_CTX_get(bn);
    if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, enc, sizeof(enc), &len) !=
            1 ||
        len != c->len) {
        refuse(why, whysize, "the %s public key is not %zu bytes", c->name, c->len);
        failed = false;
        goto done;
    }
    sign = (enc[c->len - 1] & 0x80) != 0;
    enc[c->len - 1] &= 0x7f;
    if (c == &ed448 && enc[56] != 0) {
        refuse(why, whysize, "the %s public key is not a canonical point encoding", c->name);
        failed = false;
        goto done;
    }
    if (pt.yd == NULL || !field_prime(c, p) || BN_lebin2bn(enc, (int)ylen, pt.yn) == NULL ||
        !BN_one(pt.yd))
        goto done;
    failed = false;
    if (BN_cmp(pt.yn, p) >= 0) {
        refuse(why, whysize, "the %s public key is not a canonical point encoding (y >= p)",
               c->name);
        goto done;
    }
    /* x^2 = (y^2 - 1) / (d y^2 - a), with d = -d_num / d_den:
     * xn = d_den (y^2 - 1), xd = -(d_num y^2 + a d_den) */
    failed = true;
    if (!BN_mod_sqr(yy, pt.yn, p, bn) || !BN_mod_sub(pt.xn, yy, BN_value_one(), p, bn) ||
        !BN_mul_word(pt.xn, c->d_den) || !BN_nnmod(pt.xn, pt.xn, p, bn) || !BN_copy(t, yy) ||
        !BN_mul_word(t, c->d_num) ||
        !(c->a < 0 ? BN_sub_word(t, c->d_den) : BN_add_word(t, c->d_den)) ||
        !BN_nnmod(t, t, p, bn) || !BN_mod_sub(pt.xd, p, t, p, bn))
        goto done;
    failed = false;
    if (BN_is_zero(pt.xn) && sign) {
        refuse(why, whysize,
               "the %s public key is not a canonical point encoding (x = 0 with its sign bit "
               "set)",
               c->name);
        goto done;
    }
    /* x^2 = xn/xd is a square when xn*xd is (xd != 0: d is not a square). */
    failed = true;
    if (!BN_mod_mul(t, pt.xn, pt.xd, p, bn))
        goto done;
    failed = false;
    if (!BN_is_zero(t) && BN_kronecker(t, p, bn) != 1) {
        refuse(why, whysize, "the %s public key is not a point on the curve", c->name);
        goto done;
    }
    failed = true;
    for (int i = 0; i < c->doublings; i++)
        if (!edwards_double(c, &pt, p, bn))
            goto done;
    failed = false;
    /* [cofactor]P = (0, 1): x^2 = 0 and y = 1 */
    if (BN_is_zero(pt.xn) && BN_cmp(pt.yn, pt.yd) == 0)
        refuse(why, whysize, "the %s public key is a point of small order", c->name);
    else
        ok = true;
done:
    if (failed)
        refuse(why, whysize, "the %s public key could not be checked (out of memory)", c->name);
    BN_CTX_end(bn);
    BN_CTX_free(bn);
    return ok;
}

bool hsm_public_key_check(EVP_PKEY *pkey, OSSL_LIB_CTX *libctx, char *why, size_t whysize)
{
    bool ok;

    ERR_set_mark();
    if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS"))
        ok = rsa_check(pkey, why, whysize);
    else if (EVP_PKEY_is_a(pkey, "EC"))
        ok = ec_check(pkey, libctx, why, whysize);
    else if (EVP_PKEY_is_a(pkey, "ED25519"))
        ok = eddsa_check(pkey, &ed25519, why, whysize);
    else if (EVP_PKEY_is_a(pkey, "ED448"))
        ok = eddsa_check(pkey, &ed448, why, whysize);
    else
        ok = refuse(why, whysize, "it is a %s key, a type the provider does not use",
                    EVP_PKEY_get0_type_name(pkey) != NULL ? EVP_PKEY_get0_type_name(pkey)
                                                          : "unknown");
    /* What OpenSSL raised on the way is said in |why| instead. */
    ERR_pop_to_mark();
    return ok;
}
