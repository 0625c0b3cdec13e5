/*
 * The baseline: the PKCS#11 module called directly (dlopen, no p11-kit
 * wrapping), the way a program that owns its key would call it. Everything
 * the provider does on top of these calls is what the table measures.
 */
#include "tests/bench/bench.h"

#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *ckr(CK_RV rv)
{
    static __thread char buf[32];

    switch (rv) {
    case CKR_OK:
        return "CKR_OK";
    case CKR_PIN_INCORRECT:
        return "CKR_PIN_INCORRECT";
    case CKR_USER_NOT_LOGGED_IN:
        return "CKR_USER_NOT_LOGGED_IN";
    case CKR_KEY_TYPE_INCONSISTENT:
        return "CKR_KEY_TYPE_INCONSISTENT";
    case CKR_MECHANISM_INVALID:
        return "CKR_MECHANISM_INVALID";
    case CKR_OBJECT_HANDLE_INVALID:
        return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_SESSION_HANDLE_INVALID:
        return "CKR_SESSION_HANDLE_INVALID";
    case CKR_GENERAL_ERROR:
        return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED:
        return "CKR_FUNCTION_FAILED";
    default:
        snprintf(buf, sizeof(buf), "CKR 0x%lx", (unsigned long)rv);
        return buf;
    }
}

bool raw_module_load(struct raw_module *m, const char *path, char *why, size_t len)
{
    CK_C_GetFunctionList get;
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv;

    memset(m, 0, sizeof(*m));
    snprintf(m->path, sizeof(m->path), "%s", path);
    m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (m->dl == NULL) {
        snprintf(why, len, "dlopen %s: %s", path, dlerror());
        return false;
    }
    get = (CK_C_GetFunctionList)dlsym(m->dl, "C_GetFunctionList");
    if (get == NULL || get(&m->fns) != CKR_OK || m->fns == NULL) {
        snprintf(why, len, "%s: no C_GetFunctionList", path);
        return false;
    }
    rv = m->fns->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        snprintf(why, len, "%s: C_Initialize: %s", path, ckr(rv));
        return false;
    }
    return true;
}

void raw_module_finalize(struct raw_module *m)
{
    if (m->fns != NULL)
        (void)m->fns->C_Finalize(NULL);
    m->fns = NULL;
}

/* Fixed-width, blank-padded token label compared with a C string. */
static bool label_is(const CK_UTF8CHAR *field, size_t width, const char *want)
{
    size_t n = strlen(want);

    if (n > width || memcmp(field, want, n) != 0)
        return false;
    for (size_t i = n; i < width; i++)
        if (field[i] != ' ')
            return false;
    return true;
}

bool raw_find_slot(struct raw_module *m, const char *token, CK_SLOT_ID *slot, char *why, size_t len)
{
    CK_SLOT_ID slots[64];
    CK_ULONG n = 64;
    CK_TOKEN_INFO ti;
    CK_RV rv = m->fns->C_GetSlotList(CK_TRUE, slots, &n);

    if (rv != CKR_OK) {
        snprintf(why, len, "C_GetSlotList: %s", ckr(rv));
        return false;
    }
    for (CK_ULONG i = 0; i < n; i++) {
        if (m->fns->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
            label_is(ti.label, sizeof(ti.label), token)) {
            *slot = slots[i];
            return true;
        }
    }
    snprintf(why, len, "no token labelled '%s' in %s", token, m->path);
    return false;
}

bool raw_session(struct raw_module *m, CK_SLOT_ID slot, const char *pin, CK_SESSION_HANDLE *s,
                 char *why, size_t len)
{
    CK_RV rv = m->fns->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, s);

    if (rv != CKR_OK) {
        snprintf(why, len, "C_OpenSession: %s", ckr(rv));
        return false;
    }
    rv = m->fns->C_Login(*s, CKU_USER, (CK_UTF8CHAR *)pin, strlen(pin));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
        snprintf(why, len, "C_Login: %s", ckr(rv));
        return false;
    }
    return true;
}

/* One object of `class` matching label or id; 0 when none. */
static CK_OBJECT_HANDLE find_one(struct raw_module *m, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls,
                                 CK_ATTRIBUTE_TYPE what, const void *val, CK_ULONG vlen)
{
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {what, (void *)val, vlen},
    };
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = 0;

    if (m->fns->C_FindObjectsInit(s, tmpl, 2) != CKR_OK)
        return 0;
    if (m->fns->C_FindObjects(s, found, 2, &n) != CKR_OK)
        n = 0;
    (void)m->fns->C_FindObjectsFinal(s);
    return n == 1 ? found[0] : 0;
}

long raw_count_objects(struct raw_module *m, CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE batch[256];
    CK_ULONG n;
    long total = 0;

    if (m->fns->C_FindObjectsInit(s, NULL, 0) != CKR_OK)
        return -1;
    do {
        n = 0;
        if (m->fns->C_FindObjects(s, batch, 256, &n) != CKR_OK)
            break;
        total += (long)n;
    } while (n > 0);
    (void)m->fns->C_FindObjectsFinal(s);
    return total;
}

/* CKA_EC_POINT is a DER OCTET STRING around the point (SoftHSMv2); accept
 * the bare point as well. */
static void unwrap_point(const unsigned char **p, CK_ULONG *n)
{
    const unsigned char *b = *p;

    if (*n >= 2 && b[0] == 0x04 && b[1] < 0x80 && (CK_ULONG)b[1] + 2 == *n) {
        *p = b + 2;
        *n -= 2;
    } else if (*n >= 3 && b[0] == 0x04 && b[1] == 0x81 && (CK_ULONG)b[2] + 3 == *n) {
        *p = b + 3;
        *n -= 3;
    }
}

static EVP_PKEY *pub_from_params(OSSL_PARAM_BLD *bld, const char *type)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, type, "provider=default");
    EVP_PKEY *pk = NULL;

    if (params != NULL && pc != NULL && EVP_PKEY_fromdata_init(pc) > 0)
        (void)EVP_PKEY_fromdata(pc, &pk, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(pc);
    OSSL_PARAM_free(params);
    return pk;
}

static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};

/* An EC public key from CKA_EC_PARAMS and CKA_EC_POINT (P-256, P-384). */
static EVP_PKEY *ec_public(const unsigned char *params, CK_ULONG params_len,
                           const unsigned char *point, CK_ULONG point_len)
{
    static const unsigned char p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    const char *group = NULL;
    EVP_PKEY *pk = NULL;

    unwrap_point(&point, &point_len);
    if (params_len == sizeof(p256_oid) && memcmp(params, p256_oid, sizeof(p256_oid)) == 0)
        group = "P-256";
    else if (params_len == sizeof(p384) && memcmp(params, p384, sizeof(p384)) == 0)
        group = "P-384";
    if (bld != NULL && group != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len))
        pk = pub_from_params(bld, "EC");
    OSSL_PARAM_BLD_free(bld);
    return pk;
}

/* The public key object's attributes as an EVP_PKEY of the default provider. */
static EVP_PKEY *read_public(struct raw_module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub,
                             CK_KEY_TYPE type, char *why, size_t len)
{
    unsigned char a[1024], b[1024];
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    EVP_PKEY *pk = NULL;
    BIGNUM *n = NULL, *e = NULL;

    if (type == CKK_RSA) {
        CK_ATTRIBUTE t[] = {{CKA_MODULUS, a, sizeof(a)}, {CKA_PUBLIC_EXPONENT, b, sizeof(b)}};
        if (m->fns->C_GetAttributeValue(s, pub, t, 2) == CKR_OK &&
            (n = BN_bin2bn(a, (int)t[0].ulValueLen, NULL)) != NULL &&
            (e = BN_bin2bn(b, (int)t[1].ulValueLen, NULL)) != NULL &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
            pk = pub_from_params(bld, "RSA");
    } else {
        CK_ATTRIBUTE t[] = {{CKA_EC_PARAMS, a, sizeof(a)}, {CKA_EC_POINT, b, sizeof(b)}};
        if (m->fns->C_GetAttributeValue(s, pub, t, 2) == CKR_OK) {
            const unsigned char *pt = b;
            CK_ULONG ptlen = t[1].ulValueLen;

            if (type == CKK_EC_EDWARDS) {
                unwrap_point(&pt, &ptlen);
                pk = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", "provider=default", pt, ptlen);
            } else {
                pk = ec_public(a, t[0].ulValueLen, pt, ptlen);
            }
        }
    }
    if (pk == NULL)
        snprintf(why, len, "cannot read the public key object of this key type (0x%lx)",
                 (unsigned long)type);
    BN_free(n);
    BN_free(e);
    OSSL_PARAM_BLD_free(bld);
    return pk;
}

bool raw_key_find(struct raw_module *m, CK_SLOT_ID slot, CK_SESSION_HANDLE s, const char *label,
                  struct raw_key *k, char *why, size_t len)
{
    unsigned char id[64];
    CK_ATTRIBUTE t[] = {{CKA_KEY_TYPE, &k->type, sizeof(k->type)}, {CKA_ID, id, sizeof(id)}};
    CK_OBJECT_HANDLE pub;

    memset(k, 0, sizeof(*k));
    k->mod = m;
    k->slot = slot;
    snprintf(k->label, sizeof(k->label), "%s", label);
    k->priv = find_one(m, s, CKO_PRIVATE_KEY, CKA_LABEL, label, strlen(label));
    if (k->priv == 0) {
        snprintf(why, len, "no single private key labelled '%s'", label);
        return false;
    }
    if (m->fns->C_GetAttributeValue(s, k->priv, t, 2) != CKR_OK) {
        snprintf(why, len, "C_GetAttributeValue on private key '%s' failed", label);
        return false;
    }
    {
        CK_ATTRIBUTE own = {k->type == CKK_RSA ? CKA_MODULUS : CKA_EC_POINT, NULL, 0};

        if (m->fns->C_GetAttributeValue(s, k->priv, &own, 1) == CKR_OK &&
            own.ulValueLen != CK_UNAVAILABLE_INFORMATION && own.ulValueLen > 0)
            k->own_public = own.type;
    }
    pub = find_one(m, s, CKO_PUBLIC_KEY, CKA_ID, id, t[1].ulValueLen);
    if (pub == 0) {
        snprintf(why, len, "no public key object for '%s'", label);
        return false;
    }
    k->pub = read_public(m, s, pub, k->type, why, len);
    return k->pub != NULL;
}

/* ------------------------------------------------------------ raw signing */

struct raw_sign {
    struct raw_key *k;
    CK_SESSION_HANDLE s;
    const EVP_MD *sha256;
    unsigned char sig[1024];
    CK_ULONG siglen;
};

void *raw_sign_state(struct raw_key *k, const char *pin, char *why, size_t len)
{
    struct raw_sign *st = calloc(1, sizeof(*st));

    if (st == NULL)
        return NULL;
    st->k = k;
    st->sha256 = EVP_sha256();
    if (!raw_session(k->mod, k->slot, pin, &st->s, why, len)) {
        free(st);
        return NULL;
    }
    return st;
}

void raw_sign_free(void *state)
{
    struct raw_sign *st = state;

    (void)st->k->mod->fns->C_CloseSession(st->s);
    free(st);
}

/* DigestInfo prefix for SHA-256 (PKCS#1 v1.5), as CKM_RSA_PKCS expects. */
static const unsigned char sha256_prefix[] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60,
                                              0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                                              0x01, 0x05, 0x00, 0x04, 0x20};

/* What the provider reads before each signature to confirm that the handle
 * is still its key (cache/key_revalidate.c): the token's own cost of that
 * check, measured apart from the provider's. */
bool raw_sign_reval_op(void *state, char *why, size_t len)
{
    struct raw_sign *st = state;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE type;
    unsigned char id[256], pub[1100];
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                        {CKA_KEY_TYPE, &type, sizeof(type)},
                        {CKA_ID, id, sizeof(id)},
                        {st->k->own_public, pub, sizeof(pub)}};
    CK_RV rv =
        st->k->mod->fns->C_GetAttributeValue(st->s, st->k->priv, t, st->k->own_public != 0 ? 4 : 3);

    if (rv != CKR_OK) {
        snprintf(why, len, "raw C_GetAttributeValue: %s", ckr(rv));
        return false;
    }
    return raw_sign_op(state, why, len);
}

bool raw_sign_op(void *state, char *why, size_t len)
{
    struct raw_sign *st = state;
    CK_FUNCTION_LIST *f = st->k->mod->fns;
    unsigned char in[sizeof(sha256_prefix) + 32];
    CK_ULONG inlen;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    CK_RV rv;

    switch (st->k->type) {
    case CKK_RSA:
        mech.mechanism = CKM_RSA_PKCS;
        memcpy(in, sha256_prefix, sizeof(sha256_prefix));
        if (!EVP_Digest(bench_msg, BENCH_MSG_LEN, in + sizeof(sha256_prefix), NULL, st->sha256,
                        NULL))
            return false;
        inlen = sizeof(in);
        break;
    case CKK_EC_EDWARDS:
        mech.mechanism = CKM_EDDSA;
        memcpy(in, bench_msg, BENCH_MSG_LEN);
        inlen = BENCH_MSG_LEN;
        break;
    default:
        if (!EVP_Digest(bench_msg, BENCH_MSG_LEN, in, NULL, st->sha256, NULL))
            return false;
        inlen = 32;
        break;
    }
    st->siglen = sizeof(st->sig);
    rv = f->C_SignInit(st->s, &mech, st->k->priv);
    if (rv == CKR_OK)
        rv = f->C_Sign(st->s, in, inlen, st->sig, &st->siglen);
    if (rv != CKR_OK) {
        snprintf(why, len, "raw C_SignInit/C_Sign: %s", ckr(rv));
        return false;
    }
    return true;
}

/* PKCS#11 returns ECDSA as r | s; OpenSSL verifies DER SEQUENCE { r, s }. */
static bool ecdsa_der(const unsigned char *sig, size_t siglen, unsigned char *out, size_t *outlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)(siglen / 2), NULL);
    BIGNUM *s = BN_bin2bn(sig + siglen / 2, (int)(siglen / 2), NULL);
    unsigned char *p = out;
    int n;

    if (es == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(es, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);
        return false;
    }
    n = i2d_ECDSA_SIG(es, NULL);
    if (n > 0 && (size_t)n <= *outlen)
        n = i2d_ECDSA_SIG(es, &p);
    else
        n = 0;
    ECDSA_SIG_free(es);
    *outlen = n > 0 ? (size_t)n : 0;
    return n > 0;
}

bool raw_sign_der(void *state, unsigned char *out, size_t *outlen)
{
    struct raw_sign *st = state;

    if (st->k->type == CKK_EC)
        return ecdsa_der(st->sig, st->siglen, out, outlen);
    if (st->siglen > *outlen)
        return false;
    memcpy(out, st->sig, st->siglen);
    *outlen = st->siglen;
    return true;
}

bool raw_sign_check(void *state, char *why, size_t len)
{
    struct raw_sign *st = state;
    unsigned char der[1024];
    size_t derlen = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL && raw_sign_der(state, der, &derlen) &&
              EVP_DigestVerifyInit_ex(md, NULL, bench_md_for(st->k->type), NULL, NULL, st->k->pub,
                                      NULL) > 0 &&
              EVP_DigestVerify(md, der, derlen, bench_msg, BENCH_MSG_LEN) == 1;

    EVP_MD_CTX_free(md);
    if (!ok)
        snprintf(why, len, "raw signature does not verify with the token's public key");
    return ok;
}

/* ----------------------------------------------------------- raw key load */

struct raw_load {
    struct raw_module *m;
    CK_SESSION_HANDLE s;
    char token[64], label[64];
};

void *raw_load_state(struct raw_module *m, const char *token, const char *label, const char *pin,
                     char *why, size_t len)
{
    struct raw_load *st = calloc(1, sizeof(*st));
    CK_SLOT_ID slot;

    if (st == NULL)
        return NULL;
    st->m = m;
    snprintf(st->token, sizeof(st->token), "%s", token);
    snprintf(st->label, sizeof(st->label), "%s", label);
    if (!raw_find_slot(m, token, &slot, why, len) || !raw_session(m, slot, pin, &st->s, why, len)) {
        free(st);
        return NULL;
    }
    return st;
}

void raw_load_free(void *state)
{
    struct raw_load *st = state;

    (void)st->m->fns->C_CloseSession(st->s);
    free(st);
}

bool raw_load_op(void *state, char *why, size_t len)
{
    struct raw_load *st = state;
    CK_FUNCTION_LIST *f = st->m->fns;
    CK_SLOT_ID slot;
    CK_KEY_TYPE type;
    CK_BBOOL sign;
    unsigned char id[64], a[1024], b[1024];
    CK_ATTRIBUTE pa[] = {
        {CKA_KEY_TYPE, &type, sizeof(type)}, {CKA_ID, id, sizeof(id)}, {CKA_SIGN, &sign, 1}};
    CK_ATTRIBUTE rsa[] = {{CKA_MODULUS, a, sizeof(a)}, {CKA_PUBLIC_EXPONENT, b, sizeof(b)}};
    CK_ATTRIBUTE ec[] = {{CKA_EC_PARAMS, a, sizeof(a)}, {CKA_EC_POINT, b, sizeof(b)}};
    CK_OBJECT_HANDLE priv, pub;

    /* Fresh, like the provider: the token by label, then the objects. */
    if (!raw_find_slot(st->m, st->token, &slot, why, len))
        return false;
    priv = find_one(st->m, st->s, CKO_PRIVATE_KEY, CKA_LABEL, st->label, strlen(st->label));
    if (priv == 0 || f->C_GetAttributeValue(st->s, priv, pa, 3) != CKR_OK) {
        snprintf(why, len, "raw load: private key '%s' not found", st->label);
        return false;
    }
    pub = find_one(st->m, st->s, CKO_PUBLIC_KEY, CKA_ID, id, pa[1].ulValueLen);
    if (pub == 0 || f->C_GetAttributeValue(st->s, pub, type == CKK_RSA ? rsa : ec, 2) != CKR_OK) {
        snprintf(why, len, "raw load: public key of '%s' not found", st->label);
        return false;
    }
    return true;
}

/* ------------------------------------------- the policy's calls, made raw */

/* One signature of a fresh challenge on the token, verified with |pub|. */
static bool raw_prove_possession(CK_FUNCTION_LIST *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                                 EVP_PKEY *pub)
{
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    unsigned char challenge[32], sig[256], der[300];
    CK_ULONG siglen = sizeof(sig);
    size_t derlen = sizeof(der);
    EVP_PKEY_CTX *pc = NULL;
    bool ok = false;

    if (RAND_bytes(challenge, sizeof(challenge)) == 1 && f->C_SignInit(s, &mech, priv) == CKR_OK &&
        f->C_Sign(s, challenge, sizeof(challenge), sig, &siglen) == CKR_OK &&
        ecdsa_der(sig, siglen, der, &derlen) &&
        (pc = EVP_PKEY_CTX_new_from_pkey(NULL, pub, "provider=default")) != NULL &&
        EVP_PKEY_verify_init(pc) > 0)
        ok = EVP_PKEY_verify(pc, der, derlen, challenge, sizeof(challenge)) == 1;
    EVP_PKEY_CTX_free(pc);
    return ok;
}

bool raw_policy_load_op(void *state, char *why, size_t len)
{
    struct raw_load *st = state;
    CK_FUNCTION_LIST *f = st->m->fns;
    CK_SLOT_ID slots[64];
    CK_ULONG nslots = 64, nviews = 0;
    CK_TOKEN_INFO ti;
    CK_KEY_TYPE type;
    CK_BBOOL sign;
    unsigned char id[64];
    CK_ATTRIBUTE pa[] = {
        {CKA_KEY_TYPE, &type, sizeof(type)}, {CKA_ID, id, sizeof(id)}, {CKA_SIGN, &sign, 1}};
    CK_OBJECT_HANDLE priv, views[16];
    EVP_PKEY *pub = NULL;
    int tokens = 0;
    bool ok;

    /* Every token's label: two tokens may share one. */
    if (f->C_GetSlotList(CK_TRUE, slots, &nslots) != CKR_OK)
        nslots = 0;
    for (CK_ULONG i = 0; i < nslots; i++)
        tokens += f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
                  label_is(ti.label, sizeof(ti.label), st->token);
    priv = tokens == 1
               ? find_one(st->m, st->s, CKO_PRIVATE_KEY, CKA_LABEL, st->label, strlen(st->label))
               : 0;
    if (priv == 0 || f->C_GetAttributeValue(st->s, priv, pa, 3) != CKR_OK || type != CKK_EC) {
        snprintf(why, len, "raw policy load: no single P-256 key '%s' on one token '%s'", st->label,
                 st->token);
        return false;
    }
    /* Every object under its id, each read once: here the public key. */
    if (f->C_FindObjectsInit(st->s, &pa[1], 1) != CKR_OK ||
        f->C_FindObjects(st->s, views, 16, &nviews) != CKR_OK)
        nviews = 0;
    (void)f->C_FindObjectsFinal(st->s);
    for (CK_ULONG i = 0; i < nviews; i++) {
        CK_OBJECT_CLASS cls;
        unsigned char params[64], point[160];
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_EC_PARAMS, params, sizeof(params)},
                            {CKA_EC_POINT, point, sizeof(point)}};

        if (views[i] == priv || f->C_GetAttributeValue(st->s, views[i], t, 3) != CKR_OK ||
            cls != CKO_PUBLIC_KEY || t[1].ulValueLen != sizeof(p256_oid) ||
            memcmp(params, p256_oid, sizeof(p256_oid)) != 0 || pub != NULL)
            continue;
        pub = ec_public(params, t[1].ulValueLen, point, t[2].ulValueLen);
    }
    ok = pub != NULL && raw_prove_possession(f, st->s, priv, pub);
    EVP_PKEY_free(pub);
    if (!ok)
        snprintf(why, len, "raw policy load: no public key or no possession proof for '%s'",
                 st->label);
    return ok;
}
