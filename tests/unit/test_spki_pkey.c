/*
 * SubjectPublicKeyInfo <-> EVP_PKEY without OpenSSL's decoder and encoder:
 * for every key type tokens hold, the DER written must be i2d_PUBKEY's,
 * the key read back must equal the original, and what d2i_PUBKEY refuses
 * (a point off its curve, trailing bytes, a truncated key) must be refused
 * too. A certificate is walked to exactly the SPKI OpenSSL finds in it.
 */
#include "tests/unit/unit.h"

#include "cache/spki_pkey.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *gen(const char *alg, const char *param)
{
    EVP_PKEY *k;

    if (param == NULL)
        k = EVP_PKEY_Q_keygen(NULL, NULL, alg);
    else if (strcmp(alg, "RSA") == 0)
        k = EVP_PKEY_Q_keygen(NULL, NULL, alg, (size_t)atoi(param));
    else
        k = EVP_PKEY_Q_keygen(NULL, NULL, alg, param);
    CU_ASSERT_FATAL(k != NULL);
    return k;
}

/* i2d_PUBKEY's DER for |k| matches ours, and reading ours back gives |k|. */
static void round_trip(EVP_PKEY *k)
{
    unsigned char *ref = NULL, *ours = NULL;
    int reflen = i2d_PUBKEY(k, &ref);
    size_t len = 0;
    EVP_PKEY *back;

    CU_ASSERT_FATAL(reflen > 0);
    CU_ASSERT_FATAL(hsm_spki_of_pkey(k, &ours, &len));
    CU_ASSERT_EQUAL(len, (size_t)reflen);
    CU_ASSERT(len == (size_t)reflen && memcmp(ours, ref, len) == 0);
    back = hsm_spki_to_pkey(ref, (size_t)reflen, NULL, NULL, 0);
    CU_ASSERT_FATAL(back != NULL);
    CU_ASSERT_EQUAL(EVP_PKEY_eq(back, k), 1);
    EVP_PKEY_free(back);
    free(ours);
    OPENSSL_free(ref);
}

static void rsa_keys(void)
{
    const char *bits[] = {"1024", "2048", "3072"};

    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *k = gen("RSA", bits[i]);

        round_trip(k);
        EVP_PKEY_free(k);
    }
}

static void ec_keys(void)
{
    const char *curves[] = {"P-256", "P-384", "P-521", "secp256k1"};

    for (size_t i = 0; i < 4; i++) {
        EVP_PKEY *k = gen("EC", curves[i]);

        round_trip(k);
        EVP_PKEY_free(k);
    }
}

static void eddsa_keys(void)
{
    EVP_PKEY *a = gen("ED25519", NULL), *b = gen("ED448", NULL);

    round_trip(a);
    round_trip(b);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
}

/* An rsassaPss SubjectPublicKeyInfo (a PSS CA's certificate), with and
 * without RSASSA-PSS-params, reads as the plain RSA key of the same n and
 * e, and says it is restricted to PSS; rsaEncryption does not. */
static void rsa_pss_reads_as_its_key_material(void)
{
    for (int restricted = 0; restricted < 2; restricted++) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
        EVP_PKEY *pss = NULL, *back;
        unsigned char *der = NULL, *plain = NULL;
        BIGNUM *n1 = NULL, *n2 = NULL;
        size_t plainlen = 0;
        int len;

        CU_ASSERT_FATAL(ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 &&
                        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) == 1);
        if (restricted)
            CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_pss_keygen_md_name(ctx, "SHA256", NULL) == 1);
        CU_ASSERT_FATAL(EVP_PKEY_keygen(ctx, &pss) == 1);
        len = i2d_PUBKEY(pss, &der);
        CU_ASSERT_FATAL(len > 0);
        CU_ASSERT_TRUE(hsm_spki_rsa_pss(der, (size_t)len));
        back = hsm_spki_to_pkey(der, (size_t)len, NULL, NULL, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(back);
        CU_ASSERT_TRUE(EVP_PKEY_is_a(back, "RSA"));
        CU_ASSERT_FATAL(EVP_PKEY_get_bn_param(pss, "n", &n1) == 1 &&
                        EVP_PKEY_get_bn_param(back, "n", &n2) == 1);
        CU_ASSERT_EQUAL(BN_cmp(n1, n2), 0);
        /* Written back, it is the rsaEncryption form of the same key. */
        CU_ASSERT_TRUE_FATAL(hsm_spki_of_pkey(back, &plain, &plainlen));
        CU_ASSERT_FALSE(hsm_spki_rsa_pss(plain, plainlen));
        free(plain);
        BN_free(n1);
        BN_free(n2);
        EVP_PKEY_free(back);
        OPENSSL_free(der);
        EVP_PKEY_free(pss);
        EVP_PKEY_CTX_free(ctx);
    }
}

static void refuses_what_d2i_refuses(void)
{
    EVP_PKEY *k = gen("EC", "P-256");
    unsigned char *der = NULL, bad[200];
    int len = i2d_PUBKEY(k, &der);
    const unsigned char *p;

    CU_ASSERT_FATAL(len > 0 && (size_t)len + 1 <= sizeof(bad));
    /* The last byte of the point's y: the point leaves the curve. */
    memcpy(bad, der, (size_t)len);
    bad[len - 1] ^= 0x01;
    CU_ASSERT_PTR_NULL(hsm_spki_to_pkey(bad, (size_t)len, NULL, NULL, 0));
    p = bad;
    CU_ASSERT_PTR_NULL(d2i_PUBKEY(NULL, &p, len));
    /* Trailing garbage and truncation. */
    memcpy(bad, der, (size_t)len);
    bad[len] = 0;
    CU_ASSERT_PTR_NULL(hsm_spki_to_pkey(bad, (size_t)len + 1, NULL, NULL, 0));
    CU_ASSERT_PTR_NULL(hsm_spki_to_pkey(der, (size_t)len - 1, NULL, NULL, 0));
    CU_ASSERT_PTR_NULL(hsm_spki_to_pkey(der, 0, NULL, NULL, 0));
    OPENSSL_free(der);
    EVP_PKEY_free(k);
}

static void certificate_spki(void)
{
    EVP_PKEY *k = gen("EC", "P-384");
    X509 *x = X509_new();
    unsigned char *der = NULL, *ref = NULL;
    const unsigned char *spki;
    size_t spkilen;
    int len, reflen;

    CU_ASSERT_FATAL(x != NULL);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"unit", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, k);
    CU_ASSERT_FATAL(X509_sign(x, k, EVP_sha384()) > 0);
    len = i2d_X509(x, &der);
    reflen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &ref);
    CU_ASSERT_FATAL(len > 0 && reflen > 0);
    CU_ASSERT_FATAL(hsm_cert_spki(der, (size_t)len, &spki, &spkilen));
    CU_ASSERT_EQUAL(spkilen, (size_t)reflen);
    CU_ASSERT(spkilen == (size_t)reflen && memcmp(spki, ref, spkilen) == 0);
    /* Cut short, or with bytes after it: not a certificate. */
    CU_ASSERT_FALSE(hsm_cert_spki(der, (size_t)len - 1, &spki, &spkilen));
    CU_ASSERT_FALSE(hsm_cert_spki(ref, (size_t)reflen, &spki, &spkilen));
    OPENSSL_free(der);
    OPENSSL_free(ref);
    X509_free(x);
    EVP_PKEY_free(k);
}

static CU_TestInfo tests[] = {
    UNIT_TEST(rsa_keys),
    UNIT_TEST(ec_keys),
    UNIT_TEST(eddsa_keys),
    UNIT_TEST(rsa_pss_reads_as_its_key_material),
    UNIT_TEST(refuses_what_d2i_refuses),
    UNIT_TEST(certificate_spki),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"spki_pkey", NULL, NULL, NULL, NULL, tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
