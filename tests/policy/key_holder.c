/*
 * A long-lived process that holds keys loaded through the provider, as a
 * CA server would, and takes commands on stdin so that a test can change
 * the token from another process between operations:
 *
 *   load NAME URI           load one private key (OSSL_STORE, expect PKEY)
 *   pub NAME FILE           write the public key the caller was given (PEM)
 *   sign NAME IN OUT [MD]   EVP_DigestSign IN with the key, write OUT
 *   repeat NAME COUNT IN    COUNT signatures of IN (SHA-256), kept nowhere
 *   hammer NAME MS IN OUT   signatures of IN for MS milliseconds, going on
 *                           after refusals (a busy server); the last one
 *                           that came back is written to OUT; answers
 *                           "ok hammer SIGNED REFUSED"
 *   drop NAME               free the key
 *   quit
 *
 * Each command answers one line: "ok ..." or "err <reason texts>".
 * OPENSSL_CONF (or OSSL_PROVIDER_load of "hsm" and "default") provides the
 * provider; OPENSSL_MODULES names its directory.
 */
#include "files.h"
#include "token_key.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_KEYS 16

static struct {
    char name[32];
    EVP_PKEY *key;
} keys[MAX_KEYS];

/* The error queue on one line: the reasons and details a person reads. */
static void answer_error(const char *what)
{
    unsigned long e;
    const char *data, *file, *func;
    int line, flags;

    printf("err %s", what);
    while ((e = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
        char buf[256];

        ERR_error_string_n(e, buf, sizeof(buf));
        printf(" | %s", buf);
        if ((flags & ERR_TXT_STRING) && data != NULL)
            printf(": %s", data);
    }
    printf("\n");
    fflush(stdout);
}

static int slot_of(const char *name, int create)
{
    for (int i = 0; i < MAX_KEYS; i++)
        if (keys[i].key != NULL && strcmp(keys[i].name, name) == 0)
            return i;
    if (!create)
        return -1;
    for (int i = 0; i < MAX_KEYS; i++) {
        if (keys[i].key == NULL) {
            snprintf(keys[i].name, sizeof(keys[i].name), "%s", name);
            return i;
        }
    }
    return -1;
}

static void cmd_sign(const char *name, const char *in, const char *out, const char *md)
{
    int i = slot_of(name, 0);
    unsigned char *data = NULL, *sig = NULL;
    size_t len = 0, siglen = 0;
    EVP_MD_CTX *ctx = NULL;
    FILE *f;

    remove(out); /* a failed signature must leave no file behind */
    if (i < 0 || (data = test_read_file(in, &len)) == NULL) {
        answer_error("sign: no such key or input");
        return;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestSignInit_ex(ctx, NULL, md, NULL, NULL, keys[i].key, NULL) <= 0 ||
        EVP_DigestSign(ctx, NULL, &siglen, data, len) <= 0 || (sig = malloc(siglen)) == NULL ||
        EVP_DigestSign(ctx, sig, &siglen, data, len) <= 0) {
        answer_error("sign");
    } else if ((f = fopen(out, "wb")) == NULL || fwrite(sig, 1, siglen, f) != siglen ||
               fclose(f) != 0) {
        answer_error("sign: cannot write");
    } else {
        printf("ok sign %zu\n", siglen);
        fflush(stdout);
    }
    EVP_MD_CTX_free(ctx);
    free(sig);
    free(data);
}

/* COUNT signatures of IN in a row: a long-running signer, as the provider
 * sees one. Stops at the first refusal. */
static void cmd_repeat(const char *name, const char *count, const char *in)
{
    int i = slot_of(name, 0);
    long n = strtol(count, NULL, 10), done = 0;
    unsigned char *data = NULL, sig[1024];
    size_t len = 0, siglen;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (i < 0 || n <= 0 || ctx == NULL || (data = test_read_file(in, &len)) == NULL) {
        answer_error("repeat: no such key or input");
        EVP_MD_CTX_free(ctx);
        return;
    }
    for (; done < n; done++) {
        siglen = sizeof(sig);
        if (EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, keys[i].key, NULL) <= 0 ||
            EVP_DigestSign(ctx, sig, &siglen, data, len) <= 0)
            break;
    }
    if (done < n) {
        answer_error("repeat");
    } else {
        printf("ok repeat %ld\n", done);
        fflush(stdout);
    }
    EVP_MD_CTX_free(ctx);
    free(data);
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

/* Signatures for MS milliseconds, refusals counted and gone past, as each
 * request of a server under load would; ERR is cleared between them. */
static void cmd_hammer(const char *name, const char *ms, const char *in, const char *out)
{
    int i = slot_of(name, 0);
    long limit = strtol(ms, NULL, 10), signed_ok = 0, refused = 0;
    unsigned char *data = NULL, sig[1024], last[1024];
    size_t len = 0, siglen, lastlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    struct timespec start;
    FILE *f;

    if (i < 0 || limit <= 0 || ctx == NULL || (data = test_read_file(in, &len)) == NULL) {
        answer_error("hammer: no such key or input");
        EVP_MD_CTX_free(ctx);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (elapsed_ms(&start) < limit) {
        siglen = sizeof(sig);
        if (EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, keys[i].key, NULL) > 0 &&
            EVP_DigestSign(ctx, sig, &siglen, data, len) > 0) {
            signed_ok++;
            memcpy(last, sig, siglen);
            lastlen = siglen;
        } else {
            refused++;
        }
        ERR_clear_error();
    }
    if (lastlen > 0 && (f = fopen(out, "wb")) != NULL) {
        fwrite(last, 1, lastlen, f);
        fclose(f);
    }
    printf("ok hammer %ld %ld\n", signed_ok, refused);
    fflush(stdout);
    EVP_MD_CTX_free(ctx);
    free(data);
}

int main(void)
{
    char line[4096];

    if (getenv("OPENSSL_CONF") == NULL &&
        (OSSL_PROVIDER_load(NULL, "hsm") == NULL || OSSL_PROVIDER_load(NULL, "default") == NULL)) {
        answer_error("provider");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char cmd[16] = "", a[32] = "", b[2048] = "", c[1024] = "", d[1024] = "SHA256";
        int n;

        line[strcspn(line, "\n")] = '\0';
        n = sscanf(line, "%15s %31s %2047s %1023s %1023s", cmd, a, b, c, d);
        if (n < 1)
            continue;
        if (strcmp(cmd, "quit") == 0) {
            break;
        } else if (strcmp(cmd, "load") == 0 && n >= 3) {
            EVP_PKEY *key = test_load_private_key(b, NULL);
            int i;

            if (key == NULL) {
                answer_error("load");
                continue;
            }
            if ((i = slot_of(a, 0)) >= 0)
                EVP_PKEY_free(keys[i].key);
            else
                i = slot_of(a, 1);
            keys[i].key = key;
            printf("ok load %s\n", a);
        } else if (strcmp(cmd, "pub") == 0 && n >= 3) {
            int i = slot_of(a, 0);
            FILE *f = i >= 0 ? fopen(b, "w") : NULL;

            if (f == NULL || !PEM_write_PUBKEY(f, keys[i].key)) {
                if (f != NULL)
                    fclose(f);
                answer_error("pub");
                continue;
            }
            fclose(f);
            printf("ok pub\n");
        } else if (strcmp(cmd, "sign") == 0 && n >= 4) {
            cmd_sign(a, b, c, d);
            continue;
        } else if (strcmp(cmd, "repeat") == 0 && n >= 4) {
            cmd_repeat(a, b, c);
            continue;
        } else if (strcmp(cmd, "hammer") == 0 && n >= 5) {
            cmd_hammer(a, b, c, d);
            continue;
        } else if (strcmp(cmd, "drop") == 0 && n >= 2) {
            int i = slot_of(a, 0);

            if (i >= 0) {
                EVP_PKEY_free(keys[i].key);
                keys[i].key = NULL;
            }
            printf("ok drop\n");
        } else {
            printf("err unknown command\n");
        }
        fflush(stdout);
    }
    for (int i = 0; i < MAX_KEYS; i++)
        EVP_PKEY_free(keys[i].key);
    return 0;
}
