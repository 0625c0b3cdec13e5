/*
 * PKCS#11 calls of one warm key load (OSSL_STORE open, load, close) through
 * hsm or pkcs11-provider, counted from pkcs11-spy's log. One process per
 * count, so that the two providers never share a module's state:
 *
 *   load_calls hsm|peer PROVIDER.SO PKCS11-SPY.SO REAL-MODULE WORKDIR URI
 *
 * prints one line: "C_Name n, ..." for the second of two loads of URI (the
 * first opened and logged in the session). Counts do not depend on the
 * machine's load, unlike the times.
 */
#include "tests/bench/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    char log[1024], why[600];
    struct call_count cc[32];
    OSSL_LIB_CTX *ctx;
    EVP_PKEY *pk;
    long before;
    bool peer;
    int n;

    if (argc != 7 || (strcmp(argv[1], "hsm") != 0 && strcmp(argv[1], "peer") != 0)) {
        fprintf(stderr,
                "usage: load_calls hsm|peer PROVIDER.SO PKCS11-SPY.SO MODULE WORKDIR URI\n");
        return 2;
    }
    peer = strcmp(argv[1], "peer") == 0;
    snprintf(log, sizeof(log), "%s/load-calls-%s.log", argv[5], argv[1]);
    remove(log);
    setenv("PKCS11SPY", argv[4], 1);
    setenv("PKCS11SPY_OUTPUT", log, 1);
    ctx = peer ? peer_libctx(argv[5], "load-calls-peer", argv[2], argv[3], why, sizeof(why))
               : prov_libctx(argv[5], "load-calls-hsm", argv[2], argv[3], true, true, NULL, why,
                             sizeof(why));
    if (ctx == NULL) {
        printf("n/a (the provider did not load: %s)\n", why);
        return 1;
    }
    pk = prov_load_key(ctx, argv[6], why, sizeof(why));
    EVP_PKEY_free(pk);
    before = file_size(log);
    pk = pk != NULL ? prov_load_key(ctx, argv[6], why, sizeof(why)) : NULL;
    if (pk == NULL) {
        printf("n/a (load failed: %s)\n", why);
        OSSL_LIB_CTX_free(ctx);
        return 1;
    }
    n = count_calls(log, before, cc, 32);
    EVP_PKEY_free(pk);
    for (int i = 0; i < n; i++)
        printf("%s %ld%s", cc[i].name, cc[i].n, i + 1 < n ? ", " : "");
    printf("\n");
    OSSL_LIB_CTX_free(ctx);
    return 0;
}
