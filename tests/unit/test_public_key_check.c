/*
 * The public key check (cache/public_key_check.h) on keys built the way the
 * provider builds its views, from PKCS#11 attribute values: real keys of
 * every kind pass; each degenerate key is refused with a reason that names
 * what is wrong. For the EC point at infinity and an Ed25519 point of small
 * order, the test first shows what trusting them means: OpenSSL verifies a
 * "signature" anyone can compute, for any message.
 */
#include "tests/unit/unit.h"

#include "cache/key_sizes.h"
#include "cache/public_key_check.h"
#include "cache/spki.h"
#include "cache/spki_pkey.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char P256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char ED25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const unsigned char ED448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};

static char why[200];

/* The key a view built from |der| gives, checked: NULL when refused, with
 * the reason in |why| (from the parse or the check). */
static EVP_PKEY *view(unsigned char *der, size_t len)
{
    EVP_PKEY *pkey;

    why[0] = '\0';
    pkey = hsm_spki_to_pkey(der, len, NULL, why, sizeof(why));
    free(der);
    if (pkey != NULL && !hsm_public_key_check(pkey, NULL, why, sizeof(why))) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

static EVP_PKEY *rsa_view(const unsigned char *n, size_t nlen, const unsigned char *e, size_t elen)
{
    unsigned char *der = NULL;
    size_t len = 0;

    CU_ASSERT_TRUE_FATAL(hsm_spki_rsa(n, nlen, e, elen, &der, &len));
    return view(der, len);
}

static EVP_PKEY *ec_view(const unsigned char *params, size_t plen, const unsigned char *point,
                         size_t ptlen)
{
    unsigned char *der = NULL;
    size_t len = 0;

    CU_ASSERT_TRUE_FATAL(hsm_spki_ec(params, plen, point, ptlen, &der, &len));
    return view(der, len);
}

static EVP_PKEY *eddsa_view(const unsigned char *oid, const unsigned char *pub, size_t publen)
{
    unsigned char *der = NULL;
    size_t len = 0;

    CU_ASSERT_TRUE_FATAL(hsm_spki_eddsa(oid, 5, pub, publen, &der, &len));
    return view(der, len);
}

/* The view of |real|'s own encoding (i2d_PUBKEY) passes and equals it. */
static void passes(EVP_PKEY *real)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(real, &der);
    unsigned char *copy = malloc((size_t)len);
    EVP_PKEY *pkey;

    CU_ASSERT_FATAL(len > 0 && copy != NULL);
    memcpy(copy, der, (size_t)len);
    OPENSSL_free(der);
    pkey = view(copy, (size_t)len);
    CU_ASSERT_PTR_NOT_NULL(pkey);
    if (pkey == NULL)
        fprintf(stderr, "refused: %s\n", why);
    else
        CU_ASSERT_EQUAL(EVP_PKEY_eq(pkey, real), 1);
    EVP_PKEY_free(pkey);
}

/* Refused, naming |reason|. */
#define REFUSED(pkey_expr, reason)                                                                 \
    do {                                                                                           \
        EVP_PKEY *refused_ = (pkey_expr);                                                          \
        CU_ASSERT_PTR_NULL(refused_);                                                              \
        EVP_PKEY_free(refused_);                                                                   \
        UNIT_ASSERT_CONTAINS(why, reason);                                                         \
    } while (0)

/* Accepted. */
#define ACCEPTED(pkey_expr)                                                                        \
    do {                                                                                           \
        EVP_PKEY *accepted_ = (pkey_expr);                                                         \
        CU_ASSERT_PTR_NOT_NULL(accepted_);                                                         \
        EVP_PKEY_free(accepted_);                                                                  \
    } while (0)

/* ---- keys that pass ---- */

static void real_keys_pass(void)
{
    static const char *const curves[] = {"P-256", "P-384", "P-521"};

    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);

        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        passes(k);
        EVP_PKEY_free(k);
    }
    for (size_t bits = 1024; bits <= 2048; bits += 1024) {
        EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", bits);

        CU_ASSERT_PTR_NOT_NULL_FATAL(k);
        passes(k);
        EVP_PKEY_free(k);
    }
    for (int i = 0; i < 20; i++) { /* every sign bit and a spread of points */
        EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");

        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
        passes(a);
        passes(b);
        EVP_PKEY_free(a);
        EVP_PKEY_free(b);
    }
}

/* ---- EC ---- */

/*
 * CKA_EC_POINT 04 01 00: an OCTET STRING holding 0x00, the point at
 * infinity. With it, ECDSA verification accepts r = x(G), s = e for any
 * digest e (R = e/s * G = G): no private key needed.
 */
static void ec_point_at_infinity(void)
{
    static const unsigned char infinity[] = {0x04, 0x01, 0x00};
    unsigned char *der = NULL, digest[32], *sig = NULL;
    size_t len = 0;
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *gx = BN_new(), *e;
    ECDSA_SIG *forged = ECDSA_SIG_new();
    EVP_PKEY *raw;
    EVP_PKEY_CTX *ctx;
    int siglen;

    CU_ASSERT_FATAL(group != NULL && gx != NULL && forged != NULL);
    memset(digest, 0x5c, sizeof(digest));
    e = BN_bin2bn(digest, sizeof(digest), NULL);
    CU_ASSERT_FATAL(EC_POINT_get_affine_coordinates(group, EC_GROUP_get0_generator(group), gx, NULL,
                                                    NULL) == 1);
    CU_ASSERT_FATAL(ECDSA_SIG_set0(forged, gx, e) == 1);
    siglen = i2d_ECDSA_SIG(forged, &sig);
    CU_ASSERT_FATAL(siglen > 0);

    /* What trusting the view means, where OpenSSL builds the key at all. */
    CU_ASSERT_TRUE_FATAL(hsm_spki_ec(P256, sizeof(P256), infinity, sizeof(infinity), &der, &len));
    raw = hsm_spki_to_pkey(der, len, NULL, NULL, 0);
    if (raw != NULL) {
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, raw, NULL);
        CU_ASSERT_FATAL(ctx != NULL && EVP_PKEY_verify_init(ctx) == 1);
        fprintf(stderr, "  OpenSSL %s the forged ECDSA signature under the point at infinity\n",
                EVP_PKEY_verify(ctx, sig, (size_t)siglen, digest, sizeof(digest)) == 1 ? "accepts"
                                                                                       : "refuses");
        EVP_PKEY_CTX_free(ctx);
        EVP_PKEY_free(raw);
    }
    free(der);
    /* The check refuses it (or the parse does, where OpenSSL already
     * refuses to decode it). */
    why[0] = '\0';
    CU_ASSERT_PTR_NULL(ec_view(P256, sizeof(P256), infinity, sizeof(infinity)));
    CU_ASSERT(strstr(why, "point at infinity") != NULL || strstr(why, "not a point on") != NULL);
    /* Raw, unwrapped: the same. */
    CU_ASSERT_PTR_NULL(ec_view(P256, sizeof(P256), infinity + 2, 1));
    OPENSSL_free(sig);
    ECDSA_SIG_free(forged);
    EC_GROUP_free(group);
}

static void ec_point_off_the_curve(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    unsigned char pt[65];
    size_t ptlen = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_FATAL(
        EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &ptlen) == 1 &&
        ptlen == 65);
    pt[64] ^= 0x01; /* y changes: (x, y') is not on P-256 */
    REFUSED(ec_view(P256, sizeof(P256), pt, ptlen), "not a point on curve prime256v1");
    EVP_PKEY_free(k);
}

/* ---- RSA ---- */

static BIGNUM *odd_number(int bits)
{
    BIGNUM *n = BN_new();

    CU_ASSERT_FATAL(n != NULL && BN_rand(n, bits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD) == 1);
    return n;
}

static EVP_PKEY *rsa_bn_view(const BIGNUM *n, const BIGNUM *e)
{
    unsigned char nb[HSM_RSA_MAX_BITS / 8 + 64], eb[64];
    int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);

    return rsa_view(nb, (size_t)nl, eb, (size_t)el);
}

static void rsa_degenerate_exponents(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    BIGNUM *n = NULL, *e = BN_new();

    CU_ASSERT_FATAL(k != NULL && e != NULL &&
                    EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_N, &n) == 1);
    CU_ASSERT_FATAL(BN_set_word(e, 1));
    REFUSED(rsa_bn_view(n, e), "public exponent is 1");
    CU_ASSERT_FATAL(BN_set_word(e, 65536));
    REFUSED(rsa_bn_view(n, e), "public exponent is even");
    CU_ASSERT_FATAL(BN_set_word(e, 2));
    REFUSED(rsa_bn_view(n, e), "public exponent is even");
    /* 2^64 + 1: odd, one bit over the bound. */
    CU_ASSERT_FATAL(BN_set_word(e, 1) && BN_set_bit(e, HSM_RSA_E_MAX_BITS));
    REFUSED(rsa_bn_view(n, e), "public exponent has 65 bits");
    /* 2^64 - 1 and 3 are fine. */
    BN_zero(e);
    CU_ASSERT_FATAL(BN_set_bit(e, HSM_RSA_E_MAX_BITS) && BN_sub_word(e, 1));
    ACCEPTED(rsa_bn_view(n, e));
    CU_ASSERT_FATAL(BN_set_word(e, 3));
    ACCEPTED(rsa_bn_view(n, e));
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(k);
}

static void rsa_degenerate_moduli(void)
{
    BIGNUM *e = BN_new(), *n;

    CU_ASSERT_FATAL(e != NULL && BN_set_word(e, 65537));
    n = odd_number(512);
    REFUSED(rsa_bn_view(n, e), "modulus has 512 bits; the provider accepts 1024 to 16384");
    BN_free(n);
    n = odd_number(1023);
    REFUSED(rsa_bn_view(n, e), "modulus has 1023 bits");
    BN_free(n);
    n = odd_number(HSM_RSA_MAX_BITS + 8);
    REFUSED(rsa_bn_view(n, e), "modulus has 16392 bits");
    BN_free(n);
    n = odd_number(2048);
    CU_ASSERT_FATAL(BN_clear_bit(n, 0));
    REFUSED(rsa_bn_view(n, e), "modulus is even");
    BN_free(n);
    BN_free(e);
}

static void rsa_bounds_are_inclusive(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)HSM_RSA_MIN_BITS);

    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    passes(k);
    EVP_PKEY_free(k);
}

/* ---- EdDSA ---- */

/*
 * The Ed25519 points of small order, from their y coordinate: 1 (the
 * identity), -1 (order 2), 0 (order 4: x = +-sqrt(-1)), and the y of the
 * order-8 points, derived with d*y^4 + 2*y^2 - 1 = 0 (2P has y = 0).
 */
static void ed25519_small_order_points(void)
{
    static const unsigned char order8[32] = {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0,
                                             0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
                                             0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39,
                                             0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05};
    unsigned char pub[32] = {0x01}, sig[64] = {0x01};
    EVP_PKEY *raw = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, sizeof(pub));
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    /* With A the identity, R = identity and s = 0 "sign" any message. */
    CU_ASSERT_FATAL(raw != NULL && md != NULL);
    CU_ASSERT_FATAL(EVP_DigestVerifyInit(md, NULL, NULL, NULL, raw) == 1);
    fprintf(stderr, "  OpenSSL %s the forged Ed25519 signature under the identity\n",
            EVP_DigestVerify(md, sig, sizeof(sig), (const unsigned char *)"any", 3) == 1
                ? "accepts"
                : "refuses");
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(raw);

    REFUSED(eddsa_view(ED25519, pub, sizeof(pub)), "point of small order");
    memset(pub, 0xff, sizeof(pub)); /* y = p - 1 */
    pub[0] = 0xec, pub[31] = 0x7f;
    REFUSED(eddsa_view(ED25519, pub, sizeof(pub)), "point of small order");
    pub[31] = 0xff; /* the other sign: x = 0 cannot have one */
    REFUSED(eddsa_view(ED25519, pub, sizeof(pub)), "not a canonical point encoding");
    memset(pub, 0, sizeof(pub)); /* y = 0, both signs */
    REFUSED(eddsa_view(ED25519, pub, sizeof(pub)), "point of small order");
    pub[31] = 0x80;
    REFUSED(eddsa_view(ED25519, pub, sizeof(pub)), "point of small order");
    memcpy(pub, order8, sizeof(pub));
    REFUSED(eddsa_view(ED25519, pub, sizeof(pub)), "point of small order");
    pub[31] |= 0x80;
    REFUSED(eddsa_view(ED25519, pub, sizeof(pub)), "point of small order");
}

static void ed25519_malformed_points(void)
{
    unsigned char pub[32];

    memset(pub, 0xff, sizeof(pub)); /* y = p + 1: not canonical */
    pub[0] = 0xee, pub[31] = 0x7f;
    REFUSED(eddsa_view(ED25519, pub, sizeof(pub)), "y >= p");
    memset(pub, 0, sizeof(pub)); /* y = 2: x^2 would be a non-square */
    pub[0] = 0x02;
    REFUSED(eddsa_view(ED25519, pub, sizeof(pub)), "not a point on the curve");
    REFUSED(eddsa_view(ED25519, pub, 31), "");
}

static void ed448_degenerate_points(void)
{
    unsigned char pub[57] = {0x01};

    REFUSED(eddsa_view(ED448, pub, sizeof(pub)), "point of small order");
    pub[0] = 0x00; /* y = 0: order 4 */
    REFUSED(eddsa_view(ED448, pub, sizeof(pub)), "point of small order");
    pub[0] = 0x02; /* not on the curve */
    REFUSED(eddsa_view(ED448, pub, sizeof(pub)), "not a point on the curve");
    pub[0] = 0x01, pub[56] = 0x01; /* bits the encoding keeps zero */
    REFUSED(eddsa_view(ED448, pub, sizeof(pub)), "not a canonical point encoding");
}

static CU_TestInfo tests[] = {
    UNIT_TEST(real_keys_pass),
    UNIT_TEST(ec_point_at_infinity),
    UNIT_TEST(ec_point_off_the_curve),
    UNIT_TEST(rsa_degenerate_exponents),
    UNIT_TEST(rsa_degenerate_moduli),
    UNIT_TEST(rsa_bounds_are_inclusive),
    UNIT_TEST(ed25519_small_order_points),
    UNIT_TEST(ed25519_malformed_points),
    UNIT_TEST(ed448_degenerate_points),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"public_key_check", NULL, NULL, NULL, NULL, tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
