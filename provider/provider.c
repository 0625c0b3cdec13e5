/* Provider entry point: configuration, the algorithm table, errors. */
#include "provider/provider.h"

#include "cache/module.h"
#include "provider/core_bio.h"
#include "provider/fetch_preference.h"
#include "provider/key_reference_pem.h"
#include "provider/key_text.h"
#include "provider/param_trace.h"
#include "provider/signature_message.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef HSM_VERSION
#define HSM_VERSION "0.0.0"
#endif

#define HSM_PROPS "provider=" HSM_PROVIDER_PROPERTY

static OSSL_FUNC_core_get_params_fn *c_get_params;
static OSSL_FUNC_core_new_error_fn *c_new_error;
static OSSL_FUNC_core_set_error_debug_fn *c_set_error_debug;
static OSSL_FUNC_core_vset_error_fn *c_vset_error;
static const OSSL_CORE_HANDLE *error_handle;

static void raise_to_core(int reason, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    c_vset_error(error_handle, (uint32_t)reason, fmt, ap);
    va_end(ap);
}

static void error_sink(int reason, const char *file, int line, const char *detail)
{
    if (c_new_error == NULL || c_vset_error == NULL || error_handle == NULL)
        return;
    c_new_error(error_handle);
    if (c_set_error_debug != NULL)
        c_set_error_debug(error_handle, file, line, "hsm");
    raise_to_core(reason, "%s", detail);
}

/*
 * Only what only the provider can do: its keys and its store. No digest,
 * cipher, RNG or KDF: a software token calls libcrypto from inside its
 * C_* functions and would otherwise fetch them and re-enter the provider.
 */
static const OSSL_ALGORITHM store_algs[] = {
    {"pkcs11", HSM_PROPS, hsm_store_functions, "pkcs11: URIs (RFC 7512)"},
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM keymgmt_algs[] = {
    {HSM_NAMES_RSA, HSM_PROPS, hsm_keymgmt_rsa_functions, "RSA key on a PKCS#11 token"},
    {HSM_NAMES_RSA_PSS, HSM_PROPS, hsm_keymgmt_rsa_pss_functions,
     "RSA key on a PKCS#11 token that its certificate restricts to PSS"},
    {HSM_NAMES_EC, HSM_PROPS, hsm_keymgmt_ec_functions, "EC key on a PKCS#11 token"},
    {HSM_NAMES_ED25519, HSM_PROPS, hsm_keymgmt_ed25519_functions, "Ed25519 key on a PKCS#11 token"},
    {HSM_NAMES_ED448, HSM_PROPS, hsm_keymgmt_ed448_functions, "Ed448 key on a PKCS#11 token"},
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM signature_algs[] = {
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", HSM_PROPS, hsm_signature_rsa_functions,
     "RSA signatures made on a PKCS#11 token"},
    {"ECDSA", HSM_PROPS, hsm_signature_ecdsa_functions, "ECDSA made on a PKCS#11 token"},
    {"ED25519:1.3.101.112", HSM_PROPS, hsm_signature_eddsa_functions,
     "Ed25519 signatures made on a PKCS#11 token"},
    {"ED448:1.3.101.113", HSM_PROPS, hsm_signature_eddsa_functions,
     "Ed448 signatures made on a PKCS#11 token"},
    /* OpenSSL 3.4's message signature algorithms, where built for one. */
    HSM_MESSAGE_SIGNATURE_ALGORITHMS(HSM_PROPS){NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM asym_cipher_algs[] = {
    {"RSA:rsaEncryption:1.2.840.113549.1.1.1", HSM_PROPS, hsm_asym_cipher_rsa_functions,
     "RSA decryption on a PKCS#11 token"},
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM keyexch_algs[] = {
    {"ECDH", HSM_PROPS, hsm_keyexch_ecdh_functions, "ECDH on a PKCS#11 token"},
    {NULL, NULL, NULL, NULL},
};

/* A token key written to a file is a PEM block naming it by URI; reading
 * that block loads the key from the token again. */
#define HSM_REF_ENC HSM_PROPS ",output=pem,structure=PrivateKeyInfo"
#define HSM_REF_DEC HSM_PROPS ",input=der,structure=PrivateKeyInfo"
#define HSM_TEXT_ENC HSM_PROPS ",output=text"
static const OSSL_ALGORITHM encoder_algs[] = {
    {HSM_NAMES_RSA, HSM_REF_ENC, hsm_key_reference_encoder_functions, NULL},
    {HSM_NAMES_RSA_PSS, HSM_REF_ENC, hsm_key_reference_encoder_functions, NULL},
    {HSM_NAMES_EC, HSM_REF_ENC, hsm_key_reference_encoder_functions, NULL},
    {HSM_NAMES_ED25519, HSM_REF_ENC, hsm_key_reference_encoder_functions, NULL},
    {HSM_NAMES_ED448, HSM_REF_ENC, hsm_key_reference_encoder_functions, NULL},
    {HSM_NAMES_RSA, HSM_TEXT_ENC, hsm_key_text_encoder_functions, NULL},
    {HSM_NAMES_RSA_PSS, HSM_TEXT_ENC, hsm_key_text_encoder_functions, NULL},
    {HSM_NAMES_EC, HSM_TEXT_ENC, hsm_key_text_encoder_functions, NULL},
    {HSM_NAMES_ED25519, HSM_TEXT_ENC, hsm_key_text_encoder_functions, NULL},
    {HSM_NAMES_ED448, HSM_TEXT_ENC, hsm_key_text_encoder_functions, NULL},
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM decoder_algs[] = {
    {HSM_NAMES_RSA, HSM_REF_DEC, hsm_key_reference_rsa_decoder_functions, NULL},
    {HSM_NAMES_EC, HSM_REF_DEC, hsm_key_reference_ec_decoder_functions, NULL},
    {HSM_NAMES_ED25519, HSM_REF_DEC, hsm_key_reference_ed25519_decoder_functions, NULL},
    {HSM_NAMES_ED448, HSM_REF_DEC, hsm_key_reference_ed448_decoder_functions, NULL},
    {"DER", HSM_REF_DEC, hsm_key_reference_der_decoder_functions, NULL},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *query_operation(void *provctx, int id, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    switch (id) {
    case OSSL_OP_STORE:
        return store_algs;
    case OSSL_OP_KEYMGMT:
        return keymgmt_algs;
    case OSSL_OP_SIGNATURE:
        return signature_algs;
    case OSSL_OP_ASYM_CIPHER:
        return asym_cipher_algs;
    case OSSL_OP_KEYEXCH:
        return keyexch_algs;
    case OSSL_OP_ENCODER:
        return encoder_algs;
    case OSSL_OP_DECODER:
        return decoder_algs;
    default:
        return NULL;
    }
}

static const OSSL_PARAM *gettable_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_BUILDINFO, OSSL_PARAM_UTF8_PTR, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return params;
}

static int get_params(void *provctx, OSSL_PARAM params[])
{
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, "hsm: keys on PKCS#11 tokens, never stale"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, HSM_VERSION))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_BUILDINFO)) != NULL &&
        !OSSL_PARAM_set_utf8_ptr(p, ((struct hsm_provctx *)provctx)->buildinfo))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS)) != NULL &&
        !OSSL_PARAM_set_int(p, 1))
        return 0;
    hsm_params_trace_get("provider get_params", params);
    return 1;
}

static const OSSL_ITEM *get_reason_strings(void *provctx)
{
    (void)provctx;
    return hsm_reason_strings;
}

static void teardown(void *provctx)
{
    struct hsm_provctx *ctx = provctx;

    hsm_module_put(ctx->module);
    hsm_config_clear(&ctx->config);
    OPENSSL_free(ctx);
}

static const OSSL_DISPATCH provider_functions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))teardown},
    {OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))gettable_params},
    {OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))get_params},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query_operation},
    {OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))get_reason_strings},
    {0, NULL},
};

/*
 * The module is loaded and initialised with no lock held (it may fork
 * inside C_Initialize); two threads that race here get the same record
 * from the module registry, and one reference is kept.
 */
struct hsm_module *hsm_provctx_module(struct hsm_provctx *ctx)
{
    struct hsm_module *mod = __atomic_load_n(&ctx->module, __ATOMIC_ACQUIRE), *none = NULL;

    if (mod != NULL)
        return mod;
    if ((mod = hsm_module_get(ctx->config.module_path, ctx->config.module_init_args)) == NULL)
        return NULL;
    if (!__atomic_compare_exchange_n(&ctx->module, &none, mod, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        hsm_module_put(mod);
        mod = none;
    }
    return mod;
}

/*
 * What `openssl list -providers -verbose` shows as build information: the
 * build, and the module this instance's configuration names, so that an
 * installer sees which library its URIs reach. Control characters of a
 * configured path are shown as '?'.
 */
static void describe_instance(struct hsm_provctx *ctx)
{
    const char *path = ctx->config.module_path;
    char *c;

    snprintf(ctx->buildinfo, sizeof(ctx->buildinfo),
             "hsm " HSM_VERSION " (built with " OPENSSL_VERSION_TEXT "); PKCS#11 module: %s%s",
             path != NULL ? path : HSM_DEFAULT_MODULE,
             path != NULL ? "" : " (p11-kit's proxy: every module registered with p11-kit)");
    for (c = ctx->buildinfo; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
}

static bool read_config(const OSSL_CORE_HANDLE *handle, struct hsm_provctx *ctx)
{
    const char *values[HSM_OPT_COUNT];

    return hsm_options_get(c_get_params, handle, values) &&
           hsm_config_from_options(&ctx->config, values) &&
           (!ctx->config.prefer_other_providers || hsm_prefer_other_providers(ctx->libctx));
}

OPENSSL_EXPORT int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                                      const OSSL_DISPATCH **out, void **provctx);

__attribute__((visibility("default"))) int OSSL_provider_init(const OSSL_CORE_HANDLE *handle,
                                                              const OSSL_DISPATCH *in,
                                                              const OSSL_DISPATCH **out,
                                                              void **provctx)
{
    OSSL_FUNC_core_get_libctx_fn *c_get_libctx = NULL;
    OSSL_FUNC_BIO_read_ex_fn *bio_read = NULL;
    OSSL_FUNC_BIO_write_ex_fn *bio_write = NULL;
    struct hsm_provctx *ctx;

    for (; in->function_id != 0; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_CORE_GET_PARAMS:
            c_get_params = OSSL_FUNC_core_get_params(in);
            break;
        case OSSL_FUNC_CORE_GET_LIBCTX:
            c_get_libctx = OSSL_FUNC_core_get_libctx(in);
            break;
        case OSSL_FUNC_CORE_NEW_ERROR:
            c_new_error = OSSL_FUNC_core_new_error(in);
            break;
        case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
            c_set_error_debug = OSSL_FUNC_core_set_error_debug(in);
            break;
        case OSSL_FUNC_CORE_VSET_ERROR:
            c_vset_error = OSSL_FUNC_core_vset_error(in);
            break;
        case OSSL_FUNC_BIO_READ_EX:
            bio_read = OSSL_FUNC_BIO_read_ex(in);
            break;
        case OSSL_FUNC_BIO_WRITE_EX:
            bio_write = OSSL_FUNC_BIO_write_ex(in);
            break;
        default:
            break;
        }
    }
    error_handle = handle;
    hsm_error_set_sink(error_sink);
    /* PINs kept for logging in again live in the secure heap (locked, not
     * dumped); a host that has not set one up gets a small one. */
    if (!CRYPTO_secure_malloc_initialized())
        (void)CRYPTO_secure_malloc_init(32 * 1024, 32);
    hsm_core_bio_set(bio_read, bio_write);
    ctx = OPENSSL_zalloc(sizeof(*ctx));
    if (ctx == NULL)
        return 0;
    ctx->handle = handle;
    /* Linked against libcrypto, the core's context is the library context. */
    ctx->libctx = c_get_libctx != NULL ? (OSSL_LIB_CTX *)c_get_libctx(handle) : NULL;
    if (!read_config(handle, ctx)) {
        teardown(ctx);
        return 0;
    }
    describe_instance(ctx);
    *out = provider_functions;
    *provctx = ctx;
    return 1;
}
