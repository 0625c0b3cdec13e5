/*
 * The rules that keep a loaded key honest: before each operation the handle
 * is confirmed to still be the key; when it is not, or the session, slot or
 * token is gone, the key is found again by identity and must still be the
 * same public key. A different key under the same id is an error, never a
 * silent switch.
 */
#include "cache/debug_log.h"
#include "cache/error.h"
#include "cache/key_identity.h"
#include "cache/objects.h"
#include "cache/public_views.h"
#include "uri/pin_source.h"

#include <openssl/err.h>

#include <stdlib.h>
#include <string.h>

#define HSM_ID_MAX 256

#define HSM_CONFIRM_MAX 1100 /* an RSA-8192 modulus, a P-521 point */

/*
 * CKR_OK and *same set when the handle still names this key. Where the
 * private object carries its public key (RSA modulus, EC point), that one
 * attribute decides: it is the key material itself, and a handle number
 * reused for another key, under any id, shows a different value. Otherwise
 * class, key type and CKA_ID are compared. One C_GetAttributeValue either
 * way; on SoftHSMv2 each attribute read locks the object's file.
 */
static CK_RV confirm_handle(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                            const struct hsm_key *key, CK_OBJECT_HANDLE handle, bool *same)
{
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE type = 0;
    unsigned char id[HSM_ID_MAX], pub[HSM_CONFIRM_MAX];
    CK_ATTRIBUTE by_pub[1] = {{key->confirm_type, pub, sizeof(pub)}};
    CK_ATTRIBUTE by_id[3] = {{CKA_CLASS, &cls, sizeof(cls)},
                             {CKA_KEY_TYPE, &type, sizeof(type)},
                             {CKA_ID, id, sizeof(id)}};
    bool use_pub = key->confirm_type != 0;
    CK_RV rv = use_pub ? fns->C_GetAttributeValue(s, handle, by_pub, 1)
                       : fns->C_GetAttributeValue(s, handle, by_id, 3);

    *same = false;
    if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
        rv == CKR_ATTRIBUTE_SENSITIVE)
        return CKR_OK; /* not this key: ours has these, short enough */
    if (rv != CKR_OK)
        return rv;
    if (use_pub)
        *same = by_pub[0].ulValueLen == key->confirm_len &&
                memcmp(pub, key->confirm_value, key->confirm_len) == 0;
    else
        *same = cls == CKO_PRIVATE_KEY && type == key->key_type &&
                by_id[2].ulValueLen == key->id_len &&
                (key->id_len == 0 || memcmp(id, key->id, key->id_len) == 0);
    return CKR_OK;
}

static char *kept_pin(void *arg, const struct hsm_token *tok)
{
    const struct hsm_key *key = arg;
    char desc[160];

    if (key->pin != NULL)
        return hsm_pin_dup(key->pin);
    hsm_token_describe(tok, desc, sizeof(desc));
    hsm_error(HSM_R_PIN_REQUIRED,
              "%s needs a login again (it was removed or re-initialised) and %s was loaded "
              "without a PIN the provider could keep; load the key again",
              desc, key->uri);
    return NULL;
}

/* Finds the key on |tok| by CKA_ID and type and checks its public key. */
static bool refind_on_token(struct hsm_key *key, struct hsm_token *tok,
                            CK_OBJECT_HANDLE *found)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[3] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_ID, key->id, key->id_len},
                            {CKA_KEY_TYPE, &key->key_type, sizeof(key->key_type)}};
    struct hsm_views views = {0};
    struct hsm_attr_set attrs = {0};
    CK_OBJECT_HANDLE *objs = NULL;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_FUNCTION_LIST *fns;
    EVP_PKEY *now = NULL;
    size_t n = 0;
    bool ok = false;
    CK_RV rv;

    fns = hsm_module_enter(tok->module, NULL);
    if (fns == NULL)
        return false;
    rv = hsm_session_acquire(tok, fns, &s);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_TOKEN_GONE, "C_OpenSession", rv, "finding %s again", key->uri);
        goto done;
    }
    if (!hsm_token_login(tok, fns, s, kept_pin, key))
        goto done;
    rv = hsm_find_objects(fns, s, tmpl, 3, &objs, &n);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_FindObjects", rv, "finding %s again", key->uri);
        goto done;
    }
    if (n != 1) {
        hsm_error(n == 0 ? HSM_R_KEY_CHANGED : HSM_R_AMBIGUOUS_OBJECT,
                  "%s (SHA-256 %s): the token now has %zu private keys with this id and type; "
                  "load the key again by a URI that names one",
                  key->uri, key->fingerprint, n);
        goto done;
    }
    rv = hsm_attr_set_read(fns, s, objs[0], hsm_private_key_attrs, HSM_PRIVATE_KEY_ATTRS,
                           &attrs);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_GetAttributeValue", rv, "reading %s again", key->uri);
        goto done;
    }
    if (!hsm_views_collect(fns, s, objs[0], &attrs, NULL, key->key_type, key->id, key->id_len,
                           key->libctx, key->uri, &views) ||
        (now = hsm_views_agree(&views, key->uri)) == NULL)
        goto done;
    if (EVP_PKEY_eq(now, key->pub) != 1) {
        char fp[65] = "?";

        hsm_spki_fingerprint(now, fp);
        hsm_error(HSM_R_KEY_CHANGED,
                  "%s was loaded as public key SHA-256 %s but the token now holds public key "
                  "SHA-256 %s under the same id; nothing was signed. Load the key again if the "
                  "change is intended",
                  key->uri, key->fingerprint, fp);
        goto done;
    }
    *found = objs[0];
    ok = true;
done:
    if (s != CK_INVALID_HANDLE)
        hsm_session_release(tok, fns, s, !ok);
    hsm_module_leave(tok->module);
    hsm_views_clear(&views);
    hsm_attr_set_clear(&attrs);
    EVP_PKEY_free(now);
    free(objs);
    return ok;
}

static bool refind(struct hsm_key *key);

static void forget_all_hints(struct hsm_key *key)
{
    pthread_mutex_lock(&key->lock);
    hsm_token_put(key->token);
    key->token = NULL;
    pthread_mutex_unlock(&key->lock);
}

/*
 * A key found anew must prove possession again: the same public views can
 * come from a stale middleware cache while the token signs with another
 * key. The proof signs through the fresh hints; a nested look-up inside it
 * does not prove again.
 */
static _Thread_local int proving;

static bool prove_again(struct hsm_key *key)
{
    bool ok;

    if (key->prove == NULL || proving > 0)
        return true;
    proving++;
    ok = key->prove(key->prove_arg, key);
    proving--;
    if (!ok)
        forget_all_hints(key);
    return ok;
}

void hsm_key_explain_bad_signature(struct hsm_key *key)
{
    forget_all_hints(key);
    proving++; /* only the identity check: the proof would fail the same way */
    (void)refind(key);
    proving--;
}

static bool refind(struct hsm_key *key)
{
    struct hsm_token **toks = NULL;
    CK_OBJECT_HANDLE handle;
    unsigned generation;
    int n = -1;

    hsm_debug(1, "finding %s (SHA-256 %s) again by its identity", key->uri, key->fingerprint);
    /* What the first pass raises is only kept if the second fails too. */
    ERR_set_mark();
    for (int pass = 0; pass < 2; pass++) {
        if (hsm_module_enter(key->module, &generation) == NULL)
            break;
        hsm_module_leave(key->module);
        n = hsm_tokens_find(key->module, NULL, &key->token_id, &toks);
        if (n > 0 || pass == 1)
            break;
        /* The token is not in the slot list, or the module itself fails (a
         * remote token's server went away). A module that fixed its slot
         * list at C_Initialize (SoftHSMv2), or whose connection died, needs
         * initialising again; a restarted process would do the same. */
        hsm_tokens_put_all(toks, n < 0 ? 0 : n);
        toks = NULL;
        if (!hsm_module_reinitialize(key->module, generation))
            break;
    }
    if (n > 0)
        ERR_pop_to_mark();
    else
        ERR_clear_last_mark();
    if (n != 1) {
        hsm_error(n == 0 ? HSM_R_TOKEN_GONE : n < 0 ? HSM_R_TOKEN_GONE : HSM_R_AMBIGUOUS_TOKEN,
                  "%s: %s token with label '%s' and serial %s can be reached through %s; insert "
                  "the token, or bring its module or server back, and the key is found again",
                  key->uri, n > 1 ? "more than one" : "no", key->token_id.label,
                  key->token_id.serial, hsm_module_path(key->module));
        hsm_tokens_put_all(toks, n < 0 ? 0 : n);
        return false;
    }
    if (!refind_on_token(key, toks[0], &handle)) {
        hsm_tokens_put_all(toks, n);
        return false;
    }
    pthread_mutex_lock(&key->lock);
    hsm_token_put(key->token);
    key->token = toks[0];
    key->handle = handle;
    pthread_mutex_unlock(&key->lock);
    free(toks); /* the reference moved into the key */
    return prove_again(key);
}

/*
 * ECDH: the shared secret comes back as a session object (never a token
 * object, never a copy of the key), is read and destroyed at once.
 */
static CK_RV derive(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_MECHANISM *mech,
                    CK_OBJECT_HANDLE handle, unsigned char *out, CK_ULONG *outlen,
                    const char **what)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG len = *outlen;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},         {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &no, sizeof(no)},           {CKA_SENSITIVE, &no, sizeof(no)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)},   {CKA_VALUE_LEN, &len, sizeof(len)},
    };
    CK_OBJECT_HANDLE secret = CK_INVALID_HANDLE;
    CK_ATTRIBUTE value = {CKA_VALUE, out, *outlen};
    CK_RV rv;

    *what = "C_DeriveKey";
    rv = fns->C_DeriveKey(s, mech, handle, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &secret);
    if (rv != CKR_OK)
        return rv;
    *what = "C_GetAttributeValue";
    rv = fns->C_GetAttributeValue(s, secret, &value, 1);
    (void)fns->C_DestroyObject(s, secret);
    if (rv == CKR_OK)
        *outlen = value.ulValueLen;
    return rv;
}

/*
 * CKA_ALWAYS_AUTHENTICATE keys need the user's PIN again, as a
 * context-specific login, between C_SignInit and C_Sign.
 */
static CK_RV context_login(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, const struct hsm_key *key,
                           const char **what)
{
    CK_RV rv;

    *what = "C_Login(CKU_CONTEXT_SPECIFIC)";
    if (key->pin == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    rv = fns->C_Login(s, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR *)key->pin, strlen(key->pin));
    if (rv != CKR_OK)
        (void)fns->C_SignFinal(s, NULL, &(CK_ULONG){0}); /* end the operation */
    return rv;
}

static CK_RV run_operation(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, enum hsm_key_op op,
                           const struct hsm_key *key, CK_MECHANISM *mech,
                           CK_OBJECT_HANDLE handle, const unsigned char *in, size_t inlen,
                           unsigned char *out, CK_ULONG *olen, const char **what)
{
    CK_RV rv;

    switch (op) {
    case HSM_OP_SIGN:
    case HSM_OP_SIGN_VERIFIED:
        *what = "C_SignInit";
        if ((rv = fns->C_SignInit(s, mech, handle)) != CKR_OK)
            return rv;
        if (key->always_authenticate && (rv = context_login(fns, s, key, what)) != CKR_OK)
            return rv;
        *what = "C_Sign";
        return fns->C_Sign(s, (CK_BYTE_PTR)in, inlen, out, olen);
    case HSM_OP_DECRYPT:
        *what = "C_DecryptInit";
        if ((rv = fns->C_DecryptInit(s, mech, handle)) != CKR_OK)
            return rv;
        *what = "C_Decrypt";
        return fns->C_Decrypt(s, (CK_BYTE_PTR)in, inlen, out, olen);
    default:
        return derive(fns, s, mech, handle, out, olen, what);
    }
}

/*
 * A signature that will be verified skips the handle check, so when the
 * token refuses it the handle may name another object by now (a number
 * reused for a key of another type: SoftHSMv2 then accepts C_SignInit and
 * fails C_Sign with CKR_GENERAL_ERROR). Checked here, on the failure path
 * only: a handle that names another object sends the key to be found
 * again; otherwise the refusal stands.
 */
static CK_RV explain_refusal(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                             const struct hsm_key *key, CK_OBJECT_HANDLE handle, CK_RV refusal)
{
    bool same;
    CK_RV rv = confirm_handle(fns, s, key, handle, &same);

    if (rv == CKR_OK)
        return same ? refusal : CKR_OBJECT_HANDLE_INVALID;
    return hsm_rv_is_stale(rv) ? rv : refusal;
}

static void hints(struct hsm_key *key, struct hsm_token **tok, CK_OBJECT_HANDLE *handle)
{
    pthread_mutex_lock(&key->lock);
    *tok = key->token;
    *handle = key->handle;
    if (*tok != NULL)
        hsm_token_ref(*tok);
    pthread_mutex_unlock(&key->lock);
}

static void forget_hints(struct hsm_key *key, const struct hsm_token *tok)
{
    pthread_mutex_lock(&key->lock);
    if (key->token == tok) {
        hsm_token_put(key->token);
        key->token = NULL;
    }
    pthread_mutex_unlock(&key->lock);
}

static bool operate(struct hsm_key *key, enum hsm_key_op op, CK_MECHANISM *mech,
                    const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen);

bool hsm_key_operate(struct hsm_key *key, enum hsm_key_op op, CK_MECHANISM *mech,
                     const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    bool ok;

    hsm_operation_begin();
    ok = operate(key, op, mech, in, inlen, out, outlen);
    hsm_operation_end();
    return ok;
}

static bool operate(struct hsm_key *key, enum hsm_key_op op, CK_MECHANISM *mech,
                    const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    const char *what = "C_GetAttributeValue";
    CK_RV rv = CKR_OK;

    for (int attempt = 0; attempt < 3; attempt++) {
        struct hsm_token *tok;
        CK_OBJECT_HANDLE handle;
        CK_SESSION_HANDLE s;
        CK_FUNCTION_LIST *fns;
        CK_ULONG olen = *outlen;
        unsigned generation;
        bool same;

        hints(key, &tok, &handle);
        if (tok == NULL || tok->gone) {
            hsm_token_put(tok);
            if (!refind(key))
                return false;
            continue;
        }
        fns = hsm_module_enter(key->module, &generation);
        if (fns == NULL) {
            hsm_token_put(tok);
            return false;
        }
        if (tok->generation != generation) {
            rv = CKR_CRYPTOKI_NOT_INITIALIZED;
            goto stale;
        }
        rv = hsm_session_acquire(tok, fns, &s);
        if (rv != CKR_OK)
            goto stale;
        if (op == HSM_OP_SIGN_VERIFIED) {
            rv = CKR_OK;
        } else {
            rv = confirm_handle(fns, s, key, handle, &same);
            hsm_debug(2, "C_GetAttributeValue (handle check) -> %s%s", rv == CKR_OK ? "CKR_OK" : "failed",
                      rv == CKR_OK && !same ? ": the handle names another key" : "");
            if (rv == CKR_OK && !same)
                rv = CKR_OBJECT_HANDLE_INVALID;
        }
        if (rv == CKR_OK)
            rv = run_operation(fns, s, op, key, mech, handle, in, inlen, out, &olen, &what);
        if (rv != CKR_OK && !hsm_rv_is_stale(rv) && op == HSM_OP_SIGN_VERIFIED)
            rv = explain_refusal(fns, s, key, handle, rv);
        hsm_session_release(tok, fns, s, hsm_rv_is_stale(rv));
        if (hsm_debug_level() > 0)
            hsm_debug(rv == CKR_OK ? 2 : 1, "%s -> %s (%s, handle %lu%s)", what,
                      hsm_ckr_name(rv, (char[32]){0}), key->uri, (unsigned long)handle,
                      op == HSM_OP_SIGN_VERIFIED ? ", checked by verification" : "");
        if (rv == CKR_OK) {
            hsm_module_leave(key->module);
            hsm_token_put(tok);
            *outlen = olen;
            return true;
        }
        if (!hsm_rv_is_stale(rv)) {
            hsm_module_leave(key->module);
            hsm_token_put(tok);
            break;
        }
    stale:
        hsm_module_leave(key->module);
        forget_hints(key, tok);
        hsm_token_put(tok);
    }
    char mech_name[32];
    bool refused = rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID ||
                   rv == CKR_KEY_FUNCTION_NOT_PERMITTED || rv == CKR_KEY_TYPE_INCONSISTENT ||
                   (rv == CKR_ARGUMENTS_BAD && strstr(what, "Init") != NULL);

    hsm_error_rv(refused ? HSM_R_UNSUPPORTED : HSM_R_PKCS11, what, rv,
                 "%s with %s on token '%s' (serial %s) using %s%s",
                 op == HSM_OP_DECRYPT ? "decrypting" : op == HSM_OP_DERIVE ? "deriving" : "signing",
                 key->uri, key->token_id.label, key->token_id.serial,
                 hsm_ckm_name(mech->mechanism, mech_name),
                 refused ? ": the token does not offer this mechanism or these parameters for "
                           "this key"
                         : "");
    return false;
}
