#include "cache/audit_record.h"

#include "cache/audit_chain.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MASK "****"

/* Options whose next argument (or =VALUE) is a secret. */
static bool secret_option(const char *arg, size_t len)
{
    static const char *const names[] = {"passin", "passout", "pass", "password", "pin"};
    size_t dashes = 0;

    while (dashes < 2 && dashes < len && arg[dashes] == '-')
        dashes++;
    if (dashes == 0)
        return false;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (len - dashes == strlen(names[i]) && memcmp(arg + dashes, names[i], len - dashes) == 0)
            return true;
    return false;
}

char *hsm_audit_mask_argument(const char *prev, const char *arg)
{
    static const char pin_value[] = "pin-value=";
    size_t len = strlen(arg), n = 0;
    const char *eq = strchr(arg, '=');
    /* Masking never lengthens a secret by more than the mask. */
    char *out = malloc(len + sizeof(MASK) * (len / 4 + 1) + 1);

    if (out == NULL)
        return NULL;
    if (prev != NULL && secret_option(prev, strlen(prev))) {
        strcpy(out, MASK);
        return out;
    }
    if (eq != NULL && secret_option(arg, (size_t)(eq - arg))) {
        memcpy(out, arg, (size_t)(eq - arg) + 1);
        strcpy(out + (eq - arg) + 1, MASK);
        return out;
    }
    for (size_t i = 0; i < len;) {
        if (strncmp(arg + i, pin_value, sizeof(pin_value) - 1) == 0) {
            memcpy(out + n, pin_value, sizeof(pin_value) - 1);
            n += sizeof(pin_value) - 1;
            memcpy(out + n, MASK, sizeof(MASK) - 1);
            n += sizeof(MASK) - 1;
            i += sizeof(pin_value) - 1;
            i += strcspn(arg + i, ";?&");
            continue;
        }
        if (strncmp(arg + i, "pass:", 5) == 0 && (i == 0 || arg[i - 1] == '=')) {
            memcpy(out + n, "pass:" MASK, 5 + sizeof(MASK) - 1);
            n += 5 + sizeof(MASK) - 1;
            break;
        }
        out[n++] = arg[i++];
    }
    out[n] = '\0';
    return out;
}

void hsm_audit_cmdline(struct hsm_json *j, const char *raw, size_t len)
{
    char **args = NULL, *prev = NULL;
    size_t n = 0, cap = 0, bytes = 0, omitted = 0;

    for (size_t at = 0; at < len && !j->failed;) {
        const char *arg = raw + at;
        size_t alen = strnlen(arg, len - at);
        char *copy, *masked = NULL;

        at += alen + 1;
        if (omitted > 0 || bytes + alen > HSM_AUDIT_CMDLINE_MAX) {
            omitted++;
            continue;
        }
        bytes += alen;
        if ((copy = strndup(arg, alen)) != NULL)
            masked = hsm_audit_mask_argument(prev, copy);
        free(prev);
        prev = copy;
        if (masked != NULL && n == cap) {
            char **p = realloc(args, (cap = cap ? cap * 2 : 16) * sizeof(*p));

            if (p != NULL)
                args = p;
            else
                free(masked), masked = NULL;
        }
        if (masked == NULL)
            j->failed = true;
        else
            args[n++] = masked;
    }
    free(prev);
    hsm_json_strings(j, "cmdline", args, n);
    if (omitted > 0)
        hsm_json_uint(j, "cmdline_omitted", omitted);
    for (size_t i = 0; i < n; i++)
        free(args[i]);
    free(args);
}

/* /proc/self/cmdline, NUL-separated; NULL when it cannot be read. */
static char *read_cmdline(size_t *len)
{
    size_t cap = 4096, have = 0;
    char *buf = malloc(cap);
    int fd = buf != NULL ? open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC) : -1;

    if (fd < 0) {
        free(buf);
        return NULL;
    }
    /* Enough to fill the record and count the arguments left out. */
    while (have < 64 * HSM_AUDIT_CMDLINE_MAX) {
        ssize_t got;

        if (have == cap) {
            char *p = realloc(buf, cap * 2);

            if (p == NULL)
                break;
            buf = p;
            cap *= 2;
        }
        got = read(fd, buf + have, cap - have);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        have += (size_t)got;
    }
    close(fd);
    *len = have;
    return buf;
}

static void add_user(struct hsm_json *j, const char *member, uid_t uid)
{
    struct passwd pw, *found = NULL;
    char buf[1024];

    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found != NULL &&
        found->pw_name != NULL && found->pw_name[0] != '\0')
        hsm_json_string(j, member, found->pw_name);
}

void hsm_audit_process_facts(struct hsm_json *j)
{
    char now[32], host[256] = "", exe[4096];
    size_t cmdlen = 0;
    char *cmdline;
    ssize_t n;

    hsm_audit_utc_now(now);
    hsm_json_string(j, "time", now);
    if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0')
        hsm_json_string(j, "host", host);
    hsm_json_uint(j, "pid", (unsigned long long)getpid());
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        hsm_json_string(j, "program", exe);
    } else if (program_invocation_name != NULL && program_invocation_name[0] != '\0') {
        hsm_json_string(j, "program", program_invocation_name);
    }
    if ((cmdline = read_cmdline(&cmdlen)) != NULL && cmdlen > 0)
        hsm_audit_cmdline(j, cmdline, cmdlen);
    free(cmdline);
    hsm_json_uint(j, "uid", (unsigned long long)getuid());
    add_user(j, "user", getuid());
    if (geteuid() != getuid())
        hsm_json_uint(j, "euid", (unsigned long long)geteuid());
}
