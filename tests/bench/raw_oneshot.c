/*
 * raw_oneshot MODULE TOKEN LABEL PIN IN OUT
 *
 * The whole-process baseline: what `openssl dgst -sha256 -sign` does, done
 * with nothing but PKCS#11 and a SHA-256: load the module, find the token
 * and the private key by label, log in, sign, write the signature (DER for
 * ECDSA, as OpenSSL writes it), finalise.
 *
 * With RAW_ONESHOT_PHASES set it prints, on standard error, the
 * milliseconds each phase took: where a one-shot process's time goes (the
 * module's load and C_Initialize, the token and key, the signature, the
 * C_Finalize a provider with a "no-deinit" quirk skips).
 */
#include <dlfcn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int die(const char *what, CK_RV rv)
{
    fprintf(stderr, "raw_oneshot: %s failed (0x%lx)\n", what, (unsigned long)rv);
    return 1;
}

static void phase_end(const char *name)
{
    static struct timespec last;
    struct timespec now;

    if (getenv("RAW_ONESHOT_PHASES") == NULL)
        return;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (name != NULL)
        fprintf(stderr, "phase %s %.3f\n", name,
                (double)(now.tv_sec - last.tv_sec) * 1e3 +
                    (double)(now.tv_nsec - last.tv_nsec) / 1e6);
    last = now;
}

int main(int argc, char **argv)
{
    static const unsigned char prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                           0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                           0x01, 0x05, 0x00, 0x04, 0x20};
    CK_C_INITIALIZE_ARGS init = {.flags = CKF_OS_LOCKING_OK};
    CK_FUNCTION_LIST *f = NULL;
    CK_C_GetFunctionList get;
    CK_SLOT_ID slots[64], slot = 0;
    CK_ULONG nslots = 64, n = 0, siglen;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_OBJECT_HANDLE key;
    CK_KEY_TYPE type;
    CK_SESSION_HANDLE s;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    unsigned char data[65536], in[64], sig[1024], der[1024], *p = der;
    size_t datalen, inlen = 32, outlen;
    bool found = false;
    void *dl;
    FILE *fp;
    CK_RV rv;

    if (argc != 7) {
        fprintf(stderr, "usage: raw_oneshot MODULE TOKEN LABEL PIN IN OUT\n");
        return 2;
    }
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, argv[3], strlen(argv[3])}};
    CK_ATTRIBUTE ta = {CKA_KEY_TYPE, &type, sizeof(type)};

    phase_end(NULL);
    dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    get = dl != NULL ? (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList") : NULL;
    if (get == NULL || get(&f) != CKR_OK)
        return die("loading the module", 0);
    if ((rv = f->C_Initialize(&init)) != CKR_OK)
        return die("C_Initialize", rv);
    phase_end("load+C_Initialize");
    if ((rv = f->C_GetSlotList(CK_TRUE, slots, &nslots)) != CKR_OK)
        return die("C_GetSlotList", rv);
    for (CK_ULONG i = 0; i < nslots && !found; i++) {
        CK_TOKEN_INFO ti;
        size_t l = strlen(argv[2]);

        if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && l <= sizeof(ti.label) &&
            memcmp(ti.label, argv[2], l) == 0 && (l == sizeof(ti.label) || ti.label[l] == ' ')) {
            slot = slots[i];
            found = true;
        }
    }
    if (!found)
        return die("finding the token", 0);
    phase_end("slots+token");
    if ((rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s)) != CKR_OK)
        return die("C_OpenSession", rv);
    if ((rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)argv[4], strlen(argv[4]))) != CKR_OK)
        return die("C_Login", rv);
    phase_end("session+login");
    if ((rv = f->C_FindObjectsInit(s, tmpl, 2)) != CKR_OK ||
        (rv = f->C_FindObjects(s, &key, 1, &n)) != CKR_OK || n != 1)
        return die("finding the key", rv);
    (void)f->C_FindObjectsFinal(s);
    if ((rv = f->C_GetAttributeValue(s, key, &ta, 1)) != CKR_OK)
        return die("C_GetAttributeValue", rv);
    phase_end("find key");

    fp = fopen(argv[5], "rb");
    if (fp == NULL)
        return die("reading the input", 0);
    datalen = fread(data, 1, sizeof(data), fp);
    fclose(fp);
    if (type == CKK_RSA) {
        mech.mechanism = CKM_RSA_PKCS;
        memcpy(in, prefix, sizeof(prefix));
        inlen = sizeof(prefix) + 32;
    }
    if (!EVP_Digest(data, datalen, in + (inlen - 32), NULL, EVP_sha256(), NULL))
        return die("SHA-256", 0);
    siglen = sizeof(sig);
    if ((rv = f->C_SignInit(s, &mech, key)) != CKR_OK ||
        (rv = f->C_Sign(s, in, inlen, sig, &siglen)) != CKR_OK)
        return die("C_Sign", rv);
    phase_end("read+hash+sign");

    outlen = siglen;
    if (type == CKK_EC) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, (int)siglen / 2, NULL);
        BIGNUM *sv = BN_bin2bn(sig + siglen / 2, (int)siglen / 2, NULL);
        int len;

        if (es == NULL || r == NULL || sv == NULL || !ECDSA_SIG_set0(es, r, sv) ||
            (len = i2d_ECDSA_SIG(es, &p)) <= 0)
            return die("encoding the signature", 0);
        ECDSA_SIG_free(es);
        outlen = (size_t)len;
    } else {
        memcpy(der, sig, siglen);
    }
    fp = fopen(argv[6], "wb");
    if (fp == NULL || fwrite(der, 1, outlen, fp) != outlen || fclose(fp) != 0)
        return die("writing the signature", 0);
    phase_end("write");
    (void)f->C_CloseSession(s);
    (void)f->C_Finalize(NULL);
    phase_end("C_CloseSession+C_Finalize");
    return 0;
}
