/*
 * What happens around every call: `latency` first (a failing device is
 * slow too), then `fail`, then the call log. Each wrapper in forward.c,
 * fwd_objects.c and fwd_crypto.c starts with shim_begin() and returns
 * through shim_end().
 */
#include "shim.h"

#include <errno.h>
#include <time.h>

static void sleep_us(unsigned long us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000UL),
                          .tv_nsec = (long)(us % 1000000UL) * 1000L};
    /* Sleep the whole delay even if a signal interrupts it: a test that
     * asks for 500 ms measures at least 500 ms. */
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

bool shim_begin(enum shim_fn fn, CK_RV *rv)
{
    unsigned long latency;
    bool fail;
    CK_RV code = CKR_OK;

    control_refresh();
    control_on_call(fn, &latency, &fail, &code);
    if (latency)
        sleep_us(latency);
    *rv = code;
    return fail;
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
