#include "cache/backoff.h"

#include "cache/debug_log.h"
#include "cache/error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static unsigned min_ms = HSM_BACKOFF_MIN_MS_DEFAULT, max_ms = HSM_BACKOFF_MAX_MS_DEFAULT;

void hsm_backoff_configure(unsigned lo, unsigned hi)
{
    __atomic_store_n(&min_ms, lo, __ATOMIC_RELAXED);
    __atomic_store_n(&max_ms, hi < lo ? lo : hi, __ATOMIC_RELAXED);
}

uint64_t hsm_monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

bool hsm_backoff_must_wait(const struct hsm_backoff *b, unsigned *wait_ms)
{
    uint64_t now = hsm_monotonic_ns();

    if (b->retry_at_ns == 0 || now >= b->retry_at_ns)
        return false;
    *wait_ms = (unsigned)((b->retry_at_ns - now + 999999u) / 1000000u);
    return true;
}

void hsm_backoff_failed(struct hsm_backoff *b)
{
    unsigned lo = __atomic_load_n(&min_ms, __ATOMIC_RELAXED);
    unsigned hi = __atomic_load_n(&max_ms, __ATOMIC_RELAXED);
    uint64_t wait = lo;

    for (unsigned i = 1; i < b->failures && wait < hi; i++)
        wait *= 2;
    if (wait > hi)
        wait = hi;
    b->failures++;
    b->retry_at_ns = hsm_monotonic_ns() + wait * 1000000u;
    b->reason = hsm_error_last_reason();
    snprintf(b->detail, sizeof(b->detail), "%s", hsm_error_last_detail());
}

void hsm_backoff_succeeded(struct hsm_backoff *b)
{
    b->failures = 0;
    b->retry_at_ns = 0;
}

void hsm_backoff_repeat(const struct hsm_backoff *b, unsigned wait_ms, const char *what)
{
    hsm_debug(2, "%s: failed %u times; not tried again for %u ms", what, b->failures, wait_ms);
    hsm_error(b->reason != 0 ? (enum hsm_reason)b->reason : HSM_R_TOKEN_GONE,
              "%s (%s failed %u time%s in a row; not tried again for %u ms, then at most once "
              "every %u ms while it keeps failing)",
              b->detail[0] != '\0' ? b->detail : what, what, b->failures,
              b->failures == 1 ? "" : "s", wait_ms, __atomic_load_n(&max_ms, __ATOMIC_RELAXED));
}
