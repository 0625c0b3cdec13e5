/*
 * The one exported symbol, and the real module behind it.
 *
 * The real module (SoftHSMv2 unless HSM_SHIM_MODULE names another) is
 * dlopen'ed once and never dlclose'd: SoftHSM registers its own clean-up
 * and links libcrypto, and unloading it under a caller that still holds
 * pointers into it is a crash at exit that would not be the provider's bug.
 */
#include "shim.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHIM_DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static CK_FUNCTION_LIST *real_list;
static CK_FUNCTION_LIST shim_list;
/* Environment is read once: getenv is not safe against a concurrent
 * setenv, and a test changes behaviour through the control file, not env.
 * Static buffers, so nothing is left allocated when the shim is unloaded. */
static char env_control[PATH_MAX];
static char env_log[PATH_MAX];

void shim_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hsm-fault-shim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void env_copy(const char *name, char *buf, size_t size)
{
    const char *v = getenv(name);
    if (v && strlen(v) < size)
        strcpy(buf, v);
    else if (v && *v)
        shim_warn("%s is too long, ignored", name);
}

static void load_real(void)
{
    env_copy("HSM_SHIM_CONTROL", env_control, sizeof env_control);
    env_copy("HSM_SHIM_LOG", env_log, sizeof env_log);

    const char *path = getenv("HSM_SHIM_MODULE");
    if (!path || !*path)
        path = SHIM_DEFAULT_MODULE;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        shim_warn("cannot load real module %s: %s", path, dlerror());
        return;
    }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(h, "C_GetFunctionList");
    CK_FUNCTION_LIST *list = NULL;
    if (!get || get(&list) != CKR_OK || !list) {
        shim_warn("%s: no usable C_GetFunctionList", path);
        return;
    }
    real_list = list;
    shim_list.version.major = 2;
    shim_list.version.minor = 40;
    forward_fill(&shim_list);
    fwd_objects_fill(&shim_list);
    fwd_crypto_fill(&shim_list);
    shim_list.C_GetFunctionList = C_GetFunctionList;
}

CK_FUNCTION_LIST *shim_real(void)
{
    return real_list;
}

const char *shim_env_control(void)
{
    return env_control[0] ? env_control : NULL;
}

const char *shim_env_log(void)
{
    return env_log[0] ? env_log : NULL;
}

/* On dlclose or exit, free what the shim allocated, so a leak checker run
 * on a test program sees only that program's leaks. Each reset empties its
 * state under the lock, so a thread still calling in during exit finds an
 * empty shim (no faults, unknown handles), never freed memory. */
__attribute__((destructor)) static void shim_unload(void)
{
    control_reset();
    snapshot_reset();
    handles_reset();
    sessions_reset();
}

void shim_lock(void)
{
    pthread_mutex_lock(&state_lock);
}

void shim_unlock(void)
{
    pthread_mutex_unlock(&state_lock);
}

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    CK_RV rv;
    pthread_once(&load_once, load_real);
    if (shim_begin(SHIM_C_GetFunctionList, &rv))
        return shim_end(SHIM_C_GetFunctionList, rv);
    if (!real_list)
        rv = CKR_GENERAL_ERROR;
    else if (!list)
        rv = CKR_ARGUMENTS_BAD;
    else {
        *list = &shim_list;
        rv = CKR_OK;
    }
    return shim_end(SHIM_C_GetFunctionList, rv);
}
