/*
 * fill_token MODULE TOKEN PIN COUNT
 *
 * Adds COUNT P-256 key pairs (labels filler-N, ids f0 NN NN) to a token with
 * C_GenerateKeyPair, so the benchmark can measure key loads on a crowded
 * token without a pkcs11-tool process per pair.
 */
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    static unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_C_INITIALIZE_ARGS init = {.flags = CKF_OS_LOCKING_OK};
    CK_FUNCTION_LIST *f = NULL;
    CK_C_GetFunctionList get;
    CK_SLOT_ID slots[64], slot = 0;
    CK_ULONG nslots = 64;
    CK_SESSION_HANDLE s;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_BBOOL yes = CK_TRUE;
    bool found = false;
    void *dl;
    long count;
    CK_RV rv;

    if (argc != 5 || (count = atol(argv[4])) <= 0 || count > 65535) {
        fprintf(stderr, "usage: fill_token MODULE TOKEN PIN COUNT (1..65535)\n");
        return 2;
    }
    dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    get = dl != NULL ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
    if (get == NULL || get(&f) != CKR_OK || f->C_Initialize(&init) != CKR_OK ||
        f->C_GetSlotList(CK_TRUE, slots, &nslots) != CKR_OK) {
        fprintf(stderr, "fill_token: cannot load %s\n", argv[1]);
        return 1;
    }
    for (CK_ULONG i = 0; i < nslots && !found; i++) {
        CK_TOKEN_INFO ti;
        size_t l = strlen(argv[2]);

        if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && l <= sizeof(ti.label) &&
            memcmp(ti.label, argv[2], l) == 0 && (l == sizeof(ti.label) || ti.label[l] == ' ')) {
            slot = slots[i];
            found = true;
        }
    }
    if (!found ||
        f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK ||
        f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)argv[3], strlen(argv[3])) != CKR_OK) {
        fprintf(stderr, "fill_token: cannot open token %s\n", argv[2]);
        return 1;
    }
    for (long i = 0; i < count; i++) {
        char label[32];
        unsigned char id[3] = {0xf0, (unsigned char)(i >> 8), (unsigned char)i};
        CK_OBJECT_HANDLE pub, priv;

        snprintf(label, sizeof(label), "filler-%ld", i);
        CK_ATTRIBUTE pt[] = {{CKA_TOKEN, &yes, 1},
                             {CKA_VERIFY, &yes, 1},
                             {CKA_EC_PARAMS, p256, sizeof(p256)},
                             {CKA_LABEL, label, strlen(label)},
                             {CKA_ID, id, sizeof(id)}};
        CK_ATTRIBUTE kt[] = {{CKA_TOKEN, &yes, 1},
                             {CKA_PRIVATE, &yes, 1},
                             {CKA_SENSITIVE, &yes, 1},
                             {CKA_SIGN, &yes, 1},
                             {CKA_LABEL, label, strlen(label)},
                             {CKA_ID, id, sizeof(id)}};

        rv = f->C_GenerateKeyPair(s, &mech, pt, 5, kt, 6, &pub, &priv);
        if (rv != CKR_OK) {
            fprintf(stderr, "fill_token: C_GenerateKeyPair %ld failed (0x%lx)\n", i,
                    (unsigned long)rv);
            return 1;
        }
    }
    (void)f->C_CloseSession(s);
    (void)f->C_Finalize(NULL);
    printf("fill_token: %ld key pairs added to %s\n", count, argv[2]);
    return 0;
}
