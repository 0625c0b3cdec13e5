/*
 * The one place that decides when a module instance is in a state that
 * only initialising it again clears, as a restarted process would (the
 * module is finalised and initialised again before its next use, once the
 * calls in progress have returned; keys held by the process find their
 * objects again by identity). The signs, and why each means that:
 *
 *  - a token this process used is no longer in the slot list, or the module
 *    fails outright (C_GetSlotList, C_GetInfo): SoftHSMv2 fixes its slot
 *    list at C_Initialize, and a remote token's connection does not come
 *    back by itself (cache/key_revalidate.c, provider/token_select.c ask
 *    hsm_module_reinitialize directly);
 *  - CKR_CRYPTOKI_NOT_INITIALIZED from any call: the module forgot its
 *    initialisation (a remote server restarted);
 *  - C_Login answers CKR_USER_PIN_NOT_INITIALIZED while the token's own
 *    flags say the user PIN is initialised: a login state the token cannot
 *    be in (seen behind p11-kit server, where one process's client stayed
 *    in it for good);
 *  - CKR_GENERAL_ERROR, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY or
 *    CKR_FUNCTION_FAILED three times with no success in between, within
 *    five seconds: one is a transient fault the retry absorbs, a run is a
 *    broken instance;
 *  - the slot list changes size on every one of three consecutive reads;
 *  - a file the module's own view of the token comes from changed, for a
 *    module that keeps that view for the life of the process (tpm2-pkcs11's
 *    store, NSS softoken's databases): cache/module_caching.h looks before
 *    each load and each operation with a held key (restart equivalence).
 *
 * How often a broken module is tried again is cache/backoff.h's.
 */
#ifndef HSM_CACHE_MODULE_HEALTH_H
#define HSM_CACHE_MODULE_HEALTH_H

#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdint.h>

enum hsm_module_sign {
    HSM_SIGN_ANSWER,              /* a call failed with the given code */
    HSM_SIGN_LOGIN_CONTRADICTION, /* see above */
    HSM_SIGN_SLOT_LIST_UNSTABLE,
    HSM_SIGN_STORE_CHANGED, /* see above */
};

struct hsm_module_health {
    unsigned bad_answers;
    uint64_t first_bad_ns;
};

/* True when |sign| (with |rv| for HSM_SIGN_ANSWER) means the module must be
 * initialised again; updates the counts. */
bool hsm_module_health_needs_reinit(struct hsm_module_health *h, enum hsm_module_sign sign,
                                    CK_RV rv, uint64_t now_ns);
void hsm_module_health_ok(struct hsm_module_health *h);

#endif
