#include "provider/keygen.h"
#include "provider/keymgmt_common.h"

#include <openssl/core_names.h>
#include <openssl/params.h>

static const OSSL_PARAM *eddsa_gettable_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return params;
}

static const OSSL_PARAM *eddsa_export_types(int selection)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) ? params : NULL;
}

static void *ed25519_new(void *provctx)
{
    return hsm_km_new_for(provctx, CKK_EC_EDWARDS, "ED25519");
}

static void *ed448_new(void *provctx)
{
    return hsm_km_new_for(provctx, CKK_EC_EDWARDS, "ED448");
}

static void *ed25519_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    return hsm_gen_init_for(provctx, selection, params, CKK_EC_EDWARDS, "ED25519");
}

static void *ed448_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    return hsm_gen_init_for(provctx, selection, params, CKK_EC_EDWARDS, "ED448");
}

static const char *ed25519_query_operation_name(int operation_id)
{
    (void)operation_id;
    return "ED25519";
}

static const char *ed448_query_operation_name(int operation_id)
{
    (void)operation_id;
    return "ED448";
}

#define EDDSA_FUNCTIONS(new_fn, gen_init_fn, query_fn)                                             \
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))new_fn}, HSM_KEYMGMT_COMMON_FUNCTIONS,                 \
        HSM_KEYGEN_FUNCTIONS(gen_init_fn, hsm_gen_settable_eddsa),                                 \
        {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))eddsa_export_types},                      \
        {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))eddsa_gettable_params},                \
        {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))eddsa_export_types},                      \
        {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))query_fn},                        \
    {                                                                                              \
        0, NULL                                                                                    \
    }

const OSSL_DISPATCH hsm_keymgmt_ed25519_functions[] = {
    EDDSA_FUNCTIONS(ed25519_new, ed25519_gen_init, ed25519_query_operation_name)};
const OSSL_DISPATCH hsm_keymgmt_ed448_functions[] = {
    EDDSA_FUNCTIONS(ed448_new, ed448_gen_init, ed448_query_operation_name)};
