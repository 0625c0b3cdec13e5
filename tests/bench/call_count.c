/*
 * PKCS#11 calls per key load and per signature, counted from the log of
 * OpenSC's pkcs11-spy placed between the provider and the token.
 */
#include "tests/bench/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Counts the "N: C_Function" lines pkcs11-spy wrote after `offset`. */
int count_calls(const char *log, long offset, struct call_count *out, int max)
{
    FILE *f = fopen(log, "r");
    char line[512];
    int n = 0;

    if (f == NULL)
        return 0;
    fseek(f, offset, SEEK_SET);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line, name[40];
        int i;

        while (*p >= '0' && *p <= '9')
            p++;
        if (p == line || strncmp(p, ": C_", 4) != 0 || sscanf(p + 2, "%39s", name) != 1)
            continue;
        for (i = 0; i < n && strcmp(out[i].name, name) != 0; i++)
            ;
        if (i == n) {
            if (n == max)
                continue;
            snprintf(out[n].name, sizeof(out[n].name), "%s", name);
            out[n++].n = 0;
        }
        out[i].n++;
    }
    fclose(f);
    return n;
}

long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

void print_counts(const char *what, struct call_count *cc, int n, double per)
{
    printf("- %s:", what);
    for (int i = 0; i < n; i++)
        printf(" %s %.2g%s", cc[i].name, (double)cc[i].n / per, i + 1 < n ? "," : "");
    printf("%s\n", n == 0 ? " (no calls logged)" : "");
}

void report_call_counts(const struct options *o)
{
    char log[1024], why[600], uri[512];
    struct call_count cc[32];
    OSSL_LIB_CTX *ctx;
    const int nsig = 100;

    snprintf(log, sizeof(log), "%s/spy.log", o->workdir);
    setenv("PKCS11SPY", o->module, 1);
    setenv("PKCS11SPY_OUTPUT", log, 1);
    printf("\n### PKCS#11 calls through the provider (pkcs11-spy as its module; raw C_Sign makes"
           " 2 per signature: C_SignInit, C_Sign)\n\n");
    ctx =
        prov_libctx(o->workdir, "spy", o->provider_so, o->spy, true, true, NULL, why, sizeof(why));
    if (ctx == NULL) {
        printf("- skipped: the provider did not load with pkcs11-spy: %s\n", why);
        return;
    }
    for (size_t i = 0; i < 2; i++) {
        const char *label = i == 0 ? "p256" : "rsa2048";
        EVP_PKEY *pk;
        void *st;
        long before = file_size(log);
        int n;
        char what[128];

        snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private?pin-value=%s", o->token,
                 label, o->pin);
        pk = prov_load_key(ctx, uri, why, sizeof(why));
        if (pk == NULL) {
            printf("- %s: load failed: %s\n", label, why);
            continue;
        }
        EVP_PKEY_free(pk);
        /* The first load also opened and logged in a session; count the second. */
        before = file_size(log);
        pk = prov_load_key(ctx, uri, why, sizeof(why));
        n = count_calls(log, before, cc, 32);
        snprintf(what, sizeof(what), "one key load of %s (check-possession on, warm session)",
                 label);
        print_counts(what, cc, n, 1);
        st = pk != NULL ? prov_sign_state(ctx, pk, pk, why, sizeof(why)) : NULL;
        if (st == NULL) {
            EVP_PKEY_free(pk);
            continue;
        }
        before = file_size(log);
        for (int k = 0; k < nsig; k++)
            if (!prov_sign_op(st, why, sizeof(why)))
                break;
        n = count_calls(log, before, cc, 32);
        snprintf(what, sizeof(what), "per signature, %s (mean of %d)", label, nsig);
        print_counts(what, cc, n, nsig);
        prov_sign_free(st);
        EVP_PKEY_free(pk);
    }
    OSSL_LIB_CTX_free(ctx);
}
