/* Key generation on the token, for every key type's keymgmt. */
#ifndef HSM_PROVIDER_KEYGEN_H
#define HSM_PROVIDER_KEYGEN_H

#include "provider/provider.h"

/* The URI naming where the key is made: -pkeyopt pkcs11_uri:pkcs11:... */
#define HSM_PKEY_PARAM_URI "pkcs11_uri"
/* What else the key may do besides signing: pkcs11_key_usage:sign,derive */
#define HSM_PKEY_PARAM_USAGE "pkcs11_key_usage"

void *hsm_gen_init_for(void *provctx, int selection, const OSSL_PARAM params[], CK_KEY_TYPE type,
                       const char *algorithm);
int hsm_gen_set_params(void *genctx, const OSSL_PARAM params[]);
void *hsm_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg);
void hsm_gen_cleanup(void *genctx);
const OSSL_PARAM *hsm_gen_settable_rsa(void *genctx, void *provctx);
const OSSL_PARAM *hsm_gen_settable_ec(void *genctx, void *provctx);
const OSSL_PARAM *hsm_gen_settable_eddsa(void *genctx, void *provctx);

#define HSM_KEYGEN_FUNCTIONS(init_fn, settable_fn)                                                 \
    {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))init_fn},                                         \
        {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))hsm_gen_set_params},                    \
        {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))settable_fn},                      \
        {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))hsm_gen},                                          \
    {                                                                                              \
        OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))hsm_gen_cleanup                             \
    }

#endif
