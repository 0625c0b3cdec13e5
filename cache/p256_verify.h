/*
 * Verifying a P-256 key's signatures with a table of its public point's
 * multiples. OpenSSL verifies P-256 more slowly than SoftHSMv2 signs, so
 * verify-after-sign halves a signer's rate; the table makes u2*Q a fixed-
 * base multiplication like u1*G, which roughly halves the verification.
 * Building it costs about as much as 700 verifications (about 20 ms), so a
 * key gets one only after HSM_P256_TABLE_AFTER verified signatures in this
 * process: a long-lived signer is fast within its first 100 signatures,
 * while a short-lived process (one `openssl req` or `dgst`, a handful of
 * signatures) never pays for it (issue 19, item 3).
 *
 * The check is ECDSA verification itself (SEC 1, 4.1.4) against the
 * remembered public key, with OpenSSL's own DER and range rules: it
 * accepts exactly the signatures EVP_PKEY_verify accepts
 * (tests/unit/test_p256_verify.c compares them).
 */
#ifndef HSM_CACHE_P256_VERIFY_H
#define HSM_CACHE_P256_VERIFY_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#define HSM_P256_TABLE_AFTER 64

struct hsm_p256_table;
struct hsm_key;

/*
 * The table for |pub|, or NULL when |pub| is not a P-256 key or this
 * OpenSSL cannot precompute for a point. About 20 ms.
 */
struct hsm_p256_table *hsm_p256_table_new(EVP_PKEY *pub);

/*
 * Whether |t| may and should replace EVP_PKEY_verify in |libctx| on this
 * machine: ECDSA there comes from the default provider (never a FIPS
 * module's), |t| gives OpenSSL's verdicts on a valid and an invalid
 * signature made for the test, and it is well faster (not so with an
 * OpenSSL built without its P-256 assembly). Well under a millisecond; the
 * fastest times of each are left in |table_us| and |evp_us|.
 */
bool hsm_p256_table_pays_off(const struct hsm_p256_table *t, EVP_PKEY *pub, OSSL_LIB_CTX *libctx,
                             double *table_us, double *evp_us);
void hsm_p256_table_free(struct hsm_p256_table *t);

/*
 * 1: |der| is a valid signature of the digest |dgst| by the table's key.
 * 0: it is not. -1: it could not be computed (out of memory); the caller
 * verifies another way.
 */
int hsm_p256_table_verify(const struct hsm_p256_table *t, const unsigned char *dgst, size_t dlen,
                          const unsigned char *der, size_t derlen);

/*
 * The key's table once it has verified HSM_P256_TABLE_AFTER signatures;
 * NULL before, and for keys that get none. Counts one verification per
 * call. The thread that crosses the count builds the table, holding no
 * lock; the others go on without it meanwhile.
 */
const struct hsm_p256_table *hsm_key_p256_table(struct hsm_key *key);

#endif
