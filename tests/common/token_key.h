/*
 * What the C test programs share: loading one private key by URI through
 * OSSL_STORE (the way an application would), and reading the public key a
 * test saved from the token with pkcs11-tool, to verify without the
 * provider.
 */
#ifndef HSM_TESTS_TOKEN_KEY_H
#define HSM_TESTS_TOKEN_KEY_H

#include <openssl/evp.h>
#include <openssl/ui.h>

/* The first private key |uri| gives, through whatever providers |libctx|
 * (NULL: the default library context) has; NULL with OpenSSL's error queue
 * set otherwise. */
EVP_PKEY *test_load_private_key(const char *uri, OSSL_LIB_CTX *libctx);

/* The same, with the application's UI_METHOD (and its data) answering any
 * passphrase request, as OSSL_STORE_open_ex passes them to the store. */
EVP_PKEY *test_load_private_key_ui(const char *uri, OSSL_LIB_CTX *libctx, const UI_METHOD *ui,
                                   void *ui_data);

/* A PEM SubjectPublicKeyInfo from |path| in |libctx| (say, one with only
 * the default provider); prints why not on stderr. */
EVP_PKEY *test_read_public_key(const char *path, OSSL_LIB_CTX *libctx);

#endif
