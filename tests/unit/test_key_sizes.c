/*
 * Sizes derived from a key (cache/key_sizes.h): for every kind of key the
 * provider accepts, what one operation on the token returns and the largest
 * signature in OpenSSL's format, checked against what OpenSSL itself makes
 * and says (EVP_PKEY_get_size); the largest RSA key the provider accepts
 * fits HSM_KEY_OUTPUT_MAX and HSM_SIGNATURE_MAX exactly.
 */
#include "tests/unit/unit.h"

#include "cache/key_sizes.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <stdlib.h>

static void ecdsa_der_max_per_curve(void)
{
    static const char *const curves[] = {"P-256", "P-384", "P-521"};

    CU_ASSERT_EQUAL(hsm_ecdsa_der_max(256), 72);
    CU_ASSERT_EQUAL(hsm_ecdsa_der_max(384), 104);
    /* P-521's order has 521 bits, so r and s (66 bytes, top byte at most
     * 0x01) never need a zero byte: 139, as OpenSSL's EVP_PKEY_get_size. */
    CU_ASSERT_EQUAL(hsm_ecdsa_der_max(521), 139);
    for (size_t c = 0; c < sizeof(curves) / sizeof(curves[0]); c++) {
        EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[c]);

        CU_ASSERT_PTR_NOT_NULL_FATAL(key);
        CU_ASSERT_EQUAL(hsm_ecdsa_der_max((size_t)EVP_PKEY_get_bits(key)),
                        (size_t)EVP_PKEY_get_size(key));
        EVP_PKEY_free(key);
    }
}

/* What a real signature of each key takes, and what the sizes say. */
static void check_key(EVP_PKEY *key, size_t output, size_t signature)
{
    unsigned char sig[HSM_SIGNATURE_MAX], digest[32] = {1};
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new();

    CU_ASSERT_EQUAL(hsm_key_output_size(key), output);
    CU_ASSERT_EQUAL(hsm_key_signature_size(key), signature);
    CU_ASSERT_EQUAL(hsm_key_signature_size(key), (size_t)EVP_PKEY_get_size(key));
    CU_ASSERT(signature <= HSM_SIGNATURE_MAX && output <= HSM_KEY_OUTPUT_MAX);
    CU_ASSERT_FATAL(md != NULL);
    CU_ASSERT_FATAL(EVP_DigestSignInit(md, NULL,
                                       EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448")
                                           ? NULL
                                           : EVP_sha256(),
                                       NULL, key) == 1);
    CU_ASSERT_FATAL(EVP_DigestSign(md, sig, &siglen, digest, sizeof(digest)) == 1);
    CU_ASSERT(siglen <= signature);
    EVP_MD_CTX_free(md);
}

static void sizes_of_each_key(void)
{
    static const struct {
        const char *alg, *param;
        size_t output, signature;
    } keys[] = {
        {"EC", "P-256", 64, 72},   {"EC", "P-384", 96, 104},  {"EC", "P-521", 132, 139},
        {"ED25519", NULL, 64, 64}, {"ED448", NULL, 114, 114}, {"RSA", "2048", 256, 256},
        {"RSA", "1025", 129, 129},
    };

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        EVP_PKEY *key;

        if (keys[i].param == NULL)
            key = EVP_PKEY_Q_keygen(NULL, NULL, keys[i].alg);
        else if (keys[i].alg[0] == 'R')
            key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)atoi(keys[i].param));
        else
            key = EVP_PKEY_Q_keygen(NULL, NULL, keys[i].alg, keys[i].param);
        CU_ASSERT_PTR_NOT_NULL_FATAL(key);
        check_key(key, keys[i].output, keys[i].signature);
        EVP_PKEY_free(key);
    }
}

/* The largest RSA key accepted, built from a modulus of that size (a
 * public key: generating one takes minutes). */
static void largest_rsa_key_fits(void)
{
    BIGNUM *n = BN_new(), *e = BN_new();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    OSSL_PARAM *params;
    EVP_PKEY *key = NULL;

    CU_ASSERT_FATAL(n != NULL && e != NULL && bld != NULL && ctx != NULL);
    CU_ASSERT_FATAL(BN_rand(n, HSM_RSA_MAX_BITS, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD) == 1 &&
                    BN_set_word(e, 65537) == 1);
    CU_ASSERT_FATAL(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) == 1 &&
                    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) == 1);
    params = OSSL_PARAM_BLD_to_param(bld);
    CU_ASSERT_FATAL(params != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
                    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
    CU_ASSERT_EQUAL(hsm_key_output_size(key), HSM_KEY_OUTPUT_MAX);
    CU_ASSERT_EQUAL(hsm_key_signature_size(key), HSM_SIGNATURE_MAX);
    CU_ASSERT_EQUAL(hsm_key_output_size(key), 2048);
    EVP_PKEY_free(key);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
}

static void other_keys_have_no_size(void)
{
    EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");

    CU_ASSERT_PTR_NOT_NULL_FATAL(x25519);
    CU_ASSERT_EQUAL(hsm_key_output_size(x25519), 0);
    CU_ASSERT_EQUAL(hsm_key_signature_size(x25519), 0);
    EVP_PKEY_free(x25519);
}

static CU_TestInfo tests[] = {
    UNIT_TEST(ecdsa_der_max_per_curve),
    UNIT_TEST(sizes_of_each_key),
    UNIT_TEST(largest_rsa_key_fits),
    UNIT_TEST(other_keys_have_no_size),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"key_sizes", NULL, NULL, NULL, NULL, tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
