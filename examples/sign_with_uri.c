/*
 * Signs a file with a key named by a pkcs11: URI, from C, with the provider
 * loaded by OSSL_PROVIDER_load: what an application embeds.
 *
 *   sign_with_uri URI INFILE SIGFILE [sha256|sha384|sha512]
 *
 * OPENSSL_MODULES must point at the directory holding hsm.so unless it is
 * installed in OpenSSL's modules directory.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <stdio.h>
#include <stdlib.h>

static EVP_PKEY *load_key(const char *uri)
{
    OSSL_STORE_CTX *store = OSSL_STORE_open_ex(uri, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    EVP_PKEY *key = NULL;

    if (store == NULL)
        return NULL;
    /* Ask for one private key: the provider then insists on exactly one. */
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

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)size + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)size, f);
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    OSSL_PROVIDER *hsm = NULL, *dflt = NULL;
    EVP_PKEY *key = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char *data = NULL, *sig = NULL;
    size_t len = 0, siglen = 0;
    FILE *out;
    int rc = 1;

    if (argc < 4) {
        fprintf(stderr, "usage: %s URI INFILE SIGFILE [digest]\n", argv[0]);
        return 2;
    }
    hsm = OSSL_PROVIDER_load(NULL, "hsm");
    dflt = OSSL_PROVIDER_load(NULL, "default");
    if (hsm == NULL || dflt == NULL)
        goto done;
    if ((key = load_key(argv[1])) == NULL) {
        fprintf(stderr, "cannot load a private key from %s\n", argv[1]);
        goto done;
    }
    if ((data = read_file(argv[2], &len)) == NULL) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        goto done;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL ||
        EVP_DigestSignInit_ex(md, NULL, argc > 4 ? argv[4] : "SHA256", NULL, NULL, key, NULL) <=
            0 ||
        EVP_DigestSign(md, NULL, &siglen, data, len) <= 0 || (sig = malloc(siglen)) == NULL ||
        EVP_DigestSign(md, sig, &siglen, data, len) <= 0)
        goto done;
    if ((out = fopen(argv[3], "wb")) == NULL)
        goto done;
    rc = fwrite(sig, 1, siglen, out) == siglen ? 0 : 1;
    if (fclose(out) != 0)
        rc = 1;
done:
    if (rc != 0)
        ERR_print_errors_fp(stderr);
    free(sig);
    free(data);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(key);
    OSSL_PROVIDER_unload(hsm);
    OSSL_PROVIDER_unload(dflt);
    return rc;
}
