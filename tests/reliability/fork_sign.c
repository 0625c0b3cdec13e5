/*
 * Story: a server that loaded token keys forks (a pre-forking server, a
 * daemon, a CA that runs a helper). PKCS#11 says the child must initialise
 * the module again before any call; the provider does that by itself.
 *
 * 1. For each key: the parent signs, forks; the child signs with the key
 *    it inherited and with a key it loads afresh, the parent signs again;
 *    every signature verifies, the child exits 0.
 * 2. A thread signs in a loop with the first key while the main thread
 *    forks FORKS times; each child signs once with each key and exits 0.
 *    No child or parent may hang (each child has an alarm; the parent one
 *    for the whole run), every signature verifies.
 *
 *   fork_sign FORKS URI PUB.pem [URI PUB.pem ...]
 *
 * Verification uses the default provider alone, in a library context of
 * its own, with the public key read from the token by pkcs11-tool.
 * OPENSSL_CONF or OSSL_PROVIDER_load gives the hsm provider.
 */
#include "token_key.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_KEYS 4
#define CHILD_ALARM 30
#define RUN_ALARM 240

static int n_keys;
static const char *uris[MAX_KEYS];
static EVP_PKEY *keys[MAX_KEYS], *pubs[MAX_KEYS];
static OSSL_LIB_CTX *verify_ctx;
static atomic_bool stop;
static atomic_long thread_sigs, thread_errors;

/* Signs through the provider and verifies without it; prints why not. */
static bool sign_verify(const char *who, EVP_PKEY *key, EVP_PKEY *pub, long n)
{
    unsigned char data[80], sig[600];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new(), *vctx = EVP_MD_CTX_new();
    bool ok = false;
    int len = snprintf((char *)data, sizeof(data), "%s pid %ld n %ld", who, (long)getpid(), n);

    if (mctx == NULL || vctx == NULL)
        goto done;
    if (EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, key, NULL) <= 0 ||
        EVP_DigestSign(mctx, sig, &siglen, data, (size_t)len) <= 0) {
        fprintf(stderr, "%s (pid %ld): signature %ld failed\n", who, (long)getpid(), n);
        ERR_print_errors_fp(stderr);
        goto done;
    }
    if (EVP_DigestVerifyInit_ex(vctx, NULL, "SHA256", verify_ctx, NULL, pub, NULL) <= 0 ||
        EVP_DigestVerify(vctx, sig, siglen, data, (size_t)len) != 1) {
        fprintf(stderr, "%s (pid %ld): signature %ld DOES NOT VERIFY under the token's key\n", who,
                (long)getpid(), n);
        ERR_print_errors_fp(stderr);
        goto done;
    }
    ok = true;
done:
    EVP_MD_CTX_free(mctx);
    EVP_MD_CTX_free(vctx);
    return ok;
}

/* How a child ended, as text; true when it exited 0. */
static bool child_ok(pid_t pid, const char *what)
{
    int status;

    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return false;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return true;
    if (WIFSIGNALED(status))
        fprintf(stderr, "%s: child %ld %s\n", what, (long)pid,
                WTERMSIG(status) == SIGALRM ? "HUNG (no exit within its alarm)"
                                            : strsignal(WTERMSIG(status)));
    else
        fprintf(stderr, "%s: child %ld exited with status %d\n", what, (long)pid,
                WEXITSTATUS(status));
    return false;
}

static int phase_one(void)
{
    int failures = 0;

    for (int k = 0; k < n_keys; k++) {
        pid_t pid;

        if (!sign_verify("parent before fork", keys[k], pubs[k], k))
            failures++;
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
            perror("fork");
            return failures + 1;
        }
        if (pid == 0) {
            EVP_PKEY *fresh;
            bool ok;

            alarm(CHILD_ALARM);
            ok = sign_verify("child, inherited key", keys[k], pubs[k], k);
            fresh = test_load_private_key(uris[k], NULL);
            if (fresh == NULL) {
                fprintf(stderr, "child: loading key %d afresh failed\n", k);
                ERR_print_errors_fp(stderr);
                ok = false;
            } else {
                ok = sign_verify("child, fresh key", fresh, pubs[k], k) && ok;
                EVP_PKEY_free(fresh);
            }
            ok = sign_verify("child, inherited key again", keys[k], pubs[k], k) && ok;
            /* exit(), not _exit(): the provider's exit-time clean-up runs in
             * the child too, as in any real program. */
            exit(ok ? 0 : 1);
        }
        if (!sign_verify("parent while the child runs", keys[k], pubs[k], k))
            failures++;
        if (!child_ok(pid, "phase 1"))
            failures++;
        if (!sign_verify("parent after the child exited", keys[k], pubs[k], k))
            failures++;
    }
    printf("fork_sign: phase 1: %d key(s), parent and child signed, %d failure(s)\n", n_keys,
           failures);
    return failures;
}

static void *signer(void *arg)
{
    long n = 0;

    (void)arg;
    while (!atomic_load(&stop)) {
        if (sign_verify("signing thread", keys[0], pubs[0], n++))
            atomic_fetch_add(&thread_sigs, 1);
        else
            atomic_fetch_add(&thread_errors, 1);
    }
    OPENSSL_thread_stop();
    return NULL;
}

static int phase_two(int forks)
{
    pthread_t tid;
    int failures = 0, children_ok = 0;
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (pthread_create(&tid, NULL, signer, NULL) != 0) {
        fprintf(stderr, "pthread_create failed\n");
        return 1;
    }
    for (int i = 0; i < forks; i++) {
        pid_t pid;

        /* Let the thread get into a signature before each fork. */
        usleep(2000 + (useconds_t)(i % 7) * 700);
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
            perror("fork");
            failures++;
            break;
        }
        if (pid == 0) {
            bool ok = true;

            alarm(CHILD_ALARM);
            for (int k = 0; k < n_keys; k++)
                ok = sign_verify("child of a threaded parent", keys[k], pubs[k], i) && ok;
            exit(ok ? 0 : 1);
        }
        if (child_ok(pid, "phase 2"))
            children_ok++;
        else
            failures++;
    }
    atomic_store(&stop, true);
    pthread_join(tid, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    failures += (int)atomic_load(&thread_errors);
    printf("fork_sign: phase 2: %d forks while a thread signed: %d children signed with %d "
           "key(s) and exited 0, the thread made %ld verified signatures with %ld errors, "
           "%.1f s\n",
           forks, children_ok, n_keys, atomic_load(&thread_sigs), atomic_load(&thread_errors),
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return failures;
}

int main(int argc, char **argv)
{
    int forks, failures;

    if (argc < 4 || argc % 2 != 0 || (argc - 2) / 2 > MAX_KEYS) {
        fprintf(stderr, "usage: %s FORKS URI PUB.pem [URI PUB.pem ...]\n", argv[0]);
        return 2;
    }
    alarm(RUN_ALARM);
    forks = atoi(argv[1]);
    if (getenv("OPENSSL_CONF") == NULL &&
        (OSSL_PROVIDER_load(NULL, "hsm") == NULL || OSSL_PROVIDER_load(NULL, "default") == NULL)) {
        fprintf(stderr, "cannot load the hsm and default providers\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    verify_ctx = OSSL_LIB_CTX_new();
    if (verify_ctx == NULL || OSSL_PROVIDER_load(verify_ctx, "default") == NULL)
        return 1;
    for (int i = 2; i < argc; i += 2) {
        uris[n_keys] = argv[i];
        keys[n_keys] = test_load_private_key(argv[i], NULL);
        pubs[n_keys] = test_read_public_key(argv[i + 1], verify_ctx);
        if (keys[n_keys] == NULL || pubs[n_keys] == NULL) {
            fprintf(stderr, "cannot load key %d or %s\n", n_keys, argv[i + 1]);
            ERR_print_errors_fp(stderr);
            return 1;
        }
        n_keys++;
    }
    failures = phase_one();
    if (forks > 0)
        failures += phase_two(forks);
    else
        printf("fork_sign: phase 2 not run\n");
    for (int k = 0; k < n_keys; k++) {
        EVP_PKEY_free(keys[k]);
        EVP_PKEY_free(pubs[k]);
    }
    OSSL_LIB_CTX_free(verify_ctx);
    printf("fork_sign: %d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
