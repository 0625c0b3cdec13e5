/*
 * Self-test of hsm-fault-shim against a real SoftHSMv2 token.
 *
 *   shim_selftest <path/to/hsm-fault-shim.so> <work dir>
 *
 * shim_selftest.sh makes the token ("shimtest", user PIN 1234) with an EC
 * P-256 key pair id 01 (k1), an RSA key pair id 02 (r1) and a certificate
 * id 01; this program loads the shim the way any PKCS#11 consumer does
 * (dlopen + C_GetFunctionList) and proves each control-file directive
 * does what tests rely on, and that without directives the calls are the
 * real module's. The control file is rewritten while the module is loaded,
 * as the integration tests will do to a running provider.
 */
#include <dlfcn.h>
#include <errno.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static CK_FUNCTION_LIST *p11;
static const char *workdir;
static int failures;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static void section(const char *name)
{
    printf("# %s\n", name);
    fflush(stdout);
}

static char *work_path(const char *name)
{
    static char buf[4][4096];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", workdir, name);
    return p;
}

/* Written beside and renamed into place: the shim must never read half a
 * file, and the new inode makes the change visible at once. */
static void control(const char *fmt, ...)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", work_path("control"));
    FILE *f = fopen(tmp, "w");
    if (!f) {
        perror(tmp);
        exit(2);
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
    if (rename(tmp, work_path("control")) != 0) {
        perror("rename");
        exit(2);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out,
                   size_t max)
{
    CK_ULONG got = 0;
    CK_RV rv = p11->C_FindObjectsInit(s, t, n);
    CHECK(rv == CKR_OK, "C_FindObjectsInit: 0x%lx", rv);
    if (rv != CKR_OK)
        return 0;
    rv = p11->C_FindObjects(s, out, (CK_ULONG)max, &got);
    CHECK(rv == CKR_OK, "C_FindObjects: 0x%lx", rv);
    rv = p11->C_FindObjectsFinal(s);
    CHECK(rv == CKR_OK, "C_FindObjectsFinal: 0x%lx", rv);
    return got;
}

static CK_OBJECT_HANDLE find_key(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, unsigned char id)
{
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, &id, 1}};
    CK_OBJECT_HANDLE h[4];
    size_t n = find(s, t, 2, h, 4);
    CHECK(n == 1, "class %lu id %02x: %zu objects, want 1", cls, id, n);
    return n == 1 ? h[0] : CK_INVALID_HANDLE;
}

static CK_RV get_attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type,
                      unsigned char *buf, CK_ULONG *len)
{
    CK_ATTRIBUTE a = {type, buf, *len};
    CK_RV rv = p11->C_GetAttributeValue(s, h, &a, 1);
    *len = a.ulValueLen;
    return rv;
}

static const CK_BYTE digest[32] = "0123456789abcdef0123456789abcdef";

static CK_RV sign(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_BYTE *sig, CK_ULONG *sig_len)
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    CK_RV rv = p11->C_SignInit(s, &m, key);
    if (rv != CKR_OK)
        return rv;
    return p11->C_Sign(s, (CK_BYTE_PTR)digest, sizeof digest, sig, sig_len);
}

static CK_RV verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_BYTE *sig, CK_ULONG sig_len)
{
    CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
    CK_RV rv = p11->C_VerifyInit(s, &m, key);
    if (rv != CKR_OK)
        return rv;
    return p11->C_Verify(s, (CK_BYTE_PTR)digest, sizeof digest, sig, sig_len);
}

static CK_OBJECT_HANDLE make_data(CK_SESSION_HANDLE s, const char *label, CK_BBOOL on_token)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls},
                        {CKA_TOKEN, &on_token, sizeof on_token},
                        {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = p11->C_CreateObject(s, t, 3, &h);
    CHECK(rv == CKR_OK, "C_CreateObject %s: 0x%lx", label, rv);
    return h;
}

static bool label_is(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const char *want)
{
    unsigned char buf[64];
    CK_ULONG len = sizeof buf;
    return get_attr(s, h, CKA_LABEL, buf, &len) == CKR_OK && len == strlen(want) &&
           memcmp(buf, want, len) == 0;
}

/* ---- the directives ---- */

static void test_pass_through(CK_SESSION_HANDLE s)
{
    section("pass-through: sign with k1, verify with its public key");
    CK_OBJECT_HANDLE priv = find_key(s, CKO_PRIVATE_KEY, 0x01);
    CK_OBJECT_HANDLE pub = find_key(s, CKO_PUBLIC_KEY, 0x01);
    CK_BYTE sig[256];
    CK_ULONG sig_len = sizeof sig;
    CK_RV rv = sign(s, priv, sig, &sig_len);
    CHECK(rv == CKR_OK && sig_len == 64, "sign: 0x%lx len %lu", rv, sig_len);
    rv = verify(s, pub, sig, sig_len);
    CHECK(rv == CKR_OK, "verify: 0x%lx", rv);
    sig[5] ^= 1;
    rv = verify(s, pub, sig, sig_len);
    CHECK(rv == CKR_SIGNATURE_INVALID, "verify of a bad signature: 0x%lx", rv);
    CK_INFO info;
    CHECK(p11->C_GetInfo(&info) == CKR_OK && memcmp(info.manufacturerID, "SoftHSM", 7) == 0,
          "C_GetInfo is the real module's");
}

static void test_fail(CK_SESSION_HANDLE s, CK_SLOT_ID slot)
{
    section("fail: 3rd C_Sign returns CKR_DEVICE_REMOVED; every C_GetSlotInfo fails");
    CK_OBJECT_HANDLE priv = find_key(s, CKO_PRIVATE_KEY, 0x01);
    control("# the third signature fails\nfail C_Sign 3 CKR_DEVICE_REMOVED\n");
    CK_RV want[5] = {CKR_OK, CKR_OK, CKR_DEVICE_REMOVED, CKR_OK, CKR_OK};
    for (int i = 0; i < 5; i++) {
        CK_BYTE sig[256];
        CK_ULONG sig_len = sizeof sig;
        /* After the injected error the next C_SignInit must work: the
         * shim ended the real operation as a real failure would. */
        CK_RV rv = sign(s, priv, sig, &sig_len);
        CHECK(rv == want[i], "C_Sign call %d: 0x%lx, want 0x%lx", i + 1, rv, want[i]);
    }

    /* A line that stays in the file keeps its count when others change. */
    control("fail C_Sign 3 CKR_DEVICE_REMOVED\nfail C_GetSlotInfo * 0x30\n");
    CK_SLOT_INFO si;
    CHECK(p11->C_GetSlotInfo(slot, &si) == CKR_DEVICE_ERROR, "C_GetSlotInfo 1 not failed");
    CHECK(p11->C_GetSlotInfo(slot, &si) == CKR_DEVICE_ERROR, "C_GetSlotInfo 2 not failed");
    CK_BYTE sig[256];
    CK_ULONG sig_len = sizeof sig;
    CHECK(sign(s, priv, sig, &sig_len) == CKR_OK, "C_Sign count restarted on reload");

    section("fail: multi-part C_SignUpdate (RSA r1), then the operation is over");
    control("fail C_SignUpdate 1 CKR_DEVICE_ERROR\n");
    CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, NULL, 0};
    priv = find_key(s, CKO_PRIVATE_KEY, 0x02);
    CK_RV rv = p11->C_SignInit(s, &m, priv);
    CHECK(rv == CKR_OK, "C_SignInit: 0x%lx", rv);
    rv = p11->C_SignUpdate(s, (CK_BYTE_PTR) "abc", 3);
    CHECK(rv == CKR_DEVICE_ERROR, "C_SignUpdate: 0x%lx", rv);
    sig_len = sizeof sig;
    rv = p11->C_SignFinal(s, sig, &sig_len);
    CHECK(rv == CKR_OPERATION_NOT_INITIALIZED, "C_SignFinal after the failure: 0x%lx", rv);
    CHECK(p11->C_SignInit(s, &m, priv) == CKR_OK, "C_SignInit after the failure");
    CHECK(p11->C_SignUpdate(s, (CK_BYTE_PTR) "abc", 3) == CKR_OK, "2nd C_SignUpdate");
    sig_len = sizeof sig;
    CHECK(p11->C_SignFinal(s, sig, &sig_len) == CKR_OK, "C_SignFinal");
    control("");
}

static void test_latency(void)
{
    section("latency: C_GetInfo +200 ms, every call +50 ms");
    control("latency C_GetInfo 200000\n");
    CK_INFO info;
    double t0 = now();
    p11->C_GetInfo(&info);
    double dt = now() - t0;
    CHECK(dt >= 0.2, "C_GetInfo took %.3f s, want >= 0.2", dt);
    control("latency * 50000\n");
    CK_ULONG count = 0;
    t0 = now();
    p11->C_GetSlotList(CK_TRUE, NULL, &count);
    dt = now() - t0;
    CHECK(dt >= 0.05 && dt < 0.2, "C_GetSlotList took %.3f s, want 0.05..0.2", dt);
    control("");
    t0 = now();
    p11->C_GetInfo(&info);
    dt = now() - t0;
    CHECK(dt < 0.05, "C_GetInfo still slow (%.3f s) after the line went", dt);
}

static void test_token_flags(CK_SLOT_ID slot)
{
    section("token-flags");
    CK_TOKEN_INFO ti;
    CHECK(p11->C_GetTokenInfo(slot, &ti) == CKR_OK, "C_GetTokenInfo");
    CK_FLAGS real = ti.flags;
    CHECK(real & CKF_LOGIN_REQUIRED, "SoftHSM token should need login");
    control("token-flags +CKF_USER_PIN_FINAL_TRY -CKF_LOGIN_REQUIRED\n");
    CHECK(p11->C_GetTokenInfo(slot, &ti) == CKR_OK, "C_GetTokenInfo");
    CHECK(ti.flags == ((real | CKF_USER_PIN_FINAL_TRY) & ~CKF_LOGIN_REQUIRED),
          "flags 0x%lx (real 0x%lx)", ti.flags, real);
    control("token-flags +CKF_USER_PIN_LOCKED\n");
    CHECK(p11->C_GetTokenInfo(slot, &ti) == CKR_OK && ti.flags == (real | CKF_USER_PIN_LOCKED),
          "flags 0x%lx (real 0x%lx)", ti.flags, real);
    control("");
    CHECK(p11->C_GetTokenInfo(slot, &ti) == CKR_OK && ti.flags == real, "flags back to real");
}

static const unsigned char p256_g_der[67] =
    "\x04\x41\x04\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40"
    "\xf2\x77\x03\x7d\x81\x2d\xeb\x33\xa0\xf4\xa1\x39\x45\xd8\x98\xc2"
    "\x96\x4f\xe3\x42\xe2\xfe\x1a\x7f\x9b\x8e\xe7\xeb\x4a\x7c\x0f\x9e"
    "\x16\x2b\xce\x33\x57\x6b\x31\x5e\xce\xcb\xb6\x40\x68\x37\xbf\x51"
    "\xf5";

static int bits_differing(const unsigned char *a, const unsigned char *b, size_t n)
{
    int d = 0;
    for (size_t i = 0; i < n; i++)
        d += __builtin_popcount((unsigned)(a[i] ^ b[i]));
    return d;
}

static void test_wrong_pubkey(CK_SESSION_HANDLE s)
{
    section("wrong-pubkey: EC point becomes G, RSA modulus loses a bit, cert follows");
    CK_OBJECT_HANDLE pub = find_key(s, CKO_PUBLIC_KEY, 0x01);
    unsigned char real_pt[200], pt[200];
    CK_ULONG real_len = sizeof real_pt, len = sizeof pt;
    CHECK(get_attr(s, pub, CKA_EC_POINT, real_pt, &real_len) == CKR_OK && real_len == 67,
          "real EC_POINT");

    CK_OBJECT_HANDLE rpub = find_key(s, CKO_PUBLIC_KEY, 0x02);
    CK_OBJECT_HANDLE rpriv = find_key(s, CKO_PRIVATE_KEY, 0x02);
    unsigned char real_n[512], n_pub[512], n_priv[512];
    CK_ULONG real_n_len = sizeof real_n, n_pub_len = sizeof n_pub, n_priv_len = sizeof n_priv;
    CHECK(get_attr(s, rpub, CKA_MODULUS, real_n, &real_n_len) == CKR_OK && real_n_len == 256,
          "real modulus");

    CK_OBJECT_CLASS cert_class = CKO_CERTIFICATE;
    unsigned char one = 1;
    CK_ATTRIBUTE ct[] = {{CKA_CLASS, &cert_class, sizeof cert_class}, {CKA_ID, &one, 1}};
    CK_OBJECT_HANDLE cert;
    CHECK(find(s, ct, 2, &cert, 1) == 1, "certificate id 01");
    static unsigned char real_cert[4096], cert_v[4096];
    CK_ULONG real_cert_len = sizeof real_cert, cert_len = sizeof cert_v;
    CHECK(get_attr(s, cert, CKA_VALUE, real_cert, &real_cert_len) == CKR_OK, "real cert");

    control("wrong-pubkey 01\nwrong-pubkey 02\n");
    CHECK(get_attr(s, pub, CKA_EC_POINT, pt, &len) == CKR_OK, "EC_POINT");
    CHECK(len == 67 && memcmp(pt, p256_g_der, 67) == 0, "EC_POINT is not P-256's G");
    CHECK(memcmp(pt, real_pt, 67) != 0, "EC_POINT unchanged");
    /* Length queries agree with the altered value's length. */
    CK_ATTRIBUTE q = {CKA_EC_POINT, NULL, 0};
    CHECK(p11->C_GetAttributeValue(s, pub, &q, 1) == CKR_OK && q.ulValueLen == 67, "length query");

    CHECK(get_attr(s, rpub, CKA_MODULUS, n_pub, &n_pub_len) == CKR_OK && n_pub_len == 256,
          "public modulus");
    CHECK(get_attr(s, rpriv, CKA_MODULUS, n_priv, &n_priv_len) == CKR_OK && n_priv_len == 256,
          "private key's modulus");
    CHECK(bits_differing(n_pub, real_n, 256) == 1, "public modulus: not exactly one bit off");
    CHECK(memcmp(n_pub, n_priv, 256) == 0, "the two wrong moduli disagree");
    CHECK((n_pub[255] & 1) && n_pub[0] == real_n[0], "modulus no longer odd/same size");

    CHECK(get_attr(s, cert, CKA_VALUE, cert_v, &cert_len) == CKR_OK && cert_len == real_cert_len,
          "cert length changed");
    CHECK(memcmp(cert_v, real_cert, cert_len) != 0 && memmem(cert_v, cert_len, p256_g_der + 2, 65),
          "certificate's key is not G");

    /* RSA inside a certificate: the same single bit of the modulus. */
    unsigned char two = 2;
    ct[1].pValue = &two;
    CK_OBJECT_HANDLE rcert;
    CHECK(find(s, ct, 2, &rcert, 1) == 1, "certificate id 02");
    static unsigned char rcert_v[4096];
    CK_ULONG rcert_len = sizeof rcert_v;
    CHECK(get_attr(s, rcert, CKA_VALUE, rcert_v, &rcert_len) == CKR_OK, "RSA cert");
    control("");
    static unsigned char real_rcert[4096];
    CK_ULONG real_rcert_len = sizeof real_rcert;
    CHECK(get_attr(s, rcert, CKA_VALUE, real_rcert, &real_rcert_len) == CKR_OK &&
              real_rcert_len == rcert_len && bits_differing(real_rcert, rcert_v, rcert_len) == 1,
          "RSA certificate's modulus not exactly one bit off");

    control("wrong-pubkey 01 CKA_EC_POINT\n");
    cert_len = sizeof cert_v;
    CHECK(get_attr(s, cert, CKA_VALUE, cert_v, &cert_len) == CKR_OK &&
              memcmp(cert_v, real_cert, cert_len) == 0,
          "cert altered although only CKA_EC_POINT was asked");
    n_pub_len = sizeof n_pub;
    CHECK(get_attr(s, rpub, CKA_MODULUS, n_pub, &n_pub_len) == CKR_OK &&
              memcmp(n_pub, real_n, 256) == 0,
          "id 02 altered although not named");

    control("");
    len = sizeof pt;
    CHECK(get_attr(s, pub, CKA_EC_POINT, pt, &len) == CKR_OK && len == real_len &&
              memcmp(pt, real_pt, len) == 0,
          "EC_POINT not real again");
}

static void test_degenerate_pubkey(CK_SESSION_HANDLE s)
{
    section("degenerate-pubkey: infinity, off the curve, e = 1, even e, 512-bit modulus; "
            "forge-ecdsa");
    CK_OBJECT_HANDLE pub = find_key(s, CKO_PUBLIC_KEY, 0x01);
    CK_OBJECT_HANDLE rpub = find_key(s, CKO_PUBLIC_KEY, 0x02);
    CK_OBJECT_HANDLE rpriv = find_key(s, CKO_PRIVATE_KEY, 0x02);
    CK_OBJECT_HANDLE priv = find_key(s, CKO_PRIVATE_KEY, 0x01);
    unsigned char real_pt[200], pt[200], v[600];
    CK_ULONG real_len = sizeof real_pt, len = sizeof pt, vlen = sizeof v;
    CHECK(get_attr(s, pub, CKA_EC_POINT, real_pt, &real_len) == CKR_OK && real_len == 67,
          "real EC_POINT");

    control("degenerate-pubkey 01 ec-infinity\n");
    CHECK(get_attr(s, pub, CKA_EC_POINT, pt, &len) == CKR_OK && len == 3 &&
              memcmp(pt, "\x04\x01\x00", 3) == 0,
          "EC_POINT is not 04 01 00");
    CK_ATTRIBUTE q = {CKA_EC_POINT, NULL, 0};
    CHECK(p11->C_GetAttributeValue(s, pub, &q, 1) == CKR_OK && q.ulValueLen == 3,
          "length query does not give the degenerate value's length");

    control("degenerate-pubkey 01 ec-off-curve\n");
    len = sizeof pt;
    CHECK(get_attr(s, pub, CKA_EC_POINT, pt, &len) == CKR_OK && len == 67 &&
              bits_differing(pt, real_pt, 67) == 1 && pt[66] != real_pt[66],
          "EC_POINT: not y's low bit flipped");

    control("degenerate-pubkey 02 rsa-e-1\n");
    CHECK(get_attr(s, rpub, CKA_PUBLIC_EXPONENT, v, &vlen) == CKR_OK && vlen == 1 && v[0] == 1,
          "public exponent is not 1");
    vlen = sizeof v;
    CHECK(get_attr(s, rpriv, CKA_PUBLIC_EXPONENT, v, &vlen) == CKR_OK && vlen == 1 && v[0] == 1,
          "the private key's public exponent is not 1");
    control("degenerate-pubkey 02 rsa-e-even\n");
    vlen = sizeof v;
    CHECK(get_attr(s, rpub, CKA_PUBLIC_EXPONENT, v, &vlen) == CKR_OK && vlen == 3 &&
              memcmp(v, "\x01\x00\x00", 3) == 0,
          "public exponent is not 65536");
    control("degenerate-pubkey 02 rsa-small-modulus\n");
    vlen = sizeof v;
    CHECK(get_attr(s, rpriv, CKA_MODULUS, v, &vlen) == CKR_OK && vlen == 64 && (v[0] & 0x80) &&
              (v[63] & 1),
          "modulus is not 512 bits and odd");

    /* attr-error: the certificate's value, then the point, cannot be read. */
    CK_OBJECT_CLASS cert_class = CKO_CERTIFICATE;
    unsigned char one = 1;
    CK_ATTRIBUTE ct[] = {{CKA_CLASS, &cert_class, sizeof cert_class}, {CKA_ID, &one, 1}};
    CK_OBJECT_HANDLE cert;
    CHECK(find(s, ct, 2, &cert, 1) == 1, "certificate id 01");
    control("attr-error 01 CKA_VALUE CKR_DEVICE_ERROR\n");
    static unsigned char cert_v[4096];
    CK_ULONG cert_len = sizeof cert_v;
    CHECK(get_attr(s, cert, CKA_VALUE, cert_v, &cert_len) == CKR_DEVICE_ERROR &&
              cert_len == CK_UNAVAILABLE_INFORMATION,
          "certificate value read does not fail");
    len = sizeof pt;
    CHECK(get_attr(s, pub, CKA_EC_POINT, pt, &len) == CKR_OK && len == real_len,
          "attr-error CKA_VALUE touched CKA_EC_POINT");
    control("attr-error 01 CKA_EC_POINT CKR_ATTRIBUTE_SENSITIVE\n");
    CK_ATTRIBUTE two[] = {{CKA_EC_POINT, pt, sizeof pt}, {CKA_ID, v, sizeof v}};
    CHECK(p11->C_GetAttributeValue(s, pub, two, 2) == CKR_ATTRIBUTE_SENSITIVE &&
              two[0].ulValueLen == CK_UNAVAILABLE_INFORMATION && two[1].ulValueLen == 1 &&
              v[0] == 1,
          "attr-error: not the point alone unavailable");

    /* forge-ecdsa: r = x(G), s = the digest (below n here). */
    control("forge-ecdsa 01\n");
    CK_BYTE sig[128];
    CK_ULONG sig_len = sizeof sig;
    CHECK(sign(s, priv, sig, &sig_len) == CKR_OK && sig_len == 64, "forged C_Sign");
    CHECK(memcmp(sig, p256_g_der + 3, 32) == 0 && memcmp(sig + 32, digest, 32) == 0,
          "the signature is not (x(G), e)");
    /* The session is free again: a real signature follows. */
    control("");
    sig_len = sizeof sig;
    CHECK(sign(s, priv, sig, &sig_len) == CKR_OK && verify(s, pub, sig, sig_len) == CKR_OK,
          "a real signature after the forged one");
    len = sizeof pt;
    CHECK(get_attr(s, pub, CKA_EC_POINT, pt, &len) == CKR_OK && len == real_len &&
              memcmp(pt, real_pt, len) == 0,
          "EC_POINT not real again");
}

struct worker {
    CK_SLOT_ID slot;
    int signed_ok, injected, bad;
};

static void *sign_loop(void *arg)
{
    struct worker *w = arg;
    CK_SESSION_HANDLE s;
    /* The token is logged in already (login is per token, not session). */
    if (p11->C_OpenSession(w->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK) {
        w->bad++;
        return NULL;
    }
    for (int i = 0; i < 40; i++) {
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        unsigned char id = 1;
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, &id, 1}};
        CK_OBJECT_HANDLE key;
        CK_ULONG n = 0;
        if (p11->C_FindObjectsInit(s, t, 2) != CKR_OK ||
            p11->C_FindObjects(s, &key, 1, &n) != CKR_OK || p11->C_FindObjectsFinal(s) != CKR_OK ||
            n != 1) {
            w->bad++;
            continue;
        }
        CK_BYTE sig[256];
        CK_ULONG sig_len = sizeof sig;
        CK_RV rv = sign(s, key, sig, &sig_len);
        if (rv == CKR_OK)
            w->signed_ok++;
        else if (rv == CKR_DEVICE_ERROR)
            w->injected++;
        else
            w->bad++;
    }
    p11->C_CloseSession(s);
    return NULL;
}

static void test_threads(CK_SLOT_ID slot)
{
    section("threads: 8 signers while the control file keeps changing");
    enum { N = 8 };
    pthread_t t[N];
    struct worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){.slot = slot};
        if (pthread_create(&t[i], NULL, sign_loop, &w[i]) != 0) {
            CHECK(0, "pthread_create");
            return;
        }
    }
    static const char *const lines[] = {
        "fail C_Sign * CKR_DEVICE_ERROR\n",
        "latency * 200\nreuse-handles\n",
        "fail C_Sign 2 CKR_DEVICE_ERROR\ntoken-flags +CKF_USER_PIN_LOCKED\n",
        "",
    };
    for (int i = 0; i < 40; i++) {
        control("%s", lines[i % 4]);
        usleep(2000);
    }
    int ok = 0, injected = 0, bad = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ok += w[i].signed_ok;
        injected += w[i].injected;
        bad += w[i].bad;
    }
    control("");
    printf("  %d signatures, %d injected failures\n", ok, injected);
    CHECK(bad == 0 && ok + injected == N * 40, "%d ok, %d injected, %d unexpected", ok, injected,
          bad);
}

/* Deletes an object behind the shim's back, from another process, the way
 * a token changes under a long-running provider. */
static int external_delete(const char *type, const char *id)
{
    const char *module = getenv("HSM_SHIM_MODULE");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "pkcs11-tool --module '%s' --token-label shimtest --login --pin 1234 "
             "--delete-object --type %s --id %s >/dev/null 2>&1",
             module && *module ? module : "/usr/lib/softhsm/libsofthsm2.so", type, id);
    return system(cmd);
}

static void test_reuse_handles(CK_SESSION_HANDLE s)
{
    section("without reuse-handles: a destroyed object's number is not reused");
    CK_OBJECT_HANDLE c = make_data(s, "c", CK_FALSE);
    CHECK(p11->C_DestroyObject(s, c) == CKR_OK, "destroy c");
    CK_OBJECT_HANDLE d = make_data(s, "d", CK_FALSE);
    CHECK(d != c, "number %lu reused without reuse-handles", c);
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof cls};
    CHECK(p11->C_GetAttributeValue(s, c, &a, 1) == CKR_OBJECT_HANDLE_INVALID, "old number valid");
    p11->C_DestroyObject(s, d);

    section("reuse-handles: destroyed through the shim -> next object gets its number");
    control("reuse-handles\n");
    CK_OBJECT_HANDLE h1 = make_data(s, "first", CK_FALSE);
    CHECK(p11->C_DestroyObject(s, h1) == CKR_OK, "destroy first");
    CK_OBJECT_HANDLE h2 = make_data(s, "second", CK_FALSE);
    CHECK(h2 == h1, "new object got %lu, want the old number %lu", h2, h1);
    CHECK(label_is(s, h1, "second"), "old number does not name the new object");
    p11->C_DestroyObject(s, h2);

    section("reuse-handles: deleted by another process -> number silently reused");
    CK_OBJECT_HANDLE rpub = find_key(s, CKO_PUBLIC_KEY, 0x02);
    CHECK(external_delete("pubkey", "02") == 0, "pkcs11-tool --delete-object failed");
    CK_OBJECT_HANDLE h3 = make_data(s, "newcomer", CK_TRUE);
    CHECK(h3 == rpub, "new object got %lu, want the deleted key's number %lu", h3, rpub);
    CHECK(p11->C_GetAttributeValue(s, rpub, &a, 1) == CKR_OK && cls == CKO_DATA,
          "remembered key handle does not name the new data object");
    p11->C_DestroyObject(s, h3);
    control("");
}

static void test_snapshot(CK_SESSION_HANDLE s)
{
    section("snapshot-save, replace k1 with a new key, snapshot-serve");
    char snap[4096];
    snprintf(snap, sizeof snap, "%s", work_path("snapshot"));
    unlink(snap);
    control("snapshot-save %s\n", snap);
    CK_OBJECT_HANDLE old_pub = find_key(s, CKO_PUBLIC_KEY, 0x01); /* this search saves */
    CHECK(access(snap, R_OK) == 0, "no snapshot written at %s", snap);
    unsigned char old_pt[100];
    CK_ULONG old_len = sizeof old_pt;
    CHECK(get_attr(s, old_pub, CKA_EC_POINT, old_pt, &old_len) == CKR_OK, "old EC_POINT");
    unsigned char params[32];
    CK_ULONG params_len = sizeof params;
    CHECK(get_attr(s, old_pub, CKA_EC_PARAMS, params, &params_len) == CKR_OK, "EC_PARAMS");

    /* The token is re-keyed: k1 gone, a new pair under id 05. */
    control("");
    CHECK(p11->C_DestroyObject(s, find_key(s, CKO_PRIVATE_KEY, 0x01)) == CKR_OK, "destroy priv");
    CHECK(p11->C_DestroyObject(s, old_pub) == CKR_OK, "destroy pub");
    CK_BBOOL yes = CK_TRUE;
    unsigned char id5 = 5;
    CK_ATTRIBUTE pubt[] = {{CKA_TOKEN, &yes, 1},
                           {CKA_EC_PARAMS, params, params_len},
                           {CKA_VERIFY, &yes, 1},
                           {CKA_ID, &id5, 1}};
    CK_ATTRIBUTE privt[] = {{CKA_TOKEN, &yes, 1},
                            {CKA_PRIVATE, &yes, 1},
                            {CKA_SIGN, &yes, 1},
                            {CKA_SENSITIVE, &yes, 1},
                            {CKA_ID, &id5, 1}};
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE new_pub, new_priv;
    CHECK(p11->C_GenerateKeyPair(s, &gen, pubt, 4, privt, 5, &new_pub, &new_priv) == CKR_OK,
          "C_GenerateKeyPair");

    control("snapshot-serve %s\n", snap);
    CK_OBJECT_HANDLE stale_priv = find_key(s, CKO_PRIVATE_KEY, 0x01);
    CK_OBJECT_HANDLE stale_pub = find_key(s, CKO_PUBLIC_KEY, 0x01);
    unsigned char buf[100];
    CK_ULONG len = sizeof buf;
    CHECK(get_attr(s, stale_priv, CKA_ID, buf, &len) == CKR_OK && len == 1 && buf[0] == 1,
          "stale private key's CKA_ID is not the old 01");
    len = sizeof buf;
    CHECK(get_attr(s, stale_pub, CKA_EC_POINT, buf, &len) == CKR_OK && len == old_len &&
              memcmp(buf, old_pt, len) == 0,
          "stale public key is not the old one");
    len = sizeof buf;
    CHECK(get_attr(s, stale_priv, CKA_VALUE, buf, &len) == CKR_ATTRIBUTE_TYPE_INVALID &&
              len == CK_UNAVAILABLE_INFORMATION,
          "attribute missing from the snapshot not TYPE_INVALID");
    CK_ATTRIBUTE byid[] = {{CKA_ID, &id5, 1}};
    CK_OBJECT_HANDLE h[4];
    CHECK(find(s, byid, 1, h, 4) == 0, "the new key shows through the stale view");

    /* The card signs with its current key, not the one the view shows. */
    CK_BYTE sig[256];
    CK_ULONG sig_len = sizeof sig;
    CHECK(sign(s, stale_priv, sig, &sig_len) == CKR_OK, "sign with the stale handle");
    CHECK(verify(s, new_pub, sig, sig_len) == CKR_OK, "signature not by the new key");
    CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY;
    CK_KEY_TYPE ec = CKK_EC;
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE oldt[] = {{CKA_CLASS, &pubc, sizeof pubc},
                           {CKA_KEY_TYPE, &ec, sizeof ec},
                           {CKA_TOKEN, &no, 1},
                           {CKA_VERIFY, &yes, 1},
                           {CKA_EC_PARAMS, params, params_len},
                           {CKA_EC_POINT, old_pt, old_len}};
    CK_OBJECT_HANDLE old_key;
    CHECK(p11->C_CreateObject(s, oldt, 6, &old_key) == CKR_OK, "import old public key");
    CHECK(verify(s, old_key, sig, sig_len) == CKR_SIGNATURE_INVALID,
          "signature verifies under the stale public key");

    control("");
    CK_OBJECT_CLASS privc = CKO_PRIVATE_KEY;
    unsigned char id1 = 1;
    CK_ATTRIBUTE old_priv_t[] = {{CKA_CLASS, &privc, sizeof privc}, {CKA_ID, &id1, 1}};
    CHECK(find(s, old_priv_t, 2, h, 4) == 0, "old key visible without snapshot-serve");
    CHECK(find(s, byid, 1, h, 4) == 2, "new key not visible without snapshot-serve");
}

/* pthread_atfork handlers of this process: `fork` must be a real fork(). */
static int prepared, parented;
static void count_prepare(void)
{
    prepared++;
}
static void count_parent(void)
{
    parented++;
}

static int count_log_lines(const char *want)
{
    FILE *f = fopen(work_path("log"), "r");
    char line[256];
    int n = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        n += strcmp(line, want) == 0;
    fclose(f);
    return n;
}

static void test_fork(CK_SLOT_ID slot)
{
    section("fork: C_GetInfo forks and waits; fork * with fail");
    CHECK(pthread_atfork(count_prepare, count_parent, NULL) == 0, "pthread_atfork");
    control("fork C_GetInfo\n");
    int logged = count_log_lines("fork C_GetInfo ok\n");
    CK_INFO info;
    CHECK(p11->C_GetInfo(&info) == CKR_OK && memcmp(info.manufacturerID, "SoftHSM", 7) == 0,
          "C_GetInfo with fork is the real module's");
    CHECK(prepared == 1 && parented == 1, "atfork handlers ran %d/%d times, want 1/1", prepared,
          parented);
    CHECK(count_log_lines("fork C_GetInfo ok\n") == logged + 1, "no \"fork C_GetInfo ok\" logged");
    CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD, "a child was left unwaited");
    CK_ULONG count = 0;
    CHECK(p11->C_GetSlotList(CK_TRUE, NULL, &count) == CKR_OK && prepared == 1,
          "C_GetSlotList forked (%d) under fork C_GetInfo", prepared);

    /* Fork first, then the injected failure: a module whose helper starts
     * and whose initialisation then fails. */
    control("fork *\nfail C_GetSlotInfo * CKR_DEVICE_ERROR\n");
    CK_SLOT_INFO si;
    CHECK(p11->C_GetSlotInfo(slot, &si) == CKR_DEVICE_ERROR, "C_GetSlotInfo not failed");
    CHECK(prepared == 2, "fork * did not fork in C_GetSlotInfo (%d)", prepared);
    control("");
    CHECK(p11->C_GetInfo(&info) == CKR_OK && prepared == 2, "still forking after the line went");
}

static void test_log(void)
{
    section("HSM_SHIM_LOG");
    FILE *f = fopen(work_path("log"), "r");
    CHECK(f != NULL, "no log");
    if (!f)
        return;
    char line[256];
    int logins = 0, removed = 0, total = 0;
    bool pin = false;
    while (fgets(line, sizeof line, f)) {
        total++;
        logins += strcmp(line, "C_Login CKR_OK\n") == 0;
        removed += strcmp(line, "C_Sign CKR_DEVICE_REMOVED\n") == 0;
        pin = pin || strstr(line, "1234") != NULL;
    }
    fclose(f);
    CHECK(logins == 1, "%d C_Login lines, want 1", logins);
    CHECK(removed == 1, "%d injected C_Sign lines, want 1", removed);
    CHECK(!pin && total > 50, "log has %d lines%s", total, pin ? " and a PIN" : "");
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s <hsm-fault-shim.so> <work dir>\n", argv[0]);
        return 2;
    }
    workdir = argv[2];
    unlink(work_path("control"));
    unlink(work_path("log"));
    setenv("HSM_SHIM_CONTROL", work_path("control"), 1);
    setenv("HSM_SHIM_LOG", work_path("log"), 1);

    void *mod = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!mod) {
        fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
        return 1;
    }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(mod, "C_GetFunctionList");
    if (!get || get(&p11) != CKR_OK) {
        fprintf(stderr, "C_GetFunctionList failed\n");
        return 1;
    }
    CK_C_INITIALIZE_ARGS init = {.flags = CKF_OS_LOCKING_OK};
    if (p11->C_Initialize(&init) != CKR_OK) {
        fprintf(stderr, "C_Initialize failed\n");
        return 1;
    }

    CK_SLOT_ID slots[16], slot = 0;
    CK_ULONG nslots = 16;
    bool found = false;
    CHECK(p11->C_GetSlotList(CK_TRUE, slots, &nslots) == CKR_OK, "C_GetSlotList");
    for (CK_ULONG i = 0; i < nslots && !found; i++) {
        CK_TOKEN_INFO ti;
        if (p11->C_GetTokenInfo(slots[i], &ti) == CKR_OK && memcmp(ti.label, "shimtest ", 9) == 0) {
            slot = slots[i];
            found = true;
        }
    }
    if (!found) {
        fprintf(stderr, "no token labelled shimtest\n");
        return 1;
    }
    CK_SESSION_HANDLE s;
    if (p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK ||
        p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4) != CKR_OK) {
        fprintf(stderr, "cannot open a session and log in\n");
        return 1;
    }

    test_pass_through(s);
    test_fail(s, slot);
    test_latency();
    test_token_flags(slot);
    test_wrong_pubkey(s);
    test_fork(slot);
    test_degenerate_pubkey(s);
    test_threads(slot);
    test_reuse_handles(s);
    test_snapshot(s);

    p11->C_Logout(s);
    p11->C_CloseSession(s);
    p11->C_Finalize(NULL);
    test_log();
    dlclose(mod);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    else
        printf("all shim checks passed\n");
    return failures ? 1 : 0;
}
