/*
 * Tokens as found by a fresh slot enumeration, each with the sessions the
 * provider keeps open on it. A token record is the session pool's home,
 * never a source of truth: every enumeration asks the module again.
 */
#ifndef HSM_CACHE_TOKEN_H
#define HSM_CACHE_TOKEN_H

#include "cache/module.h"

#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct hsm_uri;

/* What names a token to a person and to the provider (trimmed strings). */
struct hsm_token_identity {
    char label[33];
    char manufacturer[33];
    char model[17];
    char serial[17];
};

#define HSM_POOL_MAX 16

struct hsm_token {
    int refs;
    struct hsm_module *module;
    unsigned generation;
    CK_SLOT_ID slot;
    struct hsm_token_identity id;
    /* Guards the idle sessions; taken inside the fork gate, held for a few
     * instructions, never across a module call. */
    pthread_mutex_t lock;
    CK_SESSION_HANDLE idle[HSM_POOL_MAX];
    size_t n_idle;
    /* One login on this token at a time, so two threads never both send a
     * PIN: |login_busy| is the slot, taken and waited for outside the fork
     * gate and outside every module call (a login may wait for an operator).
     * |login_mutex| guards it and |pin|. */
    pthread_mutex_t login_mutex;
    pthread_cond_t login_done;
    bool login_busy;
    /* Secure heap: the PIN of the last successful login, so keys loaded
     * while already logged in can log in again after a re-insertion. */
    char *pin;
    /* Read and written atomically: set once, when the record is retired. */
    bool gone;
    struct hsm_token *next;
};

/* Has the record been retired (module initialised again, token replaced)? */
bool hsm_token_gone(const struct hsm_token *tok);

/* Fills |id| from a CK_TOKEN_INFO. */
void hsm_token_identity_from_info(struct hsm_token_identity *id, const CK_TOKEN_INFO *info);
bool hsm_token_identity_equal(const struct hsm_token_identity *a,
                              const struct hsm_token_identity *b);

/* What went wrong with a slot during an enumeration, for the message of a
 * search that then found no token: a module that failed to describe a
 * token is not a token that is absent. */
struct hsm_token_scan {
    const char *func; /* NULL: every slot answered */
    CK_RV rv;
    CK_SLOT_ID slot;
};

/*
 * Enumerates, afresh, the tokens of |mod| that match |uri| (or, with |want|,
 * the token with that identity). Returns the number found, or -1 on error;
 * |*out| holds references to release with hsm_token_put. |scan| (may be
 * NULL) gets the first slot whose description failed.
 */
int hsm_tokens_find(struct hsm_module *mod, const struct hsm_uri *uri,
                    const struct hsm_token_identity *want, struct hsm_token ***out,
                    struct hsm_token_scan *scan);

/* "; the module answered CKR_X to C_GetTokenInfo for slot N" or "". */
void hsm_token_scan_describe(const struct hsm_token_scan *scan, char *buf, size_t len);
void hsm_tokens_put_all(struct hsm_token **toks, int n);

void hsm_token_ref(struct hsm_token *tok);
void hsm_token_put(struct hsm_token *tok);

/* In a forked child: every token record is dropped without closing its
 * sessions, which belong to the parent. */
void hsm_tokens_forget_all_after_fork(void);

/* Marks every token of |mod| gone; its sessions died with the module. */
void hsm_tokens_forget_module(struct hsm_module *mod);

/* "label 'ca' serial 1234abcd" for messages. */
void hsm_token_describe(const struct hsm_token *tok, char *buf, size_t len);

/* Session pool. acquire opens a session when none is idle. */
CK_RV hsm_session_acquire(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE *out);
/* |broken|: the session failed and must not be reused. */
void hsm_session_release(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                         bool broken);
/* A session whose operation may still be active: closed, never pooled,
 * without logging the application out of the token. */
void hsm_session_discard_busy(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s);

/*
 * Returns a PIN in the secure heap, or NULL after raising an error. It may
 * run the application's passphrase callback: it is always called with no
 * lock held, outside the fork gate and outside every module call.
 */
typedef char *hsm_pin_getter(void *arg, const struct hsm_token *tok);

/*
 * Logs in as the user if the token needs it and is not logged in yet.
 * Called outside every module call and outside the fork gate. One login
 * per token at a time: the others wait for it, then find the token logged
 * in and send nothing. Never sends a PIN that already failed, and sends
 * none when the token reports a locked PIN or its final try (read again
 * just before the PIN would go). A PIN that worked is kept on the token
 * record (secure heap) for keys to log in again later.
 */
bool hsm_token_login(struct hsm_token *tok, hsm_pin_getter *getter, void *arg);

/* The token's login slot, for a caller that sends a PIN inside a module
 * call (a context-specific login): taken outside the fork gate. */
bool hsm_token_login_slot_take(struct hsm_token *tok);
void hsm_token_login_slot_give(struct hsm_token *tok);

/*
 * The context-specific login a CKA_ALWAYS_AUTHENTICATE key needs between
 * C_SignInit (or C_DecryptInit) and the operation, under the user login's
 * rules: with the login slot held, inside the module call. Raises the
 * error and returns the failing code; |uri| names the key.
 */
CK_RV hsm_token_context_login(struct hsm_token *tok, CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                              const char *pin, const char *uri);

/* A secure-heap copy of the token's kept PIN, or NULL. */
char *hsm_token_kept_pin(struct hsm_token *tok);

/* Is this return value a sign that the handle, session or token is gone? */
bool hsm_rv_is_stale(CK_RV rv);

#endif
