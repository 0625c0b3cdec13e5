/*
 * fork() and the provider's state. A child must not inherit a module
 * half-way through another thread's call, nor a lock held by a thread it
 * does not have. The gate is a count, not a lock: a thread is "inside" while
 * it is in a call into a PKCS#11 module (C_Initialize included) or holds
 * one of the provider's locks, and fork()'s prepare handler waits until no
 * thread but the forking one is inside. Inside the gate a thread never
 * waits for another thread (only for a lock's few instructions or a module
 * call to return) and never runs an application's callback, so the handler
 * waits for nothing the forking thread itself holds: a module that forks
 * inside its own C_Initialize, and a passphrase callback that forks, both
 * go through.
 */
#ifndef HSM_CACHE_FORK_GATE_H
#define HSM_CACHE_FORK_GATE_H

#include <stdbool.h>

/* Nestable within one thread. enter waits while a fork is being made. */
void hsm_fork_gate_enter(void);
void hsm_fork_gate_leave(void);

/* Is this thread inside the gate? Code that may wait for another thread
 * (a module's initialisation, a login) must not be. */
bool hsm_fork_gate_held(void);

/* Counts the children this process made itself in: a thread-local record
 * taken before a fork is stale after it. */
unsigned hsm_fork_epoch(void);

/* Runs |fn| in each child, after the gate is reset, in order of
 * registration: each part of the provider re-makes its own locks and drops
 * what belongs to the parent (sessions, logins). Registered once. */
void hsm_fork_gate_on_child(void (*fn)(void));

#endif
