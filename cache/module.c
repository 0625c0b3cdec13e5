#include "cache/module.h"

#include "cache/debug_log.h"
#include "cache/error.h"
#include "cache/token.h"

#include <dlfcn.h>
#include <p11-kit/p11-kit.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hsm_module {
    char *path;
    CK_FUNCTION_LIST *fns;
    /* Readers: every PKCS#11 call. Writer: finalise + initialise. */
    pthread_rwlock_t lock;
    unsigned generation;
    int refs;
    /* p11-kit will not load its own proxy as a module: the proxy is opened
     * directly, and finalised only if this provider initialised it. */
    void *dl;
    bool owns_init;
    /* Set at process exit; the record itself stays, since keys freed later
     * by OpenSSL's clean-up still point at it. */
    bool finalized;
    /* Set in a forked child: PKCS#11 requires C_Initialize there before
     * any other call, and the parent's sessions are not the child's. */
    bool needs_init;
    struct hsm_module *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsm_module *registry;
/* Readers: every key operation and load. Writer: fork(), so that no thread
 * holds a key's or token's lock, or is half-way through an operation, in
 * the instant a child is made. */
static pthread_rwlock_t fork_guard = PTHREAD_RWLOCK_INITIALIZER;
/* A load's possession proof, and a refind's, is an operation inside an
 * operation: only the outermost takes the read lock, which a waiting
 * writer could otherwise hold back. */
static _Thread_local int operation_depth;

void hsm_operation_begin(void)
{
    if (operation_depth++ == 0)
        pthread_rwlock_rdlock(&fork_guard);
}

void hsm_operation_end(void)
{
    if (--operation_depth == 0)
        pthread_rwlock_unlock(&fork_guard);
}
static bool exit_hook_installed;

static void finalize_at_exit(void)
{
    hsm_module_finalize_all();
}

/*
 * fork(): the prepare handler waits until no thread is inside a module, so
 * the child never inherits a lock held by a thread it does not have; the
 * child then initialises each module again on first use.
 */
static void before_fork(void)
{
    pthread_rwlock_wrlock(&fork_guard);
    pthread_mutex_lock(&registry_lock);
    for (struct hsm_module *mod = registry; mod != NULL; mod = mod->next)
        pthread_rwlock_wrlock(&mod->lock);
}

static void after_fork_parent(void)
{
    for (struct hsm_module *mod = registry; mod != NULL; mod = mod->next)
        pthread_rwlock_unlock(&mod->lock);
    pthread_mutex_unlock(&registry_lock);
    pthread_rwlock_unlock(&fork_guard);
}

/*
 * ThreadSanitizer follows this thread into the child still holding what
 * before_fork locked; the locks are made anew rather than unlocked (see
 * after_fork_child), so it is told of the release.
 */
#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#define RELEASED_BY_REMAKING(lock)                                                                 \
    (__tsan_mutex_pre_unlock((lock), 0), __tsan_mutex_post_unlock((lock), 0))
#else
#define RELEASED_BY_REMAKING(lock) ((void)(lock))
#endif

static void after_fork_child(void)
{
    /* The child's only thread has a new kernel thread id, and glibc knows a
     * rwlock's writer by that id: the locks the parent took in before_fork
     * cannot be unlocked here, so they are made anew. */
    for (struct hsm_module *mod = registry; mod != NULL; mod = mod->next) {
        if (!mod->finalized) {
            mod->needs_init = true;
            mod->generation++;
        }
        RELEASED_BY_REMAKING(&mod->lock);
        pthread_rwlock_init(&mod->lock, NULL);
    }
    RELEASED_BY_REMAKING(&registry_lock);
    pthread_mutex_init(&registry_lock, NULL);
    RELEASED_BY_REMAKING(&fork_guard);
    pthread_rwlock_init(&fork_guard, NULL);
    hsm_tokens_forget_all_after_fork();
}

/*
 * Modules must be finalised while libcrypto is still whole: SoftHSMv2 calls
 * libcrypto from C_Finalize and crashed when finalised from inside
 * OpenSSL's own clean-up. atexit handlers run in reverse order, and OpenSSL
 * registered its handler before any provider could load, so ours runs
 * first. The provider is pinned in memory so the handler cannot outlive it.
 */
static void install_exit_hook(void)
{
    Dl_info info;

    if (exit_hook_installed)
        return;
    if (dladdr((void *)install_exit_hook, &info) != 0 && info.dli_fname != NULL)
        (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE);
    if (atexit(finalize_at_exit) == 0)
        exit_hook_installed = true;
    (void)pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

static bool is_proxy(const char *path)
{
    const char *base = strrchr(path, '/');

    return strcmp(base != NULL ? base + 1 : path, "p11-kit-proxy.so") == 0;
}

static CK_RV initialize(struct hsm_module *mod)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv;

    hsm_error_mark_push();
    if (mod->dl == NULL)
        rv = p11_kit_module_initialize(mod->fns);
    else
        rv = mod->fns->C_Initialize(&args);
    hsm_error_mark_pop();
    hsm_debug_call(1, "C_Initialize", rv, mod->path);
    if (mod->dl == NULL)
        return rv;
    mod->owns_init = rv == CKR_OK;
    return rv == CKR_CRYPTOKI_ALREADY_INITIALIZED ? CKR_OK : rv;
}

static void finalize(struct hsm_module *mod)
{
    hsm_error_mark_push();
    if (mod->dl == NULL)
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

    if (!is_proxy(path)) {
        fns = p11_kit_module_load(path, 0);
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
    if (mod->dl == NULL) {
        p11_kit_module_release(mod->fns);
    }
    /* The proxy stays mapped: p11-kit's own exit handlers may still run. */
}

struct hsm_module *hsm_module_get(const char *path)
{
    struct hsm_module *mod;
    char name[32], why[300];
    CK_RV rv;

    if (path == NULL)
        path = HSM_DEFAULT_MODULE;
    pthread_mutex_lock(&registry_lock);
    for (mod = registry; mod != NULL; mod = mod->next) {
        if (strcmp(mod->path, path) == 0) {
            mod->refs++;
            pthread_mutex_unlock(&registry_lock);
            return mod;
        }
    }
    mod = calloc(1, sizeof(*mod));
    if (mod == NULL || (mod->path = strdup(path)) == NULL) {
        free(mod);
        pthread_mutex_unlock(&registry_lock);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return NULL;
    }
    mod->fns = load(mod, path, why, sizeof(why));
    if (mod->fns == NULL) {
        hsm_error(HSM_R_MODULE_LOAD,
                  "PKCS#11 module %s: %s; check pkcs11-module-path in the provider "
                  "configuration",
                  path, why);
        goto fail;
    }
    rv = initialize(mod);
    if (rv != CKR_OK) {
        hsm_error(HSM_R_MODULE_LOAD, "PKCS#11 module %s: C_Initialize failed with %s", path,
                  hsm_ckr_name(rv, name));
        unload(mod);
        goto fail;
    }
    pthread_rwlock_init(&mod->lock, NULL);
    mod->refs = 1;
    mod->next = registry;
    registry = mod;
    install_exit_hook();
    pthread_mutex_unlock(&registry_lock);
    return mod;

fail:
    free(mod->path);
    free(mod);
    pthread_mutex_unlock(&registry_lock);
    return NULL;
}

void hsm_module_put(struct hsm_module *mod)
{
    /* Modules stay loaded until exit: unloading one under a host that may
     * still use it through p11-kit would gain nothing and risk a crash. */
    if (mod == NULL)
        return;
    pthread_mutex_lock(&registry_lock);
    mod->refs--;
    pthread_mutex_unlock(&registry_lock);
}

const char *hsm_module_path(const struct hsm_module *mod)
{
    return mod->path;
}

/*
 * Initialise again before use: in a forked child (PKCS#11 requires it), or
 * after an initialisation that failed. Old token records and hints become
 * stale through the generation number.
 */
static void init_again(struct hsm_module *mod)
{
    pthread_rwlock_wrlock(&mod->lock);
    if (mod->needs_init && !mod->finalized) {
        mod->owns_init = false;
        hsm_tokens_forget_module(mod);
        mod->needs_init = initialize(mod) != CKR_OK;
        mod->generation++;
    }
    pthread_rwlock_unlock(&mod->lock);
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

CK_FUNCTION_LIST *hsm_module_enter(struct hsm_module *mod, unsigned *generation)
{
    if (__atomic_load_n(&mod->needs_init, __ATOMIC_ACQUIRE))
        init_again(mod);
    pthread_rwlock_rdlock(&mod->lock);
    block_sigpipe();
    hsm_error_mark_push();
    if (generation != NULL)
        *generation = mod->generation;
    if (mod->finalized) {
        hsm_error(HSM_R_TOKEN_GONE, "PKCS#11 module %s was finalised at process exit", mod->path);
        hsm_error_mark_pop();
        unblock_sigpipe();
        pthread_rwlock_unlock(&mod->lock);
        return NULL;
    }
    return mod->fns;
}

void hsm_module_leave(struct hsm_module *mod)
{
    hsm_error_mark_pop();
    unblock_sigpipe();
    pthread_rwlock_unlock(&mod->lock);
}

bool hsm_module_reinitialize(struct hsm_module *mod, unsigned seen_generation)
{
    bool ok = true;
    CK_RV rv;

    pthread_rwlock_wrlock(&mod->lock);
    if (mod->finalized) {
        ok = false;
    } else if (mod->generation == seen_generation) {
        hsm_debug(1, "initialising %s again: a token is no longer in its slot list", mod->path);
        hsm_tokens_forget_module(mod);
        finalize(mod);
        rv = initialize(mod);
        if (rv != CKR_OK) {
            hsm_error_rv(HSM_R_TOKEN_GONE, "C_Initialize", rv,
                         "initialising PKCS#11 module %s again after its token vanished",
                         mod->path);
            /* Tried again at the next use, so the host recovers by itself
             * once the module or its server is back. */
            mod->needs_init = true;
            ok = false;
        }
        mod->generation++;
    }
    pthread_rwlock_unlock(&mod->lock);
    return ok;
}

void hsm_module_finalize_all(void)
{
    pthread_mutex_lock(&registry_lock);
    for (struct hsm_module *mod = registry; mod != NULL; mod = mod->next) {
        pthread_rwlock_wrlock(&mod->lock);
        if (!mod->finalized) {
            hsm_tokens_forget_module(mod);
            finalize(mod);
            unload(mod);
            mod->fns = NULL;
            mod->finalized = true;
        }
        pthread_rwlock_unlock(&mod->lock);
    }
    pthread_mutex_unlock(&registry_lock);
}
