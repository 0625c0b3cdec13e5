/*
 * Raw RSA decryption (CKM_RSA_X_509) on the token, and what implicit
 * rejection derives from it: a per-key secret only the token key can
 * compute.
 */
#ifndef HSM_PROVIDER_RSA_RAW_DECRYPT_H
#define HSM_PROVIDER_RSA_RAW_DECRYPT_H

#include "provider/rsa_pkcs1_unpad.h"

#include "cache/key_identity.h"

enum hsm_raw_result {
    HSM_RAW_OK,
    HSM_RAW_NOT_OFFERED, /* the module refuses CKM_RSA_X_509 for the key (reason raised) */
    HSM_RAW_FAILED,      /* anything else (reason raised) */
};

/*
 * c^d mod n for |in| (at most |k| bytes, the modulus length), into |em|
 * (|k| bytes, left-padded without branching on what the module returned).
 */
enum hsm_raw_result hsm_rsa_raw_decrypt(struct hsm_key *key, const unsigned char *in, size_t inlen,
                                        unsigned char *em, size_t k);

/*
 * The key's implicit-rejection secret: SHA-256 over a label and the raw
 * decryption of a fixed value, the same in every process and after every
 * restart, and known only to whoever can use the private key. Computed
 * once per key (by its public key fingerprint) per process and kept in
 * memory only.
 */
enum hsm_raw_result hsm_rsa_rejection_secret(OSSL_LIB_CTX *libctx, struct hsm_key *key,
                                             unsigned char out[HSM_REJECTION_SECRET_LEN]);

/* Cleanses every secret kept (at unload; also run as a destructor). */
void hsm_rsa_rejection_forget_all(void);

#endif
