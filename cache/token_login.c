/*
 * Logging in to a token under the rules that keep its PIN counter safe:
 * one login per token at a time; a PIN the token refused is never sent
 * again by this process (only fingerprints are kept); a token that reports
 * a locked PIN or its final try gets no PIN. The PIN getter may run the
 * application's passphrase callback (which may fork, or wait for an
 * operator), so it runs with no lock held, outside the fork gate and
 * outside every module call; only the short module calls before and after
 * it are made inside.
 */
#include "cache/debug_log.h"
#include "cache/error.h"
#include "cache/fork_gate.h"
#include "cache/lock.h"
#include "cache/token.h"
#include "uri/pin_source.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

/* Fingerprints of refused PINs; the lock is taken inside the fork gate. */
#define FAILED_MAX 32
static pthread_mutex_t failed_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char failed[FAILED_MAX][32];
static size_t n_failed, next_failed;

static bool pin_fingerprint(const struct hsm_token *tok, const char *pin, unsigned char out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
              EVP_DigestUpdate(md, "hsm-failed-pin", 15) &&
              EVP_DigestUpdate(md, tok->id.serial, strlen(tok->id.serial) + 1) &&
              EVP_DigestUpdate(md, tok->id.label, strlen(tok->id.label) + 1) &&
              EVP_DigestUpdate(md, pin, strlen(pin)) && EVP_DigestFinal_ex(md, out, NULL);

    EVP_MD_CTX_free(md);
    if (!ok)
        hsm_error(HSM_R_INTERNAL, "cannot fingerprint a PIN");
    return ok;
}

static bool pin_failed_before(const unsigned char fp[32])
{
    bool seen = false;

    hsm_fork_gate_enter();
    if (hsm_lock(&failed_lock)) {
        for (size_t i = 0; i < n_failed && !seen; i++)
            seen = CRYPTO_memcmp(failed[i], fp, 32) == 0;
        hsm_unlock(&failed_lock);
    }
    hsm_fork_gate_leave();
    return seen;
}

static void remember_failed(const unsigned char fp[32])
{
    hsm_fork_gate_enter();
    if (hsm_lock(&failed_lock)) {
        memcpy(failed[next_failed], fp, 32);
        next_failed = (next_failed + 1) % FAILED_MAX;
        if (n_failed < FAILED_MAX)
            n_failed++;
        hsm_unlock(&failed_lock);
    }
    hsm_fork_gate_leave();
}

/* A PIN may be sent: it is not one the token refused before. */
static bool pin_may_be_sent(const struct hsm_token *tok, const char *pin, unsigned char fp[32],
                            const char *desc)
{
    if (!pin_fingerprint(tok, pin, fp))
        return false;
    if (!pin_failed_before(fp))
        return true;
    hsm_error(HSM_R_PIN_INCORRECT,
              "this PIN was already refused by %s and is not sent again (tokens lock after a "
              "few tries); correct the PIN source",
              desc);
    return false;
}

/* The token's answer to a PIN; the error for a refused one. */
static bool pin_accepted(CK_RV rv, const unsigned char fp[32], const char *func, const char *desc)
{
    if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
        return true;
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE) {
        remember_failed(fp);
        hsm_error_rv(HSM_R_PIN_INCORRECT, func, rv,
                     "%s refused the PIN; it was not retried (the token counts failed tries). "
                     "Correct the PIN source",
                     desc);
    } else if (rv == CKR_PIN_LOCKED) {
        hsm_error_rv(HSM_R_PIN_LOCKED, func, rv, "%s: unlock the PIN with the SO PIN", desc);
    } else {
        hsm_error_rv(HSM_R_PKCS11, func, rv, "logging in to %s", desc);
    }
    return false;
}

static void after_fork_child(void)
{
    (void)pthread_mutex_init(&failed_lock, NULL);
}

static pthread_once_t child_hook_once = PTHREAD_ONCE_INIT;

static void register_child_hook(void)
{
    hsm_fork_gate_on_child(after_fork_child);
}

bool hsm_token_login_slot_take(struct hsm_token *tok)
{
    if (hsm_fork_gate_held()) {
        hsm_error(HSM_R_INTERNAL, "a login was started inside a module call");
        return false;
    }
    (void)pthread_once(&child_hook_once, register_child_hook);
    if (!hsm_lock(&tok->login_mutex))
        return false;
    while (tok->login_busy) {
        if (!hsm_wait(&tok->login_done, &tok->login_mutex)) {
            hsm_unlock(&tok->login_mutex);
            return false;
        }
    }
    tok->login_busy = true;
    hsm_unlock(&tok->login_mutex);
    return true;
}

void hsm_token_login_slot_give(struct hsm_token *tok)
{
    if (!hsm_lock(&tok->login_mutex))
        return;
    tok->login_busy = false;
    hsm_wake_all(&tok->login_done);
    hsm_unlock(&tok->login_mutex);
}

char *hsm_token_kept_pin(struct hsm_token *tok)
{
    char *pin = NULL;

    if (!hsm_lock(&tok->login_mutex))
        return NULL;
    if (tok->pin != NULL)
        pin = hsm_pin_dup(tok->pin);
    hsm_unlock(&tok->login_mutex);
    return pin;
}

static void keep_pin(struct hsm_token *tok, char *pin)
{
    if (!hsm_lock(&tok->login_mutex)) {
        hsm_pin_free(pin);
        return;
    }
    hsm_pin_free(tok->pin);
    tok->pin = pin;
    hsm_unlock(&tok->login_mutex);
}

enum login_need { LOGIN_DONE, LOGIN_PIN, LOGIN_PIN_PAD, LOGIN_REFUSED };

/* What the token needs before a user PIN would be sent: read afresh. */
static enum login_need login_need(const struct hsm_token *tok, CK_FUNCTION_LIST *fns,
                                  CK_SESSION_HANDLE s, const char *desc, CK_FLAGS *flags)
{
    CK_SESSION_INFO sinfo;
    CK_TOKEN_INFO info;
    CK_RV rv;

    *flags = 0;
    if (fns->C_GetSessionInfo(s, &sinfo) == CKR_OK &&
        (sinfo.state == CKS_RO_USER_FUNCTIONS || sinfo.state == CKS_RW_USER_FUNCTIONS))
        return LOGIN_DONE;
    rv = fns->C_GetTokenInfo(tok->slot, &info);
    if (rv != CKR_OK) {
        hsm_module_observe(tok->module, HSM_SIGN_ANSWER, "C_GetTokenInfo", rv);
        hsm_error_rv(HSM_R_PKCS11, "C_GetTokenInfo", rv, "reading the flags of %s", desc);
        return LOGIN_REFUSED;
    }
    *flags = info.flags;
    if ((info.flags & CKF_LOGIN_REQUIRED) == 0)
        return LOGIN_DONE;
    if (info.flags & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_FINAL_TRY)) {
        hsm_debug(1, "not logging in to %s: token flags 0x%lx", desc, (unsigned long)info.flags);
        hsm_error(HSM_R_PIN_LOCKED,
                  "%s reports its user PIN %s; no PIN was sent. Unlock it with the SO PIN "
                  "(e.g. pkcs11-tool --init-pin --login --login-type so) before trying again",
                  desc, (info.flags & CKF_USER_PIN_LOCKED) ? "locked" : "on its final try");
        return LOGIN_REFUSED;
    }
    return (info.flags & CKF_PROTECTED_AUTHENTICATION_PATH) ? LOGIN_PIN_PAD : LOGIN_PIN;
}

/* One short visit to the module: a session, the token's state, and the
 * PIN when one is given. |*need| says what the token wanted. */
static bool visit(struct hsm_token *tok, const char *pin, const unsigned char *fp,
                  enum login_need *need, const char *desc)
{
    CK_SESSION_HANDLE s;
    CK_FUNCTION_LIST *fns;
    CK_FLAGS flags;
    unsigned generation;
    bool ok = false;
    CK_RV rv;

    fns = hsm_module_enter(tok->module, &generation);
    if (fns == NULL)
        return false;
    if (generation != tok->generation || hsm_token_gone(tok)) {
        hsm_error(HSM_R_TOKEN_GONE,
                  "%s: its module was initialised again during the login; try again", desc);
        goto leave;
    }
    rv = hsm_session_acquire(tok, fns, &s);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_OpenSession", rv, "logging in to %s", desc);
        goto leave;
    }
    *need = login_need(tok, fns, s, desc, &flags);
    if (*need == LOGIN_PIN_PAD) {
        rv = fns->C_Login(s, CKU_USER, NULL, 0);
        hsm_debug_call(1, "C_Login(CKU_USER, PIN pad)", rv, desc);
        ok = rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN;
        if (!ok)
            hsm_error_rv(HSM_R_PIN_INCORRECT, "C_Login", rv, "PIN pad login on %s", desc);
    } else if (*need == LOGIN_PIN && pin != NULL) {
        rv = fns->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
        hsm_debug_call(1, "C_Login(CKU_USER)", rv, desc);
        ok = pin_accepted(rv, fp, "C_Login", desc);
        if (rv == CKR_USER_PIN_NOT_INITIALIZED && (flags & CKF_USER_PIN_INITIALIZED))
            hsm_module_observe(tok->module, HSM_SIGN_LOGIN_CONTRADICTION, "C_Login", rv);
        else if (!ok)
            hsm_module_observe(tok->module, HSM_SIGN_ANSWER, "C_Login", rv);
    } else {
        ok = *need != LOGIN_REFUSED;
    }
    hsm_session_release(tok, fns, s, false);
leave:
    hsm_module_leave(tok->module);
    return ok;
}

static bool login_with_slot(struct hsm_token *tok, hsm_pin_getter *getter, void *arg,
                            const char *desc)
{
    enum login_need need = LOGIN_REFUSED;
    unsigned char fp[32];
    char *pin;

    if (!visit(tok, NULL, NULL, &need, desc) || need != LOGIN_PIN)
        return need == LOGIN_DONE || need == LOGIN_PIN_PAD;
    pin = getter(arg, tok); /* no lock, outside the gate */
    if (pin == NULL)
        return false;
    if (!pin_may_be_sent(tok, pin, fp, desc) || !visit(tok, pin, fp, &need, desc)) {
        hsm_pin_free(pin);
        return false;
    }
    if (need == LOGIN_PIN)
        keep_pin(tok, pin);
    else
        hsm_pin_free(pin); /* logged in meanwhile by another part of the process */
    return true;
}

bool hsm_token_login(struct hsm_token *tok, hsm_pin_getter *getter, void *arg)
{
    char desc[160];
    bool ok;

    hsm_token_describe(tok, desc, sizeof(desc));
    if (!hsm_token_login_slot_take(tok))
        return false;
    ok = login_with_slot(tok, getter, arg, desc);
    hsm_token_login_slot_give(tok);
    return ok;
}

CK_RV hsm_token_context_login(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                              const char *pin, const char *uri)
{
    unsigned char fp[32];
    CK_TOKEN_INFO info;
    char desc[160];
    CK_RV rv;

    hsm_token_describe(tok, desc, sizeof(desc));
    if (pin == NULL) {
        hsm_error(HSM_R_PIN_REQUIRED,
                  "%s needs the PIN before each signature (CKA_ALWAYS_AUTHENTICATE) and was "
                  "loaded without a PIN the provider could keep; load it with a PIN source",
                  uri);
        return CKR_USER_NOT_LOGGED_IN;
    }
    rv = fns->C_GetTokenInfo(tok->slot, &info);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_GetTokenInfo", rv, "reading the flags of %s", desc);
        return rv;
    }
    if (info.flags & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_FINAL_TRY)) {
        hsm_error(HSM_R_PIN_LOCKED,
                  "%s reports its user PIN %s; no PIN was sent for %s. Unlock it with the SO "
                  "PIN before trying again",
                  desc, (info.flags & CKF_USER_PIN_LOCKED) ? "locked" : "on its final try", uri);
        return CKR_PIN_LOCKED;
    }
    if (!pin_may_be_sent(tok, pin, fp, desc))
        return CKR_PIN_INCORRECT;
    rv = fns->C_Login(s, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR *)pin, strlen(pin));
    hsm_debug_call(1, "C_Login(CKU_CONTEXT_SPECIFIC)", rv, desc);
    return pin_accepted(rv, fp, "C_Login(CKU_CONTEXT_SPECIFIC)", desc) ? CKR_OK
           : rv == CKR_OK                                              ? CKR_GENERAL_ERROR
                                                                       : rv;
}
