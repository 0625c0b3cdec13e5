/*
 * The 256-bit inverse the P-256 table verifies with must be OpenSSL's
 * BN_mod_inverse, value for value: random values and the edges of the
 * range modulo the P-256 order and field prime, another odd modulus, and
 * the cases with no inverse (zero, out of range, a shared factor, an even
 * modulus), which must be refused so that the caller falls back.
 */
#include "tests/unit/unit.h"

#include "cache/u256_inverse.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>

static BN_CTX *ctx;
static unsigned compared;

static int set_up(void)
{
    ctx = BN_CTX_new();
    return ctx == NULL;
}

static int tear_down(void)
{
    BN_CTX_free(ctx);
    printf("\n  %u inverses compared with BN_mod_inverse\n", compared);
    return 0;
}

/* hsm_u256_mod_inverse(a) must equal BN_mod_inverse(a) when one exists. */
static void same_as_openssl(const BIGNUM *a, const BIGNUM *n)
{
    BIGNUM *ours = BN_new(), *theirs = BN_new();

    CU_ASSERT_FATAL(ours != NULL && theirs != NULL);
    CU_ASSERT_FATAL(BN_mod_inverse(theirs, a, n, ctx) != NULL);
    CU_ASSERT_TRUE(hsm_u256_mod_inverse(ours, a, n, ctx));
    CU_ASSERT_EQUAL(BN_cmp(ours, theirs), 0);
    compared++;
    BN_free(ours);
    BN_free(theirs);
}

static void refused(const BIGNUM *a, const BIGNUM *n)
{
    BIGNUM *out = BN_new();

    CU_ASSERT_FATAL(out != NULL);
    CU_ASSERT_FALSE(hsm_u256_mod_inverse(out, a, n, ctx));
    BN_free(out);
}

/* Random values and the range's edges modulo |n|. */
static void sweep(const BIGNUM *n, int randoms)
{
    BIGNUM *a = BN_new();

    CU_ASSERT_FATAL(a != NULL);
    for (int i = 0; i < randoms; i++) {
        if (!BN_rand_range(a, n) || BN_is_zero(a)) {
            CU_ASSERT_FATAL(BN_one(a));
        }
        same_as_openssl(a, n);
    }
    for (int k = 1; k <= 3; k++) {
        CU_ASSERT_FATAL(BN_set_word(a, (BN_ULONG)k));
        same_as_openssl(a, n);
        CU_ASSERT_FATAL(BN_sub(a, n, a));
        same_as_openssl(a, n);
    }
    /* (n + 1) / 2, the inverse of 2, and values with a single bit set. */
    CU_ASSERT_FATAL(BN_add_word(BN_copy(a, n), 1) && BN_rshift1(a, a));
    same_as_openssl(a, n);
    for (int bit = 0; bit < BN_num_bits(n) - 1; bit += 17) {
        BN_zero(a);
        CU_ASSERT_FATAL(BN_set_bit(a, bit));
        same_as_openssl(a, n);
    }
    BN_free(a);
}

static void p256_order(void)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);

    CU_ASSERT_FATAL(g != NULL);
    sweep(EC_GROUP_get0_order(g), 20000);
    EC_GROUP_free(g);
}

static void p256_field_and_another_prime(void)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    BIGNUM *p = BN_new(), *q = BN_new();

    CU_ASSERT_FATAL(g != NULL && p != NULL && q != NULL);
    CU_ASSERT_FATAL(EC_GROUP_get_curve(g, p, NULL, NULL, ctx));
    sweep(p, 2000);
    CU_ASSERT_FATAL(BN_generate_prime_ex(q, 200, 0, NULL, NULL, NULL));
    sweep(q, 2000);
    CU_ASSERT_FATAL(BN_set_word(q, 7));
    sweep(q, 20);
    EC_GROUP_free(g);
    BN_free(p);
    BN_free(q);
}

static void no_inverse_is_refused(void)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    const BIGNUM *n = EC_GROUP_get0_order(g);
    BIGNUM *a = BN_new(), *m = BN_new();

    CU_ASSERT_FATAL(g != NULL && a != NULL && m != NULL);
    BN_zero(a);
    refused(a, n); /* zero */
    refused(n, n); /* a = n */
    CU_ASSERT_FATAL(BN_add_word(BN_copy(a, n), 5));
    refused(a, n); /* a > n */
    CU_ASSERT_FATAL(BN_set_word(a, 5) && BN_set_word(m, 3 * 5 * 7 * 11));
    refused(a, m); /* a shared factor */
    CU_ASSERT_FATAL(BN_set_word(a, 3 * 11) && BN_set_word(m, 3 * 5 * 7 * 11));
    refused(a, m);
    CU_ASSERT_FATAL(BN_set_word(a, 3) && BN_set_word(m, 1u << 20));
    refused(a, m); /* an even modulus */
    CU_ASSERT_FATAL(BN_set_word(a, 3) && BN_set_word(m, 1));
    refused(a, m); /* modulus 1 */
    CU_ASSERT_FATAL(BN_set_word(a, 3) && BN_lshift(m, BN_value_one(), 300) && BN_add_word(m, 1));
    refused(a, m); /* more than 256 bits */
    BN_set_negative(a, 1);
    refused(a, n); /* negative */
    EC_GROUP_free(g);
    BN_free(a);
    BN_free(m);
}

static CU_TestInfo tests[] = {
    UNIT_TEST(p256_order),
    UNIT_TEST(p256_field_and_another_prime),
    UNIT_TEST(no_inverse_is_refused),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"u256_inverse", set_up, tear_down, NULL, NULL, tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
