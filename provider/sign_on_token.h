/* One signature made on the token and, by policy, checked before use. */
#ifndef HSM_PROVIDER_SIGN_ON_TOKEN_H
#define HSM_PROVIDER_SIGN_ON_TOKEN_H

#include "provider/provider.h"

#include <openssl/evp.h>

struct hsm_sign_params {
    const EVP_MD *md;   /* NULL: |tbs| is signed as given (RSA) */
    int rsa_padding;    /* RSA_PKCS1_PADDING, RSA_PKCS1_PSS_PADDING, RSA_NO_PADDING */
    int pss_saltlen;    /* RSA_PSS_SALTLEN_* or a length */
    const EVP_MD *mgf1; /* NULL: the signature digest */
};

/* The salt length a PSS signature with |p| gets from |key|, or -1 after
 * raising an error (salt too long for the key, no digest). */
int hsm_pss_salt_length(const struct hsm_key *key, const struct hsm_sign_params *p);

/* The PKCS#11 digest mechanism and MGF1 of |md| (PSS, OAEP); false when
 * PKCS#11 has none. Either output may be NULL. */
bool hsm_ck_digest(const EVP_MD *md, CK_MECHANISM_TYPE *mech, CK_RSA_PKCS_MGF_TYPE *mgf);

/* Largest signature |key| can produce, in OpenSSL's format. */
size_t hsm_signature_max(const struct hsm_key *key);

/*
 * Signs |tbs| (a digest, or raw input for RSA without a digest) on the
 * token, returns OpenSSL's format (DER for ECDSA), and unless the
 * configuration turned it off verifies it with the remembered public key:
 * a signature that does not verify is never returned.
 */
bool hsm_sign_on_token(struct hsm_provctx *prov, struct hsm_key *key,
                       const struct hsm_sign_params *p, const unsigned char *tbs, size_t tbslen,
                       unsigned char *sig, size_t *siglen, size_t sigsize);

/* The token's signature in OpenSSL's format, not yet verified. With
 * |will_verify| the caller verifies it before use, and the per-signature
 * handle check is left to that verification. */
bool hsm_sign_unchecked(struct hsm_key *key, bool will_verify, const struct hsm_sign_params *p,
                        const unsigned char *tbs, size_t tbslen, unsigned char *sig, size_t *siglen,
                        size_t sigsize);

/* The PKCS#11 mechanism a signature with |p| runs on |key|. */
CK_MECHANISM_TYPE hsm_sign_mechanism(const struct hsm_key *key, const struct hsm_sign_params *p);

/*
 * The audit record of a signature |op| (a signature or a possession proof)
 * over |tbs| as the token was given it: |sig| is what is about to be
 * returned, or NULL for a refusal (its reason: this thread's last error).
 * True at once when no audit log is configured. False when the record
 * could not be written and the configuration forbids going on: the
 * signature must then not be used (HSM_R_AUDIT_LOG is raised). Called with
 * no lock held, outside the fork gate and every module call.
 */
bool hsm_sign_audit(struct hsm_provctx *prov, enum hsm_audit_op op, const struct hsm_key *key,
                    const struct hsm_sign_params *p, const unsigned char *tbs, size_t tbslen,
                    const unsigned char *sig, size_t siglen);

/* Verifies in software with the key's remembered public key. */
bool hsm_verify_in_software(struct hsm_provctx *prov, struct hsm_key *key,
                            const struct hsm_sign_params *p, const unsigned char *tbs,
                            size_t tbslen, const unsigned char *sig, size_t siglen);

#endif
