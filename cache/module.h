/*
 * Loaded PKCS#11 modules. A module is loaded once per path, through
 * p11-kit (which copes with other users of the same module in the process),
 * and may be finalised and initialised again when a token has vanished
 * from its slot list: SoftHSMv2 fixes its slot list at C_Initialize.
 */
#ifndef HSM_CACHE_MODULE_H
#define HSM_CACHE_MODULE_H

#include <p11-kit/pkcs11.h>
#include <stdbool.h>

struct hsm_module;

/* p11-kit's proxy: every module registered with p11-kit, no configuration. */
#ifndef HSM_DEFAULT_MODULE
#define HSM_DEFAULT_MODULE "p11-kit-proxy.so"
#endif

/* Loads and initialises |path| or returns the one already loaded. */
struct hsm_module *hsm_module_get(const char *path);
void hsm_module_put(struct hsm_module *mod);

const char *hsm_module_path(const struct hsm_module *mod);

/*
 * Every PKCS#11 call runs between enter and leave, which returns the
 * function list valid for this generation of the module. Re-initialisation
 * waits until no thread is inside. Enter may be nested in one thread.
 * After exit-time finalisation enter raises an error and returns NULL;
 * leave must then not be called.
 */
CK_FUNCTION_LIST *hsm_module_enter(struct hsm_module *mod, unsigned *generation);
void hsm_module_leave(struct hsm_module *mod);

/*
 * Finalises and initialises the module again, unless another thread has
 * already done so since |seen_generation|. Must be called outside enter.
 */
bool hsm_module_reinitialize(struct hsm_module *mod, unsigned seen_generation);

/*
 * Bracket a whole key operation or load: fork() waits until none is under
 * way, so a child never inherits a key's or token's lock held by a thread
 * it does not have. Nestable within one thread.
 */
void hsm_operation_begin(void);
void hsm_operation_end(void);

/* Called from a process-exit hook, before OpenSSL's own clean-up. */
void hsm_module_finalize_all(void);

#endif
