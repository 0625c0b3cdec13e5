/*
 * Running a contender for one time slice, on one or more threads, and
 * spawning whole processes as a contender.
 */
#include "tests/bench/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

const unsigned char bench_msg[BENCH_MSG_LEN] = "hsm benchmark: 32 bytes to sign";

double bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void contender_fail(struct contender *c, const char *fmt, ...)
{
    va_list ap;

    c->failed = true;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof(c->why), fmt, ap);
    va_end(ap);
}

struct worker {
    struct contender *c;
    int idx;
    double seconds;
    int min_ops;
    pthread_barrier_t *barrier;
    long ops;
    double start, end;
    bool ok;
    char why[300];
};

static void *work(void *arg)
{
    struct worker *w = arg;
    double deadline;

    if (w->barrier != NULL)
        pthread_barrier_wait(w->barrier);
    w->start = bench_now();
    deadline = w->start + w->seconds;
    w->ok = true;
    for (;;) {
        if (!w->c->op(w->c->state[w->idx], w->why, sizeof(w->why))) {
            w->ok = false;
            break;
        }
        w->ops++;
        w->end = bench_now();
        if (w->end >= deadline && w->ops >= w->min_ops)
            break;
    }
    return NULL;
}

void contender_run(struct contender *c, double seconds, int min_ops)
{
    struct worker w[BENCH_MAX_THREADS];
    pthread_t tid[BENCH_MAX_THREADS];
    pthread_barrier_t barrier;
    double first = 0, last = 0;
    long ops = 0;

    if (c->failed || c->nrounds >= BENCH_MAX_ROUNDS)
        return;
    if (c->remote_run != NULL) {
        c->remote_run(c, seconds, min_ops);
        return;
    }
    memset(w, 0, sizeof(w));
    for (int i = 0; i < c->threads; i++) {
        w[i].c = c;
        w[i].idx = i;
        w[i].seconds = seconds;
        w[i].min_ops = min_ops;
        w[i].barrier = c->threads > 1 ? &barrier : NULL;
    }
    if (c->threads == 1) {
        work(&w[0]);
    } else {
        pthread_barrier_init(&barrier, NULL, (unsigned)c->threads);
        for (int i = 0; i < c->threads; i++)
            pthread_create(&tid[i], NULL, work, &w[i]);
        for (int i = 0; i < c->threads; i++)
            pthread_join(tid[i], NULL);
        pthread_barrier_destroy(&barrier);
    }
    for (int i = 0; i < c->threads; i++) {
        if (!w[i].ok) {
            contender_fail(c, "%s", w[i].why);
            return;
        }
        ops += w[i].ops;
        if (i == 0 || w[i].start < first)
            first = w[i].start;
        if (w[i].end > last)
            last = w[i].end;
    }
    if (last > first)
        c->rates[c->nrounds++] = (double)ops / (last - first);
}

void contender_free(struct contender *c)
{
    for (int i = 0; i < BENCH_MAX_THREADS; i++) {
        if (c->state[i] != NULL)
            (c->free_state != NULL ? c->free_state : free)(c->state[i]);
        c->state[i] = NULL;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double contender_median(const struct contender *c)
{
    double v[BENCH_MAX_ROUNDS];
    int n = c->nrounds;

    if (c->failed || n == 0)
        return 0;
    memcpy(v, c->rates, sizeof(double) * (size_t)n);
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* --------------------------------------------------------- whole process */

struct proc {
    char **argv;
    char **envp;
    char errfile[1024];
};

static char **dup_vec(char *const v[], size_t *n)
{
    size_t k = 0;
    char **out;

    while (v != NULL && v[k] != NULL)
        k++;
    out = calloc(k + 1, sizeof(char *));
    for (size_t i = 0; out != NULL && i < k; i++)
        out[i] = strdup(v[i]);
    if (n != NULL)
        *n = k;
    return out;
}

void *proc_state(char *const argv[], char *const extra_env[], const char *errfile)
{
    struct proc *st = calloc(1, sizeof(*st));
    size_t nenv = 0, nextra = 0, k = 0;
    int fd;

    if (st == NULL)
        return NULL;
    st->argv = dup_vec(argv, NULL);
    while (environ[nenv] != NULL)
        nenv++;
    while (extra_env != NULL && extra_env[nextra] != NULL)
        nextra++;
    st->envp = calloc(nenv + nextra + 1, sizeof(char *));
    for (size_t i = 0; i < nextra; i++)
        st->envp[k++] = strdup(extra_env[i]);
    for (size_t i = 0; i < nenv; i++) {
        const char *eq = strchr(environ[i], '=');
        bool overridden = false;

        for (size_t j = 0; eq != NULL && j < nextra; j++)
            overridden |= strncmp(environ[i], extra_env[j], (size_t)(eq - environ[i]) + 1) == 0;
        if (!overridden)
            st->envp[k++] = strdup(environ[i]);
    }
    snprintf(st->errfile, sizeof(st->errfile), "%s", errfile);
    fd = open(st->errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0)
        close(fd);
    return st;
}

static void free_vec(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

void proc_free(void *state)
{
    struct proc *st = state;

    free_vec(st->argv);
    free_vec(st->envp);
    free(st);
}

bool proc_op(void *state, char *why, size_t len)
{
    struct proc *st = state;
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 0, rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, st->errfile, O_WRONLY | O_TRUNC, 0);
    rc = posix_spawn(&pid, st->argv[0], &fa, NULL, st->argv, st->envp);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(why, len, "cannot run %s: %s", st->argv[0], strerror(rc));
        return false;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    {
        char msg[200] = "";
        FILE *f = fopen(st->errfile, "r");
        size_t n = f != NULL ? fread(msg, 1, sizeof(msg) - 1, f) : 0;

        if (f != NULL)
            fclose(f);
        msg[n] = '\0';
        for (char *p = msg; *p; p++)
            if (*p == '\n')
                *p = ' ';
        snprintf(why, len, "%s exited with status %d: %s", st->argv[0],
                 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), msg);
    }
    return false;
}
