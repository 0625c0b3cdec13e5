/*
 * Sessions kept open per token. Acquire and release are called inside a
 * module call (between hsm_module_enter and leave); the pool's lock is
 * never held across a call into the module.
 */
#include "cache/debug_log.h"
#include "cache/error.h"
#include "cache/lock.h"
#include "cache/token.h"

CK_RV hsm_session_acquire(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE *out)
{
    CK_RV rv;

    if (!hsm_lock(&tok->lock))
        return CKR_GENERAL_ERROR;
    if (tok->n_idle > 0) {
        *out = tok->idle[--tok->n_idle];
        hsm_unlock(&tok->lock);
        return CKR_OK;
    }
    hsm_unlock(&tok->lock);
    /* Read-only sessions: the provider signs, it never writes to the token. */
    rv = fns->C_OpenSession(tok->slot, CKF_SERIAL_SESSION, NULL, NULL, out);
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
    if (!broken && hsm_lock(&tok->lock)) {
        if (!hsm_token_gone(tok) && tok->n_idle < HSM_POOL_MAX) {
            tok->idle[tok->n_idle++] = s;
            s = CK_INVALID_HANDLE;
        }
        hsm_unlock(&tok->lock);
    }
    if (s != CK_INVALID_HANDLE)
        (void)fns->C_CloseSession(s);
}

/*
 * A session whose operation may still be active (a failure after
 * C_SignInit or C_DecryptInit: a too-small buffer, a refused
 * context-specific login) is closed rather than pooled. Closing an
 * application's last session on a token logs it out, so when the pool is
 * empty a fresh session takes its place first.
 */
void hsm_session_discard_busy(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s)
{
    CK_SESSION_HANDLE fresh;
    bool empty = false;

    if (hsm_lock(&tok->lock)) {
        empty = tok->n_idle == 0;
        hsm_unlock(&tok->lock);
    }
    if (empty && fns->C_OpenSession(tok->slot, CKF_SERIAL_SESSION, NULL, NULL, &fresh) == CKR_OK)
        hsm_session_release(tok, fns, fresh, false);
    (void)fns->C_CloseSession(s);
}
