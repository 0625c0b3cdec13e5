/*
 * Makes an RSA-2048 key pair whose private key has CKA_DECRYPT false, which
 * OpenSC's pkcs11-tool cannot do: its --usage-sign sets CKA_SIGN but leaves
 * CKA_DECRYPT to the token's default, and SoftHSMv2's default is true.
 *
 *   p11_sign_only_key MODULE TOKEN-LABEL PIN ID-HEX LABEL
 */
#include <p11-kit/pkcs11.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, CK_RV rv)
{
    fprintf(stderr, "%s failed: 0x%lx\n", what, (unsigned long)rv);
    return 1;
}

static size_t hex_to_bytes(const char *hex, unsigned char *out, size_t max)
{
    size_t n = 0;

    while (hex[0] != '\0' && hex[1] != '\0' && n < max) {
        unsigned int b;

        if (sscanf(hex, "%2x", &b) != 1)
            return 0;
        out[n++] = (unsigned char)b;
        hex += 2;
    }
    return hex[0] == '\0' ? n : 0;
}

int main(int argc, char **argv)
{
    CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
    CK_FUNCTION_LIST *f;
    CK_SLOT_ID slots[64], slot = 0;
    CK_ULONG nslots = 64;
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE pub, priv;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG bits = 2048;
    CK_BYTE e[] = {0x01, 0x00, 0x01}, id[64];
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    size_t id_len, label_len;
    int found = 0;
    void *lib;
    CK_RV rv;

    if (argc != 6 || (id_len = hex_to_bytes(argv[4], id, sizeof(id))) == 0) {
        fprintf(stderr, "usage: %s MODULE TOKEN-LABEL PIN ID-HEX LABEL\n", argv[0]);
        return 2;
    }
    label_len = strlen(argv[5]);
    if ((lib = dlopen(argv[1], RTLD_NOW)) == NULL ||
        (*(void **)&get_list = dlsym(lib, "C_GetFunctionList")) == NULL) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 1;
    }
    if ((rv = get_list(&f)) != CKR_OK || (rv = f->C_Initialize(NULL)) != CKR_OK)
        return fail("C_Initialize", rv);
    if ((rv = f->C_GetSlotList(CK_TRUE, slots, &nslots)) != CKR_OK)
        return fail("C_GetSlotList", rv);
    for (CK_ULONG i = 0; i < nslots && !found; i++) {
        CK_TOKEN_INFO info;
        size_t n = strlen(argv[2]);

        if (f->C_GetTokenInfo(slots[i], &info) == CKR_OK && n <= sizeof(info.label) &&
            memcmp(info.label, argv[2], n) == 0 &&
            (n == sizeof(info.label) || info.label[n] == ' ')) {
            slot = slots[i];
            found = 1;
        }
    }
    if (!found) {
        fprintf(stderr, "no token labelled %s\n", argv[2]);
        return 1;
    }
    if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)) !=
        CKR_OK)
        return fail("C_OpenSession", rv);
    if ((rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)argv[3], strlen(argv[3]))) != CKR_OK)
        return fail("C_Login", rv);
    CK_ATTRIBUTE pub_t[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},      {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_ENCRYPT, &no, sizeof(no)},      {CKA_MODULUS_BITS, &bits, sizeof(bits)},
        {CKA_PUBLIC_EXPONENT, e, sizeof(e)}, {CKA_ID, id, id_len},
        {CKA_LABEL, argv[5], label_len},
    };
    CK_ATTRIBUTE priv_t[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_DECRYPT, &no, sizeof(no)},
        {CKA_UNWRAP, &no, sizeof(no)},
        {CKA_ID, id, id_len},
        {CKA_LABEL, argv[5], label_len},
    };
    rv = f->C_GenerateKeyPair(s, &mech, pub_t, sizeof(pub_t) / sizeof(pub_t[0]), priv_t,
                              sizeof(priv_t) / sizeof(priv_t[0]), &pub, &priv);
    if (rv != CKR_OK)
        return fail("C_GenerateKeyPair", rv);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    return 0;
}
