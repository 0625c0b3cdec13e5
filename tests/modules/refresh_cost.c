/*
 * Not a test: what the caching-module trigger costs per call, measured
 * directly (a load or a signature makes one call). For the figures in
 * docs/modules.md; run by measure_refresh.sh inside a module driver.
 *
 *   refresh_cost MODULE [INIT-ARGS] : ns per hsm_module_refresh_if_outdated,
 *   and per hsm_module_enter + leave (the module call bracket every
 *   operation already pays), medians of 7 rounds of 20,000 calls.
 *   With REFRESH_TOUCH=FILE (a watched file): also the call that follows a
 *   change of FILE (its modification time set anew), which initialises the
 *   module again: the median of 7.
 */
#include "cache/module.h"
#include "cache/module_caching.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#define CALLS 20000
#define ROUNDS 7

static double now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    struct hsm_module *mod = argc > 1 ? hsm_module_get(argv[1], argc > 2 ? argv[2] : NULL) : NULL;
    double trigger[ROUNDS], bracket[ROUNDS];

    if (mod == NULL) {
        fprintf(stderr, "usage: refresh_cost MODULE [INIT-ARGS] (the module must load)\n");
        return 1;
    }
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_ns();

        for (int i = 0; i < CALLS; i++)
            if (!hsm_module_refresh_if_outdated(mod))
                return 1;
        trigger[r] = (now_ns() - t0) / CALLS;
        t0 = now_ns();
        for (int i = 0; i < CALLS; i++) {
            if (hsm_module_enter(mod, NULL) == NULL)
                return 1;
            hsm_module_leave(mod);
        }
        bracket[r] = (now_ns() - t0) / CALLS;
    }
    if (getenv("REFRESH_TOUCH") != NULL) {
        double reinit[ROUNDS];

        for (int r = 0; r < ROUNDS; r++) {
            double t0;

            if (utimensat(AT_FDCWD, getenv("REFRESH_TOUCH"), NULL, 0) != 0)
                return 1;
            t0 = now_ns();
            /* The trigger marks the module; the next entry initialises it. */
            if (!hsm_module_refresh_if_outdated(mod) || hsm_module_enter(mod, NULL) == NULL)
                return 1;
            hsm_module_leave(mod);
            reinit[r] = now_ns() - t0;
        }
        qsort(reinit, ROUNDS, sizeof(double), cmp);
        printf("after a change: %.2f ms (the module initialised again); ",
               reinit[ROUNDS / 2] / 1e6);
    }
    qsort(trigger, ROUNDS, sizeof(double), cmp);
    qsort(bracket, ROUNDS, sizeof(double), cmp);
    printf("trigger %.0f ns per call; module call bracket %.0f ns\n", trigger[ROUNDS / 2],
           bracket[ROUNDS / 2]);
    hsm_module_finalize_all();
    return 0;
}
