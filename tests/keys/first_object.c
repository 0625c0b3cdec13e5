/*
 * What a program written for OpenSSL does with a store: open a URI, take
 * the first object it gets, and use it if it is a private key. Prints the
 * first object's kind ("PKEY", "PUBKEY", "CERT", "NAME", ...) and exits 0
 * when it is a private key that signs, 1 otherwise, 2 when the store
 * could not be opened.
 *
 *   first_object URI
 *
 * The providers come from OPENSSL_CONF.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/store.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    OSSL_STORE_CTX *store;
    OSSL_STORE_INFO *info = NULL;
    EVP_PKEY *key;
    EVP_MD_CTX *md = NULL;
    unsigned char sig[1024];
    size_t siglen = sizeof(sig);
    int rc = 1;

    if (argc != 2) {
        fprintf(stderr, "usage: %s URI\n", argv[0]);
        return 2;
    }
    store = OSSL_STORE_open_ex(argv[1], NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    if (store == NULL) {
        ERR_print_errors_fp(stderr);
        return 2;
    }
    while (info == NULL && !OSSL_STORE_eof(store))
        info = OSSL_STORE_load(store);
    if (info == NULL) {
        printf("nothing\n");
        goto done;
    }
    switch (OSSL_STORE_INFO_get_type(info)) {
    case OSSL_STORE_INFO_PKEY:
        printf("PKEY\n");
        break;
    case OSSL_STORE_INFO_PUBKEY:
        printf("PUBKEY\n");
        break;
    case OSSL_STORE_INFO_CERT:
        printf("CERT\n");
        break;
    case OSSL_STORE_INFO_NAME:
        printf("NAME\n");
        break;
    default:
        printf("OTHER\n");
    }
    if (OSSL_STORE_INFO_get_type(info) != OSSL_STORE_INFO_PKEY)
        goto done;
    key = OSSL_STORE_INFO_get0_PKEY(info);
    md = EVP_MD_CTX_new();
    if (md != NULL && EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL) == 1 &&
        EVP_DigestSign(md, sig, &siglen, (const unsigned char *)"first", 5) == 1)
        rc = 0;
done:
    ERR_print_errors_fp(stderr);
    EVP_MD_CTX_free(md);
    OSSL_STORE_INFO_free(info);
    OSSL_STORE_close(store);
    return rc;
}
