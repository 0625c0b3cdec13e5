/*
 * One process, one PIN file: the first load fails because the file holds a
 * wrong PIN; the file is corrected (as an operator would) and the second
 * load, in the same process, succeeds: the provider reads the file again
 * once it has changed.
 *
 *   load_twice URI PINFILE RIGHT-PIN
 *
 * OPENSSL_CONF activates the provider with pkcs11-module-token-pin =
 * file:PINFILE. Exit status 0 when the first load failed and the second
 * one gave the key.
 */
#include "token_key.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    EVP_PKEY *key;
    FILE *f;

    if (argc != 4) {
        fprintf(stderr, "usage: %s URI PINFILE RIGHT-PIN\n", argv[0]);
        return 2;
    }
    key = test_load_private_key(argv[1], NULL);
    if (key != NULL) {
        fprintf(stderr, "the first load should have failed (wrong PIN in the file)\n");
        EVP_PKEY_free(key);
        return 1;
    }
    ERR_print_errors_fp(stdout);
    sleep(1); /* a newer file, whatever the file system's time resolution */
    f = fopen(argv[2], "w");
    if (f == NULL || fprintf(f, "%s\n", argv[3]) < 0 || fclose(f) != 0) {
        perror(argv[2]);
        return 2;
    }
    key = test_load_private_key(argv[1], NULL);
    if (key == NULL) {
        fprintf(stderr, "the second load failed with the corrected PIN file\n");
        ERR_print_errors_fp(stderr);
        return 1;
    }
    EVP_PKEY_free(key);
    printf("the corrected PIN file was read at the next login\n");
    return 0;
}
