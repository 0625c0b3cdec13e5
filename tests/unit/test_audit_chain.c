/*
 * The audit log's hash chain and file: a chain that verifies, every kind
 * of tampering reported at its line, writers in several threads and
 * processes keeping one chain, and a file that cannot be written making
 * the append fail and leaving no partial record. Logs live in a mkdtemp
 * directory; full and read-only file systems are small tmpfs mounts in a
 * mount namespace of this process's own, gone when it exits.
 */
#include "tests/unit/unit.h"

#include "cache/audit_chain.h"
#include "cache/audit_log.h"
#include "cache/error.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/hsm-unit-chain-XXXXXX";
static char path[256];
static int serial;

static const char *new_log(void)
{
    snprintf(path, sizeof(path), "%s/log-%d", dir, ++serial);
    return path;
}

static void write_notes(const char *log, int n)
{
    char text[64];

    for (int i = 1; i <= n; i++) {
        snprintf(text, sizeof(text), "step %d", i);
        CU_ASSERT_FATAL(hsm_audit_note(log, text, NULL));
    }
}

/* The file as lines (without newlines); |*n| of them. */
static char **read_lines(const char *file, size_t *n)
{
    FILE *f = fopen(file, "r");
    char **lines = calloc(4096, sizeof(*lines)), *line = NULL;
    size_t cap = 0;
    ssize_t len;

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    *n = 0;
    while ((len = getline(&line, &cap, f)) > 0 && *n < 4096) {
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        lines[(*n)++] = strdup(line);
    }
    free(line);
    fclose(f);
    return lines;
}

static void write_lines(const char *file, char **lines, size_t n)
{
    FILE *f = fopen(file, "w");

    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

static void free_lines(char **lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static size_t broken_at(const char *log)
{
    struct hsm_audit_verdict v;

    CU_ASSERT_FATAL(hsm_audit_read(log, NULL, NULL, &v));
    return v.broken_line;
}

#define ASSERT_BROKEN_AT(log, want)                                                                \
    do {                                                                                           \
        size_t got_ = broken_at(log);                                                              \
        char g_[32], w_[32];                                                                       \
        snprintf(g_, sizeof(g_), "%zu", got_);                                                     \
        snprintf(w_, sizeof(w_), "%zu", (size_t)(want));                                           \
        CU_assertImplementation(got_ == (size_t)(want), __LINE__,                                  \
                                unit_msg("broken at line %s, want %s", g_, w_), __FILE__, "",      \
                                CU_FALSE);                                                         \
    } while (0)

/* SHA-256 of a line up to its ,"hash": member, computed here with OpenSSL. */
static void body_hash(const char *line, char hex[65])
{
    const char *cut = strstr(line, ",\"hash\":\"");
    unsigned char md[32];

    CU_ASSERT_PTR_NOT_NULL_FATAL(cut);
    while (strstr(cut + 1, ",\"hash\":\"") != NULL)
        cut = strstr(cut + 1, ",\"hash\":\"");
    CU_ASSERT_FATAL(EVP_Q_digest(NULL, "SHA256", NULL, line, (size_t)(cut - line), md, NULL));
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static const char *member(const char *line, const char *name, char *out, size_t outlen)
{
    char key[64];
    const char *at;

    snprintf(key, sizeof(key), "\"%s\":\"", name);
    at = strstr(line, key);
    if (at == NULL)
        return NULL;
    at += strlen(key);
    snprintf(out, outlen, "%.*s", (int)strcspn(at, "\""), at);
    return out;
}

/* Replaces the line's hash with the hash of its (changed) body. */
static void rehash(char *line)
{
    char hex[65], *at = strstr(line, ",\"hash\":\"");

    body_hash(line, hex);
    memcpy(at + 9, hex, 64);
}

static void intact_chain_verifies(void)
{
    const char *log = new_log();
    char hex[65], prev[65], stored[80], seq[48];
    size_t n;
    char **lines;
    struct stat st;

    write_notes(log, 10);
    ASSERT_BROKEN_AT(log, 0);
    CU_ASSERT_FATAL(stat(log, &st) == 0);
    CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
    lines = read_lines(log, &n);
    CU_ASSERT_EQUAL_FATAL(n, 11);
    /* The links, checked here without the chain code. */
    UNIT_ASSERT_CONTAINS(lines[0], "{\"v\":1,\"seq\":0,\"type\":\"header\"");
    CU_ASSERT_PTR_NULL(strstr(lines[0], "\"prev\""));
    for (size_t i = 0; i < n; i++) {
        body_hash(lines[i], hex);
        CU_ASSERT_STRING_EQUAL(member(lines[i], "hash", stored, sizeof(stored)), hex);
        snprintf(seq, sizeof(seq), "{\"v\":1,\"seq\":%zu,", i);
        CU_ASSERT_EQUAL(strncmp(lines[i], seq, strlen(seq)), 0);
        if (i > 0)
            CU_ASSERT_STRING_EQUAL(member(lines[i], "prev", stored, sizeof(stored)), prev);
        memcpy(prev, hex, sizeof(prev));
    }
    free_lines(lines, n);
}

static void edited_line_is_reported_at_that_line(void)
{
    const char *log = new_log();
    size_t n;
    char **orig;

    write_notes(log, 10);
    orig = read_lines(log, &n);
    for (size_t k = 0; k < n; k++) {
        char **lines = read_lines(log, &n);
        char *t = strstr(lines[k], "\"time\":\"") + 8;

        t[3] = t[3] == '9' ? '8' : (char)(t[3] + 1); /* the year */
        write_lines(log, lines, n);
        ASSERT_BROKEN_AT(log, k + 1);
        write_lines(log, orig, n);
        free_lines(lines, n);
    }
    ASSERT_BROKEN_AT(log, 0);
    free_lines(orig, n);
}

static void edited_and_rehashed_line_is_reported_at_the_next(void)
{
    const char *log = new_log();
    size_t n;
    char **orig;

    write_notes(log, 10);
    orig = read_lines(log, &n);
    for (size_t k = 1; k + 1 < n; k++) {
        char **lines = read_lines(log, &n);
        char *t = strstr(lines[k], "\"text\":\"step ") + 13;

        *t = *t == '9' ? '8' : (char)(*t + 1);
        rehash(lines[k]);
        write_lines(log, lines, n);
        ASSERT_BROKEN_AT(log, k + 2);
        write_lines(log, orig, n);
        free_lines(lines, n);
    }
    free_lines(orig, n);
}

static void removed_line_is_reported_where_it_was(void)
{
    const char *log = new_log();
    size_t n;
    char **orig;

    write_notes(log, 10);
    orig = read_lines(log, &n);
    /* The last line removed leaves a shorter chain that holds: only what
     * names a record elsewhere (a ceremony transcript) shows that. */
    for (size_t k = 0; k + 1 < n; k++) {
        char *kept[16];
        size_t m = 0;

        for (size_t i = 0; i < n; i++)
            if (i != k)
                kept[m++] = orig[i];
        write_lines(log, kept, m);
        ASSERT_BROKEN_AT(log, k + 1);
    }
    free_lines(orig, n);
}

static void moved_or_repeated_line_is_reported_where_it_lands(void)
{
    const char *log = new_log();
    size_t n;
    char **orig;

    write_notes(log, 10);
    orig = read_lines(log, &n);
    for (size_t k = 0; k + 1 < n; k++) {
        char *swapped[16], *repeated[16];

        for (size_t i = 0; i < n; i++)
            swapped[i] = orig[i];
        swapped[k] = orig[k + 1];
        swapped[k + 1] = orig[k];
        write_lines(log, swapped, n);
        ASSERT_BROKEN_AT(log, k + 1);
        for (size_t i = 0, m = 0; i < n; i++) {
            repeated[m++] = orig[i];
            if (i == k)
                repeated[m++] = orig[i];
        }
        write_lines(log, repeated, n + 1);
        ASSERT_BROKEN_AT(log, k + 2);
    }
    free_lines(orig, n);
}

static void cut_or_foreign_last_line_stops_the_writer(void)
{
    const char *log = new_log();
    size_t n;
    char **lines;
    FILE *f;

    write_notes(log, 3);
    lines = read_lines(log, &n);
    /* A write cut short: the last line has no newline. */
    f = fopen(log, "w");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i + 1 < n ? lines[i] : "{\"v\":1,\"seq\":4,", i + 1 < n ? "\n" : "");
    fclose(f);
    ASSERT_BROKEN_AT(log, n);
    CU_ASSERT_FALSE(hsm_audit_note(log, "more", NULL));
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_AUDIT_LOG);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "incomplete line");
    /* A line that is not a record. */
    write_lines(log, lines, n);
    f = fopen(log, "a");
    fprintf(f, "added by hand\n");
    fclose(f);
    ASSERT_BROKEN_AT(log, n + 1);
    CU_ASSERT_FALSE(hsm_audit_note(log, "more", NULL));
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "not a record");
    free_lines(lines, n);
}

static void header_is_the_first_link(void)
{
    const char *log = new_log();
    struct hsm_audit_link link;
    size_t n;
    char **lines, hex[65], got[80];

    CU_ASSERT_FATAL(hsm_audit_note(log, "first", &link));
    CU_ASSERT_EQUAL(link.seq, 1);
    lines = read_lines(log, &n);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    body_hash(lines[0], hex);
    CU_ASSERT_STRING_EQUAL(member(lines[1], "prev", got, sizeof(got)), hex);
    CU_ASSERT_STRING_EQUAL(member(lines[1], "hash", got, sizeof(got)), link.hash);
    /* Without its header the log does not verify. */
    write_lines(log, lines + 1, 1);
    ASSERT_BROKEN_AT(log, 1);
    free_lines(lines, n);
    /* An empty file is no log. */
    CU_ASSERT_FATAL(truncate(log, 0) == 0);
    ASSERT_BROKEN_AT(log, 1);
}

static void only_a_regular_file_is_written(void)
{
    char target[300], link_path[300], fifo[300];

    snprintf(target, sizeof(target), "%s/target", dir);
    snprintf(link_path, sizeof(link_path), "%s/link", dir);
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    CU_ASSERT_FATAL(symlink(target, link_path) == 0);
    CU_ASSERT_FALSE(hsm_audit_note(link_path, "x", NULL));
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "symbolic link");
    CU_ASSERT_EQUAL(access(target, F_OK), -1);
    CU_ASSERT_FATAL(mkfifo(fifo, 0600) == 0);
    alarm(10); /* a FIFO must not hang the open */
    CU_ASSERT_FALSE(hsm_audit_note(fifo, "x", NULL));
    alarm(0);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "not a regular file");
    CU_ASSERT_FALSE(hsm_audit_note(dir, "x", NULL));
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_AUDIT_LOG);
}

/* Concurrent writers: 8 threads here and 4 processes, 1,000 records each. */
#define WRITERS_THREADS 8
#define WRITERS_PROCS 4
#define RECORDS_EACH 1000

struct writer {
    const char *log;
    int id;
    bool ok;
};

static void *write_many(void *arg)
{
    struct writer *w = arg;
    char text[64];

    w->ok = true;
    for (int i = 0; i < RECORDS_EACH && w->ok; i++) {
        snprintf(text, sizeof(text), "writer %d record %d", w->id, i);
        w->ok = hsm_audit_note(w->log, text, NULL);
    }
    return NULL;
}

struct tally {
    int next[WRITERS_THREADS + WRITERS_PROCS];
    size_t notes;
    bool in_order;
};

static bool count_note(void *arg, const struct hsm_audit_line *line)
{
    struct tally *t = arg;
    const char *text = line->obj != NULL ? hsm_json_get(line->obj, "text") : NULL;
    int id, i;

    if (text == NULL)
        return true;
    t->notes++;
    if (sscanf(text, "writer %d record %d", &id, &i) != 2 || id < 0 ||
        id >= WRITERS_THREADS + WRITERS_PROCS || t->next[id] != i)
        t->in_order = false;
    else
        t->next[id]++;
    return true;
}

static void threads_and_processes_keep_one_chain(void)
{
    const char *log = new_log();
    struct writer threads[WRITERS_THREADS];
    pthread_t tid[WRITERS_THREADS];
    pid_t pids[WRITERS_PROCS];
    struct tally t = {.in_order = true};
    struct hsm_audit_verdict v;

    for (int p = 0; p < WRITERS_PROCS; p++) {
        pids[p] = fork();
        CU_ASSERT_FATAL(pids[p] >= 0);
        if (pids[p] == 0) {
            struct writer w = {log, WRITERS_THREADS + p, false};

            write_many(&w);
            _exit(w.ok ? 0 : 1);
        }
    }
    for (int i = 0; i < WRITERS_THREADS; i++) {
        threads[i] = (struct writer){log, i, false};
        CU_ASSERT_FATAL(pthread_create(&tid[i], NULL, write_many, &threads[i]) == 0);
    }
    for (int i = 0; i < WRITERS_THREADS; i++) {
        CU_ASSERT(pthread_join(tid[i], NULL) == 0);
        CU_ASSERT(threads[i].ok);
    }
    for (int p = 0; p < WRITERS_PROCS; p++) {
        int status;

        CU_ASSERT(waitpid(pids[p], &status, 0) == pids[p] && WIFEXITED(status) &&
                  WEXITSTATUS(status) == 0);
    }
    CU_ASSERT_FATAL(hsm_audit_read(log, count_note, &t, &v));
    CU_ASSERT_EQUAL(v.broken_line, 0);
    CU_ASSERT_EQUAL(v.lines, 1 + (WRITERS_THREADS + WRITERS_PROCS) * RECORDS_EACH);
    CU_ASSERT_EQUAL(t.notes, (WRITERS_THREADS + WRITERS_PROCS) * RECORDS_EACH);
    CU_ASSERT(t.in_order);
    for (int i = 0; i < WRITERS_THREADS + WRITERS_PROCS; i++)
        CU_ASSERT_EQUAL(t.next[i], RECORDS_EACH);
}

/* A file system that cannot take the record. */

static char mnt[300];
static bool mounted;

static int mount_setup(void)
{
    snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
    if (mkdir(mnt, 0700) != 0)
        return 1;
    /* Mounts made here are private to this process and vanish with it. */
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
        printf("\n  (cannot make a mount namespace: %s; the full-file-system case is skipped, "
               "the read-only case uses a file mode)\n",
               strerror(errno));
        return 0;
    }
    mounted = true;
    return 0;
}

static int mount_teardown(void)
{
    if (mounted)
        (void)umount2(mnt, MNT_DETACH);
    return 0;
}

static bool mount_small_tmpfs(const char *opts)
{
    (void)umount2(mnt, MNT_DETACH);
    return mount("tmpfs", mnt, "tmpfs", 0, opts) == 0;
}

static void full_file_system_fails_the_append_and_leaves_no_partial_record(void)
{
    char log[400];
    struct hsm_audit_verdict v;
    char text[300];
    int written = 0;

    if (!mounted || !mount_small_tmpfs("size=16k,mode=0700")) {
        printf("skipped: no tmpfs mount ");
        return;
    }
    snprintf(log, sizeof(log), "%s/audit.log", mnt);
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    while (written < 1000 && hsm_audit_note(log, text, NULL))
        written++;
    CU_ASSERT(written > 0 && written < 1000);
    /* Then the last bytes, with the shortest note. */
    while (written < 1000 && hsm_audit_note(log, "", NULL))
        written++;
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_AUDIT_LOG);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "free space on its file system");
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), log);
    CU_ASSERT_FATAL(hsm_audit_read(log, NULL, NULL, &v));
    CU_ASSERT_EQUAL(v.broken_line, 0);
    CU_ASSERT_EQUAL(v.lines, (size_t)written + 1);
    /* Through the operation hook: fail refuses, continue goes on. */
    struct hsm_audit_log *fail = NULL, *go_on = NULL;
    struct hsm_audit_event ev = {.op = HSM_AUDIT_SIGN, .uri = "pkcs11:token=ca", .ok = true};

    CU_ASSERT_FATAL(hsm_audit_log_configure(log, NULL, "fail", &fail));
    CU_ASSERT_FATAL(hsm_audit_log_configure(log, NULL, "continue", &go_on));
    CU_ASSERT_FALSE(hsm_audit_operation(fail, &ev));
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_AUDIT_LOG);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "the signature was not returned");
    CU_ASSERT(hsm_audit_operation(go_on, &ev));
    hsm_audit_log_free(fail);
    hsm_audit_log_free(go_on);
    CU_ASSERT_FATAL(hsm_audit_read(log, NULL, NULL, &v));
    CU_ASSERT_EQUAL(v.broken_line, 0);
    CU_ASSERT_EQUAL(v.lines, (size_t)written + 1);
}

static void read_only_log_fails_the_append(void)
{
    char log[400];
    struct hsm_audit_verdict v;

    if (mounted) {
        CU_ASSERT_FATAL(mount_small_tmpfs("size=64k,mode=0700"));
        snprintf(log, sizeof(log), "%s/audit.log", mnt);
        write_notes(log, 2);
        CU_ASSERT_FATAL(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0);
    } else {
        snprintf(log, sizeof(log), "%s/read-only.log", dir);
        write_notes(log, 2);
        CU_ASSERT_FATAL(chmod(log, 0400) == 0);
    }
    CU_ASSERT_FALSE(hsm_audit_note(log, "refused", NULL));
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_AUDIT_LOG);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), log);
    CU_ASSERT_FATAL(hsm_audit_read(log, NULL, NULL, &v));
    CU_ASSERT_EQUAL(v.broken_line, 0);
    CU_ASSERT_EQUAL(v.lines, 3);
    /* Nor can a new log be made there. */
    snprintf(log, sizeof(log), "%s/new.log", mounted ? mnt : "/proc");
    CU_ASSERT_FALSE(hsm_audit_note(log, "refused", NULL));
}

int main(void)
{
    CU_TestInfo chain[] = {
        UNIT_TEST(intact_chain_verifies),
        UNIT_TEST(edited_line_is_reported_at_that_line),
        UNIT_TEST(edited_and_rehashed_line_is_reported_at_the_next),
        UNIT_TEST(removed_line_is_reported_where_it_was),
        UNIT_TEST(moved_or_repeated_line_is_reported_where_it_lands),
        UNIT_TEST(cut_or_foreign_last_line_stops_the_writer),
        UNIT_TEST(header_is_the_first_link),
        UNIT_TEST(only_a_regular_file_is_written),
        CU_TEST_INFO_NULL,
    };
    CU_TestInfo failures[] = {
        UNIT_TEST(full_file_system_fails_the_append_and_leaves_no_partial_record),
        UNIT_TEST(read_only_log_fails_the_append),
        CU_TEST_INFO_NULL,
    };
    CU_TestInfo writers[] = {
        UNIT_TEST(threads_and_processes_keep_one_chain),
        CU_TEST_INFO_NULL,
    };
    CU_SuiteInfo suites[] = {
        {"chain", NULL, NULL, NULL, NULL, chain},
        {"failures", mount_setup, mount_teardown, NULL, NULL, failures},
        {"writers", NULL, NULL, NULL, NULL, writers},
        CU_SUITE_INFO_NULL,
    };
    char cmd[300];
    int rc;

    if (mkdtemp(dir) == NULL)
        return 2;
    rc = unit_run(suites);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) != 0 ? 2 : rc;
}
