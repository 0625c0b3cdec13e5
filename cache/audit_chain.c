#include "cache/audit_chain.h"

#include "cache/error.h"
#include "cache/fork_gate.h"
#include "cache/lock.h"
#include "cache/provider_property.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HASH_HEAD ",\"hash\":\""
#define HASH_HEAD_LEN (sizeof(HASH_HEAD) - 1)
/* ,"hash":"<64 hex>"} */
#define HASH_TAIL_LEN (HASH_HEAD_LEN + 64 + 2)
/* A longer line is not one this code wrote: refuse to read further back. */
#define LINE_MAX_LEN (1024 * 1024)

void hsm_audit_utc_now(char out[32])
{
    struct timespec ts;
    struct tm tm;
    char stamp[20];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        stamp[0] = '\0';
    snprintf(out, 32, "%s.%06dZ", stamp, (int)(ts.tv_nsec / 1000) % 1000000);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static bool sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];

    if (!EVP_Q_digest(NULL, "SHA256", HSM_SOFTWARE_PROPQ, data, len, md, NULL))
        return false;
    to_hex(md, sizeof(md), hex);
    return true;
}

/* Where the body ends and the stored hash begins; false when the line does
 * not end in ,"hash":"<64 lowercase hex>"}. */
static bool split(const char *text, size_t len, size_t *body_len, const char **stored)
{
    const char *tail;

    if (len < HASH_TAIL_LEN + 1)
        return false;
    tail = text + len - HASH_TAIL_LEN;
    if (memcmp(tail, HASH_HEAD, HASH_HEAD_LEN) != 0 || memcmp(text + len - 2, "\"}", 2) != 0)
        return false;
    for (size_t i = 0; i < 64; i++) {
        char c = tail[HASH_HEAD_LEN + i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    *body_len = len - HASH_TAIL_LEN;
    *stored = tail + HASH_HEAD_LEN;
    return true;
}

bool hsm_audit_line_hash(const char *text, size_t len, char hex[65])
{
    size_t body;
    const char *stored;

    return split(text, len, &body, &stored) && sha256_hex(text, body, hex);
}

/* Appending. */

/* One append at a time in this process (fcntl locks belong to a process,
 * not a thread); a child made by fork while another thread held it gets a
 * fresh one. Held across the file lock's wait and fsync: never inside the
 * fork gate, never with a provider lock or a module call. */
static pthread_mutex_t append_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t child_hook_once = PTHREAD_ONCE_INIT;

static void reset_after_fork(void)
{
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;

    memcpy(&append_lock, &fresh, sizeof(fresh));
}

static void register_child_hook(void)
{
    hsm_fork_gate_on_child(reset_after_fork);
}

static bool lock_file(int fd, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    int rc;

    while ((rc = fcntl(fd, F_SETLKW, &fl)) < 0 && errno == EINTR)
        ;
    return rc == 0;
}

static bool fail_errno(const char *path, const char *what, int err, const char *advice)
{
    hsm_error(HSM_R_AUDIT_LOG, "audit log %s: %s: %s%s%s", path, what, strerror(err),
              advice[0] != '\0' ? "; " : "", advice);
    return false;
}

/* The last line of a file of |size| bytes that ends in a newline; the
 * caller frees |*line|. */
static bool read_last_line(int fd, const char *path, off_t size, char **line, size_t *len)
{
    size_t cap = 4096, have = 0;
    char *buf = NULL;

    for (;;) {
        size_t want = cap - have;
        off_t from;
        char *p, *nl;
        ssize_t got;

        if ((p = realloc(buf, cap)) == NULL) {
            free(buf);
            hsm_error(HSM_R_INTERNAL, "out of memory");
            return false;
        }
        buf = p;
        if ((off_t)(have + want) > size)
            want = (size_t)size - have;
        from = size - (off_t)(have + want);
        /* Keep what was read at the end of the buffer. */
        memmove(buf + want, buf, have);
        got = pread(fd, buf, want, from);
        if (got != (ssize_t)want) {
            free(buf);
            return fail_errno(path, "reading its last record", got < 0 ? errno : EIO, "");
        }
        have += want;
        if (buf[have - 1] != '\n') {
            free(buf);
            hsm_error(HSM_R_AUDIT_LOG,
                      "audit log %s ends with an incomplete line (a write was cut short); "
                      "check it with hsm-audit verify and move it aside to start a new chain",
                      path);
            return false;
        }
        /* The newline before the last line, if it is in what was read. */
        nl = NULL;
        for (size_t i = have - 1; i > 0; i--) {
            if (buf[i - 1] == '\n') {
                nl = buf + i - 1;
                break;
            }
        }
        if (nl != NULL || (off_t)have == size) {
            char *start = nl != NULL ? nl + 1 : buf;

            *len = (size_t)(buf + have - 1 - start);
            memmove(buf, start, *len);
            buf[*len] = '\0';
            *line = buf;
            return true;
        }
        if (cap >= LINE_MAX_LEN) {
            free(buf);
            hsm_error(HSM_R_AUDIT_LOG,
                      "audit log %s: its last line is longer than %d bytes, so it is not a "
                      "record; check it with hsm-audit verify",
                      path, LINE_MAX_LEN);
            return false;
        }
        cap *= 2;
    }
}

/* The seq and hash of the file's last record. */
static bool last_link(int fd, const char *path, off_t size, unsigned long long *seq, char hash[65])
{
    struct hsm_json_object obj;
    char *line = NULL, why[256];
    const char *stored;
    size_t len, body;
    bool ok;

    if (!read_last_line(fd, path, size, &line, &len))
        return false;
    ok = split(line, len, &body, &stored) && hsm_json_parse(line, len, &obj, why, sizeof(why));
    if (ok) {
        ok = hsm_json_get_uint(&obj, "seq", seq);
        hsm_json_object_clear(&obj);
    }
    if (ok)
        memcpy(hash, stored, 64), hash[64] = '\0';
    free(line);
    if (!ok)
        hsm_error(HSM_R_AUDIT_LOG,
                  "audit log %s: its last line is not a record of this format; check it with "
                  "hsm-audit verify and move it aside to start a new chain",
                  path);
    return ok;
}

/* Appends ,"hash":"<SHA-256 of everything before>"} and the newline. */
static bool seal(struct hsm_json *line, size_t from, char hex[65])
{
    if (line->failed || !sha256_hex(line->buf + from, line->len - from, hex))
        return false;
    hsm_json_raw(line, HASH_HEAD, HASH_HEAD_LEN);
    hsm_json_raw(line, hex, 64);
    hsm_json_raw(line, "\"}\n", 3);
    return !line->failed;
}

static bool add_header(struct hsm_json *line)
{
    unsigned char chain[16];
    char now[32], host[256] = "";
    struct hsm_json m = {0};
    bool ok;

    if (RAND_bytes(chain, sizeof(chain)) <= 0)
        return false;
    hsm_audit_utc_now(now);
    (void)gethostname(host, sizeof(host) - 1);
    hsm_json_uint(&m, "v", HSM_AUDIT_FORMAT_VERSION);
    hsm_json_uint(&m, "seq", 0);
    hsm_json_string(&m, "type", "header");
    hsm_json_string(&m, "time", now);
    hsm_json_string(&m, "host", host);
    hsm_json_hex(&m, "chain", chain, sizeof(chain));
    hsm_json_raw(line, "{", 1);
    hsm_json_raw(line, m.buf, m.len);
    ok = !m.failed && seal(line, 0, (char[65]){0});
    hsm_json_free(&m);
    return ok;
}

static bool add_record(struct hsm_json *line, unsigned long long seq, const char *prev,
                       const char *members, size_t len, char hash[65])
{
    size_t from = line->len;
    char head[64];

    snprintf(head, sizeof(head), "{\"v\":%d,\"seq\":%llu,", HSM_AUDIT_FORMAT_VERSION, seq);
    hsm_json_raw(line, head, strlen(head));
    hsm_json_raw(line, members, len);
    hsm_json_raw(line, ",\"prev\":\"", 9);
    hsm_json_raw(line, prev, 64);
    hsm_json_raw(line, "\"", 1);
    return seal(line, from, hash);
}

static bool write_all(int fd, const char *buf, size_t len, int *err)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *err = n < 0 ? errno : EIO;
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* A new file's directory entry must be on disk too. */
static bool sync_directory(const char *path)
{
    char *copy = strdup(path);
    int fd = copy != NULL ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    bool ok = fd >= 0 && fsync(fd) == 0;

    if (fd >= 0)
        close(fd);
    free(copy);
    return ok;
}

/* Under both locks: the last link, the new line, write and fsync. */
static bool append_locked(int fd, const char *path, const char *members, size_t len,
                          struct hsm_audit_link *link)
{
    struct hsm_json line = {0};
    unsigned long long seq = 0;
    char prev[65];
    struct stat st;
    bool ok = false;
    int err = 0;

    if (fstat(fd, &st) != 0)
        return fail_errno(path, "fstat", errno, "");
    if (st.st_size == 0) {
        char hex[65];

        if (!add_header(&line) || !hsm_audit_line_hash(line.buf, line.len - 1, hex)) {
            hsm_error(HSM_R_INTERNAL, "audit log %s: cannot make its header", path);
            goto done;
        }
        memcpy(prev, hex, sizeof(prev));
    } else if (!last_link(fd, path, st.st_size, &seq, prev)) {
        goto done;
    }
    if (!add_record(&line, seq + 1, prev, members, len, link->hash)) {
        hsm_error(HSM_R_INTERNAL, "audit log %s: out of memory", path);
        goto done;
    }
    if (!write_all(fd, line.buf, line.len, &err) || (fsync(fd) != 0 && (err = errno) != 0)) {
        /* Nothing half-written or unsynced stays: the operation fails. */
        if (ftruncate(fd, st.st_size) == 0)
            (void)fsync(fd);
        fail_errno(path, "writing a record", err,
                   err == ENOSPC ? "free space on its file system" : "");
        goto done;
    }
    if (st.st_size == 0 && !sync_directory(path)) {
        fail_errno(path, "syncing its directory", errno, "");
        goto done;
    }
    link->seq = seq + 1;
    ok = true;
done:
    hsm_json_free(&line);
    return ok;
}

bool hsm_audit_append(const char *path, const char *members, size_t len,
                      struct hsm_audit_link *link)
{
    struct hsm_audit_link ignored;
    struct stat st;
    bool ok = false;
    int fd;

    (void)pthread_once(&child_hook_once, register_child_hook);
    if (!hsm_lock(&append_lock))
        return false;
    /* O_NONBLOCK: a FIFO put in the log's place must not hang the open. */
    fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK,
              0600);
    if (fd < 0) {
        fail_errno(path, "open", errno,
                   errno == ELOOP ? "it is a symbolic link, which is never followed" : "");
        goto unlock;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        hsm_error(HSM_R_AUDIT_LOG, "audit log %s is not a regular file", path);
        goto close;
    }
    if (!lock_file(fd, F_WRLCK)) {
        fail_errno(path, "locking", errno, "");
        goto close;
    }
    ok = append_locked(fd, path, members, len, link != NULL ? link : &ignored);
close:
    close(fd); /* also releases the file lock */
unlock:
    hsm_unlock(&append_lock);
    return ok;
}

/* Reading and checking. */

struct checker {
    struct hsm_audit_verdict *v;
    char prev_hash[65];
    bool broken;
};

static bool broken(struct checker *c, size_t number, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool broken(struct checker *c, size_t number, const char *fmt, ...)
{
    va_list ap;
    int n;

    c->broken = true;
    c->v->broken_line = number;
    n = snprintf(c->v->why, sizeof(c->v->why), "line %zu: ", number);
    va_start(ap, fmt);
    vsnprintf(c->v->why + n, sizeof(c->v->why) - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

static bool has_members(struct checker *c, size_t number, const struct hsm_json_object *o,
                        const char *const *names)
{
    for (; *names != NULL; names++)
        if (hsm_json_find(o, *names) == NULL)
            return broken(c, number, "the %s record has no \"%s\"", hsm_json_get(o, "type"),
                          *names);
    return true;
}

/* One line as a link of the chain; false (with the verdict set) when the
 * chain breaks here. */
static bool check_line(struct checker *c, size_t number, const char *text, size_t len,
                       const struct hsm_json_object *o, const char *parse_why)
{
    static const char *const header_needs[] = {"time", "chain", NULL};
    static const char *const operation_needs[] = {"time", "pid", "operation", "result", NULL};
    static const char *const note_needs[] = {"time", "text", NULL};
    unsigned long long v, seq;
    const char *type, *prev, *stored;
    char hex[65];
    size_t body;

    if (o == NULL)
        return broken(c, number, "not a record of this format: %s", parse_why);
    if (strcmp(o->m[0].name, "v") != 0 || !hsm_json_get_uint(o, "v", &v))
        return broken(c, number, "the first member is not the version \"v\"");
    if (v != HSM_AUDIT_FORMAT_VERSION)
        return broken(c, number, "format version %llu is not known to this program (it reads %d)",
                      v, HSM_AUDIT_FORMAT_VERSION);
    if (!split(text, len, &body, &stored) || strcmp(o->m[o->n - 1].name, "hash") != 0)
        return broken(c, number, "the last member is not its \"hash\"");
    if (!sha256_hex(text, body, hex))
        return broken(c, number, "cannot compute SHA-256");
    if (memcmp(hex, stored, 64) != 0)
        return broken(c, number,
                      "its content does not match its hash: the line was changed after it "
                      "was written");
    if (!hsm_json_get_uint(o, "seq", &seq))
        return broken(c, number, "it has no \"seq\"");
    if (seq != number - 1)
        return broken(c, number,
                      "it is record seq %llu where seq %zu was expected: a record was removed, "
                      "inserted or moved before it",
                      seq, number - 1);
    type = hsm_json_get(o, "type");
    prev = hsm_json_get(o, "prev");
    if (type == NULL)
        return broken(c, number, "it has no \"type\"");
    if (number == 1) {
        if (strcmp(type, "header") != 0 || prev != NULL)
            return broken(c, number, "the log does not begin with its header");
        if (!has_members(c, number, o, header_needs))
            return false;
    } else {
        if (strcmp(type, "operation") != 0 && strcmp(type, "note") != 0)
            return broken(c, number, "unknown record type \"%s\"", type);
        if (prev == NULL || strcmp(prev, c->prev_hash) != 0)
            return broken(c, number,
                          "its prev is not the hash of line %zu (%s): line %zu was changed "
                          "and re-hashed, or records were removed or moved",
                          number - 1, c->prev_hash, number - 1);
        if (!has_members(c, number, o,
                         strcmp(type, "operation") == 0 ? operation_needs : note_needs))
            return false;
    }
    memcpy(c->prev_hash, stored, 64);
    c->prev_hash[64] = '\0';
    return true;
}

bool hsm_audit_read(const char *path, hsm_audit_visit *visit, void *arg,
                    struct hsm_audit_verdict *verdict)
{
    struct checker c = {.v = verdict};
    char *text = NULL, why[256];
    size_t cap = 0;
    ssize_t got;
    struct stat st;
    FILE *f;
    int fd;

    memset(verdict, 0, sizeof(*verdict));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return fail_errno(path, "open", errno, "");
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        hsm_error(HSM_R_AUDIT_LOG, "audit log %s is not a regular file", path);
        return false;
    }
    if (!lock_file(fd, F_RDLCK) || (f = fdopen(fd, "r")) == NULL) {
        fail_errno(path, "locking", errno, "");
        close(fd);
        return false;
    }
    while ((got = getline(&text, &cap, f)) > 0) {
        struct hsm_json_object obj;
        struct hsm_audit_line line = {.number = ++verdict->lines, .text = text};
        bool complete = text[got - 1] == '\n', parsed;

        line.len = (size_t)got - (complete ? 1 : 0);
        parsed = hsm_json_parse(text, line.len, &obj, why, sizeof(why));
        line.obj = parsed ? &obj : NULL;
        if (!c.broken && !complete)
            broken(&c, line.number, "incomplete (no newline at its end): a write was cut short");
        else if (!c.broken)
            check_line(&c, line.number, text, line.len, line.obj, why);
        line.linked = !c.broken;
        if (visit != NULL && !visit(arg, &line)) {
            if (parsed)
                hsm_json_object_clear(&obj);
            break;
        }
        if (parsed)
            hsm_json_object_clear(&obj);
    }
    if (verdict->lines == 0 && !c.broken)
        broken(&c, 1, "the log is empty: it has no header");
    free(text);
    fclose(f);
    return true;
}
