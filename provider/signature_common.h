/* Signature operations shared by RSA and ECDSA: hashing on the host, one
 * C_Sign per signature, verification in software. */
#ifndef HSM_PROVIDER_SIGNATURE_COMMON_H
#define HSM_PROVIDER_SIGNATURE_COMMON_H

#include "provider/sign_on_token.h"

#include <openssl/core_dispatch.h>

struct hsm_sigctx {
    struct hsm_provctx *prov;
    struct hsm_key *key;
    CK_KEY_TYPE want_type;
    struct hsm_sign_params params;
    EVP_MD *md;
    EVP_MD *mgf1;
    EVP_MD_CTX *mdctx;
    char *propq;
    /* Message signatures (signature_message.c): the algorithm's digest,
     * whether the data given is the message (hashed here), and the
     * signature a message verification is to check. */
    const char *fixed_md;
    bool message;
    unsigned char *expected_sig;
    size_t expected_siglen;
};

void *hsm_sig_newctx_for(void *provctx, const char *propq, CK_KEY_TYPE type);
void hsm_sig_freectx(void *ctx);
void *hsm_sig_dupctx(void *ctx);
int hsm_sig_sign_init(void *ctx, void *key, const OSSL_PARAM params[]);
int hsm_sig_sign(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                 const unsigned char *tbs, size_t tbslen);
int hsm_sig_verify_init(void *ctx, void *key, const OSSL_PARAM params[]);
int hsm_sig_verify(void *ctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                   size_t tbslen);
int hsm_sig_digest_sign_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[]);
int hsm_sig_digest_update(void *ctx, const unsigned char *data, size_t len);
int hsm_sig_digest_sign_final(void *ctx, unsigned char *sig, size_t *siglen, size_t sigsize);
int hsm_sig_digest_verify_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[]);
int hsm_sig_digest_verify_final(void *ctx, const unsigned char *sig, size_t siglen);
/* A message signature or verification (OpenSSL 3.4): the digest |mdname|
 * over the data that follows, as a digest signature. */
int hsm_sig_message_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[]);
int hsm_sig_get_ctx_params(void *ctx, OSSL_PARAM params[]);
const OSSL_PARAM *hsm_sig_gettable_ctx_params(void *ctx, void *provctx);
/* Sets the digest (and, for RSA, padding) from |params|. */
int hsm_sig_set_ctx_params(void *ctx, const OSSL_PARAM params[]);
/* Every parameter hsm_sig_set_ctx_params takes: RSA's settable list. */
const OSSL_PARAM *hsm_sig_settable_all(void);

#define HSM_SIGNATURE_COMMON_FUNCTIONS                                                             \
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))hsm_sig_freectx},                                \
        {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))hsm_sig_dupctx},                              \
        {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))hsm_sig_sign_init},                        \
        {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))hsm_sig_sign},                                  \
        {OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))hsm_sig_verify_init},                    \
        {OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))hsm_sig_verify},                              \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))hsm_sig_digest_sign_init},          \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE, (void (*)(void))hsm_sig_digest_update},           \
        {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))hsm_sig_digest_sign_final},        \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))hsm_sig_digest_verify_init},      \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_UPDATE, (void (*)(void))hsm_sig_digest_update},         \
        {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_FINAL, (void (*)(void))hsm_sig_digest_verify_final},    \
        {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))hsm_sig_get_ctx_params},              \
        {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))hsm_sig_gettable_ctx_params},    \
    {                                                                                              \
        OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))hsm_sig_set_ctx_params                 \
    }

#endif
