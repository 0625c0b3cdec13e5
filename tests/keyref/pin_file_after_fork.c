/*
 * Story: a forking server reads its PIN file once. The provider starts in
 * the parent (openssl.cnf names pkcs11-module-token-pin = file:PATH) and
 * reads the file then; the file is then moved away or rewritten, and a
 * child logs in on its own: it must use the PIN the parent read, never the
 * file (a child running as another user could not read it).
 *
 *   pin_file_after_fork PINFILE move|rewrite URI PUB.pem
 *
 * move: PINFILE is renamed to PINFILE.moved after the provider started.
 * rewrite: PINFILE gets a wrong PIN (with a newer mtime and a new size).
 * The child loads the key by URI (which carries no PIN), signs, and the
 * signature is verified with the token's public key by the default
 * provider alone. Exit status 0 when the child signed and it verified.
 */
#include "token_key.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static bool sign_and_verify(const char *uri, const char *pub_path)
{
    static const unsigned char data[] = "signed by a child that never read the PIN file";
    unsigned char sig[600];
    size_t siglen = sizeof(sig);
    OSSL_LIB_CTX *plain = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *dflt = plain != NULL ? OSSL_PROVIDER_load(plain, "default") : NULL;
    EVP_PKEY *key = test_load_private_key(uri, NULL);
    EVP_PKEY *pub = dflt != NULL ? test_read_public_key(pub_path, plain) : NULL;
    EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
    bool ok = key != NULL && pub != NULL && s != NULL && v != NULL &&
              EVP_DigestSignInit_ex(s, NULL, "SHA256", NULL, NULL, key, NULL) > 0 &&
              EVP_DigestSign(s, sig, &siglen, data, sizeof(data)) > 0 &&
              EVP_DigestVerifyInit_ex(v, NULL, "SHA256", plain, NULL, pub, NULL) > 0 &&
              EVP_DigestVerify(v, sig, siglen, data, sizeof(data)) == 1;

    if (!ok) {
        fprintf(stderr, "child: %s\n",
                key == NULL ? "the key did not load" : "no signature that verifies");
        ERR_print_errors_fp(stderr);
    }
    EVP_MD_CTX_free(s);
    EVP_MD_CTX_free(v);
    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);
    OSSL_PROVIDER_unload(dflt);
    OSSL_LIB_CTX_free(plain);
    return ok;
}

static bool change_file(const char *path, const char *how)
{
    char moved[4096];
    FILE *f;

    if (strcmp(how, "move") == 0) {
        snprintf(moved, sizeof(moved), "%s.moved", path);
        return rename(path, moved) == 0;
    }
    /* A newer, different file: a wrong PIN of another length. */
    sleep(1);
    f = fopen(path, "w");
    return f != NULL && fputs("99999999\n", f) >= 0 && fclose(f) == 0;
}

int main(int argc, char **argv)
{
    pid_t pid;
    int status = 0;

    if (argc != 5 || (strcmp(argv[2], "move") != 0 && strcmp(argv[2], "rewrite") != 0)) {
        fprintf(stderr, "usage: %s PINFILE move|rewrite URI PUB.pem\n", argv[0]);
        return 2;
    }
    /* The configuration activates the provider now, as a server's start
     * does before it forks. */
    if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) != 1 ||
        !OSSL_PROVIDER_available(NULL, "hsm")) {
        fprintf(stderr, "the hsm provider is not active (OPENSSL_CONF)\n");
        ERR_print_errors_fp(stderr);
        return 2;
    }
    if (!change_file(argv[1], argv[2])) {
        perror(argv[1]);
        return 2;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        alarm(30);
        _exit(sign_and_verify(argv[3], argv[4]) ? 0 : 1);
    }
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 2;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "the child failed (status 0x%x)\n", (unsigned)status);
        return 1;
    }
    printf("the child logged in with the PIN its parent read, and signed\n");
    return 0;
}
