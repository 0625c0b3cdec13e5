/*
 * OpenSSL 3.4's message signatures with a token key: the algorithm fetched
 * by name ("ECDSA-SHA2-256", "RSA-SHA2-256", "ED25519") from the provider
 * that holds the key, then EVP_PKEY_sign_message_init with _update and
 * _final, the one-shot EVP_PKEY_sign over the whole message, and
 * EVP_PKEY_verify_message_*. Every signature is verified in a library
 * context with the default provider alone.
 *
 *   sign_message URI ALGORITHM DIGEST|-
 *
 * DIGEST names the digest plain OpenSSL verifies with ("-" for EdDSA).
 * Exits 0 when every check held, 1 when one failed, 77 when built against
 * an OpenSSL before 3.4 (which has no message signatures).
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/provider.h>
#include <openssl/store.h>
#include <stdio.h>
#include <string.h>

#if OPENSSL_VERSION_NUMBER < 0x30400000L
int main(void)
{
    printf("message signatures need OpenSSL 3.4 or later\n");
    return 77;
}
#else

static const unsigned char part1[] = "a message signed in two parts, ";
static const unsigned char part2[] = "through EVP_PKEY_sign_message_update";
static OSSL_LIB_CTX *plain;
static int failures;

static void check(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) {
        ERR_print_errors_fp(stdout);
        failures++;
    }
    ERR_clear_error();
}

/* Plain OpenSSL verifies |sig| over part1 || part2 (or part1 alone). */
static int plain_verifies(EVP_PKEY *key, const char *digest, const unsigned char *sig,
                          size_t siglen, int both)
{
    unsigned char *pub = NULL, msg[sizeof(part1) + sizeof(part2)];
    const unsigned char *p;
    int len = i2d_PUBKEY(key, &pub), ok = 0;
    EVP_PKEY *soft = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t mlen = sizeof(part1) - 1;

    memcpy(msg, part1, mlen);
    if (both) {
        memcpy(msg + mlen, part2, sizeof(part2) - 1);
        mlen += sizeof(part2) - 1;
    }
    p = pub;
    if (len > 0 && (soft = d2i_PUBKEY_ex(NULL, &p, len, plain, NULL)) != NULL && md != NULL &&
        EVP_DigestVerifyInit_ex(md, NULL, strcmp(digest, "-") == 0 ? NULL : digest, plain, NULL,
                                soft, NULL) == 1)
        ok = EVP_DigestVerify(md, sig, siglen, msg, mlen) == 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(soft);
    OPENSSL_free(pub);
    return ok;
}

int main(int argc, char **argv)
{
    OSSL_STORE_CTX *store;
    OSSL_STORE_INFO *info = NULL;
    EVP_PKEY *key;
    EVP_SIGNATURE *alg;
    EVP_PKEY_CTX *ctx;
    unsigned char sig[1024];
    size_t siglen;
    int streaming;

    if (argc != 4) {
        fprintf(stderr, "usage: %s URI ALGORITHM DIGEST|-\n", argv[0]);
        return 2;
    }
    streaming = strcmp(argv[3], "-") != 0; /* EdDSA signs in one shot only */
    plain = OSSL_LIB_CTX_new();
    if (plain == NULL || OSSL_PROVIDER_load(plain, "default") == NULL ||
        (store = OSSL_STORE_open(argv[1], NULL, NULL, NULL, NULL)) == NULL) {
        ERR_print_errors_fp(stderr);
        return 2;
    }
    OSSL_STORE_expect(store, OSSL_STORE_INFO_PKEY);
    while (info == NULL && !OSSL_STORE_eof(store))
        info = OSSL_STORE_load(store);
    OSSL_STORE_close(store);
    if (info == NULL || (key = OSSL_STORE_INFO_get1_PKEY(info)) == NULL) {
        ERR_print_errors_fp(stderr);
        return 2;
    }
    OSSL_STORE_INFO_free(info);
    /* From the provider that holds the key (its algorithms carry
     * provider=hsm): a software provider's cannot use a token key. */
    alg = EVP_SIGNATURE_fetch(NULL, argv[2], "?provider=hsm");
    check(alg != NULL && strcmp(OSSL_PROVIDER_get0_name(EVP_SIGNATURE_get0_provider(alg)),
                                OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(key))) == 0,
          "the algorithm is fetched from the key's provider");
    if (alg == NULL)
        return 1;

    if (streaming) {
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        siglen = sizeof(sig);
        check(ctx != NULL && EVP_PKEY_sign_message_init(ctx, alg, NULL) == 1 &&
                  EVP_PKEY_sign_message_update(ctx, part1, sizeof(part1) - 1) == 1 &&
                  EVP_PKEY_sign_message_update(ctx, part2, sizeof(part2) - 1) == 1 &&
                  EVP_PKEY_sign_message_final(ctx, sig, &siglen) == 1,
              "sign_message_init, two updates, final");
        check(plain_verifies(key, argv[3], sig, siglen, 1),
              "plain OpenSSL verifies the streamed signature");
        EVP_PKEY_CTX_free(ctx);

        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        check(ctx != NULL && EVP_PKEY_verify_message_init(ctx, alg, NULL) == 1 &&
                  EVP_PKEY_CTX_set_signature(ctx, sig, siglen) == 1 &&
                  EVP_PKEY_verify_message_update(ctx, part1, sizeof(part1) - 1) == 1 &&
                  EVP_PKEY_verify_message_update(ctx, part2, sizeof(part2) - 1) == 1 &&
                  EVP_PKEY_verify_message_final(ctx) == 1,
              "verify_message with the token key accepts it");
        EVP_PKEY_CTX_free(ctx);
        sig[siglen / 2] ^= 1;
        ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        check(ctx != NULL && EVP_PKEY_verify_message_init(ctx, alg, NULL) == 1 &&
                  EVP_PKEY_CTX_set_signature(ctx, sig, siglen) == 1 &&
                  EVP_PKEY_verify_message_update(ctx, part1, sizeof(part1) - 1) == 1 &&
                  EVP_PKEY_verify_message_update(ctx, part2, sizeof(part2) - 1) == 1 &&
                  EVP_PKEY_verify_message_final(ctx) != 1,
              "verify_message refuses a damaged signature");
        EVP_PKEY_CTX_free(ctx);
    }

    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    siglen = sizeof(sig);
    check(ctx != NULL && EVP_PKEY_sign_message_init(ctx, alg, NULL) == 1 &&
              EVP_PKEY_sign(ctx, sig, &siglen, part1, sizeof(part1) - 1) == 1,
          "sign_message_init and a one-shot EVP_PKEY_sign of the message");
    check(plain_verifies(key, argv[3], sig, siglen, 0),
          "plain OpenSSL verifies the one-shot signature");
    EVP_PKEY_CTX_free(ctx);

    EVP_SIGNATURE_free(alg);
    EVP_PKEY_free(key);
    OSSL_LIB_CTX_free(plain);
    return failures == 0 ? 0 : 1;
}
#endif
