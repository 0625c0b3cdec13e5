#include "token_key.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/store.h>
#include <stdio.h>

EVP_PKEY *test_load_private_key(const char *uri, OSSL_LIB_CTX *libctx)
{
    return test_load_private_key_ui(uri, libctx, NULL, NULL);
}

EVP_PKEY *test_load_private_key_ui(const char *uri, OSSL_LIB_CTX *libctx, const UI_METHOD *ui,
                                   void *ui_data)
{
    OSSL_STORE_CTX *store = OSSL_STORE_open_ex(uri, libctx, NULL, ui, ui_data, NULL, NULL, NULL);
    EVP_PKEY *key = NULL;

    if (store == NULL)
        return NULL;
    if (OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY)) {
        while (key == NULL && !OSSL_STORE_eof(store)) {
            OSSL_STORE_INFO *info = OSSL_STORE_load(store);

            if (info == NULL)
                break;
            if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
                key = OSSL_STORE_INFO_get1_PKEY(info);
            OSSL_STORE_INFO_free(info);
        }
    }
    OSSL_STORE_close(store);
    return key;
}

EVP_PKEY *test_read_public_key(const char *path, OSSL_LIB_CTX *libctx)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *pub;

    if (f == NULL) {
        perror(path);
        return NULL;
    }
    pub = PEM_read_PUBKEY_ex(f, NULL, NULL, NULL, libctx, NULL);
    fclose(f);
    if (pub == NULL) {
        fprintf(stderr, "%s: not a PEM public key\n", path);
        ERR_print_errors_fp(stderr);
    }
    return pub;
}
