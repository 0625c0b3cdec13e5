/*
 * Story: a forking server and a multi-threaded CA tool share one audit
 * log. PROCESSES child processes (each loading the key itself) and
 * THREADS threads of this process (sharing one loaded key) sign
 * SIGNATURES times each through the provider, all at once. Every signature
 * is verified here with the default provider alone, in a library context
 * of its own, under the public key read from the token; each signer writes
 * one line per signature it was given to OUT-DIR/signer-P-T.txt:
 *
 *   <SHA-256 of the digest signed> <SHA-256 of the signature>
 *
 * which is what the log's record of that signature must carry.
 *
 *   audit_signers URI PUB.pem THREADS PROCESSES SIGNATURES OUT-DIR
 *
 * The provider comes from OPENSSL_CONF (whose hsm section sets audit-log).
 * Prints one summary line; exits 0 only when every signature was made,
 * verified and written down.
 */
#include "token_key.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_PROCESSES 64

struct signer {
    int process, thread;
    long wanted, made;
    EVP_PKEY *key;
    bool failed;
};

static const char *uri, *pub_file, *out_dir;
static EVP_PKEY *pub;
static OSSL_LIB_CTX *verify_ctx;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static void report(const struct signer *s, long n, const char *what)
{
    pthread_mutex_lock(&report_lock);
    fprintf(stderr, "process %d thread %d signature %ld: %s\n", s->process, s->thread, n, what);
    ERR_print_errors_fp(stderr);
    pthread_mutex_unlock(&report_lock);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

static bool sha256_hex(const unsigned char *data, size_t len, char out[65])
{
    unsigned char md[32];

    if (!EVP_Q_digest(verify_ctx, "SHA256", NULL, data, len, md, NULL))
        return false;
    hex(md, sizeof(md), out);
    return true;
}

/* One signature through the provider, verified without it, written down. */
static bool sign_once(struct signer *s, FILE *out, long n)
{
    unsigned char msg[96], digest[32], sig[512];
    size_t siglen = sizeof(sig);
    char data_hex[65], sig_hex[65];
    EVP_MD_CTX *mctx = EVP_MD_CTX_new(), *vctx = EVP_MD_CTX_new();
    int len = snprintf((char *)msg, sizeof(msg), "pid %ld process %d thread %d signature %ld",
                       (long)getpid(), s->process, s->thread, n);
    bool ok = false;

    if (mctx == NULL || vctx == NULL) {
        report(s, n, "out of memory");
        goto done;
    }
    if (EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, s->key, NULL) <= 0 ||
        EVP_DigestSign(mctx, sig, &siglen, msg, (size_t)len) <= 0) {
        report(s, n, "signing failed");
        goto done;
    }
    if (EVP_DigestVerifyInit_ex(vctx, NULL, "SHA256", verify_ctx, NULL, pub, NULL) <= 0 ||
        EVP_DigestVerify(vctx, sig, siglen, msg, (size_t)len) != 1) {
        report(s, n, "SIGNATURE DOES NOT VERIFY under the token's public key");
        goto done;
    }
    /* The log records the digest as given to the token, hashed again. */
    if (!EVP_Q_digest(verify_ctx, "SHA256", NULL, msg, (size_t)len, digest, NULL) ||
        !sha256_hex(digest, sizeof(digest), data_hex) || !sha256_hex(sig, siglen, sig_hex) ||
        fprintf(out, "%s %s\n", data_hex, sig_hex) < 0) {
        report(s, n, "cannot write the signature down");
        goto done;
    }
    ok = true;
done:
    EVP_MD_CTX_free(mctx);
    EVP_MD_CTX_free(vctx);
    return ok;
}

static void *run_signer(void *arg)
{
    struct signer *s = arg;
    char path[4096];
    FILE *out;

    snprintf(path, sizeof(path), "%s/signer-%d-%d.txt", out_dir, s->process, s->thread);
    if ((out = fopen(path, "w")) == NULL) {
        report(s, 0, "cannot create its output file");
        s->failed = true;
        return NULL;
    }
    for (long n = 0; n < s->wanted && !s->failed; n++) {
        if (sign_once(s, out, n))
            s->made++;
        else
            s->failed = true;
    }
    if (fclose(out) != 0)
        s->failed = true;
    ERR_clear_error();
    OPENSSL_thread_stop();
    return NULL;
}

static bool setup(void)
{
    verify_ctx = OSSL_LIB_CTX_new();
    if (verify_ctx == NULL || OSSL_PROVIDER_load(verify_ctx, "default") == NULL ||
        (pub = test_read_public_key(pub_file, verify_ctx)) == NULL) {
        fprintf(stderr, "cannot read the public key %s\n", pub_file);
        return false;
    }
    return true;
}

/*
 * A child process: one signer with its own key. It says whether it loaded
 * the key on |ready| and waits for |go| to close before signing.
 */
static int child(int process, long wanted, int ready, int go)
{
    struct signer s = {.process = process, .wanted = wanted};
    char byte = 'F';

    if (setup() && (s.key = test_load_private_key(uri, NULL)) != NULL)
        byte = 'R';
    else
        report(&s, 0, "cannot load the key");
    if (write(ready, &byte, 1) != 1 || byte != 'R')
        return 1;
    while (read(go, &byte, 1) > 0)
        ;
    run_signer(&s);
    EVP_PKEY_free(s.key);
    return !s.failed && s.made == wanted ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct signer signers[MAX_THREADS];
    pthread_t tids[MAX_THREADS];
    pid_t pids[MAX_PROCESSES];
    int threads, processes, bad_children = 0, ready[2], go[2];
    long wanted, made = 0;
    EVP_PKEY *shared;
    bool failed = false;

    if (argc != 7) {
        fprintf(stderr, "usage: %s URI PUB.pem THREADS PROCESSES SIGNATURES OUT-DIR\n", argv[0]);
        return 2;
    }
    uri = argv[1];
    pub_file = argv[2];
    threads = atoi(argv[3]);
    processes = atoi(argv[4]);
    wanted = atol(argv[5]);
    out_dir = argv[6];
    if (threads < 0 || threads > MAX_THREADS || processes < 0 || processes > MAX_PROCESSES ||
        wanted < 1) {
        fprintf(stderr, "at most %d threads and %d processes, at least one signature each\n",
                MAX_THREADS, MAX_PROCESSES);
        return 2;
    }
    /*
     * The children start before this process loads anything, as a forking
     * server's workers that load their key after the fork. The loads come
     * one at a time, all before the first signature: SoftHSMv2 rewrites
     * its token file at each login, and a process initialising meanwhile
     * may find no token (without any audit log too), which is not what
     * this story is about. Closing |go| starts every signer at once.
     */
    if (pipe(ready) != 0 || pipe(go) != 0) {
        perror("pipe");
        return 1;
    }
    for (int p = 0; p < processes; p++) {
        char byte = 'F';

        pids[p] = fork();
        if (pids[p] < 0) {
            perror("fork");
            return 1;
        }
        if (pids[p] == 0) {
            close(go[1]);
            _exit(child(p + 1, wanted, ready[1], go[0]));
        }
        if (read(ready[0], &byte, 1) != 1 || byte != 'R')
            failed = true;
    }
    if (!setup() || (shared = test_load_private_key(uri, NULL)) == NULL) {
        fprintf(stderr, "cannot load the shared key\n");
        ERR_print_errors_fp(stderr);
        failed = true;
        threads = 0;
        shared = NULL;
    }
    close(go[1]);
    for (int t = 0; t < threads; t++) {
        signers[t] = (struct signer){.thread = t + 1, .wanted = wanted, .key = shared};
        if (pthread_create(&tids[t], NULL, run_signer, &signers[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            threads = t;
            failed = true;
        }
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(tids[t], NULL);
        made += signers[t].made;
        failed = failed || signers[t].failed;
    }
    for (int p = 0; p < processes; p++) {
        int status;

        if (waitpid(pids[p], &status, 0) != pids[p] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            bad_children++;
    }
    printf("audit_signers: %d threads and %d processes, %ld signatures each: %ld made and "
           "verified by the threads, %d of %d processes failed\n",
           threads, processes, wanted, made, bad_children, processes);
    EVP_PKEY_free(shared);
    EVP_PKEY_free(pub);
    OSSL_LIB_CTX_free(verify_ctx);
    return !failed && bad_children == 0 && made == wanted * threads ? 0 : 1;
}
