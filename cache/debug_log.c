#include "cache/debug_log.h"

#include "cache/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *log_file;
static int level;

static void open_log(void)
{
    const char *path = getenv("HSM_DEBUG_LOG");
    const char *lvl = getenv("HSM_DEBUG_LEVEL");

    if (path == NULL || path[0] == '\0')
        return;
    log_file = fopen(path, "ae");
    if (log_file == NULL)
        return;
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
    pthread_mutex_lock(&lock);
    fprintf(log_file, "%s.%06ldZ hsm[%lu] ", stamp, ts.tv_nsec / 1000,
            (unsigned long)pthread_self() & 0xffffff);
    va_start(ap, fmt);
    vfprintf(log_file, fmt, ap);
    va_end(ap);
    fputc('\n', log_file);
    pthread_mutex_unlock(&lock);
}

void hsm_debug_call(int lvl, const char *func, CK_RV rv, const char *what)
{
    char name[32];

    if (hsm_debug_level() >= lvl)
        hsm_debug(lvl, "%s -> %s (%s)", func, hsm_ckr_name(rv, name), what);
}
