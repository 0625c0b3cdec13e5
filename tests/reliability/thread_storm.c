/*
 * Story: a multi-threaded server signs with token keys from many threads at
 * once. Eight threads share one loaded RSA key and one loaded EC key; eight
 * more each load their own (OSSL_STORE, the same URIs, reloaded every
 * RELOAD_EVERY signatures so loads race with signatures). Every signature
 * is verified inside this program with the default provider alone, in a
 * library context of its own, under the public key read from the token by
 * pkcs11-tool (a PEM file): zero errors allowed.
 *
 *   thread_storm RSA-URI RSA-PUB.pem EC-URI EC-PUB.pem RSA-SIGS EC-SIGS [SECONDS]
 *
 * With SECONDS, every thread signs until that many seconds have passed or
 * SIGUSR1 arrives, through failures (a remote token that comes and goes);
 * the program then exits 0 when every signature verified and the last one
 * was made less than 2 s before the end (signing works again).
 *
 * The hsm provider comes from OPENSSL_CONF, or else is loaded with
 * OSSL_PROVIDER_load (OPENSSL_MODULES names its directory). Prints one
 * summary line and exits 0 only when every signature was made and verified.
 */
#include "token_key.h"

#include <errno.h>
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
#include <time.h>
#include <unistd.h>

#define SHARED_THREADS 8
#define OWN_THREADS 8
#define THREADS (SHARED_THREADS + OWN_THREADS)
#define RELOAD_EVERY 200
#define MAX_REPORTS 10
/* A thread whose token is gone stops after this many failures. */
#define MAX_ERRORS_PER_THREAD 20

struct job {
    int index;
    bool own;
    long rsa_sigs, ec_sigs;
    long made, verified, loads;
    long errors;
};

static const char *rsa_uri, *ec_uri;
static EVP_PKEY *rsa_shared, *ec_shared; /* through the provider */
static EVP_PKEY *rsa_pub, *ec_pub;       /* verification keys, default provider */
static OSSL_LIB_CTX *verify_ctx;
static atomic_int reports;
static atomic_long bad_signatures;
static double run_seconds; /* 0: count mode */
static struct timespec started;
static atomic_int stop_asked; /* lock-free: safe to set from a handler */
static atomic_llong last_verified_ns;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

/* Prints the first few failures with the error queue; counts them all. */
static void report(struct job *job, const char *what, long n)
{
    job->errors++;
    if (atomic_fetch_add(&reports, 1) >= MAX_REPORTS) {
        ERR_clear_error();
        return;
    }
    pthread_mutex_lock(&report_lock);
    fprintf(stderr, "thread %d (%s): signature %ld: %s\n", job->index,
            job->own ? "own keys" : "shared keys", n, what);
    ERR_print_errors_fp(stderr);
    pthread_mutex_unlock(&report_lock);
}

/* One signature through the provider, then one verification without it. */
static void sign_once(struct job *job, EVP_PKEY *key, EVP_PKEY *pub, long n)
{
    unsigned char data[64], sig[600];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    EVP_MD_CTX *vctx = EVP_MD_CTX_new();
    int len;

    len = snprintf((char *)data, sizeof(data), "thread %d signature %ld pid %ld", job->index, n,
                   (long)getpid());
    if (mctx == NULL || vctx == NULL) {
        report(job, "out of memory", n);
        goto done;
    }
    if (EVP_DigestSignInit_ex(mctx, NULL, "SHA256", NULL, NULL, key, NULL) <= 0 ||
        EVP_DigestSign(mctx, sig, &siglen, data, (size_t)len) <= 0) {
        report(job, "signing failed", n);
        goto done;
    }
    job->made++;
    if (EVP_DigestVerifyInit_ex(vctx, NULL, "SHA256", verify_ctx, NULL, pub, NULL) <= 0 ||
        EVP_DigestVerify(vctx, sig, siglen, data, (size_t)len) != 1) {
        atomic_fetch_add(&bad_signatures, 1);
        report(job, "SIGNATURE DOES NOT VERIFY under the token's public key", n);
        goto done;
    }
    job->verified++;
    if (run_seconds > 0) {
        struct timespec now;

        clock_gettime(CLOCK_MONOTONIC, &now);
        atomic_store(&last_verified_ns, (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    }
done:
    EVP_MD_CTX_free(mctx);
    EVP_MD_CTX_free(vctx);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static bool time_is_up(void)
{
    return atomic_load(&stop_asked) || seconds_since(&started) >= run_seconds;
}

static void on_stop(int sig)
{
    int saved = errno;

    (void)sig;
    atomic_store(&stop_asked, 1);
    errno = saved;
}

/* In timed mode a failing token is tried again after a moment: a busy
 * loop of failures would only take the machine's CPU from the server. */
static void pause_after_failure(void)
{
    struct timespec pause = {0, 5 * 1000 * 1000};

    if (run_seconds > 0) {
        ERR_clear_error();
        nanosleep(&pause, NULL);
    }
}

static void *worker(void *arg)
{
    struct job *job = arg;
    EVP_PKEY *rsa = job->own ? NULL : rsa_shared;
    EVP_PKEY *ec = job->own ? NULL : ec_shared;
    long total = job->rsa_sigs + job->ec_sigs;
    long rsa_done = 0;

    for (long n = 0;
         run_seconds > 0 ? !time_is_up() : n < total && job->errors < MAX_ERRORS_PER_THREAD; n++) {
        long errors_before = job->errors;

        /* RSA and EC interleaved in proportion, so both run all along. */
        bool use_rsa = rsa_done * total < job->rsa_sigs * (n + 1) && rsa_done < job->rsa_sigs;

        if (job->own && n % RELOAD_EVERY == 0) {
            EVP_PKEY_free(rsa);
            EVP_PKEY_free(ec);
            rsa = job->rsa_sigs > 0 ? test_load_private_key(rsa_uri, NULL) : NULL;
            ec = job->ec_sigs > 0 ? test_load_private_key(ec_uri, NULL) : NULL;
            job->loads++;
            if ((job->rsa_sigs > 0 && rsa == NULL) || (job->ec_sigs > 0 && ec == NULL)) {
                report(job, "loading the thread's own key failed", n);
                if (run_seconds == 0)
                    break;
                pause_after_failure();
                continue;
            }
        }
        if (use_rsa) {
            sign_once(job, rsa, rsa_pub, n);
            rsa_done++;
        } else {
            sign_once(job, ec, ec_pub, n);
        }
        if (job->errors > errors_before)
            pause_after_failure();
    }
    if (job->own) {
        EVP_PKEY_free(rsa);
        EVP_PKEY_free(ec);
    }
    ERR_clear_error();
    OPENSSL_thread_stop();
    return NULL;
}

int main(int argc, char **argv)
{
    struct job jobs[THREADS];
    pthread_t tids[THREADS];
    long rsa_total, ec_total, made = 0, verified = 0, errors = 0, loads = 0, expected;
    struct timespec t0, t1;
    double secs;

    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: %s RSA-URI RSA-PUB EC-URI EC-PUB RSA-SIGS EC-SIGS [SECONDS]\n",
                argv[0]);
        return 2;
    }
    if (argc == 8) {
        run_seconds = atof(argv[7]);
        signal(SIGUSR1, on_stop);
    }
    rsa_uri = argv[1];
    ec_uri = argv[3];
    rsa_total = atol(argv[5]);
    ec_total = atol(argv[6]);
    if (getenv("OPENSSL_CONF") == NULL &&
        (OSSL_PROVIDER_load(NULL, "hsm") == NULL || OSSL_PROVIDER_load(NULL, "default") == NULL)) {
        fprintf(stderr, "cannot load the hsm and default providers\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    /* Verification never goes through the provider under test. */
    verify_ctx = OSSL_LIB_CTX_new();
    if (verify_ctx == NULL || OSSL_PROVIDER_load(verify_ctx, "default") == NULL ||
        (rsa_pub = test_read_public_key(argv[2], verify_ctx)) == NULL ||
        (ec_pub = test_read_public_key(argv[4], verify_ctx)) == NULL)
        return 1;
    rsa_shared = test_load_private_key(rsa_uri, NULL);
    ec_shared = test_load_private_key(ec_uri, NULL);
    if (rsa_shared == NULL || ec_shared == NULL) {
        fprintf(stderr, "cannot load the shared keys\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }

    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (struct job){.index = i, .own = i >= SHARED_THREADS};
        jobs[i].rsa_sigs = rsa_total / THREADS + (i < rsa_total % THREADS);
        jobs[i].ec_sigs = ec_total / THREADS + (i < ec_total % THREADS);
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    started = t0;
    for (int i = 0; i < THREADS; i++) {
        if (pthread_create(&tids[i], NULL, worker, &jobs[i]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 1;
        }
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(tids[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    for (int i = 0; i < THREADS; i++) {
        made += jobs[i].made;
        verified += jobs[i].verified;
        errors += jobs[i].errors;
        loads += jobs[i].loads;
    }
    expected = rsa_total + ec_total;
    printf("thread_storm: %d threads (%d sharing one RSA-2048 and one P-256 key, %d loading "
           "their own %ld times), %ld RSA + %ld EC signatures asked, %ld made, %ld verified, "
           "%ld errors, %.1f s (%.0f signatures/s)\n",
           THREADS, SHARED_THREADS, OWN_THREADS, loads, rsa_total, ec_total, made, verified, errors,
           secs, secs > 0 ? (double)verified / secs : 0.0);
    EVP_PKEY_free(rsa_shared);
    EVP_PKEY_free(ec_shared);
    EVP_PKEY_free(rsa_pub);
    EVP_PKEY_free(ec_pub);
    OSSL_LIB_CTX_free(verify_ctx);
    if (run_seconds > 0) {
        long long end_ns = (long long)t1.tv_sec * 1000000000LL + t1.tv_nsec;
        double gap = verified > 0 ? (double)(end_ns - atomic_load(&last_verified_ns)) / 1e9 : -1;

        printf("thread_storm: timed run: %ld signatures that do not verify; the last verified "
               "one %.2f s before the end\n",
               (long)atomic_load(&bad_signatures), gap);
        return atomic_load(&bad_signatures) == 0 && verified > 0 && gap < 2.0 ? 0 : 1;
    }
    return errors == 0 && verified == expected ? 0 : 1;
}
