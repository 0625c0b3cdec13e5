/*
 * The rules that keep a loaded key honest: before each operation the handle
 * is confirmed to still be the key; when it is not, or the session, slot or
 * token is gone, the key is found again by identity and must still be the
 * same public key. A different key under the same id is an error, never a
 * silent switch.
 */
#include "cache/debug_log.h"
#include "cache/error.h"
#include "cache/fork_gate.h"
#include "cache/key_identity.h"
#include "cache/lock.h"
#include "cache/module_caching.h"
#include "cache/objects.h"
#include "cache/public_views.h"
#include "uri/pin_source.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * CKR_OK and *same set when the handle still names this key. Where the
 * private object carries its public key (RSA modulus, EC point), that one
 * attribute decides: it is the key material itself, and a handle number
 * reused for another key, under any id, shows a different value. Otherwise
 * class, key type and CKA_ID are compared. One C_GetAttributeValue either
 * way; on SoftHSMv2 each attribute read locks the object's file. The buffer
 * is one byte longer than the remembered value, so a longer value is told
 * apart (too small, or a different length) and a module's length is never
 * read past what was allocated.
 */
static CK_RV confirm_handle(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, const struct hsm_key *key,
                            CK_OBJECT_HANDLE handle, bool *same)
{
    bool use_pub = key->confirm_type != 0;
    size_t size = (use_pub ? key->confirm_len : key->id_len) + 1;
    unsigned char *buf = malloc(size);
    CK_OBJECT_CLASS cls = 0;
    CK_KEY_TYPE type = 0;
    CK_ATTRIBUTE by_pub[1] = {{key->confirm_type, buf, size}};
    CK_ATTRIBUTE by_id[3] = {
        {CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)}, {CKA_ID, buf, size}};
    CK_RV rv;

    *same = false;
    if (buf == NULL)
        return CKR_HOST_MEMORY;
    rv = use_pub ? fns->C_GetAttributeValue(s, handle, by_pub, 1)
                 : fns->C_GetAttributeValue(s, handle, by_id, 3);
    if (rv == CKR_BUFFER_TOO_SMALL || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
        rv == CKR_ATTRIBUTE_SENSITIVE) {
        rv = CKR_OK; /* not this key: ours has these, short enough */
    } else if (rv == CKR_OK && use_pub) {
        *same = by_pub[0].ulValueLen == key->confirm_len &&
                memcmp(buf, key->confirm_value, key->confirm_len) == 0;
    } else if (rv == CKR_OK) {
        *same = cls == CKO_PRIVATE_KEY && type == key->key_type &&
                by_id[2].ulValueLen == key->id_len &&
                (key->id_len == 0 || memcmp(buf, key->id, key->id_len) == 0);
    }
    free(buf);
    return rv;
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
static bool refind_on_token(struct hsm_key *key, struct hsm_token *tok, CK_OBJECT_HANDLE *found)
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

    /* The login first, outside the module call (it may wait for another
     * thread's). */
    if (!hsm_token_login(tok, kept_pin, key))
        return false;
    fns = hsm_module_enter(tok->module, NULL);
    if (fns == NULL)
        return false;
    rv = hsm_session_acquire(tok, fns, &s);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_TOKEN_GONE, "C_OpenSession", rv, "finding %s again", key->uri);
        goto done;
    }
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
    rv = hsm_attr_set_read(fns, s, objs[0], hsm_private_key_attrs, HSM_PRIVATE_KEY_ATTRS, &attrs);
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

/* The hints' lock is a provider lock: taken inside the fork gate. */
static void set_hints(struct hsm_key *key, struct hsm_token *tok, CK_OBJECT_HANDLE handle)
{
    struct hsm_token *old = NULL;

    hsm_fork_gate_enter();
    if (hsm_lock(&key->lock)) {
        old = key->token;
        key->token = tok;
        key->handle = handle;
        hsm_unlock(&key->lock);
    } else {
        old = tok;
    }
    hsm_fork_gate_leave();
    hsm_token_put(old);
}

static void forget_all_hints(struct hsm_key *key)
{
    set_hints(key, NULL, CK_INVALID_HANDLE);
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

/*
 * Why the key's token cannot be reached, sending the operator the right
 * way: a module that fails, a module that failed to describe a slot, a
 * child process (of the one that loaded the key) running as another user,
 * or a token that really is absent from the slot list.
 */
/* A forked child running as another user than the process that loaded
 * the key, which has reached no token of the module since the fork: what
 * keeps it from the token may be its rights, not the token. */
static bool child_as_other_user(const struct hsm_key *key)
{
    return key->loaded_fork_epoch != hsm_fork_epoch() && key->loaded_euid != geteuid() &&
           !hsm_module_token_reached_since_fork(key->module);
}

static void explain_unreachable(const struct hsm_key *key, int n, const struct hsm_token_scan *scan)
{
    const char *module = hsm_module_path(key->module);
    char problem[160];

    hsm_token_scan_describe(scan, problem, sizeof(problem));
    if (n > 1) {
        hsm_error(HSM_R_AMBIGUOUS_TOKEN,
                  "%s: more than one token with label '%s' and serial %s is reached through %s",
                  key->uri, key->token_id.label, key->token_id.serial, module);
    } else if (child_as_other_user(key)) {
        struct passwd *pw = getpwuid(geteuid());

        hsm_error(HSM_R_TOKEN_GONE,
                  "%s: token '%s' (serial %s) cannot be reached through %s in this process "
                  "(pid %ld, user %s), a child of the one that loaded the key as another user, "
                  "which has reached none of its tokens yet (%s%s): this user may lack permission "
                  "to the token (its files or device) or to its PIN source; give it access, or "
                  "configure the server to keep its rights",
                  key->uri, key->token_id.label, key->token_id.serial, module, (long)getpid(),
                  pw != NULL ? pw->pw_name : "?",
                  n < 0 ? "the module fails: see the error before this one"
                        : "the token is not in its slot list",
                  problem);
    } else if (n < 0) {
        hsm_error(HSM_R_TOKEN_GONE,
                  "%s: token '%s' (serial %s) cannot be reached: its module %s fails (see the "
                  "error before this one); the key is found again once the module answers",
                  key->uri, key->token_id.label, key->token_id.serial, module);
    } else if (problem[0] != '\0') {
        hsm_error(HSM_R_TOKEN_GONE,
                  "%s: token '%s' (serial %s) is not among the tokens %s describes%s; the key is "
                  "found again once the module describes it",
                  key->uri, key->token_id.label, key->token_id.serial, module, problem);
    } else {
        hsm_error(HSM_R_TOKEN_GONE,
                  "%s: token '%s' (serial %s) is not in the slot list of %s: insert the token, "
                  "or bring its module or server back, and the key is found again",
                  key->uri, key->token_id.label, key->token_id.serial, module);
    }
}

static bool refind(struct hsm_key *key)
{
    struct hsm_token **toks = NULL;
    CK_OBJECT_HANDLE handle;
    unsigned generation;
    bool reinitialized = false, not_tried = false;
    struct hsm_token_scan scan = {0};
    int n = -1;

    hsm_debug(1, "finding %s (SHA-256 %s) again by its identity", key->uri, key->fingerprint);
    /* What the first pass raises is only kept if the second fails too. */
    hsm_error_set_mark();
    for (int pass = 0; pass < 2; pass++) {
        if (hsm_module_enter(key->module, &generation) == NULL)
            break;
        hsm_module_leave(key->module);
        n = hsm_tokens_find(key->module, NULL, &key->token_id, &toks, &scan);
        if (n > 0 || pass == 1)
            break;
        /* The token is not in the slot list, or the module itself fails (a
         * remote token's server went away). A module that fixed its slot
         * list at C_Initialize (SoftHSMv2), or whose connection died, needs
         * initialising again; a restarted process would do the same. */
        hsm_tokens_put_all(toks, n < 0 ? 0 : n);
        toks = NULL;
        if (!hsm_module_reinitialize(key->module, generation)) {
            not_tried = hsm_error_last_reason() != 0; /* its error says why */
            break;
        }
        reinitialized = true;
    }
    if (n > 0)
        hsm_error_pop_to_mark();
    else
        hsm_error_clear_last_mark();
    if (reinitialized && n > 0)
        hsm_module_recovery(key->module, true);
    if (n != 1) {
        /* When the module could not be tried again, its error says why. */
        explain_unreachable(key, not_tried ? -1 : n, &scan);
        /* A re-initialisation that did not bring the token back is the
         * module's failure, repeated (with this text) while it waits. */
        if (reinitialized && n <= 0)
            hsm_module_recovery(key->module, false);
        hsm_tokens_put_all(toks, n < 0 ? 0 : n);
        return false;
    }
    if (!refind_on_token(key, toks[0], &handle)) {
        hsm_tokens_put_all(toks, n);
        return false;
    }
    set_hints(key, toks[0], handle); /* the reference moves into the key */
    free(toks);
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
        {CKA_CLASS, &cls, sizeof(cls)},       {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &no, sizeof(no)},         {CKA_SENSITIVE, &no, sizeof(no)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)}, {CKA_VALUE_LEN, &len, sizeof(len)},
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
    if (rv == CKR_OK && value.ulValueLen > *outlen)
        return hsm_module_misbehaved("C_GetAttributeValue",
                                     "a shared secret of %lu bytes in a buffer of %lu",
                                     (unsigned long)value.ulValueLen, (unsigned long)*outlen);
    if (rv == CKR_OK)
        *outlen = value.ulValueLen;
    return rv;
}

/*
 * Where one attempt at an operation stands. Every attempt ends in one of
 * the last three; STALE sends the key to be found again.
 */
enum attempt_state {
    ATTEMPT_DONE,    /* the token answered; the result is in the caller's buffer */
    ATTEMPT_REFUSED, /* the token refused, or an error was raised: final */
    ATTEMPT_STALE,   /* the hint, session or module generation is gone */
};

/* What the failure report needs: the call that failed and its code, and
 * whether a more precise error was raised already. */
struct attempt_outcome {
    const char *what;
    CK_RV rv;
    bool reported;
};

/*
 * The PKCS#11 calls of one operation on |handle|. |*started| is set once
 * the operation is initialised on the session: from then on a failure may
 * leave it active there (a too-small buffer, a refused context login), so
 * the session must not go back to the pool. CKA_ALWAYS_AUTHENTICATE keys
 * get a context-specific login between the init and the operation, under
 * the user login's rules (cache/token_login.c).
 */
static CK_RV run_operation(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, enum hsm_key_op op,
                           const struct hsm_key *key, struct hsm_token *tok, CK_MECHANISM *mech,
                           CK_OBJECT_HANDLE handle, const unsigned char *in, size_t inlen,
                           unsigned char *out, CK_ULONG *olen, struct attempt_outcome *res,
                           bool *started)
{
    bool sign = op != HSM_OP_DECRYPT;
    CK_RV rv;

    if (op == HSM_OP_DERIVE)
        return derive(fns, s, mech, handle, out, olen, &res->what);
    res->what = sign ? "C_SignInit" : "C_DecryptInit";
    rv = sign ? fns->C_SignInit(s, mech, handle) : fns->C_DecryptInit(s, mech, handle);
    if (rv != CKR_OK)
        return rv;
    *started = true;
    if (key->always_authenticate) {
        res->what = "C_Login(CKU_CONTEXT_SPECIFIC)";
        rv = hsm_token_context_login(tok, fns, s, key->pin, key->uri);
        if (rv != CKR_OK) {
            res->reported = true;
            return rv;
        }
    }
    res->what = sign ? "C_Sign" : "C_Decrypt";
    return sign ? fns->C_Sign(s, (CK_BYTE_PTR)in, inlen, out, olen)
                : fns->C_Decrypt(s, (CK_BYTE_PTR)in, inlen, out, olen);
}

/*
 * A signature that will be verified skips the handle check, so when the
 * token refuses it the handle may name another object by now (a number
 * reused for a key of another type: SoftHSMv2 then accepts C_SignInit and
 * fails C_Sign with CKR_GENERAL_ERROR). Checked here, on the failure path
 * only: a handle that names another object sends the key to be found
 * again; otherwise the refusal stands.
 */
static CK_RV explain_refusal(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, const struct hsm_key *key,
                             CK_OBJECT_HANDLE handle, CK_RV refusal)
{
    bool same;
    CK_RV rv = confirm_handle(fns, s, key, handle, &same);

    if (rv == CKR_OK)
        return same ? refusal : CKR_OBJECT_HANDLE_INVALID;
    return hsm_rv_is_stale(rv) ? rv : refusal;
}

/* The hints, with a reference to the token; false when there are none or
 * the token record was retired. */
static bool hints(struct hsm_key *key, struct hsm_token **tok, CK_OBJECT_HANDLE *handle)
{
    *tok = NULL;
    hsm_fork_gate_enter();
    if (hsm_lock(&key->lock)) {
        *tok = key->token;
        *handle = key->handle;
        if (*tok != NULL)
            hsm_token_ref(*tok);
        hsm_unlock(&key->lock);
    }
    hsm_fork_gate_leave();
    if (*tok != NULL && !hsm_token_gone(*tok))
        return true;
    hsm_token_put(*tok);
    *tok = NULL;
    return false;
}

static void forget_hints(struct hsm_key *key, const struct hsm_token *tok)
{
    struct hsm_token *old = NULL;

    hsm_fork_gate_enter();
    if (hsm_lock(&key->lock)) {
        if (key->token == tok) {
            old = key->token;
            key->token = NULL;
        }
        hsm_unlock(&key->lock);
    }
    hsm_fork_gate_leave();
    hsm_token_put(old);
}

/*
 * One attempt with the hints |tok| and |handle|: the module entered, a
 * pooled session, the handle confirmed (unless the caller verifies the
 * signature), the operation, the session given back (or closed when the
 * operation may still be active on it).
 */
static enum attempt_state attempt(struct hsm_key *key, struct hsm_token *tok,
                                  CK_OBJECT_HANDLE handle, enum hsm_key_op op, CK_MECHANISM *mech,
                                  const unsigned char *in, size_t inlen, unsigned char *out,
                                  size_t *outlen, struct attempt_outcome *res)
{
    bool login_slot = key->always_authenticate && op != HSM_OP_DERIVE, started = false, same;
    enum attempt_state state = ATTEMPT_REFUSED;
    CK_SESSION_HANDLE s;
    CK_FUNCTION_LIST *fns;
    CK_ULONG olen = *outlen;
    unsigned generation;
    CK_RV rv;

    /* A context login sends a PIN: one login on the token at a time. */
    if (login_slot && !hsm_token_login_slot_take(tok)) {
        res->reported = true;
        return ATTEMPT_REFUSED;
    }
    fns = hsm_module_enter(key->module, &generation);
    if (fns == NULL) {
        res->reported = true;
        goto give_slot;
    }
    if (tok->generation != generation) {
        /* A record of an older generation of the module: its sessions
         * died with it. Not a sign about the module, whose new generation
         * has not been asked anything yet. */
        hsm_module_leave(key->module);
        res->what = "C_OpenSession";
        res->rv = CKR_CRYPTOKI_NOT_INITIALIZED;
        state = ATTEMPT_STALE;
        goto give_slot;
    }
    res->what = "C_OpenSession";
    rv = hsm_session_acquire(tok, fns, &s);
    if (rv != CKR_OK)
        goto leave;
    if (op != HSM_OP_SIGN_VERIFIED) {
        res->what = "C_GetAttributeValue";
        rv = confirm_handle(fns, s, key, handle, &same);
        hsm_debug(2, "C_GetAttributeValue (handle check) -> %s%s",
                  rv == CKR_OK ? "CKR_OK" : "failed",
                  rv == CKR_OK && !same ? ": the handle names another key" : "");
        if (rv == CKR_OK && !same)
            rv = CKR_OBJECT_HANDLE_INVALID;
    }
    if (rv == CKR_OK)
        rv =
            run_operation(fns, s, op, key, tok, mech, handle, in, inlen, out, &olen, res, &started);
    if (rv != CKR_OK && !res->reported && !hsm_rv_is_stale(rv) && op == HSM_OP_SIGN_VERIFIED)
        rv = explain_refusal(fns, s, key, handle, rv);
    if (rv != CKR_OK && started && !hsm_rv_is_stale(rv))
        hsm_session_discard_busy(tok, fns, s);
    else
        hsm_session_release(tok, fns, s, hsm_rv_is_stale(rv));
    if (hsm_debug_level() > 0)
        hsm_debug(rv == CKR_OK ? 2 : 1, "%s -> %s (%s, handle %lu%s)", res->what,
                  hsm_ckr_name(rv, (char[32]){0}), key->uri, (unsigned long)handle,
                  op == HSM_OP_SIGN_VERIFIED ? ", checked by verification" : "");
leave:
    hsm_module_leave(key->module);
    res->rv = rv;
    if (rv == CKR_OK) {
        *outlen = olen;
        state = ATTEMPT_DONE;
        hsm_module_observe_ok(key->module);
    } else {
        hsm_module_observe(key->module, HSM_SIGN_ANSWER, res->what, rv);
        if (!res->reported && hsm_rv_is_stale(rv))
            state = ATTEMPT_STALE;
    }
give_slot:
    if (login_slot)
        hsm_token_login_slot_give(tok);
    return state;
}

static void report_failure(const struct hsm_key *key, enum hsm_key_op op, const CK_MECHANISM *mech,
                           const struct attempt_outcome *res)
{
    char mech_name[32];
    bool refused = res->rv == CKR_MECHANISM_INVALID || res->rv == CKR_MECHANISM_PARAM_INVALID ||
                   res->rv == CKR_KEY_FUNCTION_NOT_PERMITTED ||
                   res->rv == CKR_KEY_TYPE_INCONSISTENT ||
                   (res->rv == CKR_ARGUMENTS_BAD && strstr(res->what, "Init") != NULL);

    hsm_error_rv(refused ? HSM_R_UNSUPPORTED : HSM_R_PKCS11, res->what, res->rv,
                 "%s with %s on token '%s' (serial %s) through %s using %s%s",
                 op == HSM_OP_DECRYPT  ? "decrypting"
                 : op == HSM_OP_DERIVE ? "deriving"
                                       : "signing",
                 key->uri, key->token_id.label, key->token_id.serial, hsm_module_path(key->module),
                 hsm_ckm_name(mech->mechanism, mech_name),
                 !refused ? ""
                 : res->rv == CKR_MECHANISM_PARAM_INVALID && mech->mechanism == CKM_RSA_PKCS_PSS
                     ? ": the token does not offer this mechanism or these parameters for this "
                       "key (some tokens, tpm2-pkcs11 for one, take RSA-PSS only with a salt as "
                       "long as the digest and MGF1 with the same digest: use "
                       "rsa_pss_saltlen:digest)"
                     : ": the token does not offer this mechanism or these parameters for this "
                       "key; use another padding or digest, or a key on a token that has it");
}

/* Failures of the key itself, as opposed to its token or module (those
 * wait on the module's own backoff). */
static bool key_level_failure(int reason)
{
    return reason == HSM_R_KEY_CHANGED || reason == HSM_R_NO_OBJECT ||
           reason == HSM_R_AMBIGUOUS_OBJECT || reason == HSM_R_POSSESSION_FAILED ||
           reason == HSM_R_PUBLIC_KEY_MISMATCH || reason == HSM_R_PIN_INCORRECT ||
           reason == HSM_R_PIN_LOCKED || reason == HSM_R_PIN_REQUIRED;
}

/*
 * A key that was lost (deleted, replaced on the token) is looked for again
 * at a bounded rate: in between, each use fails at once with the error the
 * last search gave, so that a busy server does not search and log in to
 * the token on every request. A search that finds it forgets the wait.
 */
static bool refind_when_allowed(struct hsm_key *key)
{
    struct hsm_backoff copy;
    unsigned wait_ms = 0;
    bool wait = false, found;

    hsm_fork_gate_enter();
    if (hsm_lock(&key->lock)) {
        if ((wait = hsm_backoff_must_wait(&key->backoff, &wait_ms)))
            copy = key->backoff;
        hsm_unlock(&key->lock);
    }
    hsm_fork_gate_leave();
    if (wait) {
        hsm_backoff_repeat(&copy, wait_ms, key->uri);
        return false;
    }
    found = refind(key);
    if (!found && !key_level_failure(hsm_error_last_reason()))
        return false;
    hsm_fork_gate_enter();
    if (hsm_lock(&key->lock)) {
        if (found)
            hsm_backoff_succeeded(&key->backoff);
        else
            hsm_backoff_failed(&key->backoff);
        hsm_unlock(&key->lock);
    }
    hsm_fork_gate_leave();
    return found;
}

/*
 * Called outside every module call and outside the fork gate: finding the
 * key again may initialise the module and log in. Three attempts: a stale
 * hint, then a key found again, then once more for a module that was
 * initialised again in between.
 */
bool hsm_key_operate(struct hsm_key *key, enum hsm_key_op op, CK_MECHANISM *mech,
                     const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen)
{
    struct attempt_outcome res = {.what = "C_GetAttributeValue", .rv = CKR_OK};

    /* A module that keeps its view for the life of the process is
     * initialised again first when its store changed: the key is then found
     * again by identity, as in a restarted process. */
    if (!hsm_module_refresh_if_outdated(key->module))
        return false;
    for (int n = 0; n < 3; n++) {
        struct hsm_token *tok;
        CK_OBJECT_HANDLE handle;
        enum attempt_state state;

        if (!hints(key, &tok, &handle)) {
            if (!refind_when_allowed(key))
                return false;
            continue;
        }
        state = attempt(key, tok, handle, op, mech, in, inlen, out, outlen, &res);
        if (state == ATTEMPT_STALE)
            forget_hints(key, tok);
        hsm_token_put(tok);
        if (state == ATTEMPT_DONE)
            return true;
        if (state == ATTEMPT_REFUSED)
            break;
    }
    if (!res.reported)
        report_failure(key, op, mech, &res);
    return false;
}
