/*
 * The provider's locks, with every call's result checked. A lock call that
 * fails (a corrupted or uninitialised lock) makes the operation fail with
 * an internal error instead of going on unprotected.
 *
 * The rule every lock of the provider follows: it is held only for a few
 * instructions of the provider's own code. No lock is held across a call
 * into a PKCS#11 module, C_Initialize or C_Finalize, or an application's
 * callback, so no lock can be held by a thread that waits for one of those,
 * and fork() (cache/fork_gate.h) never waits for the thread that forks.
 */
#ifndef HSM_CACHE_LOCK_H
#define HSM_CACHE_LOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

bool hsm_lock(pthread_mutex_t *m) __attribute__((warn_unused_result));
void hsm_unlock(pthread_mutex_t *m);

/* Waits on |cv| with |m| held; false when the wait itself failed. */
bool hsm_wait(pthread_cond_t *cv, pthread_mutex_t *m) __attribute__((warn_unused_result));
/* Same, until |deadline| (CLOCK_REALTIME); false on timeout or failure. */
bool hsm_wait_until(pthread_cond_t *cv, pthread_mutex_t *m, const struct timespec *deadline)
    __attribute__((warn_unused_result));
void hsm_wake_all(pthread_cond_t *cv);

#endif
