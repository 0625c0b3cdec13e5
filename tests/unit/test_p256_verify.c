/*
 * The P-256 verification table must accept exactly what OpenSSL's
 * EVP_PKEY_verify accepts: it stands between the token and the caller, so
 * one signature it wrongly accepted would be an invalid signature handed
 * out. Every verdict here is compared with OpenSSL's for the same bytes:
 * valid signatures of digests of every length, each with single bit flips
 * in the signature and in the digest, r and s at and around the limits of
 * their range, the malleated (r, n - s), DER that is not strictly DER, and
 * another key's signature. A table whose verdicts differ from OpenSSL's is
 * never put in use.
 */
#include "tests/unit/unit.h"

#include "cache/p256_verify.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static EVP_PKEY *keys[3];
static struct hsm_p256_table *tables[3];
static unsigned compared, accepted;

static int set_up(void)
{
    for (int i = 0; i < 3; i++) {
        keys[i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        tables[i] = keys[i] != NULL ? hsm_p256_table_new(keys[i]) : NULL;
        if (tables[i] == NULL)
            return 1;
    }
    return 0;
}

static int tear_down(void)
{
    for (int i = 0; i < 3; i++) {
        hsm_p256_table_free(tables[i]);
        EVP_PKEY_free(keys[i]);
    }
    printf("\n  %u verdicts compared with OpenSSL's, %u of them valid\n", compared, accepted);
    return 0;
}

static int openssl_verdict(EVP_PKEY *k, const unsigned char *dgst, size_t dlen,
                           const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    int ok = ctx != NULL && EVP_PKEY_verify_init(ctx) > 0 &&
             EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen) == 1;

    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

/* Both verdicts for the same bytes; they must agree. */
static void agree(int key, const unsigned char *dgst, size_t dlen, const unsigned char *sig,
                  size_t siglen)
{
    int ref = openssl_verdict(keys[key], dgst, dlen, sig, siglen);
    int ours = hsm_p256_table_verify(tables[key], dgst, dlen, sig, siglen);

    CU_ASSERT_EQUAL(ours, ref);
    compared++;
    accepted += ref == 1;
}

static size_t sign(int key, const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t size)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, keys[key], NULL);
    size_t len = size;

    CU_ASSERT_FATAL(ctx != NULL && EVP_PKEY_sign_init(ctx) > 0 &&
                    EVP_PKEY_sign(ctx, sig, &len, dgst, dlen) > 0);
    EVP_PKEY_CTX_free(ctx);
    return len;
}

static void valid_and_bit_flips(void)
{
    static const size_t lengths[] = {1, 20, 28, 31, 32, 33, 48, 64};

    for (int key = 0; key < 3; key++) {
        for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); l++) {
            unsigned char dgst[64], sig[80], bad[80];
            size_t dlen = lengths[l], siglen;

            CU_ASSERT_FATAL(RAND_bytes(dgst, (int)dlen) == 1);
            siglen = sign(key, dgst, dlen, sig, sizeof(sig));
            agree(key, dgst, dlen, sig, siglen);
            CU_ASSERT_EQUAL(hsm_p256_table_verify(tables[key], dgst, dlen, sig, siglen), 1);
            for (size_t bit = 0; bit < siglen * 8; bit += 3) {
                memcpy(bad, sig, siglen);
                bad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                agree(key, dgst, dlen, bad, siglen);
            }
            for (size_t bit = 0; bit < dlen * 8; bit += 5) {
                dgst[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                agree(key, dgst, dlen, sig, siglen);
                dgst[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            }
            /* Another key's verdict on this key's signature. */
            agree((key + 1) % 3, dgst, dlen, sig, siglen);
            CU_ASSERT_EQUAL(hsm_p256_table_verify(tables[(key + 1) % 3], dgst, dlen, sig, siglen),
                            0);
        }
    }
}

/* A zero digest makes u1 zero: R is u2*Q alone. */
static void zero_digest(void)
{
    unsigned char dgst[32] = {0}, sig[80];
    size_t siglen = sign(0, dgst, sizeof(dgst), sig, sizeof(sig));

    agree(0, dgst, sizeof(dgst), sig, siglen);
    CU_ASSERT_EQUAL(hsm_p256_table_verify(tables[0], dgst, sizeof(dgst), sig, siglen), 1);
}

/* DER of (r, s), or 0 when OpenSSL will not encode it. */
static size_t encode(const BIGNUM *r, const BIGNUM *s, unsigned char *out, size_t size)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *rr = BN_dup(r), *ss = BN_dup(s);
    unsigned char *der = NULL;
    int len = -1;

    CU_ASSERT_FATAL(sig != NULL && rr != NULL && ss != NULL && ECDSA_SIG_set0(sig, rr, ss));
    len = i2d_ECDSA_SIG(sig, &der);
    ECDSA_SIG_free(sig);
    if (len <= 0 || (size_t)len > size) {
        OPENSSL_free(der);
        return 0;
    }
    memcpy(out, der, (size_t)len);
    OPENSSL_free(der);
    return (size_t)len;
}

static void range_limits(void)
{
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    const BIGNUM *n = EC_GROUP_get0_order(group);
    unsigned char dgst[32], sig[80], der[96];
    size_t siglen;
    const unsigned char *p = sig;
    ECDSA_SIG *good;
    const BIGNUM *r, *s;
    BIGNUM *edge[6];

    CU_ASSERT_FATAL(RAND_bytes(dgst, sizeof(dgst)) == 1);
    siglen = sign(1, dgst, sizeof(dgst), sig, sizeof(sig));
    good = d2i_ECDSA_SIG(NULL, &p, (long)siglen);
    CU_ASSERT_FATAL(good != NULL);
    ECDSA_SIG_get0(good, &r, &s);
    for (int i = 0; i < 6; i++)
        CU_ASSERT_FATAL((edge[i] = BN_new()) != NULL);
    BN_zero(edge[0]);
    BN_one(edge[1]);
    BN_sub(edge[2], n, BN_value_one());
    BN_copy(edge[3], n);
    BN_add(edge[4], n, BN_value_one());
    BN_copy(edge[5], r);
    BN_set_negative(edge[5], 1);
    for (int i = 0; i < 6; i++) {
        size_t len;

        if ((len = encode(edge[i], s, der, sizeof(der))) > 0)
            agree(1, dgst, sizeof(dgst), der, len);
        if ((len = encode(r, edge[i], der, sizeof(der))) > 0)
            agree(1, dgst, sizeof(dgst), der, len);
        /* r + n has the same x mod n: it must still be refused. */
        if ((len = encode(edge[i], edge[i], der, sizeof(der))) > 0)
            agree(1, dgst, sizeof(dgst), der, len);
    }
    /* (r, n - s) is valid too; (r + n, s) and (r, s + n) are out of range. */
    {
        BIGNUM *t = BN_new();
        size_t len;

        CU_ASSERT_FATAL(t != NULL && BN_sub(t, n, s));
        len = encode(r, t, der, sizeof(der));
        agree(1, dgst, sizeof(dgst), der, len);
        CU_ASSERT_EQUAL(hsm_p256_table_verify(tables[1], dgst, sizeof(dgst), der, len), 1);
        CU_ASSERT_FATAL(BN_add(t, r, n));
        len = encode(t, s, der, sizeof(der));
        agree(1, dgst, sizeof(dgst), der, len);
        CU_ASSERT_EQUAL(hsm_p256_table_verify(tables[1], dgst, sizeof(dgst), der, len), 0);
        /* s + n has the same inverse mod n: only the range check refuses it. */
        CU_ASSERT_FATAL(BN_add(t, s, n));
        len = encode(r, t, der, sizeof(der));
        agree(1, dgst, sizeof(dgst), der, len);
        CU_ASSERT_EQUAL(hsm_p256_table_verify(tables[1], dgst, sizeof(dgst), der, len), 0);
        BN_free(t);
    }
    for (int i = 0; i < 6; i++)
        BN_free(edge[i]);
    ECDSA_SIG_free(good);
    EC_GROUP_free(group);
}

/* The same (r, s) in bytes that are not its DER: refused by both. */
static void not_strict_der(void)
{
    unsigned char dgst[32], sig[80], bad[96];
    size_t siglen;

    CU_ASSERT_FATAL(RAND_bytes(dgst, sizeof(dgst)) == 1);
    siglen = sign(2, dgst, sizeof(dgst), sig, sizeof(sig));
    /* A trailing byte. */
    memcpy(bad, sig, siglen);
    bad[siglen] = 0;
    agree(2, dgst, sizeof(dgst), bad, siglen + 1);
    CU_ASSERT_EQUAL(hsm_p256_table_verify(tables[2], dgst, sizeof(dgst), bad, siglen + 1), 0);
    /* Cut short. */
    agree(2, dgst, sizeof(dgst), sig, siglen - 1);
    agree(2, dgst, sizeof(dgst), sig, 0);
    /* The outer length in long form (0x81 LL). */
    CU_ASSERT_FATAL(sig[1] < 0x80);
    bad[0] = sig[0];
    bad[1] = 0x81;
    memcpy(bad + 2, sig + 1, siglen - 1);
    agree(2, dgst, sizeof(dgst), bad, siglen + 1);
    CU_ASSERT_EQUAL(hsm_p256_table_verify(tables[2], dgst, sizeof(dgst), bad, siglen + 1), 0);
    /* r with a needless leading zero byte. */
    CU_ASSERT_FATAL(sig[2] == 0x02);
    bad[0] = 0x30;
    bad[1] = (unsigned char)(sig[1] + 1);
    bad[2] = 0x02;
    bad[3] = (unsigned char)(sig[3] + 1);
    bad[4] = 0x00;
    memcpy(bad + 5, sig + 4, siglen - 4);
    agree(2, dgst, sizeof(dgst), bad, siglen + 1);
    CU_ASSERT_EQUAL(hsm_p256_table_verify(tables[2], dgst, sizeof(dgst), bad, siglen + 1), 0);
}

static void other_keys_get_no_table(void)
{
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

    CU_ASSERT_FATAL(p384 != NULL && rsa != NULL && ed != NULL);
    CU_ASSERT_PTR_NULL(hsm_p256_table_new(p384));
    CU_ASSERT_PTR_NULL(hsm_p256_table_new(rsa));
    CU_ASSERT_PTR_NULL(hsm_p256_table_new(ed));
    EVP_PKEY_free(p384);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ed);
}

/* A table that disagrees with OpenSSL (here: built for another key) is
 * never kept, however fast it is. */
static void disagreeing_table_is_not_kept(void)
{
    double table_us = -1, evp_us = -1;

    CU_ASSERT_FALSE(hsm_p256_table_pays_off(tables[0], keys[1], NULL, &table_us, &evp_us));
    CU_ASSERT_EQUAL(table_us, 0);
    CU_ASSERT_EQUAL(evp_us, 0);
}

static CU_TestInfo tests[] = {
    UNIT_TEST(valid_and_bit_flips),
    UNIT_TEST(zero_digest),
    UNIT_TEST(range_limits),
    UNIT_TEST(not_strict_der),
    UNIT_TEST(other_keys_get_no_table),
    UNIT_TEST(disagreeing_table_is_not_kept),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"p256_verify", set_up, tear_down, NULL, NULL, tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
