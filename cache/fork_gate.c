#include "cache/fork_gate.h"

#include <pthread.h>
#include <stddef.h>

/*
 * |inside| counts threads in the gate, |forks_pending| the forks waiting in
 * their prepare handler. A thread entering counts itself first and then
 * looks for a pending fork (and steps back if there is one); a fork marks
 * itself pending first and then looks at the count. Both orders are
 * sequentially consistent, so one of the two always sees the other.
 */
static unsigned inside;
static unsigned forks_pending;
static unsigned epoch;
static pthread_mutex_t gate_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_changed = PTHREAD_COND_INITIALIZER;
static _Thread_local unsigned depth;

#define CHILD_HOOKS_MAX 8
static void (*child_hooks[CHILD_HOOKS_MAX])(void);
static size_t n_child_hooks;
static pthread_once_t handlers_once = PTHREAD_ONCE_INIT;

/* The gate's own mutex is only taken by a thread that is about to wait or
 * to wake waiters, never held across anything else. Its failures cannot be
 * reported to anyone useful here; a failed lock skips the wait, which costs
 * the child's safety, never a hang. */
static void wake_fork(void)
{
    if (pthread_mutex_lock(&gate_mutex) == 0) {
        (void)pthread_cond_broadcast(&gate_changed);
        (void)pthread_mutex_unlock(&gate_mutex);
    }
}

static void prepare(void)
{
    unsigned self = depth > 0 ? 1 : 0;

    if (pthread_mutex_lock(&gate_mutex) != 0)
        return;
    __atomic_add_fetch(&forks_pending, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&inside, __ATOMIC_SEQ_CST) > self)
        if (pthread_cond_wait(&gate_changed, &gate_mutex) != 0)
            break;
    /* The mutex stays held across fork(): one fork at a time. */
}

static void in_parent(void)
{
    __atomic_sub_fetch(&forks_pending, 1, __ATOMIC_SEQ_CST);
    (void)pthread_cond_broadcast(&gate_changed);
    (void)pthread_mutex_unlock(&gate_mutex);
}

static void in_child(void)
{
    /* The only thread is this one: the mutex the prepare handler took is
     * made anew rather than unlocked (glibc knows its owner by a kernel
     * thread id the child does not share). */
    (void)pthread_mutex_init(&gate_mutex, NULL);
    (void)pthread_cond_init(&gate_changed, NULL);
    __atomic_store_n(&forks_pending, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&inside, depth > 0 ? 1u : 0u, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&epoch, 1, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < n_child_hooks; i++)
        child_hooks[i]();
}

static void install_handlers(void)
{
    (void)pthread_atfork(prepare, in_parent, in_child);
}

void hsm_fork_gate_on_child(void (*fn)(void))
{
    (void)pthread_once(&handlers_once, install_handlers);
    if (pthread_mutex_lock(&gate_mutex) != 0)
        return;
    for (size_t i = 0; i < n_child_hooks; i++)
        if (child_hooks[i] == fn)
            goto done;
    if (n_child_hooks < CHILD_HOOKS_MAX)
        child_hooks[n_child_hooks++] = fn;
done:
    (void)pthread_mutex_unlock(&gate_mutex);
}

void hsm_fork_gate_enter(void)
{
    if (depth++ > 0)
        return;
    (void)pthread_once(&handlers_once, install_handlers);
    for (;;) {
        __atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&forks_pending, __ATOMIC_SEQ_CST) == 0)
            return;
        /* A fork is waiting for the threads inside: step back out of its way. */
        __atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
        if (pthread_mutex_lock(&gate_mutex) != 0) {
            __atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST);
            return; /* cannot wait: go in rather than spin */
        }
        (void)pthread_cond_broadcast(&gate_changed);
        while (__atomic_load_n(&forks_pending, __ATOMIC_SEQ_CST) > 0)
            if (pthread_cond_wait(&gate_changed, &gate_mutex) != 0)
                break;
        (void)pthread_mutex_unlock(&gate_mutex);
    }
}

void hsm_fork_gate_leave(void)
{
    if (depth == 0 || --depth > 0)
        return;
    __atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&forks_pending, __ATOMIC_SEQ_CST) > 0)
        wake_fork();
}

bool hsm_fork_gate_held(void)
{
    return depth > 0;
}

unsigned hsm_fork_epoch(void)
{
    return __atomic_load_n(&epoch, __ATOMIC_SEQ_CST);
}
