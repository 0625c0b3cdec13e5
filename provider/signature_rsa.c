#include "provider/signature_common.h"

static void *rsa_newctx(void *provctx, const char *propq)
{
    return hsm_sig_newctx_for(provctx, propq, CKK_RSA);
}

/* RSA takes every signature parameter (padding, MGF1, salt length). */
static const OSSL_PARAM *rsa_settable_ctx_params(void *ctx, void *provctx)
{
    (void)ctx;
    (void)provctx;
    return hsm_sig_settable_all();
}

const OSSL_DISPATCH hsm_signature_rsa_functions[] = {
    {OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))rsa_newctx},
    HSM_SIGNATURE_COMMON_FUNCTIONS,
    {OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))rsa_settable_ctx_params},
    {0, NULL},
};
