#include "provider/keygen.h"
#include "provider/keymgmt_common.h"

#include <openssl/core_names.h>
#include <openssl/params.h>

static const OSSL_PARAM *rsa_gettable_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return params;
}

static const OSSL_PARAM *rsa_export_types(int selection)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
        OSSL_PARAM_END,
    };
    return (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) ? params : NULL;
}

static const char *rsa_query_operation_name(int operation_id)
{
    (void)operation_id;
    return "RSA";
}

static void *rsa_new(void *provctx)
{
    return hsm_km_new_for(provctx, CKK_RSA, "RSA");
}

static void *rsa_gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    return hsm_gen_init_for(provctx, selection, params, CKK_RSA, "RSA");
}

/* An RSA key a PSS CA's certificate restricts to PSS (key->pss_certified):
 * to OpenSSL an RSA-PSS key, which a TLS stack or `openssl x509 -CAkey`
 * pairs with the rsassaPss certificate; its operations are the RSA ones. */
static void *rsa_pss_new(void *provctx)
{
    return hsm_km_new_for(provctx, CKK_RSA, "RSA-PSS");
}

const OSSL_DISPATCH hsm_keymgmt_rsa_pss_functions[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))rsa_pss_new},
    HSM_KEYMGMT_COMMON_FUNCTIONS,
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))rsa_export_types},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))rsa_gettable_params},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rsa_export_types},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))rsa_query_operation_name},
    {0, NULL},
};

const OSSL_DISPATCH hsm_keymgmt_rsa_functions[] = {
    HSM_KEYGEN_FUNCTIONS(rsa_gen_init, hsm_gen_settable_rsa),
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))rsa_new},
    HSM_KEYMGMT_COMMON_FUNCTIONS,
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))rsa_export_types},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))rsa_gettable_params},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rsa_export_types},
    {OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))rsa_query_operation_name},
    {0, NULL},
};
