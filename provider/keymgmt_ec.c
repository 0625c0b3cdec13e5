#include "provider/keygen.h"
#include "provider/keymgmt_common.h"

#include <openssl/core_names.h>
#include <openssl/params.h>

static const OSSL_PARAM *ec_gettable_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return params;
}

static const OSSL_PARAM *ec_export_types(int selection)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)selection;
    return params;
}

static const char *ec_query_operation_name(int operation_id)
{
    return operation_id == OSSL_OP_SIGNATURE ? "ECDSA"
           : operation_id == OSSL_OP_KEYEXCH ? "ECDH"
                                             : "EC";
}

static void *ec_new(void *provctx)
{
    return hsm_km_new_for(provctx, CKK_EC, "EC");
}

static void *ec_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    return hsm_gen_init_for(provctx, selection, params, CKK_EC, "EC");
}

const OSSL_DISPATCH hsm_keymgmt_ec_functions[] = {
    HSM_KEYGEN_FUNCTIONS(ec_gen_init, hsm_gen_settable_ec),
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ec_new},
    HSM_KEYMGMT_COMMON_FUNCTIONS,
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ec_export_types},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))ec_gettable_params},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ec_export_types},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))ec_query_operation_name},
    {0, NULL},
};
