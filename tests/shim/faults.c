/*
 * What happens around every call: `latency` first (a failing device is
 * slow too), then `fork`, then `fail`, then the call log. Each wrapper in
 * forward.c, fwd_objects.c and fwd_crypto.c starts with shim_begin() and
 * returns through shim_end().
 */
#include "shim.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_us(unsigned long us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000UL),
                          .tv_nsec = (long)(us % 1000000UL) * 1000L};
    /* Sleep the whole delay even if a signal interrupts it: a test that
     * asks for 500 ms measures at least 500 ms. */
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*
 * `fork`: what p11-kit's `remote: |command` transport and a module that
 * starts a helper process do inside a call. A real fork(), so every
 * pthread_atfork handler of the process runs, in the caller's thread and
 * with whatever the caller holds; the child only exec's /bin/true (nothing
 * but async-signal-safe calls after fork in a threaded process), and the
 * parent waits for it before it goes on to the real module.
 */
static void fork_and_wait(enum shim_fn fn)
{
    int status = 0;
    pid_t pid = fork();

    if (pid < 0) {
        shim_warn("fork in %s: %s", shim_fn_name(fn), strerror(errno));
        shim_log_fork(fn, false);
        return;
    }
    if (pid == 0) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            /* SIGCHLD ignored: the child was reaped by the kernel. */
            status = errno == ECHILD ? 0 : -1;
            break;
        }
    }
    bool ok = status == 0;
    if (!ok)
        shim_warn("fork in %s: the child ended with status 0x%x", shim_fn_name(fn),
                  (unsigned)status);
    shim_log_fork(fn, ok);
}

bool shim_begin(enum shim_fn fn, CK_RV *rv)
{
    struct call_plan plan;

    control_refresh();
    control_on_call(fn, &plan);
    if (plan.latency_us)
        sleep_us(plan.latency_us);
    if (plan.fork)
        fork_and_wait(fn);
    *rv = plan.code;
    return plan.fail;
}

CK_RV shim_end(enum shim_fn fn, CK_RV rv)
{
    shim_log_call(fn, rv);
    return rv;
}

void faults_apply_token_flags(CK_TOKEN_INFO *info)
{
    CK_FLAGS set, clear;
    control_token_flags(&set, &clear);
    info->flags = (info->flags | set) & ~clear;
}

/* `nul-pad`: text fields padded with NUL bytes instead of spaces, as
 * tpm2-pkcs11 pads its token model. */
static void nul_pad(CK_UTF8CHAR *field, size_t len)
{
    while (len > 0 && field[len - 1] == ' ')
        field[--len] = '\0';
}

void faults_nul_pad_module(CK_INFO *info)
{
    if (!control_nul_pad())
        return;
    nul_pad(info->manufacturerID, sizeof(info->manufacturerID));
    nul_pad(info->libraryDescription, sizeof(info->libraryDescription));
}

void faults_nul_pad_slot(CK_SLOT_INFO *info)
{
    if (!control_nul_pad())
        return;
    nul_pad(info->slotDescription, sizeof(info->slotDescription));
    nul_pad(info->manufacturerID, sizeof(info->manufacturerID));
}

void faults_nul_pad_token(CK_TOKEN_INFO *info)
{
    if (!control_nul_pad())
        return;
    nul_pad(info->label, sizeof(info->label));
    nul_pad(info->manufacturerID, sizeof(info->manufacturerID));
    nul_pad(info->model, sizeof(info->model));
    nul_pad(info->serialNumber, sizeof(info->serialNumber));
}
