#include "cache/lock.h"

#include "cache/error.h"

#include <errno.h>
#include <string.h>

bool hsm_lock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_lock(m);

    if (rc != 0)
        hsm_error(HSM_R_INTERNAL, "a lock of the hsm provider failed: %s", strerror(rc));
    return rc == 0;
}

void hsm_unlock(pthread_mutex_t *m)
{
    int rc = pthread_mutex_unlock(m);

    if (rc != 0)
        hsm_error(HSM_R_INTERNAL, "an unlock of the hsm provider failed: %s", strerror(rc));
}

bool hsm_wait(pthread_cond_t *cv, pthread_mutex_t *m)
{
    int rc = pthread_cond_wait(cv, m);

    if (rc != 0)
        hsm_error(HSM_R_INTERNAL, "a wait in the hsm provider failed: %s", strerror(rc));
    return rc == 0;
}

bool hsm_wait_until(pthread_cond_t *cv, pthread_mutex_t *m, const struct timespec *deadline)
{
    int rc = pthread_cond_timedwait(cv, m, deadline);

    if (rc != 0 && rc != ETIMEDOUT)
        hsm_error(HSM_R_INTERNAL, "a wait in the hsm provider failed: %s", strerror(rc));
    return rc == 0;
}

void hsm_wake_all(pthread_cond_t *cv)
{
    int rc = pthread_cond_broadcast(cv);

    if (rc != 0)
        hsm_error(HSM_R_INTERNAL, "a wake-up in the hsm provider failed: %s", strerror(rc));
}
