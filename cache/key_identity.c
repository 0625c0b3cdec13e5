#include "cache/key_identity.h"

#include "cache/error.h"
#include "cache/objects.h"
#include "cache/public_views.h"
#include "uri/pin_source.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <p11-kit/uri.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pad_copy(CK_UTF8CHAR *dst, size_t dstlen, const char *src)
{
    size_t len = strlen(src);

    memset(dst, ' ', dstlen);
    memcpy(dst, src, len < dstlen ? len : dstlen);
}

char *hsm_key_canonical_uri(const struct hsm_token_identity *tok, const unsigned char *id,
                            size_t idlen, const char *label, const char *type)
{
    P11KitUri *uri = p11_kit_uri_new();
    CK_TOKEN_INFO *ti;
    CK_OBJECT_CLASS cls;
    char *text = NULL;

    if (uri == NULL)
        return NULL;
    ti = p11_kit_uri_get_token_info(uri);
    pad_copy(ti->label, sizeof(ti->label), tok->label);
    pad_copy(ti->manufacturerID, sizeof(ti->manufacturerID), tok->manufacturer);
    pad_copy(ti->model, sizeof(ti->model), tok->model);
    pad_copy(ti->serialNumber, sizeof(ti->serialNumber), tok->serial);
    if (id != NULL) {
        CK_ATTRIBUTE a = {CKA_ID, (void *)id, idlen};
        p11_kit_uri_set_attribute(uri, &a);
    }
    if (label != NULL && label[0] != '\0') {
        CK_ATTRIBUTE a = {CKA_LABEL, (void *)label, strlen(label)};
        p11_kit_uri_set_attribute(uri, &a);
    }
    if (type != NULL) {
        cls = strcmp(type, "cert") == 0     ? CKO_CERTIFICATE
              : strcmp(type, "public") == 0 ? CKO_PUBLIC_KEY
                                            : CKO_PRIVATE_KEY;
        CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof(cls)};
        p11_kit_uri_set_attribute(uri, &a);
    }
    if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, &text) != P11_KIT_URI_OK)
        text = NULL;
    p11_kit_uri_free(uri);
    return text;
}

static char *label_of(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    unsigned char *v = NULL;
    size_t len = 0;
    char *label;

    (void)hsm_attr_alloc(fns, s, obj, CKA_LABEL, &v, &len);
    label = malloc(len + 1);
    if (label != NULL) {
        if (len > 0)
            memcpy(label, v, len);
        label[len] = '\0';
    }
    free(v);
    return label;
}

/* A token can restrict an RSA key to PSS (CKA_ALLOWED_MECHANISMS). */
static bool only_pss_allowed(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    unsigned char *v = NULL;
    size_t len = 0, n;
    bool pss = false, other = false;

    if (hsm_attr_alloc(fns, s, obj, CKA_ALLOWED_MECHANISMS, &v, &len) != CKR_OK || v == NULL)
        return false;
    n = len / sizeof(CK_MECHANISM_TYPE);
    for (size_t i = 0; i < n; i++) {
        CK_MECHANISM_TYPE m;

        memcpy(&m, v + i * sizeof(m), sizeof(m));
        if (m == CKM_RSA_PKCS_PSS || m == CKM_SHA1_RSA_PKCS_PSS || m == CKM_SHA224_RSA_PKCS_PSS ||
            m == CKM_SHA256_RSA_PKCS_PSS || m == CKM_SHA384_RSA_PKCS_PSS ||
            m == CKM_SHA512_RSA_PKCS_PSS)
            pss = true;
        else if (m == CKM_RSA_PKCS || m == CKM_RSA_X_509)
            other = true;
    }
    free(v);
    return pss && !other;
}

/* Key type and usage flags in one call; a flag the token lacks keeps its
 * default (sign: yes; always-authenticate, decrypt, derive: no). */
static CK_RV read_flags(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                        struct hsm_key *key, CK_ULONG *key_type)
{
    CK_BBOOL always = CK_FALSE, sign = CK_TRUE, decrypt = CK_FALSE, derive = CK_FALSE;
    CK_ATTRIBUTE a[5] = {
        {CKA_KEY_TYPE, key_type, sizeof(*key_type)},
        {CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always)},
        {CKA_SIGN, &sign, sizeof(sign)},
        {CKA_DECRYPT, &decrypt, sizeof(decrypt)},
        {CKA_DERIVE, &derive, sizeof(derive)},
    };
    CK_RV rv = fns->C_GetAttributeValue(s, obj, a, 5);

    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
        return rv;
    if (a[0].ulValueLen == (CK_ULONG)-1)
        return CKR_ATTRIBUTE_TYPE_INVALID;
    key->always_authenticate = a[1].ulValueLen != (CK_ULONG)-1 && always == CK_TRUE;
    key->can_sign = a[2].ulValueLen == (CK_ULONG)-1 || sign == CK_TRUE;
    key->can_decrypt = a[3].ulValueLen != (CK_ULONG)-1 && decrypt == CK_TRUE;
    key->can_derive = a[4].ulValueLen != (CK_ULONG)-1 && derive == CK_TRUE;
    return CKR_OK;
}

/*
 * An RSA verification is one exponentiation by e: with e = 65537 it takes
 * about 22 us for RSA-2048 here, against about 40 us for the attribute read
 * that would confirm the handle on SoftHSMv2 (which locks the object's file)
 * and a network round trip on a remote HSM; and it names the signing key
 * more surely. A large e (rare, up to the modulus size) loses the edge.
 */
static bool small_public_exponent(const EVP_PKEY *pub)
{
    BIGNUM *e = NULL;
    bool small = EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e) == 1 &&
                 BN_num_bits(e) <= 32;

    BN_free(e);
    return small;
}

struct hsm_key *hsm_key_from_object(struct hsm_token *tok, CK_FUNCTION_LIST *fns,
                                    CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                                    OSSL_LIB_CTX *libctx, char *pin)
{
    struct hsm_key *key = calloc(1, sizeof(*key));
    struct hsm_views views = {0};
    CK_ULONG key_type;
    CK_RV rv;

    if (key == NULL) {
        hsm_pin_free(pin);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return NULL;
    }
    key->refs = 1;
    key->pin = pin != NULL ? pin : hsm_token_kept_pin(tok);
    key->libctx = libctx;
    key->token_id = tok->id;
    pthread_mutex_init(&key->lock, NULL);
    key->label = label_of(fns, s, obj);
    rv = hsm_attr_alloc(fns, s, obj, CKA_ID, &key->id, &key->id_len);
    if (rv == CKR_OK)
        rv = read_flags(fns, s, obj, key, &key_type);
    key->uri = hsm_key_canonical_uri(&tok->id, key->id, key->id_len, key->label, "private");
    if (key->label == NULL || key->uri == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        goto fail;
    }
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_GetAttributeValue", rv, "reading the identity of %s",
                     key->uri);
        goto fail;
    }
    if (key_type != CKK_RSA && key_type != CKK_EC && key_type != CKK_EC_EDWARDS) {
        hsm_error(HSM_R_UNSUPPORTED, "%s: key type 0x%lx is not supported (RSA, EC, EdDSA are)",
                  key->uri, (unsigned long)key_type);
        goto fail;
    }
    key->key_type = key_type;
    key->confirm_type = key_type == CKK_RSA ? CKA_MODULUS : CKA_EC_POINT;
    if (hsm_attr_alloc(fns, s, obj, key->confirm_type, &key->confirm_value, &key->confirm_len) !=
            CKR_OK ||
        key->confirm_value == NULL)
        key->confirm_type = 0;
    if (key_type == CKK_RSA)
        key->pss_only = only_pss_allowed(fns, s, obj);
    if (!hsm_views_collect(fns, s, obj, key_type, key->id, key->id_len, libctx, key->uri,
                           &views))
        goto fail;
    key->pub = hsm_views_agree(&views, key->uri);
    hsm_views_clear(&views);
    if (key->pub == NULL || !hsm_spki_fingerprint(key->pub, key->fingerprint))
        goto fail;
    key->verify_is_cheaper = key_type == CKK_RSA && small_public_exponent(key->pub);
    key->module = tok->module;
    hsm_token_ref(tok);
    key->token = tok;
    key->handle = obj;
    return key;

fail:
    hsm_views_clear(&views);
    hsm_key_put(key);
    return NULL;
}

bool hsm_key_needs_verified_signatures(const struct hsm_key *key)
{
    return key->confirm_type == 0 || key->verify_is_cheaper;
}

bool hsm_key_on_token(const struct hsm_key *key)
{
    return key->module != NULL;
}

void hsm_key_ref(struct hsm_key *key)
{
    __atomic_add_fetch(&key->refs, 1, __ATOMIC_RELAXED);
}

void hsm_key_put(struct hsm_key *key)
{
    if (key == NULL || __atomic_sub_fetch(&key->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    hsm_token_put(key->token);
    EVP_PKEY_free(key->pub);
    hsm_pin_free(key->pin);
    free(key->id);
    free(key->confirm_value);
    free(key->label);
    free(key->uri);
    pthread_mutex_destroy(&key->lock);
    free(key);
}
