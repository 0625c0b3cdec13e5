/*
 * libFuzzer target: the provider's whole load path against a module whose
 * answers come from the fuzz input (fake_module.c): slot and token
 * enumeration, the login, the object search, attribute reads and their
 * lengths, the public views and their cross-check, SPKI and key
 * conversions, the possession proof, and a first signature.
 *
 * The provider is built into this program and added as a built-in
 * provider of its own library context, configured for the fake module.
 * Besides the sanitizers' findings, the target aborts when the promise
 * breaks: a key handed out whose public half is not the key the token
 * signs with, or a signature returned that the default provider does not
 * verify with that public key.
 */
#include "fake_module.h"

#include <dlfcn.h>
#include <openssl/core.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int OSSL_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                       const OSSL_DISPATCH **out, void **provctx);

static OSSL_LIB_CTX *with_hsm, *plain;

static void must(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "fuzz_module: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char cnf[] = "/tmp/hsm-fuzz-module-XXXXXX";
    Dl_info info;
    FILE *f;
    int fd;

    (void)argc;
    (void)argv;
    must(dladdr((void *)fake_module_feed, &info) != 0 && info.dli_fname != NULL,
         "the fake module's path");
    must((fd = mkstemp(cnf)) >= 0 && (f = fdopen(fd, "w")) != NULL, "a configuration file");
    /* One attempt a millisecond at most after a failure: the bounded
     * retry must not hide the module's answers from the fuzzer. */
    fprintf(f,
            "openssl_conf = init\n[init]\nproviders = providers\n[providers]\n"
            "hsm = hsm_sect\ndefault = default_sect\n[default_sect]\nactivate = 1\n"
            "[hsm_sect]\npkcs11-module-path = %s\nretry-interval-min-ms = 1\n"
            "retry-interval-max-ms = 1\nactivate = 1\n",
            info.dli_fname);
    fclose(f);
    with_hsm = OSSL_LIB_CTX_new();
    plain = OSSL_LIB_CTX_new();
    must(with_hsm != NULL && plain != NULL && OSSL_PROVIDER_load(plain, "default") != NULL,
         "library contexts");
    must(OSSL_PROVIDER_add_builtin(with_hsm, "hsm", OSSL_provider_init) == 1 &&
             OSSL_LIB_CTX_load_config(with_hsm, cnf) == 1,
         "the provider, built in and configured");
    unlink(cnf);
    must(fake_module_public_key() != NULL, "the fake token's key");
    return 0;
}

/* The public half the store handed out is the token's key. */
static void check_key(EVP_PKEY *key)
{
    unsigned char *a = NULL, *b = NULL;
    int alen = i2d_PUBKEY(key, &a), blen = i2d_PUBKEY((EVP_PKEY *)fake_module_public_key(), &b);

    must(alen > 0 && alen == blen && memcmp(a, b, (size_t)alen) == 0,
         "the key handed out is not the key the token signs with");
    OPENSSL_free(a);
    OPENSSL_free(b);
}

/* A signature that came back verifies, with the default provider alone. */
static void sign_and_check(EVP_PKEY *key)
{
    static const unsigned char data[] = "fuzz_module's data to sign";
    unsigned char sig[256];
    size_t siglen = sizeof(sig);
    EVP_MD_CTX *md = EVP_MD_CTX_new(), *vmd = EVP_MD_CTX_new();
    EVP_PKEY *pub = (EVP_PKEY *)fake_module_public_key();

    if (md != NULL && vmd != NULL &&
        EVP_DigestSignInit_ex(md, NULL, "SHA256", with_hsm, NULL, key, NULL) == 1 &&
        EVP_DigestSign(md, sig, &siglen, data, sizeof(data)) == 1)
        must(EVP_DigestVerifyInit_ex(vmd, NULL, "SHA256", plain, NULL, pub, NULL) == 1 &&
                 EVP_DigestVerify(vmd, sig, siglen, data, sizeof(data)) == 1,
             "a signature was returned that does not verify");
    EVP_MD_CTX_free(md);
    EVP_MD_CTX_free(vmd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    OSSL_STORE_CTX *store;
    OSSL_STORE_INFO *info = NULL;

    fake_module_feed(data, size);
    store = OSSL_STORE_open_ex("pkcs11:token=fuzz;id=%01;type=private?pin-value=1234", with_hsm,
                               NULL, NULL, NULL, NULL, NULL, NULL);
    if (store != NULL) {
        OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY);
        while (info == NULL && !OSSL_STORE_eof(store))
            if ((info = OSSL_STORE_load(store)) == NULL && ERR_peek_error() != 0)
                break;
        if (info != NULL && OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY) {
            EVP_PKEY *key = OSSL_STORE_INFO_get0_PKEY(info);

            check_key(key);
            sign_and_check(key);
        }
        OSSL_STORE_INFO_free(info);
        OSSL_STORE_close(store);
    }
    ERR_clear_error();
    fake_module_feed(NULL, 0);
    return 0;
}
