/*
 * PKCS#1 v1.5 unpadding on the host (provider/rsa_pkcs1_unpad.c): a good
 * block gives its message, a bad one a synthetic message that depends only
 * on the key's secret and the ciphertext; the TLS premaster secret; the
 * branch-free left padding of a block a module returned short. Blocks are
 * built here byte by byte, as RFC 8017 7.2.1 lays them out.
 */
#include "tests/unit/unit.h"

#include "provider/rsa_pkcs1_unpad.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define K 256

static const unsigned char secret_a[HSM_REJECTION_SECRET_LEN] = {1, 2, 3};
static const unsigned char secret_b[HSM_REJECTION_SECRET_LEN] = {4, 5, 6};

/* 00 02 PS 00 M with |ps| non-zero padding bytes and an |mlen|-byte message. */
static void v15_block(unsigned char em[K], size_t mlen, unsigned char *msg)
{
    size_t ps = K - 3 - mlen;

    em[0] = 0;
    em[1] = 2;
    for (size_t i = 0; i < ps; i++)
        em[2 + i] = (unsigned char)(1 + i % 255);
    em[2 + ps] = 0;
    for (size_t i = 0; i < mlen; i++)
        msg[i] = em[3 + ps + i] = (unsigned char)(1 + i % 250); /* no zero byte */
}

static size_t unpad(const unsigned char *secret, const unsigned char *c, const unsigned char *em,
                    unsigned char *out, size_t *good)
{
    size_t len = 0;

    CU_ASSERT_TRUE(hsm_rsa_pkcs1_unpad(NULL, secret, c, em, K, out, &len, good));
    return len;
}

static void good_padding_gives_the_message(void)
{
    unsigned char em[K], c[K], msg[K], out[K];
    size_t good, sizes[] = {0, 1, 32, 100, K - 11};

    memset(c, 0x33, sizeof(c));
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        v15_block(em, sizes[i], msg);
        CU_ASSERT_EQUAL(unpad(secret_a, c, em, out, &good), sizes[i]);
        CU_ASSERT_EQUAL(good, (size_t)-1);
        CU_ASSERT_EQUAL(memcmp(out, msg, sizes[i]), 0);
    }
}

/* Each way a block can be bad: the synthetic answer, not an error. */
static void bad_padding_gives_a_synthetic_message(void)
{
    unsigned char em[K], c[K], msg[K], out[K], again[K], other[K];
    size_t good, len, len2;

    memset(c, 0x44, sizeof(c));
    for (int kind = 0; kind < 5; kind++) {
        v15_block(em, 100, msg);
        if (kind == 0)
            em[0] = 1; /* not 00 */
        else if (kind == 1)
            em[1] = 1; /* a signature's 00 01 */
        else if (kind == 2)
            em[K - 101] = 0x55; /* no separator: no zero after 00 02 */
        else if (kind == 3)
            em[2 + 7] = 0; /* a separator after only seven padding bytes */
        else
            memset(em, 0, K); /* all zero */
        len = unpad(secret_a, c, em, out, &good);
        CU_ASSERT_EQUAL(good, 0);
        CU_ASSERT_TRUE(len <= K - 11);
        CU_ASSERT_FALSE(len == 100 && memcmp(out, msg, 100) == 0);
        /* The same block and ciphertext: the same answer. */
        len2 = unpad(secret_a, c, em, again, &good);
        CU_ASSERT_EQUAL(len2, len);
        CU_ASSERT_EQUAL(memcmp(out, again, len), 0);
    }
    /* The synthetic message depends on the ciphertext and the key's secret,
     * not on the block. */
    memset(em, 0, K);
    len = unpad(secret_a, c, em, out, &good);
    em[5] = 9;
    len2 = unpad(secret_a, c, em, again, &good);
    CU_ASSERT_TRUE(len == len2 && memcmp(out, again, len) == 0);
    c[K - 1] ^= 1;
    len2 = unpad(secret_a, c, em, other, &good);
    CU_ASSERT_FALSE(len == len2 && memcmp(out, other, len) == 0);
    c[K - 1] ^= 1;
    len2 = unpad(secret_b, c, em, other, &good);
    CU_ASSERT_FALSE(len == len2 && memcmp(out, other, len) == 0);
}

/* Across many ciphertexts the synthetic lengths spread over 0..k-11. */
static void synthetic_lengths_spread(void)
{
    unsigned char em[K] = {0}, c[K], out[K];
    size_t good, shortest = K, longest = 0;

    for (int i = 0; i < 200; i++) {
        size_t len;

        memset(c, 0, sizeof(c));
        c[0] = (unsigned char)i;
        c[1] = (unsigned char)(i >> 8);
        len = unpad(secret_a, c, em, out, &good);
        shortest = len < shortest ? len : shortest;
        longest = len > longest ? len : longest;
    }
    CU_ASSERT_TRUE(longest <= K - 11);
    CU_ASSERT_TRUE(longest > 200 && shortest < 50);
}

static void left_pad_moves_without_losing_bytes(void)
{
    unsigned char buf[K], want[K];
    size_t lens[] = {K, K - 1, K - 2, K - 37, 1, 0};

    for (size_t t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
        size_t len = lens[t];

        memset(buf, 0xee, sizeof(buf)); /* what the module did not write */
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)(i + 1);
        memset(want, 0, sizeof(want));
        for (size_t i = 0; i < len; i++)
            want[K - len + i] = (unsigned char)(i + 1);
        hsm_rsa_left_pad(buf, len, K);
        CU_ASSERT_EQUAL(memcmp(buf, want, K), 0);
    }
}

static void tls_premaster(void)
{
    unsigned char em[K], msg[K], fallback[48], out[48];

    memset(fallback, 0xfb, sizeof(fallback));
    v15_block(em, 48, msg);
    em[K - 48] = 3;
    em[K - 47] = 3;
    hsm_rsa_tls_premaster_unpad(em, K, 0x0303, 0, fallback, out);
    CU_ASSERT_EQUAL(memcmp(out, em + K - 48, 48), 0);
    /* the client offered TLS 1.2, the block says 1.1: the fallback ... */
    em[K - 47] = 2;
    hsm_rsa_tls_premaster_unpad(em, K, 0x0303, 0, fallback, out);
    CU_ASSERT_EQUAL(memcmp(out, fallback, 48), 0);
    /* ... unless the negotiated version is allowed */
    hsm_rsa_tls_premaster_unpad(em, K, 0x0303, 0x0302, fallback, out);
    CU_ASSERT_EQUAL(memcmp(out, em + K - 48, 48), 0);
    /* bad padding: the fallback */
    em[K - 49] = 1;
    hsm_rsa_tls_premaster_unpad(em, K, 0x0302, 0, fallback, out);
    CU_ASSERT_EQUAL(memcmp(out, fallback, 48), 0);
}

static CU_TestInfo unpad_tests[] = {
    UNIT_TEST(good_padding_gives_the_message),
    UNIT_TEST(bad_padding_gives_a_synthetic_message),
    UNIT_TEST(synthetic_lengths_spread),
    UNIT_TEST(left_pad_moves_without_losing_bytes),
    UNIT_TEST(tls_premaster),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"rsa_pkcs1_unpad", NULL, NULL, NULL, NULL, unpad_tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
