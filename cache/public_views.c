#include "cache/public_views.h"

#include "cache/error.h"
#include "cache/objects.h"
#include "cache/spki.h"

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>

static bool add_der(struct hsm_views *views, const char *what, const unsigned char *der,
                    size_t len, OSSL_LIB_CTX *libctx, const char *where)
{
    const unsigned char *p = der;
    EVP_PKEY *pkey;

    if (views->n == HSM_VIEWS_MAX)
        return true; /* enough views to decide; more add nothing */
    pkey = d2i_PUBKEY_ex(NULL, &p, (long)len, libctx, NULL);
    if (pkey == NULL || p != der + len) {
        EVP_PKEY_free(pkey);
        hsm_error(HSM_R_PUBLIC_KEY_MISMATCH, "%s: the %s is not a valid public key", where, what);
        return false;
    }
    snprintf(views->v[views->n].what, sizeof(views->v[0].what), "%s", what);
    views->v[views->n++].pkey = pkey;
    return true;
}

/* Public key attributes of a key object: RSA n/e or EC params/point. */
static bool add_key_attrs(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                          CK_KEY_TYPE key_type, const char *what, OSSL_LIB_CTX *libctx,
                          const char *where, struct hsm_views *views)
{
    CK_ATTRIBUTE_TYPE first = key_type == CKK_RSA ? CKA_MODULUS : CKA_EC_PARAMS;
    CK_ATTRIBUTE_TYPE second = key_type == CKK_RSA ? CKA_PUBLIC_EXPONENT : CKA_EC_POINT;
    unsigned char *a = NULL, *b = NULL, *der = NULL;
    size_t alen, blen, derlen;
    bool built, ok = true;

    if (hsm_attr_alloc(fns, s, obj, first, &a, &alen) != CKR_OK || a == NULL ||
        hsm_attr_alloc(fns, s, obj, second, &b, &blen) != CKR_OK || b == NULL)
        goto done; /* this object does not expose its public key */
    if (key_type == CKK_RSA)
        built = hsm_spki_rsa(a, alen, b, blen, &der, &derlen);
    else if (key_type == CKK_EC)
        built = hsm_spki_ec(a, alen, b, blen, &der, &derlen);
    else
        built = hsm_spki_eddsa(a, alen, b, blen, &der, &derlen);
    if (!built) {
        hsm_error(HSM_R_UNSUPPORTED,
                  "%s: the %s has parameters the provider does not support (only named "
                  "curves)",
                  where, what);
        ok = false;
        goto done;
    }
    ok = add_der(views, what, der, derlen, libctx, where);
done:
    free(a);
    free(b);
    free(der);
    return ok;
}

static bool add_spki_attr(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                          const char *what, OSSL_LIB_CTX *libctx, const char *where,
                          struct hsm_views *views)
{
    unsigned char *der = NULL;
    size_t len;
    bool ok = true;

    if (hsm_attr_alloc(fns, s, obj, CKA_PUBLIC_KEY_INFO, &der, &len) == CKR_OK && der != NULL)
        ok = add_der(views, what, der, len, libctx, where);
    free(der);
    return ok;
}

bool hsm_views_of_key_object(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                             CK_KEY_TYPE key_type, const char *label, OSSL_LIB_CTX *libctx,
                             struct hsm_views *views)
{
    char what[96];

    snprintf(what, sizeof(what), "%s attributes", label);
    if (!add_key_attrs(fns, s, obj, key_type, what, libctx, label, views))
        return false;
    snprintf(what, sizeof(what), "%s CKA_PUBLIC_KEY_INFO", label);
    return add_spki_attr(fns, s, obj, what, libctx, label, views);
}

static bool add_certificate(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                            OSSL_LIB_CTX *libctx, const char *where, struct hsm_views *views)
{
    unsigned char *value = NULL, *spki = NULL;
    const unsigned char *p;
    size_t len;
    X509 *cert;
    char what[96];
    int spki_len;
    bool ok = true;

    if (hsm_attr_alloc(fns, s, obj, CKA_VALUE, &value, &len) != CKR_OK || value == NULL)
        return true;
    p = value;
    cert = d2i_X509(NULL, &p, (long)len);
    snprintf(what, sizeof(what), "certificate (handle %lu)", (unsigned long)obj);
    if (cert == NULL) {
        hsm_error(HSM_R_PUBLIC_KEY_MISMATCH, "%s: the %s cannot be parsed", where, what);
        ok = false;
    } else if ((spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki)) > 0) {
        ok = add_der(views, what, spki, (size_t)spki_len, libctx, where);
    }
    OPENSSL_free(spki);
    X509_free(cert);
    free(value);
    return ok;
}

/*
 * One search by CKA_ID finds the public key objects and certificates
 * together: on a token with many objects each search scans them all.
 */
bool hsm_views_collect(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                       CK_KEY_TYPE key_type, const unsigned char *id, size_t idlen,
                       OSSL_LIB_CTX *libctx, const char *where, struct hsm_views *views)
{
    CK_ATTRIBUTE tmpl[1] = {{CKA_ID, (void *)id, idlen}};
    CK_OBJECT_HANDLE *objs;
    size_t n;
    bool ok = true;
    CK_RV rv;

    views->n = 0;
    if (!hsm_views_of_key_object(fns, s, priv, key_type, "private key's own", libctx, views))
        return false;
    rv = hsm_find_objects(fns, s, tmpl, 1, &objs, &n);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_FindObjects", rv,
                     "%s: searching its public key and certificates", where);
        return false;
    }
    for (size_t i = 0; i < n && ok; i++) {
        CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
        CK_ULONG type = (CK_ULONG)-1;
        CK_ATTRIBUTE a[2] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)}};
        char what[64];

        /* A certificate has no CKA_KEY_TYPE: the call still fills the class. */
        (void)fns->C_GetAttributeValue(s, objs[i], a, 2);
        if (cls == CKO_PUBLIC_KEY && type == key_type) {
            snprintf(what, sizeof(what), "public key object (handle %lu)", (unsigned long)objs[i]);
            ok = hsm_views_of_key_object(fns, s, objs[i], key_type, what, libctx, views);
        } else if (cls == CKO_CERTIFICATE) {
            ok = add_certificate(fns, s, objs[i], libctx, where, views);
        }
    }
    free(objs);
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
    views->n = 0;
}

bool hsm_spki_fingerprint(EVP_PKEY *pkey, char hex[65])
{
    unsigned char *der = NULL, md[32];
    int len = i2d_PUBKEY(pkey, &der);
    bool ok = len > 0 && EVP_Q_digest(NULL, "SHA256", NULL, der, (size_t)len, md, NULL);

    OPENSSL_free(der);
    if (!ok)
        return false;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return true;
}
