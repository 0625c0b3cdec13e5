#include "cache/debug_log.h"

#include "cache/error.h"
#include "cache/fork_gate.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
/* Taken inside the fork gate, so a child never inherits it held. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;
static int level;

/*
 * The path comes from the environment of a process that may be privileged
 * (secure_getenv ignores it in setuid programs); the file is never
 * followed through a symlink, is appended to, and is created readable by
 * its owner only: it names keys, tokens and programs.
 */
static void open_log(void)
{
    const char *path = secure_getenv("HSM_DEBUG_LOG");
    const char *lvl = secure_getenv("HSM_DEBUG_LEVEL");
    int fd;

    if (path == NULL || path[0] == '\0')
        return;
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return;
    log_file = fdopen(fd, "a");
    if (log_file == NULL) {
        close(fd);
        return;
    }
    setvbuf(log_file, NULL, _IOLBF, 0);
    level = lvl != NULL ? atoi(lvl) : 1;
    if (level < 1)
        level = 1;
}

int hsm_debug_level(void)
{
    pthread_once(&once, open_log);
    return log_file != NULL ? level : 0;
}

void hsm_debug(int lvl, const char *fmt, ...)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    va_list ap;

    if (hsm_debug_level() < lvl)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    hsm_fork_gate_enter();
    if (pthread_mutex_lock(&lock) == 0) {
        /* The process and the kernel's thread id: a forking server's
         * children are told apart, and so are its threads. */
        fprintf(log_file, "%s.%06ldZ hsm[%ld/%ld] ", stamp, ts.tv_nsec / 1000, (long)getpid(),
                (long)gettid());
        va_start(ap, fmt);
        vfprintf(log_file, fmt, ap);
        va_end(ap);
        fputc('\n', log_file);
        (void)pthread_mutex_unlock(&lock);
    }
    hsm_fork_gate_leave();
}

void hsm_debug_call(int lvl, const char *func, CK_RV rv, const char *what)
{
    char name[32];

    if (hsm_debug_level() >= lvl)
        hsm_debug(lvl, "%s -> %s (%s)", func, hsm_ckr_name(rv, name), what);
}
