#include "cache/debug_log.h"
#include "cache/error.h"
#include "cache/token.h"
#include "uri/pin_source.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

CK_RV hsm_session_acquire(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE *out)
{
    pthread_mutex_lock(&tok->lock);
    if (tok->n_idle > 0) {
        *out = tok->idle[--tok->n_idle];
        pthread_mutex_unlock(&tok->lock);
        return CKR_OK;
    }
    pthread_mutex_unlock(&tok->lock);
    /* Read-only sessions: the provider signs, it never writes to the token. */
    CK_RV rv = fns->C_OpenSession(tok->slot, CKF_SERIAL_SESSION, NULL, NULL, out);
    if (hsm_debug_level() > 0) {
        char desc[160];

        hsm_token_describe(tok, desc, sizeof(desc));
        hsm_debug_call(rv == CKR_OK ? 2 : 1, "C_OpenSession", rv, desc);
    }
    return rv;
}

void hsm_session_release(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                         bool broken)
{
    if (!broken) {
        pthread_mutex_lock(&tok->lock);
        if (!tok->gone && tok->n_idle < HSM_POOL_MAX) {
            tok->idle[tok->n_idle++] = s;
            s = CK_INVALID_HANDLE;
        }
        pthread_mutex_unlock(&tok->lock);
    }
    if (s != CK_INVALID_HANDLE)
        (void)fns->C_CloseSession(s);
}

/*
 * Fingerprints of PINs that a token refused, so the same wrong PIN is never
 * sent twice: tokens lock after a few tries. Only hashes are kept.
 */
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
    return ok;
}

static bool pin_failed_before(const unsigned char fp[32])
{
    bool seen = false;

    pthread_mutex_lock(&failed_lock);
    for (size_t i = 0; i < n_failed && !seen; i++)
        seen = CRYPTO_memcmp(failed[i], fp, 32) == 0;
    pthread_mutex_unlock(&failed_lock);
    return seen;
}

static void remember_failed(const unsigned char fp[32])
{
    pthread_mutex_lock(&failed_lock);
    memcpy(failed[next_failed], fp, 32);
    next_failed = (next_failed + 1) % FAILED_MAX;
    if (n_failed < FAILED_MAX)
        n_failed++;
    pthread_mutex_unlock(&failed_lock);
}

static bool session_is_user(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s)
{
    CK_SESSION_INFO info;

    return fns->C_GetSessionInfo(s, &info) == CKR_OK &&
           (info.state == CKS_RO_USER_FUNCTIONS || info.state == CKS_RW_USER_FUNCTIONS);
}

static bool login_locked(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                         hsm_pin_getter *getter, void *arg)
{
    char desc[160], *pin;
    unsigned char fp[32];
    CK_TOKEN_INFO info;
    CK_RV rv;

    if (session_is_user(fns, s))
        return true;
    hsm_token_describe(tok, desc, sizeof(desc));
    rv = fns->C_GetTokenInfo(tok->slot, &info);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_GetTokenInfo", rv, "reading the flags of %s", desc);
        return false;
    }
    if ((info.flags & CKF_LOGIN_REQUIRED) == 0)
        return true;
    if (info.flags & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_FINAL_TRY)) {
        hsm_debug(1, "not logging in to %s: token flags 0x%lx", desc, (unsigned long)info.flags);
        hsm_error(HSM_R_PIN_LOCKED,
                  "%s reports its user PIN %s; no PIN was sent. Unlock it with the SO PIN "
                  "(e.g. pkcs11-tool --init-pin --login --login-type so) before trying again",
                  desc, (info.flags & CKF_USER_PIN_LOCKED) ? "locked" : "on its final try");
        return false;
    }
    if (info.flags & CKF_PROTECTED_AUTHENTICATION_PATH) {
        rv = fns->C_Login(s, CKU_USER, NULL, 0);
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            hsm_error_rv(HSM_R_PIN_INCORRECT, "C_Login", rv, "PIN pad login on %s", desc);
            return false;
        }
        return true;
    }
    pin = getter(arg, tok);
    if (pin == NULL)
        return false;
    if (!pin_fingerprint(tok, pin, fp)) {
        hsm_pin_free(pin);
        hsm_error(HSM_R_INTERNAL, "cannot fingerprint PIN");
        return false;
    }
    if (pin_failed_before(fp)) {
        hsm_pin_free(pin);
        hsm_error(HSM_R_PIN_INCORRECT,
                  "this PIN was already refused by %s and is not sent again (tokens lock "
                  "after a few tries); correct the PIN source",
                  desc);
        return false;
    }
    rv = fns->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
    hsm_debug_call(1, "C_Login(CKU_USER)", rv, desc);
    if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE) {
        remember_failed(fp);
        hsm_pin_free(pin);
        hsm_error_rv(HSM_R_PIN_INCORRECT, "C_Login", rv,
                     "%s refused the PIN; it was not retried (the token counts failed tries). "
                     "Correct the PIN source",
                     desc);
        return false;
    }
    if (rv == CKR_PIN_LOCKED) {
        hsm_pin_free(pin);
        hsm_error_rv(HSM_R_PIN_LOCKED, "C_Login", rv, "%s: unlock the PIN with the SO PIN", desc);
        return false;
    }
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        hsm_pin_free(pin);
        hsm_error_rv(HSM_R_PKCS11, "C_Login", rv, "logging in to %s", desc);
        return false;
    }
    hsm_pin_free(tok->pin);
    tok->pin = pin;
    return true;
}

char *hsm_token_kept_pin(struct hsm_token *tok)
{
    char *pin = NULL;

    pthread_mutex_lock(&tok->login_lock);
    if (tok->pin != NULL)
        pin = hsm_pin_dup(tok->pin);
    pthread_mutex_unlock(&tok->login_lock);
    return pin;
}

bool hsm_token_login(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                     hsm_pin_getter *getter, void *arg)
{
    bool ok;

    pthread_mutex_lock(&tok->login_lock);
    ok = login_locked(tok, fns, s, getter, arg);
    pthread_mutex_unlock(&tok->login_lock);
    return ok;
}
