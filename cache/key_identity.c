#include "cache/key_identity.h"

#include "cache/error.h"
#include "cache/fork_gate.h"
#include "cache/objects.h"
#include "cache/p256_verify.h"
#include "cache/public_views.h"
#include "uri/pin_source.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <p11-kit/uri.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* A token can restrict an RSA key to PSS (CKA_ALLOWED_MECHANISMS). */
static bool only_pss_allowed(const struct hsm_attr_set *attrs)
{
    const struct hsm_attr *a = hsm_attr_set_get(attrs, CKA_ALLOWED_MECHANISMS);
    size_t n = a != NULL && a->value != NULL ? a->len / sizeof(CK_MECHANISM_TYPE) : 0;
    bool pss = false, other = false;

    for (size_t i = 0; i < n; i++) {
        CK_MECHANISM_TYPE m;

        memcpy(&m, a->value + i * sizeof(m), sizeof(m));
        if (m == CKM_RSA_PKCS_PSS || m == CKM_SHA1_RSA_PKCS_PSS || m == CKM_SHA224_RSA_PKCS_PSS ||
            m == CKM_SHA256_RSA_PKCS_PSS || m == CKM_SHA384_RSA_PKCS_PSS ||
            m == CKM_SHA512_RSA_PKCS_PSS)
            pss = true;
        else if (m == CKM_RSA_PKCS || m == CKM_RSA_X_509)
            other = true;
    }
    return pss && !other;
}

/* What the key may do, from its flags; absent flags take the standard's
 * default (sign: yes; always-authenticate, decrypt, derive: no). */
static void read_flags(const struct hsm_attr_set *attrs, struct hsm_key *key)
{
    key->always_authenticate = hsm_attr_set_bool(attrs, CKA_ALWAYS_AUTHENTICATE, false);
    key->can_sign = hsm_attr_set_bool(attrs, CKA_SIGN, true);
    key->can_decrypt = hsm_attr_set_bool(attrs, CKA_DECRYPT, false);
    key->can_derive = hsm_attr_set_bool(attrs, CKA_DERIVE, false);
}

/*
 * The attribute compared before each signature that is not verified: the
 * private object's own EC point (an RSA key is always verified instead).
 */
static bool keep_confirm_value(struct hsm_key *key, const struct hsm_attr_set *attrs)
{
    const struct hsm_attr *a =
        hsm_attr_set_get(attrs, key->key_type == CKK_RSA ? CKA_MODULUS : CKA_EC_POINT);

    key->confirm_type = 0;
    if (a == NULL || a->value == NULL)
        return true;
    if ((key->confirm_value = malloc(a->len)) == NULL)
        return false;
    memcpy(key->confirm_value, a->value, a->len);
    key->confirm_len = a->len;
    key->confirm_type = a->type;
    return true;
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
    bool small = EVP_PKEY_get_bn_param(pub, OSSL_PKEY_PARAM_RSA_E, &e) == 1 && BN_num_bits(e) <= 32;

    BN_free(e);
    return small;
}

struct hsm_key *hsm_key_from_object(struct hsm_token *tok, CK_FUNCTION_LIST *fns,
                                    CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                                    const struct hsm_attr_set *known,
                                    const struct hsm_id_objects *same_id, OSSL_LIB_CTX *libctx,
                                    char *pin)
{
    struct hsm_key *key = calloc(1, sizeof(*key));
    struct hsm_views views = {0};
    struct hsm_attr_set read = {0};
    const struct hsm_attr_set *attrs = known != NULL ? known : &read;
    const struct hsm_attr *id;
    CK_ULONG key_type = (CK_ULONG)-1;
    CK_RV rv = CKR_OK;

    if (key == NULL) {
        hsm_pin_free(pin);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return NULL;
    }
    key->refs = 1;
    key->loaded_fork_epoch = hsm_fork_epoch();
    key->loaded_euid = geteuid();
    key->pin = pin != NULL ? pin : hsm_token_kept_pin(tok);
    key->libctx = libctx;
    key->token_id = tok->id;
    pthread_mutex_init(&key->lock, NULL);
    if (known == NULL)
        rv = hsm_attr_set_read(fns, s, obj, hsm_private_key_attrs, HSM_PRIVATE_KEY_ATTRS, &read);
    id = hsm_attr_set_get(attrs, CKA_ID);
    key->label = hsm_attr_text(hsm_attr_set_get(attrs, CKA_LABEL));
    if (id != NULL && id->value != NULL && (key->id = malloc(id->len)) != NULL) {
        memcpy(key->id, id->value, id->len);
        key->id_len = id->len;
    }
    key->uri = hsm_key_canonical_uri(&tok->id, key->id, key->id_len, key->label, "private");
    if (key->label == NULL || key->uri == NULL || (key->id_len > 0 && key->id == NULL)) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        goto fail;
    }
    if (rv == CKR_OK && !hsm_attr_set_ulong(attrs, CKA_KEY_TYPE, &key_type))
        rv = CKR_ATTRIBUTE_TYPE_INVALID;
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
    read_flags(attrs, key);
    if (!keep_confirm_value(key, attrs)) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        goto fail;
    }
    if (key_type == CKK_RSA)
        key->pss_only = only_pss_allowed(attrs);
    if (!hsm_views_collect(fns, s, obj, attrs, same_id, key_type, key->id, key->id_len, libctx,
                           key->uri, &views))
        goto fail;
    key->pub = hsm_views_agree(&views, key->uri);
    key->pss_certified = key_type == CKK_RSA && views.rsa_pss_only;
    key->pss_only = key->pss_only || key->pss_certified;
    hsm_views_clear(&views);
    if (key->pub == NULL || !hsm_spki_fingerprint(key->pub, key->fingerprint))
        goto fail;
    key->verify_is_cheaper = key_type == CKK_RSA && small_public_exponent(key->pub);
    hsm_attr_set_clear(&read);
    key->module = tok->module;
    hsm_token_ref(tok);
    key->token = tok;
    key->handle = obj;
    return key;

fail:
    hsm_attr_set_clear(&read);
    hsm_views_clear(&views);
    hsm_key_put(key);
    return NULL;
}

bool hsm_key_needs_verified_signatures(const struct hsm_key *key)
{
    return key->confirm_type == 0 || key->verify_is_cheaper;
}

const char *hsm_key_type_name(const struct hsm_key *key)
{
    if (key->key_type == CKK_RSA)
        return key->pss_certified ? "RSA-PSS" : "RSA";
    if (key->key_type == CKK_EC)
        return "EC";
    return EVP_PKEY_is_a(key->pub, "ED448") ? "ED448" : "ED25519";
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
    hsm_p256_table_free(key->p256_table);
    hsm_pin_free(key->pin);
    free(key->id);
    free(key->confirm_value);
    free(key->label);
    free(key->uri);
    pthread_mutex_destroy(&key->lock);
    free(key);
}
