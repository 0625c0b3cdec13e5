#include "cache/key_generate.h"

#include "cache/debug_log.h"
#include "cache/error.h"
#include "cache/objects.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool exists(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_ATTRIBUTE *a, bool *found,
                   const char *where)
{
    CK_OBJECT_HANDLE *objs;
    size_t n;
    CK_RV rv = hsm_find_objects(fns, s, a, 1, &objs, &n);

    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_FindObjects", rv, "checking %s", where);
        return false;
    }
    free(objs);
    *found = n > 0;
    return true;
}

/* A new key must not share its label or id with anything on the token. */
static bool names_free(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, struct hsm_token *tok,
                       const struct hsm_keygen_request *req)
{
    char id[200], desc[160];
    bool found = false;

    hsm_token_describe(tok, desc, sizeof(desc));
    if (req->label != NULL) {
        CK_ATTRIBUTE a = {CKA_LABEL, (void *)req->label, strlen(req->label)};

        if (!exists(fns, s, &a, &found, desc))
            return false;
        if (found) {
            hsm_error(HSM_R_OBJECT_EXISTS,
                      "%s already holds an object labelled '%s'; nothing was generated. Choose "
                      "another label (a second key a URI could confuse with the first is never "
                      "made)",
                      desc, req->label);
            return false;
        }
    }
    CK_ATTRIBUTE a = {CKA_ID, (void *)req->id, req->id_len};
    if (!exists(fns, s, &a, &found, desc))
        return false;
    if (found) {
        hsm_id_to_text(req->id, req->id_len, id, sizeof(id));
        hsm_error(HSM_R_OBJECT_EXISTS,
                  "%s already holds an object with id %s; nothing was generated. Choose "
                  "another id",
                  desc, id);
        return false;
    }
    return true;
}

static bool mechanism_ok(CK_FUNCTION_LIST *fns, struct hsm_token *tok, CK_MECHANISM_TYPE mech,
                         const char *name, CK_ULONG bits)
{
    CK_MECHANISM_INFO info;
    CK_RV rv = fns->C_GetMechanismInfo(tok->slot, mech, &info);
    char desc[160];

    hsm_token_describe(tok, desc, sizeof(desc));
    if (rv != CKR_OK || (info.flags & CKF_GENERATE_KEY_PAIR) == 0) {
        hsm_error(HSM_R_UNSUPPORTED, "%s cannot generate key pairs with %s", desc, name);
        return false;
    }
    if (bits != 0 && info.ulMaxKeySize != 0 &&
        (bits < info.ulMinKeySize || bits > info.ulMaxKeySize)) {
        hsm_error(HSM_R_UNSUPPORTED, "%s generates %s keys of %lu to %lu bits, not %lu", desc, name,
                  (unsigned long)info.ulMinKeySize, (unsigned long)info.ulMaxKeySize,
                  (unsigned long)bits);
        return false;
    }
    return true;
}

static CK_RV generate(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                      const struct hsm_keygen_request *req, const unsigned char *curve,
                      size_t curve_len, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_MECHANISM mech = {req->type == CKK_RSA  ? CKM_RSA_PKCS_KEY_PAIR_GEN
                         : req->type == CKK_EC ? CKM_EC_KEY_PAIR_GEN
                                               : CKM_EC_EDWARDS_KEY_PAIR_GEN,
                         NULL, 0};
    CK_ULONG label_len = req->label != NULL ? strlen(req->label) : 0;
    CK_ATTRIBUTE pub_t[8] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_ID, (void *)req->id, req->id_len},
    };
    CK_BBOOL decrypt = req->allow_decrypt ? CK_TRUE : CK_FALSE;
    CK_BBOOL derive = req->allow_derive ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE priv_t[9] = {
        {CKA_TOKEN, &yes, sizeof(yes)},     {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},      {CKA_ID, (void *)req->id, req->id_len},
    };
    CK_ULONG np = 4, nq = 6;

    /* Every use is stated, so a token's defaults never widen a CA key. */
    if (req->type == CKK_RSA)
        priv_t[nq++] = (CK_ATTRIBUTE){CKA_DECRYPT, &decrypt, sizeof(decrypt)};
    if (req->type == CKK_EC)
        priv_t[nq++] = (CK_ATTRIBUTE){CKA_DERIVE, &derive, sizeof(derive)};
    if (label_len > 0) {
        pub_t[np++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)req->label, label_len};
        priv_t[nq++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)req->label, label_len};
    }
    if (req->type == CKK_RSA) {
        pub_t[np++] = (CK_ATTRIBUTE){CKA_MODULUS_BITS, (void *)&req->rsa_bits, sizeof(CK_ULONG)};
        pub_t[np++] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, (void *)req->rsa_e, req->rsa_e_len};
    } else {
        pub_t[np++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)curve, curve_len};
    }
    return fns->C_GenerateKeyPair(s, &mech, pub_t, np, priv_t, nq, pub, priv);
}

static void destroy(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub,
                    CK_OBJECT_HANDLE priv)
{
    if (priv != CK_INVALID_HANDLE)
        (void)fns->C_DestroyObject(s, priv);
    if (pub != CK_INVALID_HANDLE)
        (void)fns->C_DestroyObject(s, pub);
}

struct hsm_key *hsm_key_generate(struct hsm_token *tok, struct hsm_keygen_request *req,
                                 hsm_pin_getter *getter, void *arg, OSSL_LIB_CTX *libctx)
{
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE, pooled = CK_INVALID_HANDLE;
    CK_FUNCTION_LIST *fns;
    struct hsm_key *key = NULL;
    char desc[160];
    CK_RV rv;

    hsm_token_describe(tok, desc, sizeof(desc));
    if (req->id_len == 0) {
        req->id_len = 20;
        if (RAND_bytes_ex(libctx, req->id, req->id_len, 0) <= 0) {
            hsm_error(HSM_R_INTERNAL, "no random bytes for a CKA_ID");
            return NULL;
        }
    }
    /* The login first, outside the module call: the PIN may come from a
     * terminal prompt or the application's callback. */
    if (!hsm_token_login(tok, getter, arg))
        return NULL;
    fns = hsm_module_enter(tok->module, NULL);
    if (fns == NULL)
        return NULL;
    hsm_reentered_reset();
    /* A pooled session stays open afterwards: closing an application's last
     * session logs it out, and the new key is used at once. */
    rv = hsm_session_acquire(tok, fns, &pooled);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_OpenSession", rv, "opening a session on %s", desc);
        goto done;
    }
    /* Generation writes to the token: a read-write session of its own. */
    rv = fns->C_OpenSession(tok->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_OpenSession", rv, "opening a read-write session on %s", desc);
        goto done;
    }
    if (!names_free(fns, s, tok, req))
        goto done;
    if (!mechanism_ok(fns, tok,
                      req->type == CKK_RSA  ? CKM_RSA_PKCS_KEY_PAIR_GEN
                      : req->type == CKK_EC ? CKM_EC_KEY_PAIR_GEN
                                            : CKM_EC_EDWARDS_KEY_PAIR_GEN,
                      req->type == CKK_RSA  ? "CKM_RSA_PKCS_KEY_PAIR_GEN"
                      : req->type == CKK_EC ? "CKM_EC_KEY_PAIR_GEN"
                                            : "CKM_EC_EDWARDS_KEY_PAIR_GEN",
                      req->type == CKK_RSA ? req->rsa_bits : 0))
        goto done;
    rv = generate(fns, s, req, req->curve, req->curve_len, &pub, &priv);
    hsm_debug_call(1, "C_GenerateKeyPair", rv, desc);
    if ((rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_CURVE_NOT_SUPPORTED ||
         rv == CKR_TEMPLATE_INCONSISTENT) &&
        req->curve_alt != NULL)
        rv = generate(fns, s, req, req->curve_alt, req->curve_alt_len, &pub, &priv);
    if (rv != CKR_OK) {
        pub = priv = CK_INVALID_HANDLE;
        hsm_error_rv(HSM_R_PKCS11, "C_GenerateKeyPair", rv, "generating a key on %s with %s%s",
                     desc, hsm_module_path(tok->module),
                     hsm_reentered_from_module()
                         ? "; the module's own libcrypto call reached the hsm provider: "
                           "keep prefer-other-providers = yes or activate the default "
                           "provider before hsm"
                         : "; the module would not make a key with these attributes (some, "
                           "tpm2-pkcs11 for one, cannot make an RSA key that may only sign): "
                           "ask for another usage with -pkeyopt pkcs11_key_usage:sign,decrypt, "
                           "or see the module's own log");
        goto done;
    }
    key = hsm_key_from_object(tok, fns, s, priv, NULL, NULL, libctx, NULL);
    if (key == NULL)
        destroy(fns, s, pub, priv);
done:
    if (s != CK_INVALID_HANDLE)
        (void)fns->C_CloseSession(s);
    if (pooled != CK_INVALID_HANDLE)
        hsm_session_release(tok, fns, pooled, false);
    hsm_module_leave(tok->module);
    return key;
}

void hsm_key_destroy_generated(struct hsm_key *key)
{
    CK_OBJECT_CLASS classes[2] = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY};
    CK_SESSION_HANDLE s;
    CK_FUNCTION_LIST *fns;

    if (key->token == NULL || (fns = hsm_module_enter(key->module, NULL)) == NULL)
        return;
    if (fns->C_OpenSession(key->token->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) ==
        CKR_OK) {
        for (int i = 0; i < 2; i++) {
            CK_ATTRIBUTE t[2] = {{CKA_CLASS, &classes[i], sizeof(classes[i])},
                                 {CKA_ID, key->id, key->id_len}};
            CK_OBJECT_HANDLE *objs;
            size_t n;

            if (hsm_find_objects(fns, s, t, 2, &objs, &n) == CKR_OK) {
                for (size_t j = 0; j < n; j++)
                    (void)fns->C_DestroyObject(s, objs[j]);
                free(objs);
            }
        }
        (void)fns->C_CloseSession(s);
    }
    hsm_module_leave(key->module);
}
