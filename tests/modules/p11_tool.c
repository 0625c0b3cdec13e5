/*
 * The token side of the module matrix: a second process that reads and
 * changes a token through any PKCS#11 module, never through the provider.
 * pkcs11-tool would do for most modules, but it cannot pass C_Initialize
 * arguments, which NSS softoken needs; this one tool serves every module
 * alike.
 *
 *   p11_tool MODULE TOKEN-LABEL PIN COMMAND ARGS...
 *     pubkey ID OUT.pem        the key's public key (public key object, or
 *                              the private key's own public attributes),
 *                              written by plain OpenSSL
 *     delete ID                destroys every object with this CKA_ID
 *     keygen rsa|ec ID LABEL   a token key pair (RSA-2048 or P-256) that
 *                              may sign, with this CKA_ID and label
 *     ids                      "privkey|pubkey|cert ID-HEX LABEL" a line
 *     putpub ID LABEL IN.pem   a public key object holding IN's key (RSA
 *                              or EC), as a stale or planted public view
 *
 * ID is hexadecimal (01 is one byte 0x01). HSM_P11_INIT_ARGS, when set, is
 * passed as pReserved to C_Initialize.
 */
#include <dlfcn.h>
#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static CK_FUNCTION_LIST *f;
static CK_SESSION_HANDLE s;

static int die(const char *what, CK_RV rv)
{
    fprintf(stderr, "p11_tool: %s failed: 0x%lx\n", what, (unsigned long)rv);
    return 1;
}

static size_t parse_id(const char *hex, unsigned char *out, size_t max)
{
    size_t n = strlen(hex) / 2;

    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        sscanf(hex + 2 * i, "%2hhx", &out[i]);
    return n;
}

/* Opens a logged-in read-write session on the token labelled |label|. */
static int open_token(const char *module, const char *label, const char *pin)
{
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_C_GetFunctionList get;
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    void *dl = dlopen(module, RTLD_NOW);
    CK_RV rv;

    args.pReserved = getenv("HSM_P11_INIT_ARGS");
    if (dl == NULL || (get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList")) == NULL ||
        get(&f) != CKR_OK) {
        fprintf(stderr, "p11_tool: cannot load %s\n", module);
        return 1;
    }
    if ((rv = f->C_Initialize(&args)) != CKR_OK)
        return die("C_Initialize", rv);
    if ((rv = f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK)
        return die("C_GetSlotList", rv);
    for (CK_ULONG i = 0; i < n; i++) {
        CK_TOKEN_INFO info;
        size_t len = strlen(label);

        if (f->C_GetTokenInfo(slots[i], &info) != CKR_OK || len > sizeof(info.label) ||
            memcmp(info.label, label, len) != 0 ||
            (len < sizeof(info.label) && info.label[len] != ' ' && info.label[len] != '\0'))
            continue;
        if ((rv = f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                   &s)) != CKR_OK)
            return die("C_OpenSession", rv);
        rv = f->C_Login(s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN)
            return die("C_Login", rv);
        return 0;
    }
    fprintf(stderr, "p11_tool: no token labelled %s\n", label);
    return 1;
}

static CK_ULONG find(CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
    CK_ULONG found = 0;

    if (f->C_FindObjectsInit(s, tmpl, n) != CKR_OK)
        return 0;
    if (f->C_FindObjects(s, out, max, &found) != CKR_OK)
        found = 0;
    f->C_FindObjectsFinal(s);
    return found;
}

/* An attribute value in a fresh buffer, or NULL. */
static unsigned char *attr(CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_ULONG *len)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    unsigned char *buf;

    if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return NULL;
    if ((buf = malloc(a.ulValueLen + 1)) == NULL)
        return NULL;
    a.pValue = buf;
    if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK) {
        free(buf);
        return NULL;
    }
    *len = a.ulValueLen;
    return buf;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, "provider=default");
    EVP_PKEY *pkey = NULL;

    if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        pkey = NULL;
    OSSL_PARAM_free(params);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* RSA from modulus and exponent, EC from CKA_EC_PARAMS (a named curve) and
 * CKA_EC_POINT (DER OCTET STRING, or raw as some modules give it). */
static EVP_PKEY *public_key_of(CK_OBJECT_HANDLE o)
{
    CK_ULONG n_len, e_len, p_len, pt_len;
    unsigned char *n = attr(o, CKA_MODULUS, &n_len), *e = attr(o, CKA_PUBLIC_EXPONENT, &e_len);
    unsigned char *params = NULL, *point = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pkey = NULL;

    if (n != NULL && e != NULL) {
        BIGNUM *bn = BN_bin2bn(n, (int)n_len, NULL), *be = BN_bin2bn(e, (int)e_len, NULL);

        if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
            pkey = from_params("RSA", bld);
        BN_free(bn);
        BN_free(be);
    } else if ((params = attr(o, CKA_EC_PARAMS, &p_len)) != NULL &&
               (point = attr(o, CKA_EC_POINT, &pt_len)) != NULL) {
        const unsigned char *pp = params, *q = point;
        ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &pp, (long)p_len);
        ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &q, (long)pt_len);
        const char *curve = oid != NULL ? OBJ_nid2sn(OBJ_obj2nid(oid)) : NULL;
        const unsigned char *raw = os != NULL ? os->data : point;
        size_t raw_len = os != NULL ? (size_t)os->length : pt_len;

        if (curve != NULL &&
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve, 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, raw, raw_len))
            pkey = from_params("EC", bld);
        ASN1_OBJECT_free(oid);
        ASN1_OCTET_STRING_free(os);
    }
    OSSL_PARAM_BLD_free(bld);
    free(n);
    free(e);
    free(params);
    free(point);
    return pkey;
}

static int cmd_pubkey(const unsigned char *id, size_t id_len, const char *out)
{
    CK_OBJECT_CLASS classes[2] = {CKO_PUBLIC_KEY, CKO_PRIVATE_KEY};
    EVP_PKEY *pkey = NULL;
    FILE *fp;

    for (int i = 0; i < 2 && pkey == NULL; i++) {
        CK_ATTRIBUTE t[2] = {{CKA_CLASS, &classes[i], sizeof(classes[i])},
                             {CKA_ID, (void *)id, id_len}};
        CK_OBJECT_HANDLE o[2];

        if (find(t, 2, o, 2) == 1)
            pkey = public_key_of(o[0]);
    }
    if (pkey == NULL) {
        fprintf(stderr, "p11_tool: no public key under this id\n");
        return 1;
    }
    if ((fp = fopen(out, "w")) == NULL || !PEM_write_PUBKEY(fp, pkey)) {
        fprintf(stderr, "p11_tool: cannot write %s\n", out);
        return 1;
    }
    fclose(fp);
    EVP_PKEY_free(pkey);
    return 0;
}

static int cmd_delete(const unsigned char *id, size_t id_len)
{
    CK_ATTRIBUTE t[1] = {{CKA_ID, (void *)id, id_len}};
    CK_OBJECT_HANDLE o[64];
    CK_ULONG n = find(t, 1, o, 64);
    CK_RV rv;

    for (CK_ULONG i = 0; i < n; i++)
        if ((rv = f->C_DestroyObject(s, o[i])) != CKR_OK)
            return die("C_DestroyObject", rv);
    printf("deleted %lu object(s)\n", (unsigned long)n);
    return n > 0 ? 0 : 1;
}

static int cmd_keygen(const char *type, const unsigned char *id, size_t id_len, const char *label)
{
    static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};
    static const unsigned char f4[] = {0x01, 0x00, 0x01};
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG bits = 2048;
    bool rsa = strcmp(type, "rsa") == 0;
    CK_MECHANISM mech = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_ID, (void *)id, id_len},
        {CKA_LABEL, (void *)label, strlen(label)},
        rsa ? (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)}
            : (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
        {CKA_PUBLIC_EXPONENT, (void *)f4, sizeof(f4)},
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},     {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)}, {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_ID, (void *)id, id_len},       {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_OBJECT_HANDLE hpub, hpriv;
    CK_RV rv = f->C_GenerateKeyPair(s, &mech, pub, rsa ? 6 : 5, priv, 6, &hpub, &hpriv);

    return rv == CKR_OK ? 0 : die("C_GenerateKeyPair", rv);
}

static int cmd_ids(void)
{
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE t[1] = {{CKA_TOKEN, &yes, sizeof(yes)}};
    CK_OBJECT_HANDLE o[256];
    CK_ULONG n = find(t, 1, o, 256);

    for (CK_ULONG i = 0; i < n; i++) {
        CK_OBJECT_CLASS cls = 0;
        CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof(cls)};
        CK_ULONG id_len = 0, label_len = 0;
        unsigned char *id, *label;

        if (f->C_GetAttributeValue(s, o[i], &a, 1) != CKR_OK)
            continue;
        id = attr(o[i], CKA_ID, &id_len);
        label = attr(o[i], CKA_LABEL, &label_len);
        printf("%s ", cls == CKO_PRIVATE_KEY   ? "privkey"
                      : cls == CKO_PUBLIC_KEY  ? "pubkey"
                      : cls == CKO_CERTIFICATE ? "cert"
                                               : "other");
        for (CK_ULONG j = 0; id != NULL && j < id_len; j++)
            printf("%02x", id[j]);
        printf(" %.*s\n", label != NULL ? (int)label_len : 0, label != NULL ? (char *)label : "");
        free(id);
        free(label);
    }
    return 0;
}

static int cmd_putpub(const unsigned char *id, size_t id_len, const char *label, const char *in)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE type;
    CK_BBOOL yes = CK_TRUE;
    FILE *fp = fopen(in, "r");
    EVP_PKEY *pkey = fp != NULL ? PEM_read_PUBKEY(fp, NULL, NULL, NULL) : NULL;
    BIGNUM *n = NULL, *e = NULL;
    unsigned char nb[1024], eb[16], pt[200], params[64], *pp = params;
    char group[64];
    size_t pt_len = 0;
    CK_ATTRIBUTE t[8] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)},
                         {CKA_TOKEN, &yes, sizeof(yes)}, {CKA_VERIFY, &yes, sizeof(yes)},
                         {CKA_ID, (void *)id, id_len},   {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE o;
    CK_RV rv;

    if (fp != NULL)
        fclose(fp);
    if (pkey == NULL)
        return die("reading the public key", 0);
    if (EVP_PKEY_is_a(pkey, "RSA") && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) &&
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e)) {
        type = CKK_RSA;
        t[6] = (CK_ATTRIBUTE){CKA_MODULUS, nb, (CK_ULONG)BN_bn2bin(n, nb)};
        t[7] = (CK_ATTRIBUTE){CKA_PUBLIC_EXPONENT, eb, (CK_ULONG)BN_bn2bin(e, eb)};
    } else if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                              sizeof(group), NULL) &&
               EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pt + 2,
                                               sizeof(pt) - 2, &pt_len) &&
               pt_len < 128) {
        ASN1_OBJECT *oid = OBJ_txt2obj(group, 0);

        type = CKK_EC;
        pt[0] = 0x04; /* DER OCTET STRING around the point */
        pt[1] = (unsigned char)pt_len;
        t[6] = (CK_ATTRIBUTE){CKA_EC_PARAMS, params, (CK_ULONG)i2d_ASN1_OBJECT(oid, &pp)};
        t[7] = (CK_ATTRIBUTE){CKA_EC_POINT, pt, pt_len + 2};
        ASN1_OBJECT_free(oid);
    } else {
        return die("an RSA or EC public key", 0);
    }
    rv = f->C_CreateObject(s, t, 8, &o);
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(pkey);
    return rv == CKR_OK ? 0 : die("C_CreateObject", rv);
}

int main(int argc, char **argv)
{
    unsigned char id[64];
    size_t id_len = 0;
    int rc;

    if (argc < 5) {
        fprintf(stderr, "usage: p11_tool MODULE TOKEN PIN pubkey|delete|keygen|ids ARGS...\n");
        return 2;
    }
    if (open_token(argv[1], argv[2], argv[3]) != 0)
        return 1;
    if (argc > 5 && strcmp(argv[4], "keygen") != 0)
        id_len = parse_id(argv[5], id, sizeof(id));
    if (strcmp(argv[4], "pubkey") == 0 && argc == 7)
        rc = cmd_pubkey(id, id_len, argv[6]);
    else if (strcmp(argv[4], "delete") == 0 && argc == 6)
        rc = cmd_delete(id, id_len);
    else if (strcmp(argv[4], "keygen") == 0 && argc == 8)
        rc = cmd_keygen(argv[5], id, parse_id(argv[6], id, sizeof(id)), argv[7]);
    else if (strcmp(argv[4], "putpub") == 0 && argc == 8)
        rc = cmd_putpub(id, id_len, argv[6], argv[7]);
    else if (strcmp(argv[4], "ids") == 0)
        rc = cmd_ids();
    else
        rc = 2;
    f->C_Logout(s);
    f->C_CloseSession(s);
    f->C_Finalize(NULL);
    return rc;
}
