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
