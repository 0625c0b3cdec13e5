/*
 * HSM_SHIM_LOG: one line per call, "<function> <CKR_NAME>", so a test can
 * count calls (e.g. that a wrong PIN led to exactly one C_Login), and one
 * line "fork <function> ok|failed" per child a `fork` directive made. Only
 * the function and its result are written: never arguments, so never a PIN.
 *
 * The file is opened per line with O_APPEND: several processes (the test
 * and the programs it runs) may share one log, and a test may truncate or
 * remove it between steps.
 */
#include "shim.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static void log_line(const char *line, int n)
{
    const char *path = shim_env_log();
    if (!path || n <= 0)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    /* One write() per line keeps lines whole under O_APPEND. */
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}

void shim_log_call(enum shim_fn fn, CK_RV rv)
{
    char line[128];
    const char *name = shim_ckr_name(rv);
    int n = name ? snprintf(line, sizeof line, "%s %s\n", shim_fn_name(fn), name)
                 : snprintf(line, sizeof line, "%s 0x%lx\n", shim_fn_name(fn), (unsigned long)rv);
    if (n > 0 && (size_t)n < sizeof line)
        log_line(line, n);
}

void shim_log_fork(enum shim_fn fn, bool ok)
{
    char line[128];
    int n = snprintf(line, sizeof line, "fork %s %s\n", shim_fn_name(fn), ok ? "ok" : "failed");
    if (n > 0 && (size_t)n < sizeof line)
        log_line(line, n);
}
