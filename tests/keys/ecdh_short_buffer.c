/*
 * ECDH into a buffer shorter than the shared secret, from C: the token key
 * through the provider must do what OpenSSL's default provider does, which
 * is to return the secret's leading bytes (16 and 31 of P-256's 32), and a
 * larger buffer gets the whole secret. The expected values are computed in
 * software on the peer's side (the peer's private key with the token key's
 * public half, read from the token by pkcs11-tool), with the same buffer
 * sizes. A derivation that cannot run (no peer set) fails with a reason on
 * the error queue.
 *
 *   ecdh_short_buffer TOKEN-URI TOKEN-PUB.pem PEER-KEY.pem PEER-PUB.pem
 *
 * (The token side gets the peer's public key only, as an application would.)
 *
 * OPENSSL_MODULES names the directory of hsm.so.
 */
#include "token_key.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <string.h>

static int failures;

static void expect(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok)
        failures++;
}

/* EVP_PKEY_derive of |key| with |peer| into a |size|-byte buffer; the
 * length written, or -1. */
static long derive(EVP_PKEY *key, EVP_PKEY *peer, OSSL_LIB_CTX *lib, unsigned char *out,
                   size_t size)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(lib, key, NULL);
    size_t len = size;
    long rc = -1;

    if (ctx != NULL && EVP_PKEY_derive_init(ctx) > 0 && EVP_PKEY_derive_set_peer(ctx, peer) > 0 &&
        EVP_PKEY_derive(ctx, out, &len) > 0)
        rc = (long)len;
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

static EVP_PKEY *read_private(const char *path, OSSL_LIB_CTX *lib)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *key = f != NULL ? PEM_read_PrivateKey_ex(f, NULL, NULL, NULL, lib, NULL) : NULL;

    if (f != NULL)
        fclose(f);
    return key;
}

int main(int argc, char **argv)
{
    OSSL_LIB_CTX *sw = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *hsm = OSSL_PROVIDER_load(NULL, "hsm");
    OSSL_PROVIDER *dflt = OSSL_PROVIDER_load(NULL, "default");
    OSSL_PROVIDER *sw_dflt = sw != NULL ? OSSL_PROVIDER_load(sw, "default") : NULL;
    EVP_PKEY *key = NULL, *token_pub = NULL, *peer_sw = NULL, *peer = NULL;
    static const size_t sizes[] = {16, 31, 32, 40};
    unsigned char whole[64], want[64], got[64];
    long whole_len;

    if (argc != 5) {
        fprintf(stderr, "usage: %s TOKEN-URI TOKEN-PUB.pem PEER-KEY.pem PEER-PUB.pem\n", argv[0]);
        return 2;
    }
    if (hsm == NULL || dflt == NULL || sw_dflt == NULL ||
        (key = test_load_private_key(argv[1], NULL)) == NULL ||
        (token_pub = test_read_public_key(argv[2], sw)) == NULL ||
        (peer_sw = read_private(argv[3], sw)) == NULL ||
        (peer = test_read_public_key(argv[4], NULL)) == NULL) {
        ERR_print_errors_fp(stderr);
        fprintf(stderr, "FAIL: set-up (providers, token key, peer key)\n");
        return 1;
    }
    whole_len = derive(peer_sw, token_pub, sw, whole, sizeof(whole));
    expect(whole_len == 32, "the peer's side derives a 32-byte P-256 secret in software");

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char desc[160];
        long want_len, got_len;

        memset(want, 0xee, sizeof(want));
        memset(got, 0xee, sizeof(got));
        want_len = derive(peer_sw, token_pub, sw, want, sizes[i]);
        ERR_clear_error();
        got_len = derive(key, peer, NULL, got, sizes[i]);
        snprintf(desc, sizeof(desc),
                 "a %zu-byte buffer: the token key returns %ld bytes, the default provider %ld",
                 sizes[i], got_len, want_len);
        expect(got_len > 0 && got_len == want_len, desc);
        snprintf(desc, sizeof(desc), "a %zu-byte buffer: the same bytes as the default provider",
                 sizes[i]);
        expect(got_len > 0 && memcmp(got, want, sizeof(got)) == 0, desc);
        snprintf(desc, sizeof(desc), "a %zu-byte buffer: the leading bytes of the whole secret",
                 sizes[i]);
        expect(got_len > 0 && whole_len > 0 && memcmp(got, whole, (size_t)got_len) == 0, desc);
        ERR_print_errors_fp(stderr);
    }

    /* A real failure says why. */
    {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        size_t len = sizeof(got);

        ERR_clear_error();
        expect(ctx != NULL && EVP_PKEY_derive_init(ctx) > 0 &&
                   EVP_PKEY_derive(ctx, got, &len) <= 0 && ERR_peek_error() != 0,
               "deriving with no peer set fails with a reason on the error queue");
        ERR_print_errors_fp(stdout);
        EVP_PKEY_CTX_free(ctx);
    }

    EVP_PKEY_free(key);
    EVP_PKEY_free(token_pub);
    EVP_PKEY_free(peer_sw);
    EVP_PKEY_free(peer);
    OSSL_PROVIDER_unload(sw_dflt);
    OSSL_LIB_CTX_free(sw);
    OSSL_PROVIDER_unload(dflt);
    OSSL_PROVIDER_unload(hsm);
    printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
