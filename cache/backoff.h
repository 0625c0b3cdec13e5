/*
 * When something that failed (a module that cannot be reached, a key that
 * is no longer on its token) may be tried again. In between, the failure is
 * repeated at once with the error it gave, so a dead HSM is not stormed by
 * every thread of every process at the moment it is least able to take it.
 * The wait doubles from a minimum up to a cap; the first success forgets
 * it. It only ever delays an attempt: what a successful attempt returns is
 * decided by the token alone (design.md, "What may be kept").
 */
#ifndef HSM_CACHE_BACKOFF_H
#define HSM_CACHE_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct hsm_backoff {
    unsigned failures;
    uint64_t retry_at_ns; /* CLOCK_MONOTONIC; 0: may be tried */
    int reason;           /* the failure's error, repeated while waiting */
    char detail[600];
};

/* The bounds, process-wide (provider options retry-interval-min-ms and
 * retry-interval-max-ms). */
#define HSM_BACKOFF_MIN_MS_DEFAULT 50
#define HSM_BACKOFF_MAX_MS_DEFAULT 1000
void hsm_backoff_configure(unsigned min_ms, unsigned max_ms);

/* The caller holds whatever lock guards |b|. */
bool hsm_backoff_must_wait(const struct hsm_backoff *b, unsigned *wait_ms);
/* Records the error this thread raised last as the failure's. */
void hsm_backoff_failed(struct hsm_backoff *b);
void hsm_backoff_succeeded(struct hsm_backoff *b);

/* Raises the recorded error again, saying when the next attempt is: for a
 * caller that was told to wait (copy the record out of the lock first). */
void hsm_backoff_repeat(const struct hsm_backoff *b, unsigned wait_ms, const char *what);

uint64_t hsm_monotonic_ns(void);

#endif
