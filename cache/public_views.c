#include "cache/public_views.h"

#include "cache/error.h"
#include "cache/objects.h"
#include "cache/public_key_check.h"
#include "cache/spki.h"
#include "cache/spki_pkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every view passes the full public key check before it is compared or
 * used: a degenerate key (the EC point at infinity, e = 1) would verify
 * "signatures" that anyone can compute, possession proofs included.
 */
static bool add_der(struct hsm_views *views, const char *what, const unsigned char *der, size_t len,
                    OSSL_LIB_CTX *libctx, const char *where)
{
    struct hsm_view *more;
    EVP_PKEY *pkey;
    char why[200];

    if (views->n == HSM_VIEWS_MAX) {
        hsm_error(HSM_R_UNSUPPORTED,
                  "%s: the token shows more than %d public views of this key (public key "
                  "objects and certificates with its CKA_ID); the provider checks every one "
                  "and loads no key with more. Remove the stale certificates",
                  where, HSM_VIEWS_MAX);
        return false;
    }
    pkey = hsm_spki_to_pkey(der, len, libctx, why, sizeof(why));
    if (pkey == NULL || !hsm_public_key_check(pkey, libctx, why, sizeof(why))) {
        EVP_PKEY_free(pkey);
        hsm_error(HSM_R_PUBLIC_KEY_INVALID,
                  "%s: the public key check failed for the %s: %s. The key was not loaded and "
                  "nothing was signed with it; the token or its middleware serves a damaged "
                  "public key: check that object, or remove it",
                  where, what, why);
        return false;
    }
    if ((more = realloc(views->v, (views->n + 1) * sizeof(*more))) == NULL) {
        EVP_PKEY_free(pkey);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return false;
    }
    views->v = more;
    snprintf(views->v[views->n].what, sizeof(views->v[0].what), "%s", what);
    views->v[views->n++].pkey = pkey;
    views->rsa_pss_only = views->rsa_pss_only || hsm_spki_rsa_pss(der, len);
    return true;
}

/* Public key attributes of a key object: RSA n/e or EC params/point. */
static bool add_key_attrs(const struct hsm_attr_set *attrs, CK_KEY_TYPE key_type, const char *what,
                          OSSL_LIB_CTX *libctx, const char *where, struct hsm_views *views)
{
    const struct hsm_attr *a =
        hsm_attr_set_get(attrs, key_type == CKK_RSA ? CKA_MODULUS : CKA_EC_PARAMS);
    const struct hsm_attr *b =
        hsm_attr_set_get(attrs, key_type == CKK_RSA ? CKA_PUBLIC_EXPONENT : CKA_EC_POINT);
    unsigned char *der = NULL;
    size_t derlen;
    bool built, ok;

    if (a == NULL || a->value == NULL || b == NULL || b->value == NULL)
        return true; /* this object does not expose its public key */
    if (key_type == CKK_RSA)
        built = hsm_spki_rsa(a->value, a->len, b->value, b->len, &der, &derlen);
    else if (key_type == CKK_EC)
        built = hsm_spki_ec(a->value, a->len, b->value, b->len, &der, &derlen);
    else
        built = hsm_spki_eddsa(a->value, a->len, b->value, b->len, &der, &derlen);
    if (!built) {
        hsm_error(HSM_R_UNSUPPORTED,
                  "%s: the %s has parameters the provider does not support (only named "
                  "curves)",
                  where, what);
        return false;
    }
    ok = add_der(views, what, der, derlen, libctx, where);
    free(der);
    return ok;
}

static bool add_views_of(const struct hsm_attr_set *attrs, CK_KEY_TYPE key_type, const char *label,
                         OSSL_LIB_CTX *libctx, struct hsm_views *views)
{
    const struct hsm_attr *info = hsm_attr_set_get(attrs, CKA_PUBLIC_KEY_INFO);
    char what[96];

    snprintf(what, sizeof(what), "%s attributes", label);
    if (!add_key_attrs(attrs, key_type, what, libctx, label, views))
        return false;
    if (info == NULL || info->value == NULL)
        return true;
    snprintf(what, sizeof(what), "%s CKA_PUBLIC_KEY_INFO", label);
    return add_der(views, what, info->value, info->len, libctx, label);
}

bool hsm_views_of_key_attrs(const struct hsm_attr_set *attrs, CK_KEY_TYPE key_type,
                            const char *label, OSSL_LIB_CTX *libctx, struct hsm_views *views)
{
    return add_views_of(attrs, key_type, label, libctx, views);
}

/* Only the key inside is compared: the certificate is walked to its
 * subjectPublicKeyInfo, not decoded whole (which decodes the key again
 * through OpenSSL's decoder chain). CKA_VALUE is asked of certificates
 * alone, never in the set every object gets: on a private key it is the
 * secret itself. An X.509 certificate that cannot be read cannot be
 * checked, so the key is not loaded; other certificate types (attribute
 * certificates, WTLS) carry no subject public key. */
static bool add_certificate(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                            OSSL_LIB_CTX *libctx, const char *where, struct hsm_views *views)
{
    static const CK_ATTRIBUTE_TYPE wanted[] = {CKA_CERTIFICATE_TYPE, CKA_VALUE};
    struct hsm_attr_set set;
    const struct hsm_attr *value;
    CK_ULONG type = CKC_X_509;
    const unsigned char *spki;
    size_t spkilen;
    char what[96];
    bool ok = true;
    CK_RV rv;

    snprintf(what, sizeof(what), "certificate (handle %lu)", (unsigned long)obj);
    rv = hsm_attr_set_read(fns, s, obj, wanted, sizeof(wanted) / sizeof(wanted[0]), &set);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_GetAttributeValue", rv,
                     "%s: reading the %s with its CKA_ID, to check it against the key; the key "
                     "was not loaded",
                     where, what);
        return false;
    }
    (void)hsm_attr_set_ulong(&set, CKA_CERTIFICATE_TYPE, &type);
    value = hsm_attr_set_get(&set, CKA_VALUE);
    if (type != CKC_X_509) {
        ok = true;
    } else if (value == NULL || value->value == NULL) {
        hsm_error(HSM_R_PUBLIC_KEY_MISMATCH,
                  "%s: the %s with its CKA_ID has no value the token will give (CKA_VALUE "
                  "absent, empty or sensitive), so it cannot be checked against the key; the "
                  "key was not loaded. Remove the certificate or store its value",
                  where, what);
        ok = false;
    } else if (!hsm_cert_spki(value->value, value->len, &spki, &spkilen)) {
        hsm_error(HSM_R_PUBLIC_KEY_MISMATCH, "%s: the %s cannot be parsed", where, what);
        ok = false;
    } else {
        ok = add_der(views, what, spki, spkilen, libctx, where);
    }
    hsm_attr_set_clear(&set);
    return ok;
}

/* Everything a load reads of an object, in one set: CKA_CLASS, then what it
 * reads of a private key (its identity, flags and own public key). */
static const CK_ATTRIBUTE_TYPE object_attr_list[HSM_OBJECT_ATTRS] = {
    CKA_CLASS,
    CKA_ID,
    CKA_LABEL,
    CKA_KEY_TYPE,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_SIGN,
    CKA_DECRYPT,
    CKA_DERIVE,
    CKA_ALLOWED_MECHANISMS,
    CKA_MODULUS,
    CKA_PUBLIC_EXPONENT,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_PUBLIC_KEY_INFO,
};
const CK_ATTRIBUTE_TYPE *const hsm_private_key_attrs = object_attr_list + 1;

CK_RV hsm_id_objects_find(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, const unsigned char *id,
                          size_t idlen, CK_OBJECT_HANDLE already_read, struct hsm_id_objects *out,
                          const char **call)
{
    CK_ATTRIBUTE tmpl[1] = {{CKA_ID, (void *)id, idlen}};
    CK_RV rv;

    memset(out, 0, sizeof(*out));
    *call = "C_FindObjects";
    rv = hsm_find_objects(fns, s, tmpl, 1, &out->handles, &out->n);
    if (rv != CKR_OK)
        return rv;
    if (out->n > 0 && (out->sets = calloc(out->n, sizeof(*out->sets))) == NULL) {
        hsm_id_objects_clear(out);
        return CKR_HOST_MEMORY;
    }
    *call = "C_GetAttributeValue";
    for (size_t i = 0; i < out->n; i++) {
        if (out->handles[i] == already_read)
            continue;
        rv = hsm_attr_set_read(fns, s, out->handles[i], object_attr_list, HSM_OBJECT_ATTRS,
                               &out->sets[i]);
        if (rv != CKR_OK) {
            hsm_id_objects_clear(out);
            return rv;
        }
    }
    return CKR_OK;
}

void hsm_id_objects_clear(struct hsm_id_objects *objs)
{
    for (size_t i = 0; objs->sets != NULL && i < objs->n; i++)
        hsm_attr_set_clear(&objs->sets[i]);
    free(objs->sets);
    free(objs->handles);
    memset(objs, 0, sizeof(*objs));
}

/* The view one object with the key's CKA_ID gives, if any. */
static bool add_views_of_object(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                                const struct hsm_attr_set *attrs, CK_KEY_TYPE key_type,
                                OSSL_LIB_CTX *libctx, const char *where, struct hsm_views *views)
{
    CK_ULONG cls = (CK_ULONG)-1, type = (CK_ULONG)-1;
    char what[64];

    (void)hsm_attr_set_ulong(attrs, CKA_CLASS, &cls);
    (void)hsm_attr_set_ulong(attrs, CKA_KEY_TYPE, &type);
    if (cls == CKO_PUBLIC_KEY && type == key_type) {
        snprintf(what, sizeof(what), "public key object (handle %lu)", (unsigned long)obj);
        return add_views_of(attrs, key_type, what, libctx, views);
    }
    if (cls == CKO_CERTIFICATE)
        return add_certificate(fns, s, obj, libctx, where, views);
    return true;
}

/*
 * One search by CKA_ID finds the public key objects and certificates
 * together: on a token with many objects each search scans them all. Each
 * object found is read in one call (class, type and public key together);
 * the private key itself was read by the caller, in the same load.
 */
bool hsm_views_collect(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                       const struct hsm_attr_set *priv_attrs, const struct hsm_id_objects *same_id,
                       CK_KEY_TYPE key_type, const unsigned char *id, size_t idlen,
                       OSSL_LIB_CTX *libctx, const char *where, struct hsm_views *views)
{
    struct hsm_id_objects found = {0};
    bool ok = true;
    CK_RV rv;

    views->n = 0;
    views->rsa_pss_only = false;
    if (!add_views_of(priv_attrs, key_type, "private key's own", libctx, views))
        return false;
    if (same_id == NULL) {
        const char *call;

        rv = hsm_id_objects_find(fns, s, id, idlen, priv, &found, &call);
        if (rv != CKR_OK) {
            hsm_error_rv(HSM_R_PKCS11, call, rv, "%s: searching its public key and certificates",
                         where);
            return false;
        }
        same_id = &found;
    }
    for (size_t i = 0; i < same_id->n && ok; i++) {
        if (same_id->handles[i] != priv)
            ok = add_views_of_object(fns, s, same_id->handles[i], &same_id->sets[i], key_type,
                                     libctx, where, views);
    }
    hsm_id_objects_clear(&found);
    return ok;
}

EVP_PKEY *hsm_views_agree(const struct hsm_views *views, const char *where)
{
    if (views->n == 0) {
        hsm_error(HSM_R_NO_OBJECT,
                  "%s: the token shows no public key for this private key (no public "
                  "attributes, public key object or certificate with its CKA_ID); store the "
                  "public key or certificate under the same id",
                  where);
        return NULL;
    }
    for (size_t i = 1; i < views->n; i++) {
        if (EVP_PKEY_eq(views->v[0].pkey, views->v[i].pkey) != 1) {
            char a[65] = "?", b[65] = "?";

            hsm_spki_fingerprint(views->v[0].pkey, a);
            hsm_spki_fingerprint(views->v[i].pkey, b);
            hsm_error(HSM_R_PUBLIC_KEY_MISMATCH,
                      "%s: the %s (SHA-256 %s) and the %s (SHA-256 %s) are different keys; "
                      "the token or a middleware cache is inconsistent. Remove the stale "
                      "object or clear the cache",
                      where, views->v[0].what, a, views->v[i].what, b);
            return NULL;
        }
    }
    EVP_PKEY_up_ref(views->v[0].pkey);
    return views->v[0].pkey;
}

void hsm_views_clear(struct hsm_views *views)
{
    for (size_t i = 0; i < views->n; i++)
        EVP_PKEY_free(views->v[i].pkey);
    free(views->v);
    views->v = NULL;
    views->n = 0;
    views->rsa_pss_only = false;
}

bool hsm_spki_fingerprint(EVP_PKEY *pkey, char hex[65])
{
    unsigned char *der = NULL, md[32];
    size_t len;
    bool ok = hsm_spki_of_pkey(pkey, &der, &len) &&
              EVP_Q_digest(NULL, "SHA256", HSM_SOFTWARE_PROPQ, der, len, md, NULL);

    free(der);
    if (!ok)
        return false;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return true;
}
