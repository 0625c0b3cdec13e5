#include "cache/error.h"

#include "cache/debug_log.h"

#include <openssl/err.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

const OSSL_ITEM hsm_reason_strings[] = {
    {HSM_R_INTERNAL, "internal error in the hsm provider"},
    {HSM_R_CONFIG, "invalid hsm provider configuration"},
    {HSM_R_URI_MALFORMED, "malformed pkcs11: URI"},
    {HSM_R_URI_UNKNOWN_ATTRIBUTE, "pkcs11: URI has an attribute that is not understood"},
    {HSM_R_MODULE_NOT_ALLOWED, "PKCS#11 module not allowed by the configuration"},
    {HSM_R_MODULE_LOAD, "cannot load PKCS#11 module"},
    {HSM_R_PKCS11, "PKCS#11 call failed"},
    {HSM_R_NO_TOKEN, "no token matches the URI"},
    {HSM_R_AMBIGUOUS_TOKEN, "several tokens match the URI"},
    {HSM_R_NO_OBJECT, "no object matches the URI"},
    {HSM_R_AMBIGUOUS_OBJECT, "several objects match the URI"},
    {HSM_R_PIN_REQUIRED, "token PIN required but none given"},
    {HSM_R_PIN_INCORRECT, "wrong PIN"},
    {HSM_R_PIN_LOCKED, "token PIN is locked or on its final try"},
    {HSM_R_PIN_SOURCE, "cannot read the PIN source"},
    {HSM_R_PUBLIC_KEY_MISMATCH, "public key views of the key disagree"},
    {HSM_R_KEY_CHANGED, "key changed on token since it was loaded"},
    {HSM_R_POSSESSION_FAILED, "token key failed the possession proof"},
    {HSM_R_SIGNATURE_INVALID,
     "token signed with a key that does not match its published public key"},
    {HSM_R_UNSUPPORTED, "operation not supported by the token"},
    {HSM_R_TOKEN_GONE, "token is no longer available"},
    {HSM_R_BAD_INPUT, "invalid input"},
    {HSM_R_OBJECT_EXISTS, "an object with this label or id already exists on the token"},
    {HSM_R_PUBLIC_KEY_INVALID, "the token's public key fails the public key check"},
    {HSM_R_AUDIT_LOG, "cannot write the audit log"},
    {0, NULL},
};

static hsm_error_sink *current_sink;
static _Thread_local char last_detail[1024];
static _Thread_local int last_reason;

void hsm_error_set_sink(hsm_error_sink *sink)
{
    current_sink = sink;
}

const char *hsm_error_last_detail(void)
{
    return last_detail;
}

int hsm_error_last_reason(void)
{
    return last_reason;
}

/*
 * Software tokens call libcrypto inside their C_* functions and leave its
 * errors behind (SoftHSMv2: "bad decrypt" on a wrong PIN, engine loading at
 * C_Initialize). Those say nothing to the user; our own error does. While a
 * thread is inside the module, the queue is marked; our first error drops
 * what the token left, and leaving drops it when we raised nothing.
 *
 * Others empty the whole queue: openCryptoki 3.23 hands every queued error
 * to its trace (ERR_print_errors_cb) at the end of each C_* function, ours
 * and the caller's included. So our errors raised inside are also kept
 * here, and leaving the outermost bracket raises them again in place of
 * whatever the queue then holds above the mark.
 */
#define MARK_DEPTH 8
static _Thread_local int mark_depth;
static _Thread_local bool raised_since[MARK_DEPTH];

#define PENDING_MAX 4
struct pending_error {
    int reason;
    const char *file;
    int line;
    char detail[1024];
};
static _Thread_local struct pending_error pending[PENDING_MAX];
static _Thread_local int npending;
/* How many were pending at each hsm_error_set_mark, to forget what a
 * hsm_error_pop_to_mark discards. */
static _Thread_local int pending_at_mark[MARK_DEPTH];
static _Thread_local int own_marks;
/* Set when a module's own libcrypto call came back into the provider. */
static _Thread_local bool reentered;

void hsm_error_mark_push(void)
{
    ERR_set_mark();
    if (mark_depth < MARK_DEPTH)
        raised_since[mark_depth] = false;
    mark_depth++;
}

bool hsm_error_inside_module(void)
{
    if (mark_depth > 0)
        reentered = true;
    return mark_depth > 0;
}

void hsm_reentered_reset(void)
{
    reentered = false;
}

bool hsm_reentered_from_module(void)
{
    return reentered;
}

void hsm_error_mark_pop(void)
{
    bool raised;

    if (mark_depth == 0)
        return;
    mark_depth--;
    raised = mark_depth < MARK_DEPTH && raised_since[mark_depth];
    if (mark_depth > 0) {
        if (raised) {
            ERR_clear_last_mark();
            raised_since[mark_depth - 1] = true; /* ours now belong to the outer bracket */
        } else {
            ERR_pop_to_mark();
        }
        return;
    }
    /* Outermost: what the module left, and ours if it let them be, go;
     * ours are raised again, in order. */
    ERR_pop_to_mark();
    for (int i = 0; raised && i < npending; i++)
        if (current_sink != NULL)
            current_sink(pending[i].reason, pending[i].file, pending[i].line, pending[i].detail);
    npending = 0;
}

void hsm_error_set_mark(void)
{
    ERR_set_mark();
    if (own_marks < MARK_DEPTH)
        pending_at_mark[own_marks] = npending;
    own_marks++;
}

void hsm_error_pop_to_mark(void)
{
    ERR_pop_to_mark();
    if (own_marks == 0)
        return;
    own_marks--;
    if (own_marks < MARK_DEPTH && npending > pending_at_mark[own_marks])
        npending = pending_at_mark[own_marks];
}

void hsm_error_clear_last_mark(void)
{
    ERR_clear_last_mark();
    if (own_marks > 0)
        own_marks--;
}

static void emit(const char *file, int line, int reason, const char *detail)
{
    if (mark_depth > 0 && mark_depth <= MARK_DEPTH && !raised_since[mark_depth - 1]) {
        ERR_pop_to_mark();
        ERR_set_mark();
        raised_since[mark_depth - 1] = true;
    }
    if (mark_depth > 0 && mark_depth <= MARK_DEPTH && npending < PENDING_MAX) {
        pending[npending].reason = reason;
        pending[npending].file = file;
        pending[npending].line = line;
        snprintf(pending[npending].detail, sizeof(pending[npending].detail), "%s", detail);
        npending++;
    }
    last_reason = reason;
    snprintf(last_detail, sizeof(last_detail), "%s", detail);
    hsm_debug(1, "error: %s", detail);
    if (current_sink != NULL)
        current_sink(reason, file, line, detail);
}

void hsm_error_at(const char *file, int line, enum hsm_reason reason, const char *fmt, ...)
{
    char detail[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    emit(file, line, reason, detail);
}

void hsm_error_rv_at(const char *file, int line, enum hsm_reason reason, const char *func, CK_RV rv,
                     const char *fmt, ...)
{
    char head[800], detail[1024], name[32];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(head, sizeof(head), fmt, ap);
    va_end(ap);
    snprintf(detail, sizeof(detail), "%s (%s: %s)", head, func, hsm_ckr_name(rv, name));
    emit(file, line, reason, detail);
}
