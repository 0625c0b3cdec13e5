/*
 * Cryptographic functions. Key handles are translated on the way in (a
 * synthetic stale key runs as the token's current key); new keys get
 * virtual numbers on the way out.
 *
 * An injected failure of a data-phase call (C_Sign, C_SignUpdate, ...)
 * must leave the real module as a real failure would: PKCS#11 says such a
 * failure ends the operation. The real operation is therefore finished
 * with its output thrown away, otherwise the caller's next C_SignInit would
 * meet CKR_OPERATION_ACTIVE, which no real token does after an error.
 */
#include "fwd.h"

#include <stdlib.h>

typedef CK_RV (*single_fn)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
typedef CK_RV (*final_fn)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR);

/* Results after which PKCS#11 keeps the operation active. */
static bool keeps_operation(CK_RV rv)
{
    return rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL;
}

static void finish_single(single_fn f, CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len)
{
    CK_ULONG len = 0;
    if (f(s, in, in_len, NULL, &len) != CKR_OK)
        return; /* that error already ended it */
    unsigned char *buf = malloc(len ? len : 1);
    if (buf)
        f(s, in, in_len, buf, &len);
    free(buf);
}

static void finish_final(final_fn f, CK_SESSION_HANDLE s)
{
    CK_ULONG len = 0;
    if (f(s, NULL, &len) != CKR_OK)
        return;
    unsigned char *buf = malloc(len ? len : 1);
    if (buf)
        f(s, buf, &len);
    free(buf);
}

static void finish_verify(CK_SESSION_HANDLE s)
{
    unsigned char junk[1] = {0}; /* any verdict ends a verification */
    R->C_VerifyFinal(s, junk, sizeof junk);
}

/* Init functions: one key in, nothing out. */
#define KEY_INIT(fn)                                                                               \
    static CK_RV shim_##fn(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)       \
    {                                                                                              \
        SHIM_BEGIN(fn);                                                                            \
        rv = R->fn(s, mech, objects_in(s, key));                                                   \
        objects_after(s, rv, &key, 1);                                                             \
        SHIM_RETURN(fn);                                                                           \
    }

KEY_INIT(C_EncryptInit)
KEY_INIT(C_DecryptInit)

struct key_ctx {
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE real;
};

static bool key_getter(void *ctx, CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len)
{
    struct key_ctx *k = ctx;
    return attrs_get_real(k->s, k->real, type, val, len) == CKR_OK;
}

/* forge-ecdsa decides here, once per operation, from the key's CKA_ID. */
static CK_RV shim_C_SignInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    SHIM_BEGIN(C_SignInit);
    struct key_ctx k = {s, objects_in(s, key)};
    rv = R->C_SignInit(s, mech, k.real);
    if (rv == CKR_OK && control_any_forge())
        sessions_set_forge(s, degenerate_forges(mech, key_getter, &k));
    objects_after(s, rv, &key, 1);
    SHIM_RETURN(C_SignInit);
}
KEY_INIT(C_SignRecoverInit)
KEY_INIT(C_VerifyInit)
KEY_INIT(C_VerifyRecoverInit)

/* Single-part calls: in -> out. */
#define SINGLE(fn)                                                                                 \
    static CK_RV shim_##fn(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,  \
                           CK_ULONG_PTR out_len)                                                   \
    {                                                                                              \
        CK_RV rv;                                                                                  \
        if (shim_begin(SHIM_##fn, &rv)) {                                                          \
            if (!keeps_operation(rv))                                                              \
                finish_single(R->fn, s, in, in_len);                                               \
            return shim_end(SHIM_##fn, rv);                                                        \
        }                                                                                          \
        rv = R->fn(s, in, in_len, out, out_len);                                                   \
        if (rv == CKR_OK && out != NULL && out_len != NULL && control_overlong(SHIM_##fn))         \
            *out_len += 64; /* `overlong`: a length past what was written */                       \
        SHIM_RETURN(fn);                                                                           \
    }

SINGLE(C_Encrypt)
SINGLE(C_Decrypt)
SINGLE(C_Digest)

/* Forwarded, or forged (forge-ecdsa): the real operation is still ended,
 * as a real signature would end it. */
static CK_RV shim_C_Sign(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                         CK_ULONG_PTR out_len)
{
    CK_RV rv;
    if (shim_begin(SHIM_C_Sign, &rv)) {
        if (!keeps_operation(rv))
            finish_single(R->C_Sign, s, in, in_len);
        return shim_end(SHIM_C_Sign, rv);
    }
    if (out_len && sessions_forge(s)) {
        if (out && *out_len >= 64) {
            finish_single(R->C_Sign, s, in, in_len);
            degenerate_forge_p256(in, in_len, out);
            sessions_set_forge(s, false);
            rv = CKR_OK;
        } else {
            rv = out ? CKR_BUFFER_TOO_SMALL : CKR_OK;
        }
        *out_len = 64;
        SHIM_RETURN(C_Sign);
    }
    rv = R->C_Sign(s, in, in_len, out, out_len);
    if (rv == CKR_OK && out != NULL && out_len != NULL && control_overlong(SHIM_C_Sign))
        *out_len += 64; /* `overlong`: a length past what was written */
    SHIM_RETURN(C_Sign);
}

SINGLE(C_SignRecover)
SINGLE(C_VerifyRecover)

/* Update calls that produce output (cipher): in -> out. */
#define UPDATE_OUT(fn, final)                                                                      \
    static CK_RV shim_##fn(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,  \
                           CK_ULONG_PTR out_len)                                                   \
    {                                                                                              \
        CK_RV rv;                                                                                  \
        if (shim_begin(SHIM_##fn, &rv)) {                                                          \
            if (!keeps_operation(rv))                                                              \
                finish_final(R->final, s);                                                         \
            return shim_end(SHIM_##fn, rv);                                                        \
        }                                                                                          \
        rv = R->fn(s, in, in_len, out, out_len);                                                   \
        SHIM_RETURN(fn);                                                                           \
    }

UPDATE_OUT(C_EncryptUpdate, C_EncryptFinal)
UPDATE_OUT(C_DecryptUpdate, C_DecryptFinal)

/* Update calls without output (digest, sign, verify). */
#define UPDATE(fn, finish)                                                                         \
    static CK_RV shim_##fn(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len)                   \
    {                                                                                              \
        CK_RV rv;                                                                                  \
        if (shim_begin(SHIM_##fn, &rv)) {                                                          \
            if (!keeps_operation(rv))                                                              \
                finish;                                                                            \
            return shim_end(SHIM_##fn, rv);                                                        \
        }                                                                                          \
        rv = R->fn(s, in, in_len);                                                                 \
        SHIM_RETURN(fn);                                                                           \
    }

UPDATE(C_DigestUpdate, finish_final(R->C_DigestFinal, s))
UPDATE(C_SignUpdate, finish_final(R->C_SignFinal, s))
UPDATE(C_VerifyUpdate, finish_verify(s))

/* Final calls: -> out. */
#define FINAL(fn)                                                                                  \
    static CK_RV shim_##fn(CK_SESSION_HANDLE s, CK_BYTE_PTR out, CK_ULONG_PTR out_len)             \
    {                                                                                              \
        CK_RV rv;                                                                                  \
        if (shim_begin(SHIM_##fn, &rv)) {                                                          \
            if (!keeps_operation(rv))                                                              \
                finish_final(R->fn, s);                                                            \
            return shim_end(SHIM_##fn, rv);                                                        \
        }                                                                                          \
        rv = R->fn(s, out, out_len);                                                               \
        SHIM_RETURN(fn);                                                                           \
    }

FINAL(C_EncryptFinal)
FINAL(C_DecryptFinal)
FINAL(C_DigestFinal)
FINAL(C_SignFinal)

static CK_RV shim_C_DigestInit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech)
{
    SHIM_BEGIN(C_DigestInit);
    rv = R->C_DigestInit(s, mech);
    SHIM_RETURN(C_DigestInit);
}

static CK_RV shim_C_DigestKey(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
    CK_RV rv;
    if (shim_begin(SHIM_C_DigestKey, &rv)) {
        if (!keeps_operation(rv))
            finish_final(R->C_DigestFinal, s);
        return shim_end(SHIM_C_DigestKey, rv);
    }
    rv = R->C_DigestKey(s, objects_in(s, key));
    objects_after(s, rv, &key, 1);
    SHIM_RETURN(C_DigestKey);
}

static CK_RV shim_C_Verify(CK_SESSION_HANDLE s, CK_BYTE_PTR data, CK_ULONG data_len,
                           CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    CK_RV rv;
    if (shim_begin(SHIM_C_Verify, &rv)) {
        if (!keeps_operation(rv))
            R->C_Verify(s, data, data_len, sig, sig_len); /* verdict discarded */
        return shim_end(SHIM_C_Verify, rv);
    }
    rv = R->C_Verify(s, data, data_len, sig, sig_len);
    SHIM_RETURN(C_Verify);
}

static CK_RV shim_C_VerifyFinal(CK_SESSION_HANDLE s, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    CK_RV rv;
    if (shim_begin(SHIM_C_VerifyFinal, &rv)) {
        if (!keeps_operation(rv))
            finish_verify(s);
        return shim_end(SHIM_C_VerifyFinal, rv);
    }
    rv = R->C_VerifyFinal(s, sig, sig_len);
    SHIM_RETURN(C_VerifyFinal);
}

/* Dual-function updates: forwarded; no module this shim wraps implements
 * them, so an injected failure does not try to unwind two operations. */
#define DUAL(fn)                                                                                   \
    static CK_RV shim_##fn(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,  \
                           CK_ULONG_PTR out_len)                                                   \
    {                                                                                              \
        SHIM_BEGIN(fn);                                                                            \
        rv = R->fn(s, in, in_len, out, out_len);                                                   \
        SHIM_RETURN(fn);                                                                           \
    }

DUAL(C_DigestEncryptUpdate)
DUAL(C_DecryptDigestUpdate)
DUAL(C_SignEncryptUpdate)
DUAL(C_DecryptVerifyUpdate)

static CK_RV shim_C_GenerateKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl,
                                CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
    SHIM_BEGIN(C_GenerateKey);
    rv = R->C_GenerateKey(s, mech, tmpl, n, key);
    if (rv == CKR_OK && key)
        handles_from_real(s, key, 1);
    SHIM_RETURN(C_GenerateKey);
}

static CK_RV shim_C_GenerateKeyPair(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                                    CK_ATTRIBUTE_PTR pub_tmpl, CK_ULONG pub_n,
                                    CK_ATTRIBUTE_PTR priv_tmpl, CK_ULONG priv_n,
                                    CK_OBJECT_HANDLE_PTR pub, CK_OBJECT_HANDLE_PTR priv)
{
    SHIM_BEGIN(C_GenerateKeyPair);
    rv = R->C_GenerateKeyPair(s, mech, pub_tmpl, pub_n, priv_tmpl, priv_n, pub, priv);
    if (rv == CKR_OK && pub && priv) {
        CK_OBJECT_HANDLE both[2] = {*pub, *priv};
        handles_from_real(s, both, 2);
        *pub = both[0];
        *priv = both[1];
    }
    SHIM_RETURN(C_GenerateKeyPair);
}

static CK_RV shim_C_WrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE wrapping,
                            CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    SHIM_BEGIN(C_WrapKey);
    CK_OBJECT_HANDLE keys[2] = {wrapping, key};
    rv = R->C_WrapKey(s, mech, objects_in(s, wrapping), objects_in(s, key), out, out_len);
    objects_after(s, rv, keys, 2);
    SHIM_RETURN(C_WrapKey);
}

static CK_RV shim_C_UnwrapKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech,
                              CK_OBJECT_HANDLE unwrapping, CK_BYTE_PTR wrapped,
                              CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                              CK_OBJECT_HANDLE_PTR key)
{
    SHIM_BEGIN(C_UnwrapKey);
    rv = R->C_UnwrapKey(s, mech, objects_in(s, unwrapping), wrapped, wrapped_len, tmpl, n, key);
    if (rv == CKR_OK && key)
        handles_from_real(s, key, 1);
    objects_after(s, rv, &unwrapping, 1);
    SHIM_RETURN(C_UnwrapKey);
}

static CK_RV shim_C_DeriveKey(CK_SESSION_HANDLE s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base,
                              CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE_PTR key)
{
    SHIM_BEGIN(C_DeriveKey);
    /* The one standard mechanism parameter SoftHSM knows that is itself
     * an object handle: translate it too. */
    CK_MECHANISM copy;
    CK_OBJECT_HANDLE other[2] = {base, 0}, other_real;
    if (mech && mech->mechanism == CKM_CONCATENATE_BASE_AND_KEY && mech->pParameter &&
        mech->ulParameterLen == sizeof(CK_OBJECT_HANDLE)) {
        other[1] = *(CK_OBJECT_HANDLE *)mech->pParameter;
        other_real = objects_in(s, other[1]);
        copy = *mech;
        copy.pParameter = &other_real;
        mech = &copy;
    }
    rv = R->C_DeriveKey(s, mech, objects_in(s, base), tmpl, n, key);
    if (rv == CKR_OK && key)
        handles_from_real(s, key, 1);
    objects_after(s, rv, other, other[1] ? 2 : 1);
    SHIM_RETURN(C_DeriveKey);
}

void fwd_crypto_fill(CK_FUNCTION_LIST *l)
{
    l->C_EncryptInit = shim_C_EncryptInit;
    l->C_Encrypt = shim_C_Encrypt;
    l->C_EncryptUpdate = shim_C_EncryptUpdate;
    l->C_EncryptFinal = shim_C_EncryptFinal;
    l->C_DecryptInit = shim_C_DecryptInit;
    l->C_Decrypt = shim_C_Decrypt;
    l->C_DecryptUpdate = shim_C_DecryptUpdate;
    l->C_DecryptFinal = shim_C_DecryptFinal;
    l->C_DigestInit = shim_C_DigestInit;
    l->C_Digest = shim_C_Digest;
    l->C_DigestUpdate = shim_C_DigestUpdate;
    l->C_DigestKey = shim_C_DigestKey;
    l->C_DigestFinal = shim_C_DigestFinal;
    l->C_SignInit = shim_C_SignInit;
    l->C_Sign = shim_C_Sign;
    l->C_SignUpdate = shim_C_SignUpdate;
    l->C_SignFinal = shim_C_SignFinal;
    l->C_SignRecoverInit = shim_C_SignRecoverInit;
    l->C_SignRecover = shim_C_SignRecover;
    l->C_VerifyInit = shim_C_VerifyInit;
    l->C_Verify = shim_C_Verify;
    l->C_VerifyUpdate = shim_C_VerifyUpdate;
    l->C_VerifyFinal = shim_C_VerifyFinal;
    l->C_VerifyRecoverInit = shim_C_VerifyRecoverInit;
    l->C_VerifyRecover = shim_C_VerifyRecover;
    l->C_DigestEncryptUpdate = shim_C_DigestEncryptUpdate;
    l->C_DecryptDigestUpdate = shim_C_DecryptDigestUpdate;
    l->C_SignEncryptUpdate = shim_C_SignEncryptUpdate;
    l->C_DecryptVerifyUpdate = shim_C_DecryptVerifyUpdate;
    l->C_GenerateKey = shim_C_GenerateKey;
    l->C_GenerateKeyPair = shim_C_GenerateKeyPair;
    l->C_WrapKey = shim_C_WrapKey;
    l->C_UnwrapKey = shim_C_UnwrapKey;
    l->C_DeriveKey = shim_C_DeriveKey;
}
