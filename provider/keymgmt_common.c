#include "provider/keymgmt_common.h"
#include "cache/provider_property.h"
#include "provider/param_trace.h"

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

/*
 * An empty key, for OpenSSL to import a PUBLIC key into when it compares a
 * certificate's key with a token key (X509_check_private_key). Private
 * material is refused by import, so it never lands here.
 */
void *hsm_km_new_for(void *provctx, CK_KEY_TYPE type, const char *algorithm)
{
    struct hsm_key *key = calloc(1, sizeof(*key));

    if (key == NULL)
        return NULL;
    key->refs = 1;
    key->key_type = type;
    key->libctx = ((struct hsm_provctx *)provctx)->libctx;
    key->provctx = provctx;
    key->algorithm = algorithm;
    pthread_mutex_init(&key->lock, NULL);
    return key;
}

void hsm_km_free(void *keydata)
{
    hsm_key_put(keydata);
}

void *hsm_km_load(const void *reference, size_t reference_sz)
{
    struct hsm_key *key;

    if (reference == NULL || reference_sz != sizeof(key))
        return NULL;
    key = *(struct hsm_key *const *)reference;
    hsm_key_ref(key);
    return key;
}

int hsm_km_has(const void *keydata, int selection)
{
    const struct hsm_key *key = keydata;

    if (key == NULL || key->pub == NULL)
        return 0;
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) == 0 || hsm_key_on_token(key);
}

int hsm_km_match(const void *a, const void *b, int selection)
{
    const struct hsm_key *ka = a, *kb = b;

    (void)selection;
    return ka->pub != NULL && kb->pub != NULL && EVP_PKEY_eq(ka->pub, kb->pub) == 1;
}

int hsm_km_get_params(void *keydata, OSSL_PARAM params[])
{
    struct hsm_key *key = keydata;

    int ok;

    /* Size, security bits, curve, default digest: all public facts. */
    ok = EVP_PKEY_get_params(key->pub, params);
    hsm_params_trace_get("keymgmt get_params", params);
    return ok;
}

/*
 * Only the public half leaves, and only when only it is asked for. A
 * request that includes the private half is refused: a software provider
 * would otherwise accept the public half alone and fail to sign with it,
 * where refusing makes OpenSSL use this provider's own signature.
 */
int hsm_km_export(void *keydata, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    struct hsm_key *key = keydata;

    if (key->pub == NULL || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 ||
        (selection & (OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS)) == 0)
        return 0;
    return EVP_PKEY_export(key->pub, EVP_PKEY_PUBLIC_KEY, cb, cbarg);
}

static bool has_private_material(const OSSL_PARAM params[])
{
    return OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != NULL ||
           OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_D) != NULL;
}

/*
 * Public keys only, held in software. Private material handed in cannot be
 * held by a token reference: refusing it lets OpenSSL fall back to a
 * software provider.
 */
int hsm_km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
    struct hsm_key *key = keydata;
    struct hsm_provctx *prov = key->provctx;
    EVP_PKEY_CTX *pctx;
    int ok;

    if (key->pub != NULL || prov == NULL || has_private_material(params) ||
        (selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) == 0)
        return 0;
    /* A public RSA-PSS key (the certificate's, for X509_check_private_key)
     * is held as the RSA key of the same n and e, as token keys are, so
     * that the two compare by key material. */
    pctx = EVP_PKEY_CTX_new_from_name(
        prov->libctx, strcmp(key->algorithm, "RSA-PSS") == 0 ? "RSA" : key->algorithm,
        HSM_SOFTWARE_PROPQ);
    ok = pctx != NULL && EVP_PKEY_fromdata_init(pctx) > 0 &&
         EVP_PKEY_fromdata(pctx, &key->pub, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) > 0;
    EVP_PKEY_CTX_free(pctx);
    return ok;
}
