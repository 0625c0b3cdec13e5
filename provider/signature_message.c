/*
 * Message signatures (OpenSSL 3.4 and later): EVP_PKEY_sign_message_init,
 * _update and _final, and EVP_PKEY_sign over a whole message after
 * EVP_PKEY_sign_message_init, with the algorithms they fetch by name
 * ("ECDSA-SHA2-256", "RSA-SHA2-256", ...). Each is a key type and a
 * digest: the message is hashed on the host and signed as any digest is,
 * one C_Sign on the token and the signature verified before it is
 * returned. EVP_PKEY_sign_init_ex2 with one of them signs a digest the
 * caller made.
 */
#include "provider/openssl_compat.h"

#if HSM_HAVE_SIGN_MESSAGE

#include "provider/signature_message.h"

#include "provider/signature_common.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

static void *newctx(void *provctx, const char *propq, CK_KEY_TYPE type, const char *md)
{
    struct hsm_sigctx *ctx = hsm_sig_newctx_for(provctx, propq, type);

    if (ctx != NULL)
        ctx->fixed_md = md;
    return ctx;
}

/* The algorithm's own digest, as a parameter the common code takes. */
static int set_fixed_md(struct hsm_sigctx *ctx)
{
    OSSL_PARAM md[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, (char *)ctx->fixed_md, 0),
        OSSL_PARAM_construct_end(),
    };

    return hsm_sig_set_ctx_params(ctx, md);
}

/* EVP_PKEY_sign_init_ex2 with this algorithm: a digest is signed. */
static int digest_mode_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    struct hsm_sigctx *ctx = vctx;

    ctx->message = false;
    return hsm_sig_sign_init(ctx, key, NULL) && set_fixed_md(ctx) &&
           hsm_sig_set_ctx_params(ctx, params);
}

static int message_init(void *vctx, void *key, const OSSL_PARAM params[])
{
    struct hsm_sigctx *ctx = vctx;

    ctx->message = true;
    return hsm_sig_message_init(ctx, ctx->fixed_md, key, params);
}

/* The message's digest, for the one-shot forms. */
static bool hash_message(struct hsm_sigctx *ctx, const unsigned char *msg, size_t len,
                         unsigned char *digest, unsigned int *dlen)
{
    return ctx->md != NULL && EVP_Digest(msg, len, digest, dlen, ctx->md, NULL);
}

static int sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                const unsigned char *tbs, size_t tbslen)
{
    struct hsm_sigctx *ctx = vctx;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (!ctx->message || sig == NULL)
        return hsm_sig_sign(ctx, sig, siglen, sigsize, tbs, tbslen);
    if (!hash_message(ctx, tbs, tbslen, digest, &dlen)) {
        hsm_error(HSM_R_INTERNAL, "cannot hash the message to sign");
        return 0;
    }
    return hsm_sig_sign(ctx, sig, siglen, sigsize, digest, dlen);
}

static int verify(void *vctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                  size_t tbslen)
{
    struct hsm_sigctx *ctx = vctx;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (!ctx->message)
        return hsm_sig_verify(ctx, sig, siglen, tbs, tbslen);
    return hash_message(ctx, tbs, tbslen, digest, &dlen) &&
           hsm_sig_verify(ctx, sig, siglen, digest, dlen);
}

/* A message verification is given its signature as a parameter first. */
static int verify_message_final(void *vctx)
{
    struct hsm_sigctx *ctx = vctx;

    if (ctx->expected_sig == NULL) {
        hsm_error(HSM_R_BAD_INPUT, "no signature was given to verify (EVP_PKEY_CTX_set_signature)");
        return 0;
    }
    return hsm_sig_digest_verify_final(ctx, ctx->expected_sig, ctx->expected_siglen);
}

static int set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct hsm_sigctx *ctx = vctx;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_SIGNATURE);

    if (p != NULL) {
        void *sig = NULL;
        size_t len = 0;

        if (!OSSL_PARAM_get_octet_string(p, &sig, 0, &len)) {
            hsm_error(HSM_R_BAD_INPUT, "the signature to verify is not an octet string");
            return 0;
        }
        OPENSSL_free(ctx->expected_sig);
        ctx->expected_sig = sig;
        ctx->expected_siglen = len;
    }
    return hsm_sig_set_ctx_params(ctx, params);
}

static const OSSL_PARAM *settable_ctx_params(void *ctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_SIGNATURE, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)ctx;
    (void)provctx;
    return params;
}

static const char **rsa_key_types(void)
{
    static const char *types[] = {"RSA", NULL};
    return types;
}

static const char **ec_key_types(void)
{
    static const char *types[] = {"EC", NULL};
    return types;
}

#define MESSAGE_SIGNATURE(name, type, md, key_types)                                               \
    static void *name##_newctx(void *provctx, const char *propq)                                   \
    {                                                                                              \
        return newctx(provctx, propq, type, md);                                                   \
    }                                                                                              \
    const OSSL_DISPATCH hsm_signature_##name##_functions[] = {                                     \
        {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))name##_newctx},                               \
        {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))hsm_sig_freectx},                            \
        {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))hsm_sig_dupctx},                              \
        {OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))digest_mode_init},                         \
        {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sign},                                          \
        {OSSL_FUNC_SIGNATURE_SIGN_MESSAGE_INIT, (void (*)(void))message_init},                     \
        {OSSL_FUNC_SIGNATURE_SIGN_MESSAGE_UPDATE, (void (*)(void))hsm_sig_digest_update},          \
        {OSSL_FUNC_SIGNATURE_SIGN_MESSAGE_FINAL, (void (*)(void))hsm_sig_digest_sign_final},       \
        {OSSL_FUNC_SIGNATURE_VERIFY_INIT, (void (*)(void))digest_mode_init},                       \
        {OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))verify},                                      \
        {OSSL_FUNC_SIGNATURE_VERIFY_MESSAGE_INIT, (void (*)(void))message_init},                   \
        {OSSL_FUNC_SIGNATURE_VERIFY_MESSAGE_UPDATE, (void (*)(void))hsm_sig_digest_update},        \
        {OSSL_FUNC_SIGNATURE_VERIFY_MESSAGE_FINAL, (void (*)(void))verify_message_final},          \
        {OSSL_FUNC_SIGNATURE_QUERY_KEY_TYPES, (void (*)(void))key_types},                          \
        {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))hsm_sig_get_ctx_params},              \
        {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))hsm_sig_gettable_ctx_params},    \
        {OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))set_ctx_params},                      \
        {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))settable_ctx_params},            \
        {0, NULL},                                                                                 \
    };

MESSAGE_SIGNATURE(rsa_sha1, CKK_RSA, "SHA1", rsa_key_types)
MESSAGE_SIGNATURE(rsa_sha224, CKK_RSA, "SHA2-224", rsa_key_types)
MESSAGE_SIGNATURE(rsa_sha256, CKK_RSA, "SHA2-256", rsa_key_types)
MESSAGE_SIGNATURE(rsa_sha384, CKK_RSA, "SHA2-384", rsa_key_types)
MESSAGE_SIGNATURE(rsa_sha512, CKK_RSA, "SHA2-512", rsa_key_types)
MESSAGE_SIGNATURE(ecdsa_sha1, CKK_EC, "SHA1", ec_key_types)
MESSAGE_SIGNATURE(ecdsa_sha224, CKK_EC, "SHA2-224", ec_key_types)
MESSAGE_SIGNATURE(ecdsa_sha256, CKK_EC, "SHA2-256", ec_key_types)
MESSAGE_SIGNATURE(ecdsa_sha384, CKK_EC, "SHA2-384", ec_key_types)
MESSAGE_SIGNATURE(ecdsa_sha512, CKK_EC, "SHA2-512", ec_key_types)

#endif
