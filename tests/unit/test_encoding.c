/*
 * Byte formats between PKCS#11 and OpenSSL: DigestInfo for CKM_RSA_PKCS and
 * ECDSA r||s to DER. Expected values come from OpenSSL signing in software.
 */
#include "tests/unit/unit.h"

#include "provider/encoding.h"

#include "cache/key_sizes.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

/* ---- hsm_digestinfo ---- */

static EVP_PKEY *rsa;

static int make_rsa(void)
{
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    return rsa == NULL ? -1 : 0;
}

static int free_rsa(void)
{
    EVP_PKEY_free(rsa);
    return 0;
}

/*
 * The DigestInfo OpenSSL itself puts under a PKCS#1 v1.5 signature: sign
 * |digest| with the signature md set, then recover the padded block
 * without one.
 */
static size_t openssl_digestinfo(const char *mdname, const unsigned char *digest, size_t dlen,
                                 unsigned char *out, size_t outsize)
{
    unsigned char sig[256];
    size_t siglen = sizeof(sig), outlen = outsize;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rsa, NULL);

    CU_ASSERT_FATAL(ctx != NULL);
    CU_ASSERT_FATAL(EVP_PKEY_sign_init(ctx) == 1);
    CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1);
    CU_ASSERT_FATAL(EVP_PKEY_CTX_set_signature_md(ctx, EVP_get_digestbyname(mdname)) == 1);
    CU_ASSERT_FATAL(EVP_PKEY_sign(ctx, sig, &siglen, digest, dlen) == 1);
    EVP_PKEY_CTX_free(ctx);

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rsa, NULL);
    CU_ASSERT_FATAL(ctx != NULL);
    CU_ASSERT_FATAL(EVP_PKEY_verify_recover_init(ctx) == 1);
    CU_ASSERT_FATAL(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1);
    CU_ASSERT_FATAL(EVP_PKEY_verify_recover(ctx, out, &outlen, sig, siglen) == 1);
    EVP_PKEY_CTX_free(ctx);
    return outlen;
}

static void digestinfo_matches_openssl(void)
{
    static const struct {
        const char *openssl;
        const char *aliases[3];
    } mds[] = {
        {"SHA1", {"SHA1", "SHA-1", "sha1"}},
        {"SHA224", {"SHA224", "SHA2-224", "SHA-224"}},
        {"SHA256", {"SHA256", "SHA2-256", "sha-256"}},
        {"SHA384", {"SHA384", "SHA2-384", "SHA-384"}},
        {"SHA512", {"SHA512", "SHA2-512", "SHA-512"}},
    };

    for (size_t i = 0; i < sizeof(mds) / sizeof(mds[0]); i++) {
        unsigned char digest[EVP_MAX_MD_SIZE], want[256], got[128];
        unsigned int dlen = 0;
        size_t wantlen, gotlen = 0;

        CU_ASSERT_FATAL(
            EVP_Digest("abc", 3, digest, &dlen, EVP_get_digestbyname(mds[i].openssl), NULL) == 1);
        wantlen = openssl_digestinfo(mds[i].openssl, digest, dlen, want, sizeof(want));
        for (size_t j = 0; j < 3; j++) {
            gotlen = 0;
            CU_ASSERT_TRUE_FATAL(
                hsm_digestinfo(mds[i].aliases[j], digest, dlen, got, sizeof(got), &gotlen));
            CU_ASSERT_EQUAL(gotlen, wantlen);
            CU_ASSERT(gotlen == wantlen && memcmp(got, want, gotlen) == 0);
        }
        /* The output buffer may be exactly the size of the result. */
        CU_ASSERT_TRUE(hsm_digestinfo(mds[i].openssl, digest, dlen, got, wantlen, &gotlen));
        CU_ASSERT_FALSE(hsm_digestinfo(mds[i].openssl, digest, dlen, got, wantlen - 1, &gotlen));
    }
}

static void digestinfo_wrong_length_refused(void)
{
    unsigned char digest[65] = {0}, out[128];
    size_t outlen = 0;

    CU_ASSERT_FALSE(hsm_digestinfo("SHA256", digest, 31, out, sizeof(out), &outlen));
    CU_ASSERT_FALSE(hsm_digestinfo("SHA256", digest, 33, out, sizeof(out), &outlen));
    CU_ASSERT_FALSE(hsm_digestinfo("SHA1", digest, 32, out, sizeof(out), &outlen));
    CU_ASSERT_FALSE(hsm_digestinfo("SHA512", digest, 65, out, sizeof(out), &outlen));
    CU_ASSERT_FALSE(hsm_digestinfo("SHA384", digest, 0, out, sizeof(out), &outlen));
    CU_ASSERT_EQUAL(outlen, 0);
}

static void digestinfo_unknown_digest_refused(void)
{
    static const char *const unknown[] = {"MD5", "SHA3-256", "SHA512-256", "SHA2", "", "SHA"};
    unsigned char digest[64] = {0}, out[128];
    size_t outlen = 0;

    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        CU_ASSERT_FALSE(hsm_digestinfo(unknown[i], digest, 16, out, sizeof(out), &outlen));
        CU_ASSERT_FALSE(hsm_digestinfo(unknown[i], digest, 32, out, sizeof(out), &outlen));
    }
    CU_ASSERT_EQUAL(outlen, 0);
}

/* ---- hsm_ecdsa_raw_to_der ---- */

static const struct curve {
    const char *name;
    size_t order_bytes;
    size_t tight_max; /* longest DER an r, s below the order can take */
} curves[] = {
    {"P-256", 32, 72},
    {"P-384", 48, 104},
    {"P-521", 66, 139},
};

/* The order sizes of the curves here: P-521's order has 521 bits. */
static size_t order_bits(size_t order_bytes)
{
    return order_bytes == 66 ? 521 : order_bytes * 8;
}

static void check_round_trip(const unsigned char *der, size_t derlen, size_t order_bytes)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    unsigned char raw[2 * 66], back[160];
    size_t backlen = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(sig);
    CU_ASSERT_FATAL(BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, (int)order_bytes) > 0);
    CU_ASSERT_FATAL(BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + order_bytes, (int)order_bytes) > 0);
    ECDSA_SIG_free(sig);
    CU_ASSERT_TRUE_FATAL(hsm_ecdsa_raw_to_der(raw, 2 * order_bytes, back, sizeof(back), &backlen));
    CU_ASSERT_EQUAL(backlen, derlen);
    CU_ASSERT(backlen == derlen && memcmp(back, der, derlen) == 0);
}

static void ecdsa_round_trip_software_signatures(void)
{
    for (size_t c = 0; c < sizeof(curves) / sizeof(curves[0]); c++) {
        EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[c].name);
        size_t longest = 0;

        CU_ASSERT_PTR_NOT_NULL_FATAL(key);
        for (int i = 0; i < 200; i++) {
            unsigned char msg[32], der[160];
            size_t derlen = sizeof(der);
            EVP_MD_CTX *md = EVP_MD_CTX_new();

            CU_ASSERT_FATAL(RAND_bytes(msg, sizeof(msg)) == 1);
            CU_ASSERT_FATAL(md != NULL);
            CU_ASSERT_FATAL(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL) == 1);
            CU_ASSERT_FATAL(EVP_DigestSign(md, der, &derlen, msg, sizeof(msg)) == 1);
            EVP_MD_CTX_free(md);
            check_round_trip(der, derlen, curves[c].order_bytes);
            CU_ASSERT(derlen <= hsm_ecdsa_der_max(order_bits(curves[c].order_bytes)));
            longest = derlen > longest ? derlen : longest;
        }
        CU_ASSERT(longest <= curves[c].tight_max);
        EVP_PKEY_free(key);
    }
}

/* Minimal independent DER writer for the expected values below. */
static size_t put_int(unsigned char *out, const unsigned char *v, size_t len)
{
    size_t n = 0;

    while (len > 1 && v[0] == 0)
        v++, len--;
    out[n++] = 0x02;
    out[n++] = (unsigned char)(len + (v[0] & 0x80 ? 1 : 0));
    if (v[0] & 0x80)
        out[n++] = 0x00;
    memcpy(out + n, v, len);
    return n + len;
}

static size_t expected_der(const unsigned char *raw, size_t rawlen, unsigned char *out)
{
    unsigned char body[160];
    size_t blen = put_int(body, raw, rawlen / 2);
    size_t n = 0;

    blen += put_int(body + blen, raw + rawlen / 2, rawlen / 2);
    out[n++] = 0x30;
    if (blen >= 0x80)
        out[n++] = 0x81;
    out[n++] = (unsigned char)blen;
    memcpy(out + n, body, blen);
    return n + blen;
}

static void check_raw(const unsigned char *raw, size_t rawlen)
{
    unsigned char want[160], got[160];
    size_t wantlen = expected_der(raw, rawlen, want), gotlen = 0;

    CU_ASSERT_TRUE_FATAL(hsm_ecdsa_raw_to_der(raw, rawlen, got, sizeof(got), &gotlen));
    CU_ASSERT_EQUAL(gotlen, wantlen);
    CU_ASSERT(gotlen == wantlen && memcmp(got, want, gotlen) == 0);
    CU_ASSERT(gotlen <= hsm_ecdsa_der_max(order_bits(rawlen / 2)));
    /* And OpenSSL reads it back to the same r and s. */
    check_round_trip(got, gotlen, rawlen / 2);
}

static void ecdsa_high_bits_and_leading_zeros(void)
{
    for (size_t c = 0; c < sizeof(curves) / sizeof(curves[0]); c++) {
        size_t ob = curves[c].order_bytes;
        unsigned char raw[2 * 66];

        for (int shape = 0; shape < 6; shape++) {
            memset(raw, 0x5c, 2 * ob);
            switch (shape) {
            case 0: /* both high bit set: both INTEGERs gain a zero byte */
                raw[0] = 0xff, raw[ob] = 0x80;
                break;
            case 1: /* r high, s with a leading zero byte */
                raw[0] = 0x80, raw[ob] = 0x00, raw[ob + 1] = 0xff;
                break;
            case 2: /* r with leading zeros, s high */
                raw[0] = 0x00, raw[1] = 0x00, raw[2] = 0x01, raw[ob] = 0xc0;
                break;
            case 3: /* leading zero whose next byte has the high bit set */
                raw[0] = 0x00, raw[1] = 0x80, raw[ob] = 0x00, raw[ob + 1] = 0x80;
                break;
            case 4: /* tiny values: r = 1, s = 0x7f */
                memset(raw, 0, 2 * ob);
                raw[ob - 1] = 0x01, raw[2 * ob - 1] = 0x7f;
                break;
            case 5: /* the all-ones maximum (top byte 0x01 on P-521) */
                memset(raw, 0xff, 2 * ob);
                if (ob == 66)
                    raw[0] = 0x01, raw[ob] = 0x01;
                break;
            }
            /* A P-521 value has 521 bits: its top byte is at most 0x01. */
            if (ob == 66) {
                raw[0] &= 0x01;
                raw[ob] &= 0x01;
            }
            check_raw(raw, 2 * ob);
        }
    }
}

static void ecdsa_bad_input_refused(void)
{
    unsigned char raw[64], der[80];
    size_t derlen = 0;

    memset(raw, 0x81, sizeof(raw));
    CU_ASSERT_FALSE(hsm_ecdsa_raw_to_der(raw, 0, der, sizeof(der), &derlen));
    CU_ASSERT_FALSE(hsm_ecdsa_raw_to_der(raw, 63, der, sizeof(der), &derlen));
    /* 64 bytes with both high bits set encode to 72: 71 is too small. */
    CU_ASSERT_FALSE(hsm_ecdsa_raw_to_der(raw, 64, der, 71, &derlen));
    CU_ASSERT_EQUAL(derlen, 0);
    CU_ASSERT_TRUE(hsm_ecdsa_raw_to_der(raw, 64, der, 72, &derlen));
    CU_ASSERT_EQUAL(derlen, 72);
}

static CU_TestInfo digestinfo_tests[] = {
    UNIT_TEST(digestinfo_matches_openssl),
    UNIT_TEST(digestinfo_wrong_length_refused),
    UNIT_TEST(digestinfo_unknown_digest_refused),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo ecdsa_tests[] = {
    UNIT_TEST(ecdsa_round_trip_software_signatures),
    UNIT_TEST(ecdsa_high_bits_and_leading_zeros),
    UNIT_TEST(ecdsa_bad_input_refused),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"digestinfo", make_rsa, free_rsa, NULL, NULL, digestinfo_tests},
        {"ecdsa_der", NULL, NULL, NULL, NULL, ecdsa_tests},
        CU_SUITE_INFO_NULL,
    };

    return unit_run(suites);
}
