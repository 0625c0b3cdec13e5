/*
 * The structure is the implicit-rejection construction of OpenSSL 3.2
 * (after draft-irtf-cfrg-rsa-guidance): a key-derivation key from HMAC of
 * the ciphertext under a per-key secret, a PRF that expands it into a
 * candidate message and candidate lengths, and a branch-free choice between
 * the real message and the synthetic one. The per-key secret here comes
 * from the token (rsa_rejection_secret.c), not from the private exponent.
 */
#include "provider/rsa_pkcs1_unpad.h"
#include "cache/error.h"
#include "cache/provider_property.h"
#include "provider/constant_time.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#define SHA256_LEN 32
/* Candidate lengths drawn: none of 128 fits with probability 2^-128 or less. */
#define LENGTH_TRIES 128

void hsm_rsa_left_pad(unsigned char *buf, size_t len, size_t k)
{
    size_t shift = k - len;

    /* Bytes past |len| are not the module's answer: zero them. */
    for (size_t i = 0; i < k; i++)
        buf[i] = hsm_ct_select_8(hsm_ct_lt(i, len), buf[i], 0);
    /* Shift right by |shift|, one power of two at a time, every byte
     * touched whatever the bit says. */
    for (size_t step = 1; step < k; step <<= 1) {
        size_t mask = ~hsm_ct_is_zero(shift & step);

        for (size_t i = k; i-- > 0;)
            buf[i] = hsm_ct_select_8(mask, i >= step ? buf[i - step] : 0, buf[i]);
    }
}

static bool hmac_sha256(OSSL_LIB_CTX *libctx, const unsigned char *key, size_t keylen,
                        const unsigned char *data, size_t len, unsigned char out[SHA256_LEN])
{
    size_t outlen = 0;

    if (EVP_Q_mac(libctx, "HMAC", HSM_SOFTWARE_PROPQ, "SHA256", NULL, key, keylen, data, len, out,
                  SHA256_LEN, &outlen) == NULL ||
        outlen != SHA256_LEN) {
        hsm_error(HSM_R_INTERNAL, "HMAC-SHA256 is not available from a software provider");
        return false;
    }
    return true;
}

/* |n| bytes: HMAC-SHA256(kdk, be16(i) || label || be16(n * 8)) for i = 0, 1, ... */
static bool prf(OSSL_LIB_CTX *libctx, const unsigned char kdk[SHA256_LEN], const char *label,
                unsigned char *out, size_t n)
{
    size_t llen = strlen(label), bits = n * 8;
    unsigned char input[2 + 16 + 2], block[SHA256_LEN];
    bool ok = true;

    if (llen > 16 || bits > 0xffff)
        return false;
    memcpy(input + 2, label, llen);
    input[2 + llen] = (unsigned char)(bits >> 8);
    input[3 + llen] = (unsigned char)bits;
    for (size_t pos = 0, i = 0; ok && pos < n; pos += SHA256_LEN, i++) {
        input[0] = (unsigned char)(i >> 8);
        input[1] = (unsigned char)i;
        ok = hmac_sha256(libctx, kdk, SHA256_LEN, input, 4 + llen, block);
        memcpy(out + pos, block, n - pos < SHA256_LEN ? n - pos : SHA256_LEN);
    }
    OPENSSL_cleanse(block, sizeof(block));
    return ok;
}

bool hsm_rsa_pkcs1_unpad(OSSL_LIB_CTX *libctx, const unsigned char secret[HSM_REJECTION_SECRET_LEN],
                         const unsigned char *c, const unsigned char *em, size_t k,
                         unsigned char *out, size_t *outlen, size_t *good_out)
{
    unsigned char kdk[SHA256_LEN], lengths[LENGTH_TRIES * 2], *synthetic;
    size_t max_len = k - 2 - 8, mask = max_len, synthetic_len = 0;
    size_t good, found = 0, zero_at = 0, msg_at, n = 0;
    bool ok;

    if (k < 2 + 8 + 1 || k * 8 > 0xffff || (synthetic = OPENSSL_malloc(k)) == NULL) {
        hsm_error(HSM_R_BAD_INPUT, "an RSA block of %zu bytes cannot be unpadded here", k);
        return false;
    }
    ok = hmac_sha256(libctx, secret, HSM_REJECTION_SECRET_LEN, c, k, kdk) &&
         prf(libctx, kdk, "message", synthetic, k) &&
         prf(libctx, kdk, "length", lengths, sizeof(lengths));
    if (!ok) {
        hsm_error(HSM_R_INTERNAL, "the implicit-rejection message could not be derived");
        goto done;
    }
    /* The synthetic length: the last candidate, masked to the next power
     * of two, that fits below the longest message the block can carry. */
    for (size_t shift = 1; shift < 16; shift <<= 1)
        mask |= mask >> shift;
    for (size_t i = 0; i < sizeof(lengths); i += 2) {
        size_t candidate = (((size_t)lengths[i] << 8) | lengths[i + 1]) & mask;

        synthetic_len = hsm_ct_select(hsm_ct_lt(candidate, max_len), candidate, synthetic_len);
    }

    /* 00 02, at least eight non-zero bytes, 00, the message. */
    good = hsm_ct_is_zero(em[0]) & hsm_ct_eq(em[1], 2);
    for (size_t i = 2; i < k; i++) {
        size_t zero = hsm_ct_is_zero(em[i]);

        zero_at = hsm_ct_select(~found & zero, i, zero_at);
        found |= zero;
    }
    good &= hsm_ct_ge(zero_at, 2 + 8);
    msg_at = hsm_ct_select(good, zero_at + 1, k - synthetic_len);
    /* Where the returned message starts is its length, which the caller
     * learns anyway; which of the two it is stays secret. */
    HSM_CT_PUBLIC(msg_at);
    for (size_t i = msg_at; i < k; i++)
        out[n++] = hsm_ct_select_8(good, em[i], synthetic[i]);
    *outlen = n;
    *good_out = good;
done:
    OPENSSL_cleanse(kdk, sizeof(kdk));
    OPENSSL_cleanse(lengths, sizeof(lengths));
    OPENSSL_clear_free(synthetic, k);
    return ok;
}

void hsm_rsa_tls_premaster_unpad(const unsigned char *em, size_t k, unsigned int client_version,
                                 unsigned int alt_version, const unsigned char fallback[48],
                                 unsigned char out[48])
{
    size_t good, version, alt;

    /* 00 02, non-zero padding up to the 00 before the last 48 bytes. */
    good = hsm_ct_is_zero(em[0]) & hsm_ct_eq(em[1], 2);
    for (size_t i = 2; i < k - 48 - 1; i++)
        good &= ~hsm_ct_is_zero(em[i]);
    good &= hsm_ct_is_zero(em[k - 48 - 1]);
    /* The version the client offered (Klima-Pokorny-Rosa), or the
     * negotiated one for clients known to send it. */
    version = hsm_ct_eq(em[k - 48], (client_version >> 8) & 0xff) &
              hsm_ct_eq(em[k - 47], client_version & 0xff);
    alt = hsm_ct_eq(em[k - 48], (alt_version >> 8) & 0xff) &
          hsm_ct_eq(em[k - 47], alt_version & 0xff) & ~hsm_ct_is_zero(alt_version);
    good &= version | alt;
    for (size_t i = 0; i < 48; i++)
        out[i] = hsm_ct_select_8(good, em[k - 48 + i], fallback[i]);
}
