/*
 * Opens one URI through OSSL_STORE (expecting a private key) and says what
 * happened: "loaded" and exit 0, or "refused" with the error queue and
 * exit 1. For URIs too long for a command line (Linux caps one argument at
 * 128 KiB), "@FILE" reads the URI from FILE.
 *
 *   store_probe URI | store_probe @FILE
 *
 * OPENSSL_CONF or OSSL_PROVIDER_load gives the hsm provider.
 */
#include "files.h"
#include "token_key.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    EVP_PKEY *key = NULL;
    char *uri;
    size_t len;

    if (argc != 2) {
        fprintf(stderr, "usage: %s URI|@FILE\n", argv[0]);
        return 2;
    }
    if (getenv("OPENSSL_CONF") == NULL &&
        (OSSL_PROVIDER_load(NULL, "hsm") == NULL || OSSL_PROVIDER_load(NULL, "default") == NULL)) {
        fprintf(stderr, "cannot load the hsm and default providers\n");
        ERR_print_errors_fp(stderr);
        return 2;
    }
    uri = argv[1][0] == '@' ? (char *)test_read_file(argv[1] + 1, &len) : strdup(argv[1]);
    if (uri == NULL)
        return 2;
    fprintf(stderr, "store_probe: a URI of %zu bytes\n", strlen(uri));
    key = test_load_private_key(uri, NULL);
    free(uri);
    if (key != NULL) {
        printf("loaded\n");
        EVP_PKEY_free(key);
        return 0;
    }
    printf("refused\n");
    fflush(stdout);
    ERR_print_errors_fp(stderr);
    return 1;
}
