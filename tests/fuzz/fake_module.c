/*
 * A hostile PKCS#11 module for fuzz_module: one slot with one token that
 * holds a real P-256 key pair (its private key object, its public key
 * object and a self-signed certificate, all with CKA_ID 01), whose every
 * answer may be bent by the fuzz input. With no input it behaves as a
 * healthy token, so the provider's whole load path runs (slot and token
 * enumeration, login, object search, attribute reads, the cross-check of
 * the public views, the possession proof, a signature); each byte of input
 * then decides, at one decision point after another, whether the module
 * answers normally or with an error code, a length past the buffer it was
 * given, a count larger than asked for, a value made of input bytes, a
 * field padded with NULs, or a signature made of input bytes.
 *
 * fake_module_feed() sets the script for the next calls; the key pair
 * (made once, in a library context with only the default provider, so
 * that the module never reaches the provider under test) is exposed to the
 * harness through fake_module_public_key().
 */
#include "fake_module.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

static const uint8_t *script;
static size_t script_len, script_pos;

/* The next decision: 0 (also when the script is used up) means "behave". */
static uint8_t take(void)
{
    return script_pos < script_len ? script[script_pos++] : 0;
}

EXPORT void fake_module_feed(const uint8_t *data, size_t len)
{
    script = data;
    script_len = len;
    script_pos = 0;
}

/* ------------------------------------------------------------------ key */

static OSSL_LIB_CTX *soft;
static EVP_PKEY *key;
static unsigned char point[67],
    ec_params[10] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static size_t point_len;
static unsigned char *cert;
static size_t cert_len;

static bool make_key(void)
{
    X509 *x = NULL;
    unsigned char raw[65], *p = NULL;
    size_t raw_len = 0;
    int len;

    if (key != NULL)
        return true;
    if ((soft = OSSL_LIB_CTX_new()) == NULL || OSSL_PROVIDER_load(soft, "default") == NULL ||
        (key = EVP_PKEY_Q_keygen(soft, NULL, "EC", "P-256")) == NULL ||
        !EVP_PKEY_get_octet_string_param(key, "encoded-pub-key", raw, sizeof(raw), &raw_len) ||
        raw_len != 65)
        return false;
    point[0] = 0x04; /* DER OCTET STRING, as CKA_EC_POINT */
    point[1] = 65;
    memcpy(point + 2, raw, 65);
    point_len = 67;
    if ((x = X509_new_ex(soft, NULL)) == NULL || !X509_set_version(x, 2) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
        !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                                    (const unsigned char *)"fuzz", -1, -1, 0) ||
        !X509_set_issuer_name(x, X509_get_subject_name(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 3600) || !X509_set_pubkey(x, key) ||
        !X509_sign(x, key, EVP_sha256()) || (len = i2d_X509(x, &p)) <= 0) {
        X509_free(x);
        return false;
    }
    cert = p;
    cert_len = (size_t)len;
    X509_free(x);
    return true;
}

EXPORT const EVP_PKEY *fake_module_public_key(void)
{
    return make_key() ? key : NULL;
}

/* -------------------------------------------------------------- objects */

enum { OBJ_PRIVATE = 1, OBJ_PUBLIC, OBJ_CERT, N_OBJECTS = 3 };

static const CK_OBJECT_CLASS classes[N_OBJECTS + 1] = {0, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY,
                                                       CKO_CERTIFICATE};
static const CK_BYTE obj_id[1] = {0x01};
static const char obj_label[] = "fuzz-key";
static const CK_KEY_TYPE ec_type = CKK_EC;
static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* The object's true value of |type|, or false when it has none. */
static bool value_of(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type, const void **v, size_t *len)
{
    CK_OBJECT_CLASS cls = classes[obj];

#define VALUE(ptr, size) (*v = (ptr), *len = (size), true)
    switch (type) {
    case CKA_CLASS:
        return VALUE(&classes[obj], sizeof(cls));
    case CKA_ID:
        return VALUE(obj_id, sizeof(obj_id));
    case CKA_LABEL:
        return VALUE(obj_label, strlen(obj_label));
    case CKA_TOKEN:
        return VALUE(&yes, sizeof(yes));
    case CKA_KEY_TYPE:
        return cls != CKO_CERTIFICATE && VALUE(&ec_type, sizeof(ec_type));
    case CKA_EC_PARAMS:
        return cls != CKO_CERTIFICATE && VALUE(ec_params, sizeof(ec_params));
    case CKA_EC_POINT:
        return cls != CKO_CERTIFICATE && VALUE(point, point_len);
    case CKA_SIGN:
        return cls == CKO_PRIVATE_KEY && VALUE(&yes, sizeof(yes));
    case CKA_DECRYPT:
    case CKA_DERIVE:
    case CKA_ALWAYS_AUTHENTICATE:
        return cls == CKO_PRIVATE_KEY && VALUE(&no, sizeof(no));
    case CKA_VALUE:
        return cls == CKO_CERTIFICATE && VALUE(cert, cert_len);
    default:
        return false;
    }
#undef VALUE
}

/* Bytes of the script used as a value: a length byte, then that many. */
static unsigned char scratch[256];
static size_t script_bytes(void)
{
    size_t n = take();

    for (size_t i = 0; i < n; i++)
        scratch[i] = take();
    return n;
}

static const CK_RV bad_codes[] = {
    CKR_GENERAL_ERROR,
    CKR_DEVICE_ERROR,
    CKR_DEVICE_REMOVED,
    CKR_TOKEN_NOT_PRESENT,
    CKR_SESSION_HANDLE_INVALID,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_BUFFER_TOO_SMALL,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_SENSITIVE,
    CKR_USER_NOT_LOGGED_IN,
    CKR_PIN_INCORRECT,
    CKR_PIN_LOCKED,
    CKR_CRYPTOKI_NOT_INITIALIZED,
    CKR_FUNCTION_FAILED,
    CKR_OPERATION_ACTIVE,
    CKR_USER_PIN_NOT_INITIALIZED,
    CKR_HOST_MEMORY,
    CKR_ARGUMENTS_BAD,
};

/* A decision for a whole call: 0 behave, else a failing code. */
static CK_RV call_fate(void)
{
    uint8_t b = take();

    if (b < 200)
        return CKR_OK;
    return bad_codes[b % (sizeof(bad_codes) / sizeof(bad_codes[0]))];
}

static bool initialized;
static bool logged_in;
static CK_SESSION_HANDLE next_session = 1;
static unsigned open_sessions;
/* One search and one signature at a time per session is all the
 * provider uses; one of each for the module is enough to model. */
static CK_OBJECT_HANDLE found[8];
static size_t n_found, found_pos;
static bool finding, signing;

/* ------------------------------------------------------------ functions */

static CK_RV fake_Initialize(CK_VOID_PTR args)
{
    CK_RV rv = call_fate();

    (void)args;
    if (rv != CKR_OK)
        return rv;
    if (initialized)
        return CKR_CRYPTOKI_ALREADY_INITIALIZED;
    if (!make_key())
        return CKR_GENERAL_ERROR;
    initialized = true;
    logged_in = false;
    return CKR_OK;
}

static CK_RV fake_Finalize(CK_VOID_PTR r)
{
    (void)r;
    if (!initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    initialized = false;
    open_sessions = 0;
    finding = signing = false;
    return CKR_OK;
}

static void pad(CK_UTF8CHAR *field, size_t size, const char *text)
{
    /* A byte of 1 pads with NULs, as some modules do. */
    memset(field, take() == 1 ? '\0' : ' ', size);
    memcpy(field, text, strlen(text) < size ? strlen(text) : size);
}

static CK_RV fake_GetInfo(CK_INFO_PTR info)
{
    CK_RV rv = call_fate();

    if (rv != CKR_OK)
        return rv;
    if (!initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    memset(info, 0, sizeof(*info));
    info->cryptokiVersion.major = 2;
    info->cryptokiVersion.minor = 40;
    pad(info->manufacturerID, sizeof(info->manufacturerID), "hsm fuzz");
    pad(info->libraryDescription, sizeof(info->libraryDescription), "hostile module");
    return CKR_OK;
}

static CK_RV fake_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    CK_RV rv = call_fate();
    CK_ULONG n = 1;
    uint8_t b;

    (void)present;
    if (rv != CKR_OK)
        return rv;
    if (!initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    b = take();
    if (b == 1)
        n = take() % 6; /* a slot list of another size */
    if (list == NULL) {
        *count = n;
        return CKR_OK;
    }
    if (*count < n) {
        *count = n;
        return CKR_BUFFER_TOO_SMALL;
    }
    for (CK_ULONG i = 0; i < n; i++)
        list[i] = i == 0 ? 7 : take();
    *count = b == 2 ? *count + 4 : n; /* 2: more slots than there was room for */
    return CKR_OK;
}

static CK_RV fake_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    CK_RV rv = call_fate();

    if (rv != CKR_OK)
        return rv;
    memset(info, 0, sizeof(*info));
    pad(info->slotDescription, sizeof(info->slotDescription), "fuzz slot");
    pad(info->manufacturerID, sizeof(info->manufacturerID), "hsm fuzz");
    info->flags = CKF_TOKEN_PRESENT | (take() == 1 ? 0 : CKF_HW_SLOT);
    return slot == 7 ? CKR_OK : CKR_SLOT_ID_INVALID;
}

static CK_RV fake_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    CK_RV rv = call_fate();

    (void)slot;
    if (rv != CKR_OK)
        return rv;
    memset(info, 0, sizeof(*info));
    pad(info->label, sizeof(info->label), "fuzz");
    pad(info->manufacturerID, sizeof(info->manufacturerID), "hsm fuzz");
    pad(info->model, sizeof(info->model), "hostile");
    pad(info->serialNumber, sizeof(info->serialNumber), "0001");
    info->flags = CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED;
    switch (take()) {
    case 1:
        info->flags |= CKF_USER_PIN_FINAL_TRY;
        break;
    case 2:
        info->flags |= CKF_USER_PIN_LOCKED;
        break;
    case 3:
        info->flags &= ~CKF_LOGIN_REQUIRED;
        break;
    case 4:
        info->flags |= CKF_PROTECTED_AUTHENTICATION_PATH;
        break;
    }
    return CKR_OK;
}

static CK_RV fake_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    (void)slot;
    if (list == NULL) {
        *count = 1;
        return CKR_OK;
    }
    if (*count < 1)
        return CKR_BUFFER_TOO_SMALL;
    list[0] = CKM_ECDSA;
    *count = 1;
    return call_fate();
}

static CK_RV fake_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type,
                                   CK_MECHANISM_INFO_PTR info)
{
    (void)slot;
    if (type != CKM_ECDSA)
        return CKR_MECHANISM_INVALID;
    info->ulMinKeySize = 256;
    info->ulMaxKeySize = 521;
    info->flags = CKF_SIGN;
    return call_fate();
}

static CK_RV fake_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
                              CK_SESSION_HANDLE_PTR s)
{
    CK_RV rv = call_fate();

    (void)slot;
    (void)flags;
    (void)app;
    (void)notify;
    if (rv != CKR_OK)
        return rv;
    if (!initialized)
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    *s = next_session++;
    open_sessions++;
    return CKR_OK;
}

static CK_RV fake_CloseSession(CK_SESSION_HANDLE s)
{
    (void)s;
    if (open_sessions > 0 && --open_sessions == 0)
        logged_in = false; /* the application's last session: logged out */
    return CKR_OK;
}

static CK_RV fake_CloseAllSessions(CK_SLOT_ID slot)
{
    (void)slot;
    open_sessions = 0;
    logged_in = false;
    return CKR_OK;
}

static CK_RV fake_GetSessionInfo(CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR info)
{
    CK_RV rv = call_fate();

    (void)s;
    if (rv != CKR_OK)
        return rv;
    memset(info, 0, sizeof(*info));
    info->slotID = 7;
    info->state = logged_in ? CKS_RO_USER_FUNCTIONS : CKS_RO_PUBLIC_SESSION;
    info->flags = CKF_SERIAL_SESSION;
    return CKR_OK;
}

static CK_RV fake_Login(CK_SESSION_HANDLE s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
    CK_RV rv = call_fate();

    (void)s;
    (void)user;
    if (rv != CKR_OK)
        return rv;
    if (pin != NULL && (len != 4 || memcmp(pin, "1234", 4) != 0))
        return CKR_PIN_INCORRECT;
    logged_in = true;
    return CKR_OK;
}

static CK_RV fake_Logout(CK_SESSION_HANDLE s)
{
    (void)s;
    logged_in = false;
    return CKR_OK;
}

static bool matches(CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    if (classes[obj] == CKO_PRIVATE_KEY && !logged_in)
        return false;
    for (CK_ULONG i = 0; i < n; i++) {
        const void *v;
        size_t len;

        if (!value_of(obj, tmpl[i].type, &v, &len) || len != tmpl[i].ulValueLen ||
            (len > 0 && memcmp(v, tmpl[i].pValue, len) != 0))
            return false;
    }
    return true;
}

static CK_RV fake_FindObjectsInit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    CK_RV rv = call_fate();

    (void)s;
    if (rv != CKR_OK)
        return rv;
    if (finding)
        return CKR_OPERATION_ACTIVE;
    n_found = found_pos = 0;
    for (CK_OBJECT_HANDLE obj = 1; obj <= N_OBJECTS; obj++)
        if (matches(obj, tmpl, n))
            found[n_found++] = obj;
    /* 1: an extra handle that names no object; 2: the same object twice. */
    switch (take()) {
    case 1:
        found[n_found++] = 0x7f000000u + take();
        break;
    case 2:
        if (n_found > 0)
            found[n_found++] = found[0];
        break;
    }
    finding = true;
    return CKR_OK;
}

static CK_RV fake_FindObjects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                              CK_ULONG_PTR count)
{
    CK_RV rv = call_fate();
    CK_ULONG n = 0;

    (void)s;
    if (rv != CKR_OK)
        return rv;
    if (!finding)
        return CKR_OPERATION_NOT_INITIALIZED;
    while (n < max && found_pos < n_found)
        out[n++] = found[found_pos++];
    *count = take() == 1 ? max + 3 : n; /* 1: more handles than room for */
    return CKR_OK;
}

static CK_RV fake_FindObjectsFinal(CK_SESSION_HANDLE s)
{
    (void)s;
    finding = false;
    return CKR_OK;
}

static CK_RV fake_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                                    CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    CK_RV rv = call_fate(), result = CKR_OK;

    (void)s;
    if (rv != CKR_OK)
        return rv;
    if (obj < 1 || obj > N_OBJECTS)
        return CKR_OBJECT_HANDLE_INVALID;
    for (CK_ULONG i = 0; i < n; i++) {
        const void *v = NULL;
        size_t len = 0;
        bool has = value_of(obj, tmpl[i].type, &v, &len);

        switch (take()) {
        case 1: /* a value made of script bytes */
            len = script_bytes();
            v = scratch;
            has = true;
            break;
        case 2: /* absent */
            has = false;
            break;
        case 3: /* a length past the buffer, nothing written */
            if (tmpl[i].pValue != NULL)
                tmpl[i].ulValueLen += 1 + take();
            continue;
        }
        if (!has) {
            tmpl[i].ulValueLen = (CK_ULONG)-1;
            result = CKR_ATTRIBUTE_TYPE_INVALID;
        } else if (tmpl[i].pValue == NULL) {
            tmpl[i].ulValueLen = len;
        } else if (tmpl[i].ulValueLen < len) {
            tmpl[i].ulValueLen = (CK_ULONG)-1;
            result = CKR_BUFFER_TOO_SMALL;
        } else {
            memcpy(tmpl[i].pValue, v, len);
            tmpl[i].ulValueLen = len;
        }
    }
    return result;
}

static CK_RV fake_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE obj)
{
    CK_RV rv = call_fate();

    (void)s;
    if (rv != CKR_OK)
        return rv;
    if (signing)
        return CKR_OPERATION_ACTIVE;
    if (mech == NULL || mech->mechanism != CKM_ECDSA)
        return CKR_MECHANISM_INVALID;
    if (obj != OBJ_PRIVATE)
        return CKR_KEY_HANDLE_INVALID;
    if (!logged_in)
        return CKR_USER_NOT_LOGGED_IN;
    signing = true;
    return CKR_OK;
}

/* ECDSA over |in| with the key, as r || s of 32 bytes each. */
static bool ecdsa_raw(const unsigned char *in, size_t inlen, unsigned char out[64])
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(soft, key, NULL);
    unsigned char der[80];
    const unsigned char *p = der;
    size_t derlen = sizeof(der);
    ECDSA_SIG *sig = NULL;
    bool ok = ctx != NULL && EVP_PKEY_sign_init(ctx) > 0 &&
              EVP_PKEY_sign(ctx, der, &derlen, in, inlen) > 0 &&
              (sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) != NULL &&
              BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) == 32 &&
              BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) == 32;

    ECDSA_SIG_free(sig);
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static CK_RV fake_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inlen, CK_BYTE_PTR out,
                       CK_ULONG_PTR outlen)
{
    CK_RV rv = call_fate();
    unsigned char raw[64];
    const unsigned char *sig = raw;
    size_t siglen = sizeof(raw);

    (void)s;
    if (!signing)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (rv != CKR_OK) {
        signing = rv == CKR_BUFFER_TOO_SMALL; /* that one keeps the operation */
        return rv;
    }
    switch (take()) {
    case 1: /* a signature made of script bytes */
        siglen = script_bytes();
        sig = scratch;
        break;
    case 2: /* a length past the buffer, nothing written */
        if (out != NULL) {
            *outlen += 1 + take();
            signing = false;
            return CKR_OK;
        }
        break;
    default:
        if (!ecdsa_raw(in, inlen, raw)) {
            signing = false;
            return CKR_FUNCTION_FAILED;
        }
    }
    if (out == NULL) {
        *outlen = siglen;
        return CKR_OK;
    }
    if (*outlen < siglen) {
        *outlen = siglen;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(out, sig, siglen);
    *outlen = siglen;
    signing = false;
    return CKR_OK;
}

static CK_RV fake_DestroyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    (void)s;
    (void)obj;
    return CKR_ACTION_PROHIBITED;
}

static CK_RV not_supported(void)
{
    return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_FUNCTION_LIST functions;

EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
    /* Every entry not implemented above answers "not supported". */
    void (**slot)(void) = (void (**)(void)) & functions.C_Initialize;
    void (**end)(void) = (void (**)(void))(&functions.C_WaitForSlotEvent + 1);

    for (; slot < end; slot++)
        *slot = (void (*)(void))not_supported;
    functions.version.major = 2;
    functions.version.minor = 40;
    functions.C_Initialize = fake_Initialize;
    functions.C_Finalize = fake_Finalize;
    functions.C_GetInfo = fake_GetInfo;
    functions.C_GetFunctionList = C_GetFunctionList;
    functions.C_GetSlotList = fake_GetSlotList;
    functions.C_GetSlotInfo = fake_GetSlotInfo;
    functions.C_GetTokenInfo = fake_GetTokenInfo;
    functions.C_GetMechanismList = fake_GetMechanismList;
    functions.C_GetMechanismInfo = fake_GetMechanismInfo;
    functions.C_OpenSession = fake_OpenSession;
    functions.C_CloseSession = fake_CloseSession;
    functions.C_CloseAllSessions = fake_CloseAllSessions;
    functions.C_GetSessionInfo = fake_GetSessionInfo;
    functions.C_Login = fake_Login;
    functions.C_Logout = fake_Logout;
    functions.C_FindObjectsInit = fake_FindObjectsInit;
    functions.C_FindObjects = fake_FindObjects;
    functions.C_FindObjectsFinal = fake_FindObjectsFinal;
    functions.C_GetAttributeValue = fake_GetAttributeValue;
    functions.C_SignInit = fake_SignInit;
    functions.C_Sign = fake_Sign;
    functions.C_DestroyObject = fake_DestroyObject;
    *list = &functions;
    return CKR_OK;
}
