/* EdDSA (Ed25519, Ed448): one-shot, the token hashes inside the algorithm
 * (CKM_EDDSA over the whole message). */
#include "provider/openssl_compat.h"
#include "provider/signature_common.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

static void *eddsa_newctx(void *provctx, const char *propq)
{
    return hsm_sig_newctx_for(provctx, propq, CKK_EC_EDWARDS);
}

static int eddsa_digest_init(void *vctx, const char *mdname, void *key, const OSSL_PARAM params[])
{
    struct hsm_sigctx *ctx = vctx;

    if (mdname != NULL && mdname[0] != '\0') {
        hsm_error(HSM_R_BAD_INPUT, "EdDSA takes no digest (%s was given)", mdname);
        return 0;
    }
    return hsm_sig_sign_init(ctx, key, params);
}

static int eddsa_digest_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                             const unsigned char *tbs, size_t tbslen)
{
    return hsm_sig_sign(vctx, sig, siglen, sigsize, tbs, tbslen);
}

static int eddsa_digest_verify(void *vctx, const unsigned char *sig, size_t siglen,
                               const unsigned char *tbs, size_t tbslen)
{
    return hsm_sig_verify(vctx, sig, siglen, tbs, tbslen);
}

static int eddsa_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct hsm_sigctx *ctx = vctx;
    OSSL_PARAM *p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID);
    /* RFC 8410: the AlgorithmIdentifier is the bare OID, no parameters. */
    static const unsigned char ed25519[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70};
    static const unsigned char ed448[] = {0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71};

    if (p == NULL)
        return 1;
    if (ctx->key == NULL)
        return 0;
    return EVP_PKEY_is_a(ctx->key->pub, "ED448")
               ? OSSL_PARAM_set_octet_string(p, ed448, sizeof(ed448))
               : OSSL_PARAM_set_octet_string(p, ed25519, sizeof(ed25519));
}

static const OSSL_PARAM *eddsa_gettable_ctx_params(void *ctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)ctx;
    (void)provctx;
    return params;
}

const OSSL_DISPATCH hsm_signature_eddsa_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))eddsa_newctx},
    {OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))hsm_sig_freectx},
    {OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))hsm_sig_dupctx},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))eddsa_digest_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))eddsa_digest_sign},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY_INIT, (void (*)(void))eddsa_digest_init},
    {OSSL_FUNC_SIGNATURE_DIGEST_VERIFY, (void (*)(void))eddsa_digest_verify},
#if HSM_HAVE_SIGN_MESSAGE
    /* OpenSSL 3.4's one-shot message signature (EVP_PKEY_sign after
     * EVP_PKEY_sign_message_init): EdDSA signs the message itself. */
    {OSSL_FUNC_SIGNATURE_SIGN_MESSAGE_INIT, (void (*)(void))hsm_sig_sign_init},
    {OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))eddsa_digest_sign},
    {OSSL_FUNC_SIGNATURE_VERIFY_MESSAGE_INIT, (void (*)(void))hsm_sig_verify_init},
    {OSSL_FUNC_SIGNATURE_VERIFY, (void (*)(void))eddsa_digest_verify},
#endif
    {OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))eddsa_get_ctx_params},
    {OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))eddsa_gettable_ctx_params},
    {0, NULL},
};
