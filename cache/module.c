#include "cache/module.h"

#include "cache/backoff.h"
#include "cache/debug_log.h"
#include "cache/error.h"
#include "cache/fork_gate.h"
#include "cache/lock.h"
#include "cache/module_health.h"
#include "cache/module_rpc.h"
#include "cache/token.h"

#include <dlfcn.h>
#include <errno.h>
#include <p11-kit/p11-kit.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum module_state {
    MODULE_LOADING,      /* one thread is loading the library */
    MODULE_UNLOADED,     /* the library could not be loaded; the next get tries again */
    MODULE_NEEDS_INIT,   /* loaded, not initialised in this process (a child, a failure) */
    MODULE_INITIALIZING, /* one thread is finalising and initialising it */
    MODULE_READY,
    MODULE_BROKEN,    /* initialised, but to be initialised again before new calls */
    MODULE_FINALIZED, /* at process exit; the record stays for keys freed later */
};

struct hsm_module {
    char *path;
    /* pReserved for C_Initialize (pkcs11-module-init-args), or NULL. */
    char *init_args;
    CK_FUNCTION_LIST *fns;
    /* p11-kit will not load its own proxy as a module: the proxy is opened
     * directly. p11-kit's managed initialisation cannot pass pReserved: a
     * module with init args is loaded unmanaged. Both are initialised by
     * the provider's own C_Initialize, and finalised only if it was this
     * provider's call that initialised them. */
    void *dl;
    bool direct_init;
    bool owns_init;
    /* Set at load: one thread at a time inside the module (module_rpc.h).
     * |one_call| is held from a first enter to its leave, taken with no
     * other lock of the provider held, never waited for without a limit. */
    bool one_call_at_a_time;
    pthread_mutex_t one_call;
    /* Guards what follows. Held for a few instructions only, never across
     * a call into the module; threads wait for a state change on |changed|,
     * outside the fork gate. */
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    enum module_state state;
    unsigned users; /* threads between enter and leave */
    unsigned generation;
    int refs;
    struct hsm_module_health health;
    bool health_dented;          /* atomic: health has failures counted */
    unsigned reached_fork_epoch; /* atomic: see hsm_module_note_token_reached */
    /* When initialising it again may be tried, after it failed. */
    struct hsm_backoff backoff;
    /* Set once at insertion, never changed: the registry can be walked
     * without its lock from a head read under it. */
    struct hsm_module *next;
};

/* Taken inside the fork gate only. Records are never freed. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsm_module *registry;
static pthread_once_t fork_hook_once = PTHREAD_ONCE_INIT;
static pthread_once_t exit_hook_once = PTHREAD_ONCE_INIT;

/*
 * The modules this thread is inside. A nested enter goes on without
 * waiting: an initialisation waits for this thread to leave first.
 */
#define NEST_MAX 4
static _Thread_local struct {
    struct hsm_module *mod;
    unsigned depth, generation, epoch;
    bool one_call; /* holds mod->one_call */
} nest[NEST_MAX];

static int nest_find(const struct hsm_module *mod)
{
    for (int i = 0; i < NEST_MAX; i++)
        if (nest[i].mod == mod && nest[i].depth > 0)
            return i;
    return -1;
}

static int nest_free_slot(void)
{
    for (int i = 0; i < NEST_MAX; i++)
        if (nest[i].depth == 0)
            return i;
    return -1;
}

static struct hsm_module *registry_head(void)
{
    struct hsm_module *head = NULL;

    hsm_fork_gate_enter();
    if (hsm_lock(&registry_lock)) {
        head = registry;
        hsm_unlock(&registry_lock);
    }
    hsm_fork_gate_leave();
    return head;
}

static void finalize_at_exit(void)
{
    hsm_module_finalize_all();
}

/*
 * In a forked child: PKCS#11 requires C_Initialize before any other call,
 * and the parent's sessions and logins are not the child's. Only this
 * thread exists: the locks are made anew (glibc knows a lock's owner by a
 * kernel thread id the child does not share), counts start from zero.
 */
static void after_fork_child(void)
{
    (void)pthread_mutex_init(&registry_lock, NULL);
    for (struct hsm_module *mod = registry; mod != NULL; mod = mod->next) {
        (void)pthread_mutex_init(&mod->mutex, NULL);
        (void)pthread_cond_init(&mod->changed, NULL);
        (void)pthread_mutex_init(&mod->one_call, NULL);
        mod->users = 0;
        if (mod->state == MODULE_LOADING)
            mod->state = MODULE_UNLOADED;
        else if (mod->state != MODULE_FINALIZED && mod->state != MODULE_UNLOADED)
            mod->state = MODULE_NEEDS_INIT;
        mod->owns_init = false;
        mod->generation++;
        hsm_backoff_succeeded(&mod->backoff);
        hsm_module_health_ok(&mod->health);
        mod->health_dented = false;
    }
    hsm_tokens_forget_all_after_fork();
}

static void install_fork_hook(void)
{
    hsm_fork_gate_on_child(after_fork_child);
}

/*
 * Modules must be finalised while libcrypto and the module itself are
 * still whole: SoftHSMv2 calls libcrypto from C_Finalize and crashed when
 * finalised from inside OpenSSL's own clean-up, or after its own static
 * destructors. atexit handlers run in reverse order: OpenSSL registered its
 * handler before any provider could load, and the module registers its
 * destructors when it is loaded and initialised, so the handler is
 * registered after the first successful C_Initialize and runs before both.
 * The provider is pinned in memory so the handler cannot outlive it.
 */
static void install_exit_hook(void)
{
    Dl_info info;

    if (dladdr((void *)install_exit_hook, &info) != 0 && info.dli_fname != NULL)
        (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE);
    (void)atexit(finalize_at_exit);
}

static bool is_proxy(const char *path)
{
    return hsm_module_file_is(path, "p11-kit-proxy.so");
}

/* Which registered modules failed when p11-kit's proxy would not
 * initialise, for the error. */
static _Thread_local char proxy_failed[400];

/*
 * The proxy says only that it failed. Each module registered with p11-kit
 * is initialised once more, alone, to name those that fail (and whether
 * p11-kit treats them as critical). Only on that failure path.
 */
static void name_failed_registered_modules(void)
{
    CK_FUNCTION_LIST **mods = p11_kit_modules_load(NULL, 0);
    size_t used = 0;
    char code[32];

    proxy_failed[0] = '\0';
    for (size_t i = 0; mods != NULL && mods[i] != NULL && used < sizeof(proxy_failed); i++) {
        CK_RV rv = p11_kit_module_initialize(mods[i]);
        char *name;

        if (rv == CKR_OK) {
            (void)p11_kit_module_finalize(mods[i]);
            continue;
        }
        name = p11_kit_module_get_name(mods[i]);
        used += (size_t)snprintf(
            proxy_failed + used, sizeof(proxy_failed) - used, "%s'%s' (%s%s)", used > 0 ? ", " : "",
            name != NULL ? name : "?", hsm_ckr_name(rv, code),
            (p11_kit_module_get_flags(mods[i]) & P11_KIT_MODULE_CRITICAL) ? ", critical" : "");
        free(name);
    }
    if (mods != NULL)
        p11_kit_modules_release(mods);
}

/*
 * The calls into the module itself: made with no lock held. A module
 * initialised directly that answers CKR_CRYPTOKI_ALREADY_INITIALIZED was
 * initialised by another part of the process (which will finalise it), as
 * p11-kit's managed initialisation would have accepted it.
 */
static CK_RV initialize(struct hsm_module *mod)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK, .pReserved = mod->init_args};
    CK_RV rv;

    hsm_error_mark_push();
    if (!mod->direct_init)
        rv = p11_kit_module_initialize(mod->fns);
    else
        rv = mod->fns->C_Initialize(&args);
    hsm_error_mark_pop();
    hsm_debug_call(1, "C_Initialize", rv, mod->path);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED && mod->dl != NULL)
        name_failed_registered_modules();
    if (!mod->direct_init)
        return rv;
    mod->owns_init = rv == CKR_OK;
    return rv == CKR_CRYPTOKI_ALREADY_INITIALIZED ? CKR_OK : rv;
}

static void finalize(struct hsm_module *mod)
{
    hsm_error_mark_push();
    if (!mod->direct_init)
        (void)p11_kit_module_finalize(mod->fns);
    else if (mod->owns_init)
        (void)mod->fns->C_Finalize(NULL);
    hsm_error_mark_pop();
    mod->owns_init = false;
}

static CK_FUNCTION_LIST *load(struct hsm_module *mod, const char *path, char *why, size_t len)
{
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST *fns = NULL;
    const char *msg;

    mod->direct_init = mod->init_args != NULL || is_proxy(path);
    if (!is_proxy(path)) {
        fns = p11_kit_module_load(path, mod->direct_init ? P11_KIT_MODULE_UNMANAGED : 0);
        msg = p11_kit_message();
        if (fns == NULL)
            snprintf(why, len, "%s", msg != NULL ? msg : "not a loadable PKCS#11 library");
        return fns;
    }
    mod->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (mod->dl == NULL) {
        snprintf(why, len, "%s", dlerror());
        return NULL;
    }
    get = (CK_C_GetFunctionList)dlsym(mod->dl, "C_GetFunctionList");
    if (get == NULL || get(&fns) != CKR_OK || fns == NULL) {
        snprintf(why, len, "no C_GetFunctionList: not a PKCS#11 library");
        dlclose(mod->dl);
        mod->dl = NULL;
        return NULL;
    }
    return fns;
}

static void unload(struct hsm_module *mod)
{
    /* The proxy stays mapped: p11-kit's own exit handlers may still run. */
    if (mod->dl == NULL)
        p11_kit_module_release(mod->fns);
}

/*
 * Makes this thread the one that (re)initialises |mod|: waits until every
 * call of the old generation has returned, then finalises (when it was
 * initialised) and initialises with no lock held, inside the fork gate
 * (a fork waits for the module's initialisation, except the module's own
 * fork inside it). Called and returns with |mod->mutex| held; raises
 * |reason| with |why| when C_Initialize fails.
 */
static bool initialize_locked(struct hsm_module *mod, enum hsm_reason reason, const char *why)
{
    bool was_ready = mod->state == MODULE_READY || mod->state == MODULE_BROKEN;
    unsigned epoch = hsm_fork_epoch();
    char name[32];
    CK_RV rv;

    mod->state = MODULE_INITIALIZING;
    while (mod->users > 0) {
        if (!hsm_wait(&mod->changed, &mod->mutex)) {
            mod->state = was_ready ? MODULE_READY : MODULE_NEEDS_INIT;
            hsm_wake_all(&mod->changed);
            return false;
        }
    }
    hsm_unlock(&mod->mutex);

    hsm_fork_gate_enter();
    hsm_tokens_forget_module(mod);
    if (was_ready)
        finalize(mod);
    rv = initialize(mod);
    hsm_fork_gate_leave();
    if (rv == CKR_OK)
        (void)pthread_once(&exit_hook_once, install_exit_hook);

    if (!hsm_lock(&mod->mutex))
        return false;
    if (hsm_fork_epoch() != epoch)
        return false; /* a child of a fork made inside C_Initialize: its state was reset */
    mod->generation++;
    mod->state = rv == CKR_OK ? MODULE_READY : MODULE_NEEDS_INIT;
    hsm_wake_all(&mod->changed);
    if (rv == CKR_OK) {
        /* A first initialisation that works is the module serving. A
         * re-initialisation that works may still leave the token away (a
         * remote module whose server is down initialises with no slots):
         * its caller judges it (hsm_module_recovery). */
        if (!was_ready)
            hsm_backoff_succeeded(&mod->backoff);
        return true;
    }
    if (mod->dl != NULL)
        hsm_error(reason,
                  "PKCS#11 module %s: %s: C_Initialize failed with %s; registered modules "
                  "that fail: %s. p11-kit's proxy does not go on without a module marked "
                  "critical: fix it, or disable it for this program with 'disable-in: %s' in "
                  "its module file (/etc/pkcs11/modules or /usr/share/p11-kit/modules; "
                  "p11-kit's enable-in/disable-in), or name the module to use in "
                  "pkcs11-module-path",
                  mod->path, why, hsm_ckr_name(rv, name),
                  proxy_failed[0] != '\0' ? proxy_failed : "none found",
                  program_invocation_short_name);
    else
        hsm_error(reason, "PKCS#11 module %s: %s: C_Initialize failed with %s", mod->path, why,
                  hsm_ckr_name(rv, name));
    hsm_backoff_failed(&mod->backoff);
    return false;
}

/* Fails fast, repeating the last failure, while the module may not be
 * initialised again yet. */
static bool may_try_locked(struct hsm_module *mod)
{
    unsigned wait_ms;

    if (!hsm_backoff_must_wait(&mod->backoff, &wait_ms))
        return true;
    hsm_backoff_repeat(&mod->backoff, wait_ms, mod->path);
    return false;
}

/*
 * Waits, with |mod->mutex| held, until the module can be called, and
 * initialises it when it needs it. Without |may_wait| (the thread is in the
 * fork gate) it does neither and fails instead.
 */
static bool ready_locked(struct hsm_module *mod, bool may_wait)
{
    for (;;) {
        switch (mod->state) {
        case MODULE_READY:
            return true;
        case MODULE_BROKEN:
            if (!may_wait)
                return true; /* still the generation in use */
            if (!may_try_locked(mod) ||
                !initialize_locked(mod, HSM_R_TOKEN_GONE,
                                   "initialising it again after it answered as a broken "
                                   "instance"))
                return false;
            continue;
        case MODULE_FINALIZED:
            hsm_error(HSM_R_TOKEN_GONE, "PKCS#11 module %s was finalised at process exit",
                      mod->path);
            return false;
        case MODULE_UNLOADED:
            hsm_error(HSM_R_MODULE_LOAD, "PKCS#11 module %s is not loaded", mod->path);
            return false;
        case MODULE_NEEDS_INIT:
            if (!may_wait)
                break;
            if (!may_try_locked(mod) ||
                !initialize_locked(mod, HSM_R_MODULE_LOAD, "initialising it"))
                return false;
            continue;
        case MODULE_LOADING:
        case MODULE_INITIALIZING:
            if (!may_wait)
                break;
            if (!hsm_wait(&mod->changed, &mod->mutex))
                return false;
            continue;
        }
        hsm_error(HSM_R_INTERNAL,
                  "PKCS#11 module %s is being initialised while this thread is inside a "
                  "module call; try again",
                  mod->path);
        return false;
    }
}

static bool same_init_args(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * The registry's record for |path|, added in state UNLOADED when new. One
 * module is initialised once per process, so one path cannot have two sets
 * of init args (NSS softoken would keep the first database and silently
 * ignore the second).
 */
static struct hsm_module *find_or_add(const char *path, const char *init_args)
{
    struct hsm_module *mod = NULL;
    bool clash = false;

    hsm_fork_gate_enter();
    if (!hsm_lock(&registry_lock))
        goto done;
    for (mod = registry; mod != NULL; mod = mod->next)
        if (strcmp(mod->path, path) == 0)
            break;
    if (mod != NULL && !same_init_args(mod->init_args, init_args)) {
        clash = true;
        mod = NULL;
    } else if (mod == NULL && (mod = calloc(1, sizeof(*mod))) != NULL) {
        if ((mod->path = strdup(path)) == NULL ||
            (init_args != NULL && (mod->init_args = strdup(init_args)) == NULL)) {
            free(mod->path);
            free(mod);
            mod = NULL;
        } else {
            pthread_mutex_init(&mod->mutex, NULL);
            pthread_cond_init(&mod->changed, NULL);
            pthread_mutex_init(&mod->one_call, NULL);
            mod->state = MODULE_UNLOADED;
            mod->next = registry;
            registry = mod;
        }
    }
    hsm_unlock(&registry_lock);
    if (clash)
        hsm_error(HSM_R_CONFIG,
                  "PKCS#11 module %s is already loaded in this process with other "
                  "pkcs11-module-init-args; a module is initialised once per process: give "
                  "every provider that names it the same init args",
                  path);
    else if (mod == NULL)
        hsm_error(HSM_R_INTERNAL, "out of memory");
done:
    hsm_fork_gate_leave();
    return mod;
}

/* Loads the library, with |mod->mutex| held and the state UNLOADED. */
static bool load_locked(struct hsm_module *mod)
{
    char why[300];
    CK_FUNCTION_LIST *fns;
    bool rpc;

    mod->state = MODULE_LOADING;
    hsm_unlock(&mod->mutex);
    /* Inside the gate: a fork waits for the loader (and the library's
     * constructors) rather than copying it half-way. */
    hsm_fork_gate_enter();
    fns = load(mod, mod->path, why, sizeof(why));
    rpc = fns != NULL && hsm_module_uses_p11kit_rpc(mod->path);
    hsm_fork_gate_leave();
    if (rpc)
        hsm_debug(1, "%s reaches its token through p11-kit's RPC client: one call at a time",
                  mod->path);
    if (!hsm_lock(&mod->mutex))
        return false;
    mod->one_call_at_a_time = rpc;
    mod->fns = fns;
    mod->state = fns != NULL ? MODULE_NEEDS_INIT : MODULE_UNLOADED;
    hsm_wake_all(&mod->changed);
    if (fns == NULL)
        hsm_error(HSM_R_MODULE_LOAD,
                  "PKCS#11 module %s: %s; check pkcs11-module-path in the provider "
                  "configuration",
                  mod->path, why);
    return fns != NULL;
}

struct hsm_module *hsm_module_get(const char *path, const char *init_args)
{
    struct hsm_module *mod;
    bool ok;

    if (path == NULL)
        path = HSM_DEFAULT_MODULE;
    if (hsm_fork_gate_held()) {
        hsm_error(HSM_R_INTERNAL, "PKCS#11 module %s asked for inside a module call", path);
        return NULL;
    }
    (void)pthread_once(&fork_hook_once, install_fork_hook);
    if ((mod = find_or_add(path, init_args)) == NULL || !hsm_lock(&mod->mutex))
        return NULL;
    while (mod->state == MODULE_LOADING)
        if (!hsm_wait(&mod->changed, &mod->mutex))
            goto fail;
    ok = mod->state != MODULE_UNLOADED || load_locked(mod);
    if (!ok || !ready_locked(mod, true))
        goto fail;
    mod->refs++;
    hsm_unlock(&mod->mutex);
    return mod;
fail:
    hsm_unlock(&mod->mutex);
    return NULL;
}

void hsm_module_put(struct hsm_module *mod)
{
    /* Modules stay loaded until exit: unloading one under a host that may
     * still use it through p11-kit would gain nothing and risk a crash. */
    if (mod == NULL || !hsm_lock(&mod->mutex))
        return;
    mod->refs--;
    hsm_unlock(&mod->mutex);
}

const char *hsm_module_path(const struct hsm_module *mod)
{
    return mod->path;
}

const char *hsm_module_init_args(const struct hsm_module *mod)
{
    return mod->init_args;
}

/*
 * A module that talks to a remote token over a socket (p11-kit's client)
 * can raise SIGPIPE when the other end died; by default that ends the host.
 * The signal is blocked in the calling thread while it is inside the
 * module, and a SIGPIPE raised there is consumed before it is unblocked.
 */
static _Thread_local int sigpipe_depth;
static _Thread_local bool sigpipe_was_pending;
static _Thread_local sigset_t sigpipe_old_mask;

static void block_sigpipe(void)
{
    sigset_t pipe_only, pending;

    if (sigpipe_depth++ > 0)
        return;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpending(&pending);
    sigpipe_was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_only, &sigpipe_old_mask);
}

static void unblock_sigpipe(void)
{
    sigset_t pipe_only, pending;
    struct timespec zero = {0, 0};

    if (--sigpipe_depth > 0)
        return;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    if (!sigpipe_was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
        (void)sigtimedwait(&pipe_only, NULL, &zero);
    pthread_sigmask(SIG_SETMASK, &sigpipe_old_mask, NULL);
}

/* How long a thread waits for another's call into a module that takes one
 * call at a time: far longer than any call should take (a key generated on
 * a network HSM), short enough that a stuck call is reported, not waited
 * on for ever. */
#define ONE_CALL_WAIT_S 60

static bool take_one_call(struct hsm_module *mod)
{
    struct timespec deadline;
    int rc;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += ONE_CALL_WAIT_S;
    rc = pthread_mutex_timedlock(&mod->one_call, &deadline);
    if (rc == 0)
        return true;
    if (rc == ETIMEDOUT)
        hsm_error(HSM_R_TOKEN_GONE,
                  "PKCS#11 module %s takes one call at a time, and another thread's call has "
                  "not returned for %d s: the module or its server is stuck",
                  mod->path, ONE_CALL_WAIT_S);
    else
        hsm_error(HSM_R_INTERNAL, "a lock of the hsm provider failed: %s", strerror(rc));
    return false;
}

/* Drops one user of |mod| (an enter's count), waking a re-initialisation
 * that waits for the last. */
static void users_drop(struct hsm_module *mod)
{
    if (!hsm_lock(&mod->mutex))
        return;
    if (--mod->users == 0)
        hsm_wake_all(&mod->changed);
    hsm_unlock(&mod->mutex);
}

CK_FUNCTION_LIST *hsm_module_enter(struct hsm_module *mod, unsigned *generation)
{
    int slot = nest_find(mod);
    CK_FUNCTION_LIST *fns;
    unsigned gen;
    bool one_call;

    if (slot >= 0) {
        /* Nested: the generation this thread entered cannot change until
         * it leaves. */
        nest[slot].depth++;
        hsm_fork_gate_enter();
        if (generation != NULL)
            *generation = nest[slot].generation;
        return mod->fns;
    }
    if ((slot = nest_free_slot()) < 0) {
        hsm_error(HSM_R_INTERNAL, "too many PKCS#11 modules entered at once by one thread");
        return NULL;
    }
    if (!hsm_lock(&mod->mutex))
        return NULL;
    if (!ready_locked(mod, !hsm_fork_gate_held())) {
        hsm_unlock(&mod->mutex);
        return NULL;
    }
    mod->users++;
    gen = mod->generation;
    fns = mod->fns;
    one_call = mod->one_call_at_a_time;
    hsm_unlock(&mod->mutex);
    if (one_call && !take_one_call(mod)) {
        users_drop(mod); /* never went in */
        return NULL;
    }
    nest[slot].mod = mod;
    nest[slot].depth = 1;
    nest[slot].generation = gen;
    nest[slot].epoch = hsm_fork_epoch();
    nest[slot].one_call = one_call;
    hsm_fork_gate_enter();
    block_sigpipe();
    hsm_error_mark_push();
    if (generation != NULL)
        *generation = gen;
    return fns;
}

void hsm_module_leave(struct hsm_module *mod)
{
    int slot = nest_find(mod);
    bool stale;

    if (slot < 0)
        return;
    if (--nest[slot].depth > 0) {
        hsm_fork_gate_leave();
        return;
    }
    hsm_error_mark_pop();
    unblock_sigpipe();
    hsm_fork_gate_leave();
    stale = nest[slot].epoch != hsm_fork_epoch();
    nest[slot].mod = NULL;
    if (stale)
        return; /* a child: the counts and locks were made anew at the fork */
    if (nest[slot].one_call)
        (void)pthread_mutex_unlock(&mod->one_call);
    users_drop(mod);
}

void hsm_module_observe(struct hsm_module *mod, enum hsm_module_sign sign, const char *func,
                        CK_RV rv)
{
    char name[32];

    if (!hsm_lock(&mod->mutex))
        return;
    if (mod->state == MODULE_READY &&
        hsm_module_health_needs_reinit(&mod->health, sign, rv, hsm_monotonic_ns())) {
        mod->state = MODULE_BROKEN;
        hsm_debug(1, "%s answered %s %s: it is initialised again before its next use", mod->path,
                  func,
                  sign == HSM_SIGN_LOGIN_CONTRADICTION  ? "that the user PIN is not initialised, "
                                                          "which the token's flags deny"
                  : sign == HSM_SIGN_SLOT_LIST_UNSTABLE ? "with a slot list that changes on "
                                                          "every read"
                  : sign == HSM_SIGN_STORE_CHANGED ? "(a file its view of the token comes from "
                                                     "changed)"
                                                   : hsm_ckr_name(rv, name));
    }
    __atomic_store_n(&mod->health_dented, mod->health.bad_answers > 0, __ATOMIC_RELAXED);
    hsm_unlock(&mod->mutex);
}

void hsm_module_observe_ok(struct hsm_module *mod)
{
    if (!__atomic_load_n(&mod->health_dented, __ATOMIC_RELAXED) || !hsm_lock(&mod->mutex))
        return;
    hsm_module_health_ok(&mod->health);
    __atomic_store_n(&mod->health_dented, false, __ATOMIC_RELAXED);
    hsm_unlock(&mod->mutex);
}

void hsm_module_recovery(struct hsm_module *mod, bool worked)
{
    if (!hsm_lock(&mod->mutex))
        return;
    if (worked)
        hsm_backoff_succeeded(&mod->backoff);
    else
        hsm_backoff_failed(&mod->backoff);
    hsm_unlock(&mod->mutex);
}

void hsm_module_note_token_reached(struct hsm_module *mod)
{
    __atomic_store_n(&mod->reached_fork_epoch, hsm_fork_epoch() + 1, __ATOMIC_RELAXED);
}

bool hsm_module_token_reached_since_fork(struct hsm_module *mod)
{
    /* Stored plus one, so that a record never reached reads 0. */
    return __atomic_load_n(&mod->reached_fork_epoch, __ATOMIC_RELAXED) == hsm_fork_epoch() + 1;
}

CK_RV hsm_module_misbehaved(const char *func, const char *fmt, ...)
{
    const char *path = "(unknown)";
    char detail[300];
    va_list ap;

    for (int i = NEST_MAX - 1; i >= 0; i--)
        if (nest[i].depth > 0) {
            path = nest[i].mod->path;
            break;
        }
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    hsm_error(HSM_R_PKCS11,
              "PKCS#11 module %s answered %s with %s; the answer was not used. The module is "
              "broken or not a PKCS#11 module: report it to its vendor",
              path, func, detail);
    return CKR_GENERAL_ERROR;
}

bool hsm_module_reinitialize(struct hsm_module *mod, unsigned seen_generation)
{
    bool ok;

    if (hsm_fork_gate_held() || nest_find(mod) >= 0) {
        hsm_error(HSM_R_INTERNAL,
                  "PKCS#11 module %s cannot be initialised again from inside a module call",
                  mod->path);
        return false;
    }
    if (!hsm_lock(&mod->mutex))
        return false;
    while (mod->state == MODULE_LOADING || mod->state == MODULE_INITIALIZING)
        if (!hsm_wait(&mod->changed, &mod->mutex))
            goto fail;
    if (mod->state == MODULE_FINALIZED || mod->state == MODULE_UNLOADED)
        goto fail;
    if (mod->generation != seen_generation && mod->state == MODULE_READY) {
        hsm_unlock(&mod->mutex);
        return true; /* another thread did it since */
    }
    if (!may_try_locked(mod))
        goto fail;
    hsm_debug(1,
              "initialising %s again: a token is no longer in its slot list or the module "
              "failed",
              mod->path);
    ok = initialize_locked(mod, HSM_R_TOKEN_GONE,
                           "initialising it again after its token vanished or it failed");
    hsm_unlock(&mod->mutex);
    return ok;
fail:
    hsm_unlock(&mod->mutex);
    return false;
}

/*
 * At exit, a module is finalised only once no call into it is running: a
 * thread still inside a module (a dead network HSM) is given two seconds,
 * then the module is left as it is rather than finalised under it.
 */
void hsm_module_finalize_all(void)
{
    for (struct hsm_module *mod = registry_head(); mod != NULL; mod = mod->next) {
        struct timespec deadline;
        bool loaded;

        if (!hsm_lock(&mod->mutex))
            continue;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += 2;
        while (mod->users > 0 || mod->state == MODULE_LOADING || mod->state == MODULE_INITIALIZING)
            if (!hsm_wait_until(&mod->changed, &mod->mutex, &deadline))
                break;
        if (mod->users > 0 || mod->state == MODULE_LOADING || mod->state == MODULE_INITIALIZING ||
            mod->state == MODULE_FINALIZED || mod->state == MODULE_UNLOADED) {
            hsm_unlock(&mod->mutex);
            continue;
        }
        loaded = mod->state == MODULE_READY || mod->state == MODULE_BROKEN;
        mod->state = MODULE_INITIALIZING; /* keeps new callers out */
        hsm_unlock(&mod->mutex);
        hsm_fork_gate_enter();
        hsm_tokens_forget_module(mod);
        if (loaded)
            finalize(mod);
        unload(mod);
        hsm_fork_gate_leave();
        if (!hsm_lock(&mod->mutex))
            continue;
        mod->fns = NULL;
        mod->state = MODULE_FINALIZED;
        hsm_wake_all(&mod->changed);
        hsm_unlock(&mod->mutex);
    }
}
