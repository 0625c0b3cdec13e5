#include "provider/signature_common.h"

#include <openssl/core_names.h>

static void *rsa_newctx(void *provctx, const char *propq)
{
    return hsm_sig_newctx_for(provctx, propq, CKK_RSA);
}

static const OSSL_PARAM *rsa_settable_ctx_params(void *ctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)ctx;
    (void)provctx;
    return params;
}

const OSSL_DISPATCH hsm_signature_rsa_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))rsa_newctx},
    HSM_SIGNATURE_COMMON_FUNCTIONS,
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))rsa_settable_ctx_params},
    {0, NULL},
};
