/*
 * SubjectPublicKeyInfo from PKCS#11 attributes: every result must be the
 * very DER that OpenSSL's i2d_PUBKEY writes for the same key.
 */
#include "tests/unit/unit.h"

#include "cache/spki.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

struct buf {
    unsigned char *p;
    size_t len;
};

static void buf_free(struct buf *b)
{
    OPENSSL_free(b->p);
    b->p = NULL;
    b->len = 0;
}

static struct buf openssl_spki(EVP_PKEY *pkey)
{
    struct buf b = {0};
    int len = i2d_PUBKEY(pkey, &b.p);

    CU_ASSERT_FATAL(len > 0);
    b.len = (size_t)len;
    return b;
}

static struct buf bn_param(EVP_PKEY *pkey, const char *name)
{
    BIGNUM *bn = NULL;
    struct buf b = {0};

    CU_ASSERT_FATAL(EVP_PKEY_get_bn_param(pkey, name, &bn) == 1);
    b.len = (size_t)BN_num_bytes(bn);
    b.p = OPENSSL_malloc(b.len);
    CU_ASSERT_FATAL(b.p != NULL);
    BN_bn2bin(bn, b.p);
    BN_free(bn);
    return b;
}

/* A public-only RSA key made by OpenSSL from (n, e), as the reference. */
static EVP_PKEY *rsa_from_ne(const unsigned char *n, size_t nlen, const unsigned char *e,
                             size_t elen)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    OSSL_PARAM *params;
    EVP_PKEY *pkey = NULL;

    CU_ASSERT_FATAL(bld != NULL && bn != NULL && be != NULL && ctx != NULL);
    CU_ASSERT_FATAL(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1);
    CU_ASSERT_FATAL(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1);
    params = OSSL_PARAM_BLD_to_param(bld);
    CU_ASSERT_FATAL(params != NULL);
    CU_ASSERT_FATAL(EVP_PKEY_fromdata_init(ctx) == 1);
    CU_ASSERT_FATAL(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static void assert_same_der(const unsigned char *der, size_t derlen, const struct buf *want)
{
    CU_ASSERT_EQUAL(derlen, want->len);
    CU_ASSERT(derlen == want->len && memcmp(der, want->p, derlen) == 0);
}

/* hsm_spki_rsa(n, e) must equal i2d_PUBKEY of the same key. */
static void check_rsa(const unsigned char *n, size_t nlen, const unsigned char *e, size_t elen,
                      const struct buf *want)
{
    unsigned char *der = NULL;
    size_t derlen = 0;

    CU_ASSERT_TRUE_FATAL(hsm_spki_rsa(n, nlen, e, elen, &der, &derlen));
    assert_same_der(der, derlen, want);
    free(der);
}

/* ---- RSA ---- */

static EVP_PKEY *rsa2048;

static int make_rsa(void)
{
    rsa2048 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    return rsa2048 == NULL ? -1 : 0;
}

static int free_rsa(void)
{
    EVP_PKEY_free(rsa2048);
    return 0;
}

static void rsa_generated_key(void)
{
    struct buf want = openssl_spki(rsa2048);
    struct buf n = bn_param(rsa2048, OSSL_PKEY_PARAM_RSA_N);
    struct buf e = bn_param(rsa2048, OSSL_PKEY_PARAM_RSA_E);

    /* A 2048-bit modulus has its top bit set: the INTEGER needs a 0 byte. */
    CU_ASSERT_EQUAL(n.len, 256);
    CU_ASSERT(n.p[0] & 0x80);
    check_rsa(n.p, n.len, e.p, e.len, &want);
    buf_free(&want);
    buf_free(&n);
    buf_free(&e);
}

static void rsa_leading_zero_bytes(void)
{
    /* Tokens may hand back CKA_MODULUS or CKA_PUBLIC_EXPONENT zero-padded. */
    struct buf want = openssl_spki(rsa2048);
    struct buf n = bn_param(rsa2048, OSSL_PKEY_PARAM_RSA_N);
    unsigned char padded_n[259] = {0};
    static const unsigned char padded_e[] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x01};

    memcpy(padded_n + 3, n.p, n.len);
    check_rsa(padded_n + 2, n.len + 1, padded_e + 3, 3, &want);
    check_rsa(padded_n, n.len + 3, padded_e, sizeof(padded_e), &want);
    buf_free(&want);
    buf_free(&n);
}

static void rsa_synthetic_moduli(void)
{
    static const unsigned char e3[] = {0x03}, e65537[] = {0x01, 0x00, 0x01};
    static const unsigned char e_high[] = {0x80, 0x00, 0x00, 0x01};
    /* Lengths that cross every DER length form: short, 0x81 and 0x82. */
    static const size_t sizes[] = {16, 64, 127, 128, 129, 200, 256, 384, 512};
    unsigned char n[512];

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int top = 0; top < 3; top++) {
            /* top 0: top bit set; 1: top bit clear; 2: leading zero byte. */
            memset(n, 0xa5, sizes[i]);
            n[sizes[i] - 1] |= 1;
            n[0] = top == 0 ? 0xc3 : top == 1 ? 0x5a : 0x00;
            for (int k = 0; k < 3; k++) {
                const unsigned char *e = k == 0 ? e3 : k == 1 ? e65537 : e_high;
                size_t elen = k == 0 ? sizeof(e3) : k == 1 ? sizeof(e65537) : sizeof(e_high);
                EVP_PKEY *ref = rsa_from_ne(n, sizes[i], e, elen);
                struct buf want = openssl_spki(ref);

                check_rsa(n, sizes[i], e, elen, &want);
                buf_free(&want);
                EVP_PKEY_free(ref);
            }
        }
    }
}

static void rsa_empty_parts_refused(void)
{
    static const unsigned char one[] = {0x01};
    unsigned char *der = NULL;
    size_t derlen = 0;

    CU_ASSERT_FALSE(hsm_spki_rsa(one, 0, one, 1, &der, &derlen));
    CU_ASSERT_FALSE(hsm_spki_rsa(one, 1, one, 0, &der, &derlen));
    CU_ASSERT_PTR_NULL(der);
}

/* ---- EC ---- */

/* CKA_EC_PARAMS for a named curve: the DER of its OID. */
static struct buf curve_oid_der(const char *curve)
{
    ASN1_OBJECT *obj = OBJ_nid2obj(OBJ_sn2nid(curve));
    struct buf b = {0};
    int len;

    CU_ASSERT_FATAL(obj != NULL);
    len = i2d_ASN1_OBJECT(obj, &b.p);
    CU_ASSERT_FATAL(len > 0);
    b.len = (size_t)len;
    ASN1_OBJECT_free(obj);
    return b;
}

/* The uncompressed point, as a raw CKA_EC_POINT. */
static struct buf ec_point(EVP_PKEY *pkey)
{
    struct buf b = {0};

    CU_ASSERT_FATAL(
        EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, NULL, 0, &b.len) == 1);
    b.p = OPENSSL_malloc(b.len);
    CU_ASSERT_FATAL(b.p != NULL);
    CU_ASSERT_FATAL(
        EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, b.p, b.len, &b.len) == 1);
    return b;
}

/* The point as the standard says CKA_EC_POINT holds it: DER OCTET STRING. */
static struct buf wrap_octet_string(const struct buf *pt)
{
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    struct buf b = {0};
    int len;

    CU_ASSERT_FATAL(os != NULL && ASN1_OCTET_STRING_set(os, pt->p, (int)pt->len) == 1);
    len = i2d_ASN1_OCTET_STRING(os, &b.p);
    CU_ASSERT_FATAL(len > 0);
    b.len = (size_t)len;
    ASN1_OCTET_STRING_free(os);
    return b;
}

static void check_ec(const struct buf *params, const unsigned char *pt, size_t ptlen,
                     const struct buf *want)
{
    unsigned char *der = NULL;
    size_t derlen = 0;

    CU_ASSERT_TRUE_FATAL(hsm_spki_ec(params->p, params->len, pt, ptlen, &der, &derlen));
    assert_same_der(der, derlen, want);
    free(der);
}

/* Raw and wrapped CKA_EC_POINT of |pkey| both give i2d_PUBKEY's DER. */
static void check_ec_key(EVP_PKEY *pkey, const char *curve)
{
    struct buf want = openssl_spki(pkey);
    struct buf params = curve_oid_der(curve);
    struct buf raw = ec_point(pkey);
    struct buf wrapped = wrap_octet_string(&raw);

    check_ec(&params, wrapped.p, wrapped.len, &want);
    check_ec(&params, raw.p, raw.len, &want);
    buf_free(&want);
    buf_free(&params);
    buf_free(&raw);
    buf_free(&wrapped);
}

static void ec_named_curves(void)
{
    static const char *const curves[] = {"prime256v1", "secp384r1", "secp521r1"};

    for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
        EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]);

        CU_ASSERT_PTR_NOT_NULL_FATAL(pkey);
        check_ec_key(pkey, curves[i]);
        EVP_PKEY_free(pkey);
    }
}

static void ec_p256_params_are_the_oid(void)
{
    static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x03, 0x01, 0x07};
    struct buf params = curve_oid_der("prime256v1");

    CU_ASSERT_EQUAL(params.len, sizeof(p256_oid));
    CU_ASSERT(params.len == sizeof(p256_oid) && memcmp(params.p, p256_oid, params.len) == 0);
    buf_free(&params);
}

/*
 * A raw uncompressed P-256 point is 04 || X || Y, 65 bytes. When X begins
 * with 0x3f the first two bytes also read as an OCTET STRING header of
 * length 63 that exactly fills the buffer: the point must still be taken
 * as raw, since 63 bytes is no P-256 point.
 */
static void ec_raw_point_that_looks_wrapped(void)
{
    EVP_PKEY *pkey = NULL;
    struct buf raw = {0};
    int tries;

    for (tries = 0; tries < 20000; tries++) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
        CU_ASSERT_PTR_NOT_NULL_FATAL(pkey);
        raw = ec_point(pkey);
        if (raw.len == 65 && raw.p[1] == 0x3f)
            break;
        buf_free(&raw);
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(pkey);
    check_ec_key(pkey, "prime256v1");
    buf_free(&raw);
    EVP_PKEY_free(pkey);
}

static void ec_explicit_params_refused(void)
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
    unsigned char *explicit = NULL, *der = NULL;
    struct buf raw;
    size_t derlen = 0;
    int len;

    CU_ASSERT_PTR_NOT_NULL_FATAL(group);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pkey);
    EC_GROUP_set_asn1_flag(group, OPENSSL_EC_EXPLICIT_CURVE);
    len = i2d_ECPKParameters(group, &explicit);
    CU_ASSERT_FATAL(len > 0);
    CU_ASSERT_EQUAL(explicit[0], 0x30);
    raw = ec_point(pkey);
    CU_ASSERT_FALSE(hsm_spki_ec(explicit, (size_t)len, raw.p, raw.len, &der, &derlen));
    CU_ASSERT_PTR_NULL(der);
    /* Nor a curve given by name (PrintableString), nor nothing at all. */
    CU_ASSERT_FALSE(hsm_spki_ec((const unsigned char *)"\x13\x0aprime256v1", 12, raw.p, raw.len,
                                &der, &derlen));
    CU_ASSERT_FALSE(hsm_spki_ec(explicit, 0, raw.p, raw.len, &der, &derlen));
    CU_ASSERT_PTR_NULL(der);
    OPENSSL_free(explicit);
    buf_free(&raw);
    EVP_PKEY_free(pkey);
    EC_GROUP_free(group);
}

static void ec_empty_point_refused(void)
{
    struct buf params = curve_oid_der("prime256v1");
    static const unsigned char empty_os[] = {0x04, 0x00};
    unsigned char *der = NULL;
    size_t derlen = 0;

    CU_ASSERT_FALSE(hsm_spki_ec(params.p, params.len, empty_os, 0, &der, &derlen));
    CU_ASSERT_FALSE(hsm_spki_ec(params.p, params.len, empty_os, sizeof(empty_os), &der, &derlen));
    CU_ASSERT_PTR_NULL(der);
    buf_free(&params);
}

/* ---- EdDSA ---- */

static void eddsa_ed25519(void)
{
    static const unsigned char oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    unsigned char raw[32], wrapped[34], *der = NULL;
    size_t rawlen = sizeof(raw), derlen = 0;
    struct buf want;

    CU_ASSERT_PTR_NOT_NULL_FATAL(pkey);
    CU_ASSERT_FATAL(EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) == 1);
    want = openssl_spki(pkey);
    wrapped[0] = 0x04;
    wrapped[1] = 0x20;
    memcpy(wrapped + 2, raw, sizeof(raw));
    CU_ASSERT_TRUE_FATAL(hsm_spki_eddsa(oid, sizeof(oid), wrapped, sizeof(wrapped), &der, &derlen));
    assert_same_der(der, derlen, &want);
    free(der);
    der = NULL;
    CU_ASSERT_TRUE_FATAL(hsm_spki_eddsa(oid, sizeof(oid), raw, rawlen, &der, &derlen));
    assert_same_der(der, derlen, &want);
    free(der);
    buf_free(&want);
    EVP_PKEY_free(pkey);
}

/* ---- hsm_ec_point_unwrap ---- */

static void expect_unwrap(const unsigned char *in, size_t inlen, size_t off, size_t len)
{
    const unsigned char *pt = NULL;
    size_t ptlen = 0;

    hsm_ec_point_unwrap(in, inlen, &pt, &ptlen);
    CU_ASSERT_PTR_EQUAL(pt, in + off);
    CU_ASSERT_EQUAL(ptlen, len);
}

static void unwrap_forms(void)
{
    unsigned char in[4 + 300];

    memset(in, 0x11, sizeof(in));
    /* Short form: 04 41 <65>. */
    in[0] = 0x04, in[1] = 0x41, in[2] = 0x04;
    expect_unwrap(in, 67, 2, 65);
    /* 0x81 form: 04 81 85 <133> (P-521). */
    in[0] = 0x04, in[1] = 0x81, in[2] = 0x85, in[3] = 0x04;
    expect_unwrap(in, 3 + 133, 3, 133);
    /* 0x82 form: 04 82 01 2c <300>. */
    in[0] = 0x04, in[1] = 0x82, in[2] = 0x01, in[3] = 0x2c;
    expect_unwrap(in, 4 + 300, 4, 300);
}

static void unwrap_leaves_raw_and_malformed_alone(void)
{
    unsigned char in[70];

    memset(in, 0x22, sizeof(in));
    /* Raw compressed/uncompressed points and anything not an exact TLV. */
    in[0] = 0x02;
    expect_unwrap(in, 33, 0, 33);
    in[0] = 0x04, in[1] = 0x41;
    expect_unwrap(in, 66, 0, 66); /* one byte short */
    expect_unwrap(in, 68, 0, 68); /* one byte over */
    in[1] = 0x81;
    expect_unwrap(in, 2, 0, 2); /* header cut short */
    in[1] = 0x82;
    expect_unwrap(in, 3, 0, 3);
    in[1] = 0x83;
    expect_unwrap(in, 70, 0, 70); /* length form not used for points */
    expect_unwrap(in, 1, 0, 1);
    expect_unwrap(in, 0, 0, 0);
}

/* A length in a longer form than needed is not DER: such a CKA_EC_POINT
 * is not taken for a wrapped point (and fails as a raw one). */
static void unwrap_refuses_non_minimal_lengths(void)
{
    unsigned char in[4 + 65];

    memset(in, 0x44, sizeof(in));
    in[0] = 0x04, in[1] = 0x81, in[2] = 0x41, in[3] = 0x04;
    expect_unwrap(in, 3 + 65, 0, 3 + 65);
    in[1] = 0x82, in[2] = 0x00, in[3] = 0x41;
    expect_unwrap(in, 4 + 65, 0, 4 + 65);
    /* The minimal form of the same point is unwrapped. */
    in[1] = 0x41, in[2] = 0x04;
    expect_unwrap(in, 2 + 65, 2, 65);
}

static CU_TestInfo rsa_tests[] = {
    UNIT_TEST(rsa_generated_key),
    UNIT_TEST(rsa_leading_zero_bytes),
    UNIT_TEST(rsa_synthetic_moduli),
    UNIT_TEST(rsa_empty_parts_refused),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo ec_tests[] = {
    UNIT_TEST(ec_p256_params_are_the_oid),
    UNIT_TEST(ec_named_curves),
    UNIT_TEST(ec_raw_point_that_looks_wrapped),
    UNIT_TEST(ec_explicit_params_refused),
    UNIT_TEST(ec_empty_point_refused),
    UNIT_TEST(eddsa_ed25519),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo unwrap_tests[] = {
    UNIT_TEST(unwrap_forms),
    UNIT_TEST(unwrap_leaves_raw_and_malformed_alone),
    UNIT_TEST(unwrap_refuses_non_minimal_lengths),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"spki_rsa", make_rsa, free_rsa, NULL, NULL, rsa_tests},
        {"spki_ec", NULL, NULL, NULL, NULL, ec_tests},
        {"ec_point_unwrap", NULL, NULL, NULL, NULL, unwrap_tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
