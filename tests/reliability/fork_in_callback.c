/*
 * Story: the application's passphrase callback forks. A server asked for
 * the token PIN by the provider (no PIN in the URI or the configuration)
 * runs a helper to get it, as Apache httpd's `SSLPassPhraseDialog exec:`
 * and pinentry-style prompts do: fork, the child exec's a program that
 * prints the PIN into a pipe, the parent reads it and waits for the child.
 * The provider calls back from inside a load, so its pthread_atfork
 * handlers run in the very thread that is inside the provider.
 *
 *   fork_in_callback fork|refuse THREADS PINFILE URI PUB.pem [URI PUB.pem ...]
 *
 * fork: THREADS threads start together; each loads every key through
 * OSSL_STORE_open_ex with a UI_METHOD whose reader runs `/bin/cat PINFILE`
 * in a forked child, signs with it and verifies the signature in a library
 * context that has only the default provider, with the public key read
 * from the token. Succeeds when every load and signature did and at least
 * one PIN came from a forked child. refuse: the reader gives no PIN; the
 * first load must fail (the provider's reason is printed), proving that
 * no PIN was available anywhere else. The whole run has an alarm: a hang
 * is reported as one.
 */
#include "token_key.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/ui.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_KEYS 4
#define MAX_THREADS 64
#define RUN_ALARM 60

static int n_keys;
static const char *uris[MAX_KEYS];
static EVP_PKEY *pubs[MAX_KEYS];
static const char *pin_file;
static OSSL_LIB_CTX *verify_ctx;
static pthread_barrier_t start_line;
static atomic_int prompts, children, loads, signatures, failures;

static void on_alarm(int sig)
{
    static const char msg[] = "fork_in_callback: HUNG: no end within the run's alarm\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof(msg) - 1);

    (void)sig;
    (void)w;
    _exit(3);
}

/* Runs `/bin/cat PINFILE` in a child whose stdout is a pipe, reads what it
 * printed and waits for it: what `SSLPassPhraseDialog exec:` does. */
static bool pin_from_child(char *pin, size_t size)
{
    int fds[2], status = 0;
    size_t len = 0;
    ssize_t got;
    pid_t pid;

    /* Close-on-exec: a child another thread forks meanwhile must not keep
     * this pipe's write end open (the read below would never see EOF). */
    if (pipe2(fds, O_CLOEXEC) != 0) {
        perror("pipe2");
        return false;
    }
    pid = fork();
    if (pid < 0) {
        perror("fork");
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        /* Async-signal-safe calls only: the parent has other threads. */
        if (dup2(fds[1], STDOUT_FILENO) < 0)
            _exit(126);
        execl("/bin/cat", "cat", pin_file, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    while (len + 1 < size) {
        got = read(fds[0], pin + len, size - 1 - len);
        if (got > 0)
            len += (size_t)got;
        else if (got == 0 || errno != EINTR)
            break;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            perror("waitpid");
            return false;
        }
    atomic_fetch_add(&children, 1);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "the PIN helper ended with status 0x%x\n", (unsigned)status);
        return false;
    }
    while (len > 0 && (pin[len - 1] == '\n' || pin[len - 1] == '\r'))
        len--;
    pin[len] = '\0';
    return len > 0;
}

static int read_pin(UI *ui, UI_STRING *uis)
{
    char pin[128];
    int ok;

    if (UI_get_string_type(uis) != UIT_PROMPT && UI_get_string_type(uis) != UIT_VERIFY)
        return 1;
    atomic_fetch_add(&prompts, 1);
    if (UI_get0_user_data(ui) == NULL || !pin_from_child(pin, sizeof(pin)))
        return 0; /* refuse mode, or the helper failed: no PIN */
    ok = UI_set_result(ui, uis, pin) >= 0;
    OPENSSL_cleanse(pin, sizeof(pin));
    return ok ? 1 : -1;
}

static bool sign_verify(EVP_PKEY *key, EVP_PKEY *pub, int thread, int k)
{
    unsigned char data[64], sig[600];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new(), *vctx = EVP_MD_CTX_new();
    int len = snprintf((char *)data, sizeof(data), "thread %d key %d", thread, k);
    bool ok = false;

    if (mctx == NULL || vctx == NULL)
        goto done;
    if (EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, key, NULL) <= 0 ||
        EVP_DigestSign(mctx, sig, &siglen, data, (size_t)len) <= 0) {
        fprintf(stderr, "thread %d: signing with key %d failed\n", thread, k);
        ERR_print_errors_fp(stderr);
        goto done;
    }
    if (EVP_DigestVerifyInit_ex(vctx, NULL, "SHA256", verify_ctx, NULL, pub, NULL) <= 0 ||
        EVP_DigestVerify(vctx, sig, siglen, data, (size_t)len) != 1) {
        fprintf(stderr, "thread %d: the signature by key %d DOES NOT VERIFY\n", thread, k);
        ERR_print_errors_fp(stderr);
        goto done;
    }
    ok = true;
done:
    EVP_MD_CTX_free(mctx);
    EVP_MD_CTX_free(vctx);
    return ok;
}

struct worker {
    int id;
    UI_METHOD *ui;
    void *ui_data;
    pthread_t tid;
};

static void *load_and_sign(void *arg)
{
    struct worker *w = arg;

    pthread_barrier_wait(&start_line);
    for (int k = 0; k < n_keys; k++) {
        EVP_PKEY *key = test_load_private_key_ui(uris[k], NULL, w->ui, w->ui_data);

        if (key == NULL) {
            fprintf(stderr, "thread %d: loading key %d failed\n", w->id, k);
            ERR_print_errors_fp(stderr);
            atomic_fetch_add(&failures, 1);
            continue;
        }
        atomic_fetch_add(&loads, 1);
        if (sign_verify(key, pubs[k], w->id, k))
            atomic_fetch_add(&signatures, 1);
        else
            atomic_fetch_add(&failures, 1);
        EVP_PKEY_free(key);
    }
    OPENSSL_thread_stop();
    return NULL;
}

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s fork|refuse THREADS PINFILE URI PUB.pem [URI PUB.pem ...]\n", prog);
    return 2;
}

int main(int argc, char **argv)
{
    static struct worker workers[MAX_THREADS];
    int n_threads, started = 0;
    bool refuse;
    UI_METHOD *ui;

    if (argc < 6 || (argc - 4) % 2 != 0 || (argc - 4) / 2 > MAX_KEYS)
        return usage(argv[0]);
    refuse = strcmp(argv[1], "refuse") == 0;
    if (!refuse && strcmp(argv[1], "fork") != 0)
        return usage(argv[0]);
    n_threads = atoi(argv[2]);
    if (n_threads < 1 || n_threads > MAX_THREADS)
        return usage(argv[0]);
    pin_file = argv[3];
    signal(SIGALRM, on_alarm);
    alarm(RUN_ALARM);

    verify_ctx = OSSL_LIB_CTX_new();
    if (verify_ctx == NULL || OSSL_PROVIDER_load(verify_ctx, "default") == NULL) {
        fprintf(stderr, "no default provider for verification\n");
        return 2;
    }
    for (int i = 4; i < argc; i += 2) {
        uris[n_keys] = argv[i];
        pubs[n_keys] = test_read_public_key(argv[i + 1], verify_ctx);
        if (pubs[n_keys++] == NULL)
            return 2;
    }
    ui = UI_create_method("fork_in_callback");
    if (ui == NULL || UI_method_set_reader(ui, read_pin) != 0)
        return 2;

    if (refuse) {
        struct worker w = {.id = 0, .ui = ui, .ui_data = NULL};
        EVP_PKEY *key = test_load_private_key_ui(uris[0], NULL, w.ui, w.ui_data);

        ERR_print_errors_fp(stderr);
        printf("fork_in_callback: refuse: %d prompt(s), the load %s\n", atomic_load(&prompts),
               key == NULL ? "failed" : "SUCCEEDED");
        EVP_PKEY_free(key);
        return key == NULL ? 1 : 0;
    }

    if (pthread_barrier_init(&start_line, NULL, (unsigned)n_threads) != 0)
        return 2;
    for (int t = 0; t < n_threads; t++) {
        workers[t] = (struct worker){.id = t, .ui = ui, .ui_data = (void *)pin_file};
        if (pthread_create(&workers[t].tid, NULL, load_and_sign, &workers[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 2; /* the others wait at the start line: exit ends them */
        }
        started++;
    }
    for (int t = 0; t < started; t++)
        pthread_join(workers[t].tid, NULL);
    printf("fork_in_callback: %d thread(s), %d key(s): %d load(s), %d verified signature(s), "
           "%d prompt(s), %d PIN(s) from a forked child, %d failure(s)\n",
           n_threads, n_keys, atomic_load(&loads), atomic_load(&signatures), atomic_load(&prompts),
           atomic_load(&children), atomic_load(&failures));
    UI_destroy_method(ui);
    for (int k = 0; k < n_keys; k++)
        EVP_PKEY_free(pubs[k]);
    OSSL_LIB_CTX_free(verify_ctx);
    return atomic_load(&failures) == 0 && atomic_load(&children) > 0 ? 0 : 1;
}
