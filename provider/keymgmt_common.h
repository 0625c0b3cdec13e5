/* Keymgmt shared by every key type: keys are references to token keys,
 * their public half is exportable, private material never is. */
#ifndef HSM_PROVIDER_KEYMGMT_COMMON_H
#define HSM_PROVIDER_KEYMGMT_COMMON_H

#include "provider/provider.h"

#include <openssl/core_dispatch.h>

void *hsm_km_new_for(void *provctx, CK_KEY_TYPE type, const char *algorithm);
void hsm_km_free(void *keydata);
void *hsm_km_load(const void *reference, size_t reference_sz);
int hsm_km_has(const void *keydata, int selection);
int hsm_km_match(const void *a, const void *b, int selection);
int hsm_km_get_params(void *keydata, OSSL_PARAM params[]);
int hsm_km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg);
int hsm_km_import(void *keydata, int selection, const OSSL_PARAM params[]);

#define HSM_KEYMGMT_COMMON_FUNCTIONS                                                               \
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))hsm_km_free},                                         \
        {OSSL_FUNC_KEYMGMT_LOAD, (void (*)(void))hsm_km_load},                                     \
        {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))hsm_km_has},                                       \
        {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))hsm_km_match},                                   \
        {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))hsm_km_get_params},                         \
        {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))hsm_km_export},                                 \
    {                                                                                              \
        OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))hsm_km_import                                    \
    }

#endif
