/*
 * Loaded PKCS#11 modules. A module is loaded once per path, through
 * p11-kit (which copes with other users of the same module in the process),
 * and may be finalised and initialised again when a token has vanished
 * from its slot list (SoftHSMv2 fixes its slot list at C_Initialize), when
 * its remote server died, and in a forked child.
 *
 * No lock is held while the module is initialised or finalised: one
 * thread at a time does it, after every call of the old generation has
 * returned, while the others wait outside every lock and outside the fork
 * gate (a module may fork inside C_Initialize: p11-kit's remote transport
 * does).
 */
#ifndef HSM_CACHE_MODULE_H
#define HSM_CACHE_MODULE_H

#include "cache/module_health.h"

#include <p11-kit/pkcs11.h>
#include <stdbool.h>

struct hsm_module;

/* p11-kit's proxy: every module registered with p11-kit, no configuration. */
#ifndef HSM_DEFAULT_MODULE
#define HSM_DEFAULT_MODULE "p11-kit-proxy.so"
#endif

/*
 * Loads and initialises |path| or returns the one already loaded; NULL
 * after raising an error (a failed initialisation is tried again by the
 * next call). |init_args|, when not NULL, goes to C_Initialize as
 * pReserved (NSS softoken's configdir=...); the same path asked for with
 * other init args is refused. Must be called outside the fork gate.
 */
struct hsm_module *hsm_module_get(const char *path, const char *init_args);
void hsm_module_put(struct hsm_module *mod);

const char *hsm_module_path(const struct hsm_module *mod);
/* pkcs11-module-init-args as configured, or NULL. */
const char *hsm_module_init_args(const struct hsm_module *mod);

/*
 * Every PKCS#11 call runs between enter and leave, which returns the
 * function list valid for this generation of the module (|*generation|
 * says which). The first enter of a thread may wait for an initialisation
 * and must be made outside the fork gate; enter may be nested in one thread.
 * Between enter and leave the thread is inside the fork gate: it must not
 * wait for another thread nor run an application's callback there. After a
 * failed initialisation or exit-time finalisation, enter raises an error and
 * returns NULL; leave must then not be called.
 */
CK_FUNCTION_LIST *hsm_module_enter(struct hsm_module *mod, unsigned *generation);
void hsm_module_leave(struct hsm_module *mod);

/*
 * Finalises and initialises the module again, unless another thread has
 * already done so since |seen_generation|. Must be called outside enter and
 * outside the fork gate. True when the module is initialised afterwards.
 */
bool hsm_module_reinitialize(struct hsm_module *mod, unsigned seen_generation);

/*
 * A sign that the module instance may be broken: cache/module_health.h
 * decides, and when it says so the module is initialised again before its
 * next use (after the calls in progress returned). |func| names the call.
 */
void hsm_module_observe(struct hsm_module *mod, enum hsm_module_sign sign, const char *func,
                        CK_RV rv);
/* A call that worked: a run of failures is over. Cheap when there is none. */
void hsm_module_observe_ok(struct hsm_module *mod);

/*
 * After hsm_module_reinitialize, whether the module serves again (the
 * token that was looked for is back). A failure starts or lengthens the
 * wait before the next attempt (cache/backoff.h); meanwhile
 * hsm_module_reinitialize and a first enter fail at once repeating the
 * last error raised, so a failure is reported after raising why.
 */
void hsm_module_recovery(struct hsm_module *mod, bool worked);

/* A token of |mod| answered C_GetTokenInfo in this process since its last
 * fork: noted by the slot scan, asked when explaining why a forked child
 * cannot reach a token (its user's rights, or the token). */
void hsm_module_note_token_reached(struct hsm_module *mod);
bool hsm_module_token_reached_since_fork(struct hsm_module *mod);

/*
 * A module answered out of bounds (a length past the buffer it was given,
 * more handles than asked for, an absurd size): raises an error naming the
 * module this thread is inside and |func|, with the detail in |fmt|. The
 * answer is never used. Returns CKR_GENERAL_ERROR for the caller to pass on.
 */
CK_RV hsm_module_misbehaved(const char *func, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sizes no module answer may exceed: larger is a misbehaving module. */
#define HSM_MODULE_VALUE_MAX (1024 * 1024) /* one attribute value */
#define HSM_MODULE_OBJECTS_MAX 1000000     /* objects one search finds */
#define HSM_MODULE_SLOTS_MAX 4096          /* slots in a slot list */

/* Called from a process-exit hook, before OpenSSL's own clean-up. */
void hsm_module_finalize_all(void);

#endif
