/*
 * degenerate-pubkey: a token (or the middleware in front of it) reports a
 * public key that parses but must never be trusted: the EC point at
 * infinity, a point off its curve, the Ed25519 identity, an RSA exponent of
 * 1 or an even one, a 512-bit modulus. Only the key objects' own public
 * attributes change (CKA_EC_POINT, CKA_PUBLIC_EXPONENT, CKA_MODULUS), on
 * private and public key objects with the CKA_ID; the size of a value may
 * shrink (it never grows, so a buffer that held the real value holds it).
 *
 * attr-error: an attribute of the objects with a CKA_ID cannot be read
 * (CKR_ATTRIBUTE_SENSITIVE, CKR_DEVICE_ERROR, ...): the call returns that
 * code, the attribute's length is CK_UNAVAILABLE_INFORMATION and the others
 * are as the real module filled them.
 *
 * forge-ecdsa: C_Sign by a P-256 key with the CKA_ID returns r = x(G),
 * s = e mod n instead of the token's signature: the "signature" anyone can
 * compute that verifies under the point at infinity. The real operation is
 * finished and its result thrown away.
 */
#include "shim.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    enum degenerate kind;
} kinds[] = {
    {"ec-infinity", DEGENERATE_EC_INFINITY},
    {"ec-off-curve", DEGENERATE_EC_OFF_CURVE},
    {"eddsa-identity", DEGENERATE_EDDSA_IDENTITY},
    {"rsa-e-1", DEGENERATE_RSA_E_ONE},
    {"rsa-e-even", DEGENERATE_RSA_E_EVEN},
    {"rsa-small-modulus", DEGENERATE_RSA_SMALL_MODULUS},
};

enum degenerate degenerate_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return kinds[i].kind;
    return DEGENERATE_NONE;
}

/* The point inside a CKA_EC_POINT: a DER OCTET STRING (SoftHSM's form) or
 * the raw point. */
static unsigned char *point_of(unsigned char *v, size_t len, size_t *ptlen, bool *wrapped)
{
    struct der os;

    *wrapped = der_read(v, len, &os) && os.tag == 0x04 && os.hdr + os.len == len && os.len > 0 &&
               (os.content[0] == 0x02 || os.content[0] == 0x03 || os.content[0] == 0x04 ||
                os.len == 32 || os.len == 57);
    if (*wrapped) {
        *ptlen = os.len;
        return os.content;
    }
    *ptlen = len;
    return v;
}

/* Rewrites |v| (|*len| bytes, the real value) in place; the new length is
 * never larger. False when this attribute is not one the kind changes. */
static bool degenerate_value(enum degenerate kind, CK_ATTRIBUTE_TYPE type, unsigned char *v,
                             CK_ULONG *len)
{
    size_t ptlen;
    bool wrapped;
    unsigned char *pt;

    switch (kind) {
    case DEGENERATE_EC_INFINITY:
        if (type != CKA_EC_POINT || *len < 3)
            return false;
        point_of(v, *len, &ptlen, &wrapped);
        if (wrapped) { /* 04 01 00 */
            v[0] = 0x04, v[1] = 0x01, v[2] = 0x00;
            *len = 3;
        } else {
            v[0] = 0x00;
            *len = 1;
        }
        return true;
    case DEGENERATE_EC_OFF_CURVE:
        if (type != CKA_EC_POINT || *len < 2)
            return false;
        v[*len - 1] ^= 0x01; /* the low bit of y: (x, y +- 1) is on no curve with (x, y) */
        return true;
    case DEGENERATE_EDDSA_IDENTITY:
        if (type != CKA_EC_POINT)
            return false;
        pt = point_of(v, *len, &ptlen, &wrapped);
        if (ptlen != 32 && ptlen != 57)
            return false;
        memset(pt, 0, ptlen); /* y = 1, x = 0 */
        pt[0] = 0x01;
        return true;
    case DEGENERATE_RSA_E_ONE:
        if (type != CKA_PUBLIC_EXPONENT || *len < 1)
            return false;
        v[0] = 0x01;
        *len = 1;
        return true;
    case DEGENERATE_RSA_E_EVEN:
        if (type != CKA_PUBLIC_EXPONENT || *len < 1)
            return false;
        v[*len - 1] &= 0xfe;
        return true;
    case DEGENERATE_RSA_SMALL_MODULUS: {
        size_t skip = 0;

        if (type != CKA_MODULUS)
            return false;
        while (skip < *len && v[skip] == 0)
            skip++;
        if (*len - skip < 64)
            return false;
        memmove(v, v + skip, 64); /* the top 512 bits, made odd */
        v[0] |= 0x80;
        v[63] |= 0x01;
        *len = 64;
        return true;
    }
    default:
        return false;
    }
}

void degenerate_alter_template(CK_ATTRIBUTE *tmpl, CK_ULONG n, attr_getter get, void *ctx)
{
    bool candidates = false;
    for (CK_ULONG i = 0; i < n && !candidates; i++)
        candidates = tmpl[i].ulValueLen != CK_UNAVAILABLE_INFORMATION &&
                     (tmpl[i].type == CKA_EC_POINT || tmpl[i].type == CKA_MODULUS ||
                      tmpl[i].type == CKA_PUBLIC_EXPONENT);
    if (!candidates)
        return;
    unsigned char *id = NULL;
    CK_ULONG id_len = 0;
    if (!get(ctx, CKA_ID, &id, &id_len))
        return;
    enum degenerate kind = control_degenerate(id, id_len);
    free(id);
    if (kind == DEGENERATE_NONE)
        return;
    for (CK_ULONG i = 0; i < n; i++) {
        CK_ATTRIBUTE *a = &tmpl[i];
        if (a->ulValueLen == CK_UNAVAILABLE_INFORMATION)
            continue;
        if (a->pValue) {
            degenerate_value(kind, a->type, a->pValue, &a->ulValueLen);
            continue;
        }
        /* A size query: the size of the value that will be served. */
        unsigned char *real = NULL;
        CK_ULONG len = 0;
        if (get(ctx, a->type, &real, &len) && degenerate_value(kind, a->type, real, &len))
            a->ulValueLen = len;
        free(real);
    }
}

CK_RV degenerate_attr_error(CK_ATTRIBUTE *tmpl, CK_ULONG n, attr_getter get, void *ctx, CK_RV rv)
{
    unsigned char *id = NULL;
    CK_ULONG id_len = 0;
    CK_RV code;

    if (!get(ctx, CKA_ID, &id, &id_len))
        return rv;
    for (CK_ULONG i = 0; i < n; i++)
        if (control_attr_error(id, id_len, tmpl[i].type, &code)) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = code;
        }
    free(id);
    return rv;
}

static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};

bool degenerate_forges(CK_MECHANISM_PTR mech, attr_getter get, void *ctx)
{
    unsigned char *id = NULL, *params = NULL;
    CK_ULONG id_len = 0, params_len = 0;
    bool forge = false;

    if (!mech || mech->mechanism != CKM_ECDSA || !control_any_forge())
        return false;
    if (get(ctx, CKA_ID, &id, &id_len) && control_forge(id, id_len) &&
        get(ctx, CKA_EC_PARAMS, &params, &params_len))
        forge = params_len == sizeof p256_oid && memcmp(params, p256_oid, params_len) == 0;
    free(id);
    free(params);
    return forge;
}

/* P-256: x(G) and the group order n (SEC 2). */
static const unsigned char p256_gx[32] = {
    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
    0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96};
static const unsigned char p256_n[32] = {
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

void degenerate_forge_p256(const unsigned char *in, size_t in_len, unsigned char out[64])
{
    unsigned char *e = out + 32;

    memcpy(out, p256_gx, 32);
    /* e: the leftmost 256 bits of the input (ECDSA's bits2int) */
    memset(e, 0, 32);
    if (in_len >= 32)
        memcpy(e, in, 32);
    else
        memcpy(e + 32 - in_len, in, in_len);
    /* e mod n: e < 2^256 < 2n, so one subtraction at most */
    if (memcmp(e, p256_n, 32) >= 0) {
        int borrow = 0;
        for (int i = 31; i >= 0; i--) {
            int d = e[i] - p256_n[i] - borrow;
            borrow = d < 0;
            e[i] = (unsigned char)(d + (borrow ? 256 : 0));
        }
    }
}
