/*
 * PKCS#1 v1.5 decryption's unpadding on the host, over the raw block the
 * token returns for CKM_RSA_X_509, in constant time: with implicit
 * rejection (a bad padding yields a synthetic plaintext, a deterministic
 * function of a per-key secret and the ciphertext, as OpenSSL 3.2 and
 * later do), and for the TLS premaster secret (RFC 5246 7.4.7.1).
 */
#ifndef HSM_PROVIDER_RSA_PKCS1_UNPAD_H
#define HSM_PROVIDER_RSA_PKCS1_UNPAD_H

#include <openssl/types.h>
#include <stdbool.h>
#include <stddef.h>

#define HSM_REJECTION_SECRET_LEN 32

/*
 * The raw block of |len| bytes a module returned into |buf| (|k| bytes),
 * moved to the end and zero-filled in front, without branching on |len|
 * (a module that strips leading zero bytes would otherwise tell how many).
 * |len| <= |k| must hold.
 */
void hsm_rsa_left_pad(unsigned char *buf, size_t len, size_t k);

/*
 * Unpads |em| (|k| bytes, the raw decryption of |c|, itself |k| bytes
 * left-padded). |out| has room for |k| bytes. On a bad padding |out| gets
 * the synthetic message derived from |secret| and |c|. |*good| is all ones
 * for a good padding, zero otherwise: only the caller that refuses bad
 * paddings (explicit rejection) may branch on it. False only when a
 * computation (HMAC) could not run, after raising a reason.
 */
bool hsm_rsa_pkcs1_unpad(OSSL_LIB_CTX *libctx, const unsigned char secret[HSM_REJECTION_SECRET_LEN],
                         const unsigned char *c, const unsigned char *em, size_t k,
                         unsigned char *out, size_t *outlen, size_t *good);

/*
 * The 48-byte TLS premaster secret from |em| (|k| bytes): the one in the
 * block when its padding and version (|client_version|, or |alt_version|
 * when not 0) are right, |fallback| (random) otherwise.
 */
void hsm_rsa_tls_premaster_unpad(const unsigned char *em, size_t k, unsigned int client_version,
                                 unsigned int alt_version, const unsigned char fallback[48],
                                 unsigned char out[48]);

#endif
