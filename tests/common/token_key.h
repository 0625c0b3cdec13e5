/*
 * What the C test programs share: loading one private key by URI through
 * OSSL_STORE (the way an application would), and reading the public key a
 * test saved from the token with pkcs11-tool, to verify without the
 * provider.
 */
#ifndef HSM_TESTS_TOKEN_KEY_H
#define HSM_TESTS_TOKEN_KEY_H

#include <openssl/evp.h>

/* The first private key |uri| gives, through whatever providers |libctx|
 * (NULL: the default library context) has; NULL with OpenSSL's error queue
 * set otherwise. */
EVP_PKEY *test_load_private_key(const char *uri, OSSL_LIB_CTX *libctx);

/* A PEM SubjectPublicKeyInfo from |path| in |libctx| (say, one with only
 * the default provider); prints why not on stderr. */
EVP_PKEY *test_read_public_key(const char *path, OSSL_LIB_CTX *libctx);

#endif
