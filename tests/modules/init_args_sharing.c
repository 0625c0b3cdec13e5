/*
 * A module named with pkcs11-module-init-args is initialised by the
 * provider's own C_Initialize, and must share the process as p11-kit's
 * managed initialisation did:
 *
 *   init_args_sharing shared|alone MODULE URI PUB.pem
 *
 * shared: the application initialises MODULE itself first (HSM_P11_INIT_ARGS
 *   in pReserved), as a program that also uses NSS does. The provider's
 *   C_Initialize then answers CKR_CRYPTOKI_ALREADY_INITIALIZED; it must sign
 *   all the same and never finalise the module: at exit, after the
 *   provider's own exit handler, the module is still initialised and the
 *   application's C_Finalize succeeds.
 * alone: only the provider initialises it, so it finalises it at exit.
 *
 * In both: sign with URI (OPENSSL_CONF gives the provider), fork, the child
 * signs with the key it inherited (the provider initialises the module
 * again in the child), the parent signs again; every signature verifies
 * with PUB.pem under the default provider alone.
 */
#include "token_key.h"

#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static CK_FUNCTION_LIST *mod;
static bool shared;
static pid_t parent;

static bool sign_verify(const char *who, EVP_PKEY *key, EVP_PKEY *pub)
{
    static const unsigned char data[] = "init args sharing";
    unsigned char sig[1024];
    size_t len = sizeof(sig);
    EVP_MD_CTX *s = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
    bool ok =
        s != NULL && v != NULL &&
        EVP_DigestSignInit_ex(s, NULL, "SHA256", NULL, NULL, key, NULL) == 1 &&
        EVP_DigestSign(s, sig, &len, data, sizeof(data)) == 1 &&
        EVP_DigestVerifyInit_ex(v, NULL, "SHA256", NULL, "provider=default", pub, NULL) == 1 &&
        EVP_DigestVerify(v, sig, len, data, sizeof(data)) == 1;

    printf("%s: signature %s\n", who, ok ? "verifies" : "FAILED");
    if (!ok)
        ERR_print_errors_fp(stdout);
    fflush(stdout);
    EVP_MD_CTX_free(s);
    EVP_MD_CTX_free(v);
    return ok;
}

/*
 * Registered before the provider loads: runs after its exit handler. A
 * second C_Initialize tells whether the module is still initialised
 * (CKR_CRYPTOKI_ALREADY_INITIALIZED) or was finalised (CKR_OK); NSS
 * answers C_GetSlotList either way.
 */
static void at_exit(void)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv;

    if (getpid() != parent)
        return;
    args.pReserved = getenv("HSM_P11_INIT_ARGS");
    rv = mod->C_Initialize(&args);
    printf("at exit, after the provider: C_Initialize 0x%lx (%s)\n", (unsigned long)rv,
           rv == CKR_CRYPTOKI_ALREADY_INITIALIZED ? "still initialised"
           : rv == CKR_OK                         ? "had been finalised"
                                                  : "?");
    printf("the application's C_Finalize: 0x%lx\n", (unsigned long)mod->C_Finalize(NULL));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_C_GetFunctionList get;
    EVP_PKEY *key, *pub;
    void *dl;
    int status = 1;
    pid_t child;
    bool ok;

    if (argc != 5) {
        fprintf(stderr, "usage: init_args_sharing shared|alone MODULE URI PUB.pem\n");
        return 2;
    }
    shared = strcmp(argv[1], "shared") == 0;
    parent = getpid();
    if ((dl = dlopen(argv[2], RTLD_NOW)) == NULL ||
        (get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList")) == NULL || get(&mod) != CKR_OK)
        return 2;
    if (shared) {
        args.pReserved = getenv("HSM_P11_INIT_ARGS");
        printf("the application's C_Initialize: 0x%lx\n", (unsigned long)mod->C_Initialize(&args));
    }
    atexit(at_exit);
    if ((key = test_load_private_key(argv[3], NULL)) == NULL ||
        (pub = test_read_public_key(argv[4], NULL)) == NULL) {
        printf("cannot load the key\n");
        ERR_print_errors_fp(stdout);
        return 1;
    }
    ok = sign_verify("parent before the fork", key, pub);
    fflush(stdout);
    if ((child = fork()) == 0) {
        alarm(30);
        _exit(sign_verify("child", key, pub) ? 0 : 1);
    }
    waitpid(child, &status, 0);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    ok = sign_verify("parent after the fork", key, pub) && ok && WIFEXITED(status) &&
         WEXITSTATUS(status) == 0;
    EVP_PKEY_free(key);
    EVP_PKEY_free(pub);
    printf("init_args_sharing: %s\n", ok ? "all signatures verify" : "FAILED");
    return ok ? 0 : 1;
}
