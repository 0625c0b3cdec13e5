/*
 * PIN files: what is read, what is refused, and that no refusal blocks or
 * quotes the file's content. Files live in a mkdtemp directory.
 */
#include "tests/unit/unit.h"

#include "cache/error.h"
#include "uri/pin_source.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/hsm-unit-pin-XXXXXX";
static char made[32][PATH_MAX];
static size_t nmade;

static int remove_dir(void)
{
    int rc = 0;

    for (size_t i = nmade; i > 0; i--)
        rc |= remove(made[i - 1]);
    return rc | rmdir(dir);
}

static const char *remember(const char *name)
{
    if (nmade == sizeof(made) / sizeof(made[0]))
        return NULL;
    snprintf(made[nmade], sizeof(made[0]), "%s/%s", dir, name);
    return made[nmade++];
}

/* Writes |len| bytes to a new file |name| with |mode|; returns its path. */
static const char *pin_file(const char *name, const void *data, size_t len, mode_t mode)
{
    const char *path = remember(name);
    int fd;

    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
    CU_ASSERT_FATAL(fchmod(fd, mode) == 0);
    close(fd);
    return path;
}

static void expect_pin(const char *source, bool allow_shared, const char *want)
{
    char *pin = hsm_pin_from_source(source, allow_shared);

    CU_ASSERT_PTR_NOT_NULL_FATAL(pin);
    CU_ASSERT_STRING_EQUAL(pin, want);
    hsm_pin_free(pin);
}

static void expect_refused(const char *source, bool allow_shared)
{
    char *pin = hsm_pin_from_source(source, allow_shared);

    CU_ASSERT_PTR_NULL(pin);
    hsm_pin_free(pin);
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_PIN_SOURCE);
}

static void newline_is_dropped(void)
{
    expect_pin(pin_file("lf", "1234\n", 5, 0600), false, "1234");
}

static void crlf_is_dropped(void)
{
    expect_pin(pin_file("crlf", "1234\r\n", 6, 0600), false, "1234");
}

static void no_newline_is_kept_whole(void)
{
    expect_pin(pin_file("bare", "1234", 4, 0600), false, "1234");
}

static void only_one_newline_is_dropped(void)
{
    /* Inner characters (a space, a second line) are the user's business. */
    expect_pin(pin_file("space", "12 34\n", 6, 0600), false, "12 34");
    expect_pin(pin_file("owner-read", "abcd\n", 5, 0400), false, "abcd");
}

static void empty_file_is_refused(void)
{
    expect_refused(pin_file("empty", "", 0, 0600), false);
    expect_refused(pin_file("just-lf", "\n", 1, 0600), false);
    expect_refused(pin_file("just-crlf", "\r\n", 2, 0600), false);
}

static void nul_byte_is_refused(void)
{
    expect_refused(pin_file("nul",
                            "12\0"
                            "34\n",
                            6, 0600),
                   false);
}

static void shared_file_is_refused(void)
{
    const char *path = pin_file("shared", "S3cr3tPin\n", 10, 0644);

    expect_refused(path, false);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "chmod 600");
    UNIT_ASSERT_LACKS(hsm_error_last_detail(), "S3cr3tPin");
    expect_refused(pin_file("group", "1234\n", 5, 0640), false);
    expect_refused(pin_file("other-write", "1234\n", 5, 0602), false);
}

static void shared_file_is_read_when_allowed(void)
{
    expect_pin(pin_file("shared-ok", "1234\n", 5, 0644), true, "1234");
}

static void directory_is_refused(void)
{
    const char *path = remember("subdir");

    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_FATAL(mkdir(path, 0700) == 0);
    expect_refused(path, false);
    expect_refused(path, true);
}

static void fifo_is_refused_without_hanging(void)
{
    const char *path = remember("fifo");

    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_FATAL(mkfifo(path, 0600) == 0);
    /* No writer ever opens it: a blocking open or read would hang here, and
     * the alarm's default action ends the program with a failure. */
    alarm(10);
    expect_refused(path, false);
    expect_refused(path, true);
    alarm(0);
}

static void large_file_is_refused(void)
{
    static char big[10 * 1024];

    memset(big, '7', sizeof(big));
    expect_refused(pin_file("10k", big, sizeof(big), 0600), false);
}

static void longest_pin_is_accepted(void)
{
    char buf[HSM_PIN_MAX + 2];
    char want[HSM_PIN_MAX + 1];

    memset(buf, 'a', sizeof(buf));
    buf[HSM_PIN_MAX] = '\n';
    memset(want, 'a', HSM_PIN_MAX);
    want[HSM_PIN_MAX] = '\0';
    expect_pin(pin_file("max-lf", buf, HSM_PIN_MAX + 1, 0600), false, want);
    expect_pin(pin_file("max", buf, HSM_PIN_MAX, 0600), false, want);
    /* One byte more that is not a newline is too long. */
    buf[HSM_PIN_MAX] = 'a';
    expect_refused(pin_file("max-plus-one", buf, HSM_PIN_MAX + 1, 0600), false);
    buf[HSM_PIN_MAX + 1] = '\n';
    expect_refused(pin_file("max-plus-one-lf", buf, HSM_PIN_MAX + 2, 0600), false);
}

static void relative_path_is_refused(void)
{
    expect_refused("pin.txt", false);
    expect_refused("./pin.txt", false);
    expect_refused("file:pin.txt", false);
    expect_refused("", false);
}

static void missing_file_is_refused(void)
{
    char path[PATH_MAX];

    snprintf(path, sizeof(path), "%s/does-not-exist", dir);
    expect_refused(path, false);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "does-not-exist");
}

static void file_uri_forms_are_accepted(void)
{
    const char *path = pin_file("uri-forms", "9876\n", 5, 0600);
    char source[PATH_MAX + 16];

    expect_pin(path, false, "9876");
    snprintf(source, sizeof(source), "file:%s", path);
    expect_pin(source, false, "9876");
    snprintf(source, sizeof(source), "file://%s", path);
    expect_pin(source, false, "9876");
}

static void symbolic_link_is_refused(void)
{
    const char *target = pin_file("link-target", "1234\n", 5, 0600);
    const char *link = remember("link");

    CU_ASSERT_PTR_NOT_NULL_FATAL(link);
    CU_ASSERT_FATAL(symlink(target, link) == 0);
    expect_refused(link, false);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "symbolic link");
    expect_refused(link, true);
    /* The file itself is fine. */
    expect_pin(target, false, "1234");
}

#define NOBODY 65534

/* Needs root to give a file away; as another user the rule is shown by a
 * file that user owns (this one), which passes everywhere else. */
static void other_owner_is_refused(void)
{
    const char *path = pin_file("given-away", "1234\n", 5, 0600);

    if (geteuid() != 0) {
        fprintf(stderr, "(other_owner_is_refused: not root, cannot chown; skipped)\n");
        return;
    }
    CU_ASSERT_FATAL(chown(path, NOBODY, NOBODY) == 0);
    expect_refused(path, false);
    UNIT_ASSERT_CONTAINS(hsm_error_last_detail(), "owned by uid 65534");
    expect_refused(path, true);
}

/* A process that is not root reads a PIN file root owns (a server's child
 * reading what the administrator wrote), when its mode lets it. */
static void root_owned_file_is_read_by_another_user(void)
{
    const char *path = pin_file("root-owned", "4321\n", 5, 0644);
    pid_t pid;
    int status = 0;

    if (geteuid() != 0) {
        fprintf(stderr, "(root_owned_file_is_read_by_another_user: not root; skipped)\n");
        return;
    }
    CU_ASSERT_FATAL(chmod(dir, 0711) == 0); /* the child may pass through */
    pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        char *pin;
        int ok;

        if (setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(3);
        pin = hsm_pin_from_source(path, true);
        ok = pin != NULL && strcmp(pin, "4321") == 0;
        hsm_pin_free(pin);
        _exit(ok ? 0 : 1);
    }
    CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
    CU_ASSERT(chmod(dir, 0700) == 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void inline_pin_is_copied(void)
{
    char *pin = hsm_pin_dup("1234");
    char big[HSM_PIN_MAX + 2];

    CU_ASSERT_PTR_NOT_NULL_FATAL(pin);
    CU_ASSERT_STRING_EQUAL(pin, "1234");
    hsm_pin_free(pin);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pin = hsm_pin_dup(big);
    CU_ASSERT_PTR_NULL(pin);
    hsm_pin_free(pin);
    CU_ASSERT_EQUAL(hsm_error_last_reason(), HSM_R_PIN_SOURCE);
    hsm_pin_free(NULL);
}

static CU_TestInfo read_tests[] = {
    UNIT_TEST(newline_is_dropped),
    UNIT_TEST(crlf_is_dropped),
    UNIT_TEST(no_newline_is_kept_whole),
    UNIT_TEST(only_one_newline_is_dropped),
    UNIT_TEST(longest_pin_is_accepted),
    UNIT_TEST(file_uri_forms_are_accepted),
    UNIT_TEST(shared_file_is_read_when_allowed),
    UNIT_TEST(inline_pin_is_copied),
    UNIT_TEST(root_owned_file_is_read_by_another_user),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo refuse_tests[] = {
    UNIT_TEST(empty_file_is_refused),
    UNIT_TEST(nul_byte_is_refused),
    UNIT_TEST(shared_file_is_refused),
    UNIT_TEST(directory_is_refused),
    UNIT_TEST(fifo_is_refused_without_hanging),
    UNIT_TEST(large_file_is_refused),
    UNIT_TEST(relative_path_is_refused),
    UNIT_TEST(missing_file_is_refused),
    UNIT_TEST(symbolic_link_is_refused),
    UNIT_TEST(other_owner_is_refused),
    CU_TEST_INFO_NULL,
};

int main(void)
{
    CU_SuiteInfo suites[] = {
        {"pin_source_read", NULL, NULL, NULL, NULL, read_tests},
        {"pin_source_refuse", NULL, NULL, NULL, NULL, refuse_tests},
        CU_SUITE_INFO_NULL,
    };
    int rc;

    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    rc = unit_run(suites);
    if (remove_dir() != 0) {
        fprintf(stderr, "cannot remove %s\n", dir);
        rc = 1;
    }
    return rc;
}
