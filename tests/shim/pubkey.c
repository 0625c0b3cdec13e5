/*
 * wrong-pubkey: make a token report a public key that is well formed but
 * not the key that signs. The provider must notice (views disagree, or the
 * proof-of-possession signature does not verify) instead of trusting it.
 *
 * Every alteration is deterministic and length-preserving, so one key's
 * views stay consistent with each other (the same wrong point in
 * CKA_EC_POINT, CKA_PUBLIC_KEY_INFO and the certificate) and no DER length
 * around them changes:
 *  - EC (P-256/P-384/P-521): the curve's generator G, or -G if the real
 *    point is G; Ed25519: the base point B, or -B. Valid points, so only a
 *    signature check can tell.
 *  - RSA: one bit flipped in the middle of the modulus (same length, still
 *    odd, top bit untouched).
 * Other curves are left real (no constants for them here).
 */
#include "shim.h"

#include <stdlib.h>
#include <string.h>

struct curve {
    const unsigned char *params; /* CKA_EC_PARAMS / SPKI parameters, full TLV */
    size_t params_len;
    size_t point_len;             /* raw encoding: 04||X||Y, or 32 bytes for Ed25519 */
    const unsigned char *alt;     /* G */
    const unsigned char *alt_neg; /* -G, used when the real point is G */
};

static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char p384_oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
static const unsigned char p521_oid[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
static const unsigned char ed25519_oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static const unsigned char ed25519_name[] = "\x13\x0c"
                                            "edwards25519";

/* Generators from SEC 2 (checked against `openssl ecparam -param_enc
 * explicit`); -G is (Gx, p - Gy). */
static const unsigned char p256_g[] =
    "\x04\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40"
    "\xf2\x77\x03\x7d\x81\x2d\xeb\x33\xa0\xf4\xa1\x39\x45\xd8\x98\xc2"
    "\x96\x4f\xe3\x42\xe2\xfe\x1a\x7f\x9b\x8e\xe7\xeb\x4a\x7c\x0f\x9e"
    "\x16\x2b\xce\x33\x57\x6b\x31\x5e\xce\xcb\xb6\x40\x68\x37\xbf\x51"
    "\xf5";
static const unsigned char p256_neg_g[] =
    "\x04\x6b\x17\xd1\xf2\xe1\x2c\x42\x47\xf8\xbc\xe6\xe5\x63\xa4\x40"
    "\xf2\x77\x03\x7d\x81\x2d\xeb\x33\xa0\xf4\xa1\x39\x45\xd8\x98\xc2"
    "\x96\xb0\x1c\xbd\x1c\x01\xe5\x80\x65\x71\x18\x14\xb5\x83\xf0\x61"
    "\xe9\xd4\x31\xcc\xa9\x94\xce\xa1\x31\x34\x49\xbf\x97\xc8\x40\xae"
    "\x0a";
static const unsigned char p384_g[] =
    "\x04\xaa\x87\xca\x22\xbe\x8b\x05\x37\x8e\xb1\xc7\x1e\xf3\x20\xad"
    "\x74\x6e\x1d\x3b\x62\x8b\xa7\x9b\x98\x59\xf7\x41\xe0\x82\x54\x2a"
    "\x38\x55\x02\xf2\x5d\xbf\x55\x29\x6c\x3a\x54\x5e\x38\x72\x76\x0a"
    "\xb7\x36\x17\xde\x4a\x96\x26\x2c\x6f\x5d\x9e\x98\xbf\x92\x92\xdc"
    "\x29\xf8\xf4\x1d\xbd\x28\x9a\x14\x7c\xe9\xda\x31\x13\xb5\xf0\xb8"
    "\xc0\x0a\x60\xb1\xce\x1d\x7e\x81\x9d\x7a\x43\x1d\x7c\x90\xea\x0e"
    "\x5f";
static const unsigned char p384_neg_g[] =
    "\x04\xaa\x87\xca\x22\xbe\x8b\x05\x37\x8e\xb1\xc7\x1e\xf3\x20\xad"
    "\x74\x6e\x1d\x3b\x62\x8b\xa7\x9b\x98\x59\xf7\x41\xe0\x82\x54\x2a"
    "\x38\x55\x02\xf2\x5d\xbf\x55\x29\x6c\x3a\x54\x5e\x38\x72\x76\x0a"
    "\xb7\xc9\xe8\x21\xb5\x69\xd9\xd3\x90\xa2\x61\x67\x40\x6d\x6d\x23"
    "\xd6\x07\x0b\xe2\x42\xd7\x65\xeb\x83\x16\x25\xce\xec\x4a\x0f\x47"
    "\x3e\xf5\x9f\x4e\x30\xe2\x81\x7e\x62\x85\xbc\xe2\x84\x6f\x15\xf1"
    "\xa0";
static const unsigned char p521_g[] =
    "\x04\x00\xc6\x85\x8e\x06\xb7\x04\x04\xe9\xcd\x9e\x3e\xcb\x66\x23"
    "\x95\xb4\x42\x9c\x64\x81\x39\x05\x3f\xb5\x21\xf8\x28\xaf\x60\x6b"
    "\x4d\x3d\xba\xa1\x4b\x5e\x77\xef\xe7\x59\x28\xfe\x1d\xc1\x27\xa2"
    "\xff\xa8\xde\x33\x48\xb3\xc1\x85\x6a\x42\x9b\xf9\x7e\x7e\x31\xc2"
    "\xe5\xbd\x66\x01\x18\x39\x29\x6a\x78\x9a\x3b\xc0\x04\x5c\x8a\x5f"
    "\xb4\x2c\x7d\x1b\xd9\x98\xf5\x44\x49\x57\x9b\x44\x68\x17\xaf\xbd"
    "\x17\x27\x3e\x66\x2c\x97\xee\x72\x99\x5e\xf4\x26\x40\xc5\x50\xb9"
    "\x01\x3f\xad\x07\x61\x35\x3c\x70\x86\xa2\x72\xc2\x40\x88\xbe\x94"
    "\x76\x9f\xd1\x66\x50";
static const unsigned char p521_neg_g[] =
    "\x04\x00\xc6\x85\x8e\x06\xb7\x04\x04\xe9\xcd\x9e\x3e\xcb\x66\x23"
    "\x95\xb4\x42\x9c\x64\x81\x39\x05\x3f\xb5\x21\xf8\x28\xaf\x60\x6b"
    "\x4d\x3d\xba\xa1\x4b\x5e\x77\xef\xe7\x59\x28\xfe\x1d\xc1\x27\xa2"
    "\xff\xa8\xde\x33\x48\xb3\xc1\x85\x6a\x42\x9b\xf9\x7e\x7e\x31\xc2"
    "\xe5\xbd\x66\x00\xe7\xc6\xd6\x95\x87\x65\xc4\x3f\xfb\xa3\x75\xa0"
    "\x4b\xd3\x82\xe4\x26\x67\x0a\xbb\xb6\xa8\x64\xbb\x97\xe8\x50\x42"
    "\xe8\xd8\xc1\x99\xd3\x68\x11\x8d\x66\xa1\x0b\xd9\xbf\x3a\xaf\x46"
    "\xfe\xc0\x52\xf8\x9e\xca\xc3\x8f\x79\x5d\x8d\x3d\xbf\x77\x41\x6b"
    "\x89\x60\x2e\x99\xaf";
/* RFC 8032 base point B (y = 4/5, x even) and -B (x odd: top bit set). */
static const unsigned char ed25519_b[] =
    "\x58\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66"
    "\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66";
static const unsigned char ed25519_neg_b[] =
    "\x58\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66"
    "\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\x66\xe6";

static const struct curve curves[] = {
    {p256_oid, sizeof p256_oid, 65, p256_g, p256_neg_g},
    {p384_oid, sizeof p384_oid, 97, p384_g, p384_neg_g},
    {p521_oid, sizeof p521_oid, 133, p521_g, p521_neg_g},
    {ed25519_oid, sizeof ed25519_oid, 32, ed25519_b, ed25519_neg_b},
    {ed25519_name, sizeof ed25519_name - 1, 32, ed25519_b, ed25519_neg_b},
};

static const unsigned char oid_ec_public_key[] = {0x06, 0x07, 0x2a, 0x86, 0x48,
                                                  0xce, 0x3d, 0x02, 0x01};
static const unsigned char oid_rsa[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                        0xf7, 0x0d, 0x01, 0x01, 0x01};

static const struct curve *curve_by_params(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < sizeof curves / sizeof curves[0]; i++)
        if (curves[i].params_len == len && memcmp(curves[i].params, p, len) == 0)
            return &curves[i];
    return NULL;
}

static bool replace_raw_point(const struct curve *c, unsigned char *pt, size_t len)
{
    if (!c || len != c->point_len)
        return false;
    if (len != 32 && pt[0] != 0x04) /* compressed points: leave them */
        return false;
    const unsigned char *with = memcmp(pt, c->alt, len) == 0 ? c->alt_neg : c->alt;
    memcpy(pt, with, len);
    return true;
}

bool pubkey_alter_ec_point(const unsigned char *params, size_t params_len, unsigned char *pt,
                           size_t len)
{
    const struct curve *c = curve_by_params(params, params_len);
    if (!c)
        return false;
    if (len == c->point_len) /* a module that returns the raw point */
        return replace_raw_point(c, pt, len);
    struct der os; /* SoftHSM's form: DER OCTET STRING around the point */
    if (!der_read(pt, len, &os) || os.tag != 0x04 || os.hdr + os.len != len)
        return false;
    return replace_raw_point(c, os.content, os.len);
}

bool pubkey_alter_modulus(unsigned char *n, size_t len)
{
    size_t skip = 0; /* a leading zero byte is not part of the magnitude */
    while (skip < len && n[skip] == 0)
        skip++;
    size_t m = len - skip;
    if (m < 3)
        return false;
    n[skip + m / 2] ^= 0x10;
    return true;
}

bool pubkey_alter_spki(unsigned char *spki, size_t len)
{
    struct der seq, alg, oid, bits;
    if (!der_read(spki, len, &seq) || seq.tag != 0x30)
        return false;
    if (!der_read(seq.content, seq.len, &alg) || alg.tag != 0x30)
        return false;
    if (!der_read(alg.content, alg.len, &oid) || oid.tag != 0x06)
        return false;
    unsigned char *after_alg = seq.content + alg.hdr + alg.len;
    if (!der_read(after_alg, seq.len - alg.hdr - alg.len, &bits) || bits.tag != 0x03 ||
        bits.len < 2 || bits.content[0] != 0)
        return false;
    unsigned char *key = bits.content + 1;
    size_t key_len = bits.len - 1;
    size_t oid_tlv = oid.hdr + oid.len;

    if (oid_tlv == sizeof oid_ec_public_key &&
        memcmp(alg.content, oid_ec_public_key, oid_tlv) == 0) {
        struct der params;
        if (!der_read(alg.content + oid_tlv, alg.len - oid_tlv, &params))
            return false;
        return replace_raw_point(curve_by_params(alg.content + oid_tlv, params.hdr + params.len),
                                 key, key_len);
    }
    if (oid_tlv == sizeof ed25519_oid && memcmp(alg.content, ed25519_oid, oid_tlv) == 0)
        return replace_raw_point(curve_by_params(ed25519_oid, sizeof ed25519_oid), key, key_len);
    if (oid_tlv == sizeof oid_rsa && memcmp(alg.content, oid_rsa, oid_tlv) == 0) {
        struct der rsa, modulus;
        if (!der_read(key, key_len, &rsa) || rsa.tag != 0x30 ||
            !der_read(rsa.content, rsa.len, &modulus) || modulus.tag != 0x02)
            return false;
        return pubkey_alter_modulus(modulus.content, modulus.len);
    }
    return false;
}

bool pubkey_alter_cert(unsigned char *cert, size_t len)
{
    struct der c, tbs, f;
    if (!der_read(cert, len, &c) || c.tag != 0x30 || !der_read(c.content, c.len, &tbs) ||
        tbs.tag != 0x30)
        return false;
    unsigned char *p = tbs.content;
    size_t left = tbs.len;
    /* [0] version (optional), serial, signature, issuer, validity, subject */
    for (int field = 0; field < 7; field++) {
        if (!der_read(p, left, &f))
            return false;
        if (field == 0 && f.tag != 0xa0)
            field++; /* v1 certificate: no version field */
        if (field == 6)
            return f.tag == 0x30 && pubkey_alter_spki(p, f.hdr + f.len);
        p += f.hdr + f.len;
        left -= f.hdr + f.len;
    }
    return false;
}

void pubkey_alter_template(CK_ATTRIBUTE *tmpl, CK_ULONG n, attr_getter get, void *ctx)
{
    bool candidates = false;
    for (CK_ULONG i = 0; i < n && !candidates; i++) {
        CK_ATTRIBUTE_TYPE t = tmpl[i].type;
        candidates =
            tmpl[i].pValue && tmpl[i].ulValueLen != CK_UNAVAILABLE_INFORMATION &&
            (t == CKA_EC_POINT || t == CKA_MODULUS || t == CKA_PUBLIC_KEY_INFO || t == CKA_VALUE);
    }
    if (!candidates)
        return;

    unsigned char *id = NULL, *params = NULL, *cls = NULL;
    CK_ULONG id_len = 0, params_len = 0, cls_len = 0;
    if (!get(ctx, CKA_ID, &id, &id_len))
        return; /* no CKA_ID: no directive can name it */
    unsigned mask = control_wrong_pubkey(id, id_len);
    free(id);
    if (!mask)
        return;
    bool have_params = get(ctx, CKA_EC_PARAMS, &params, &params_len);
    CK_OBJECT_CLASS oclass = (CK_OBJECT_CLASS)-1;
    if (get(ctx, CKA_CLASS, &cls, &cls_len) && cls_len == sizeof oclass)
        memcpy(&oclass, cls, sizeof oclass);
    free(cls);

    for (CK_ULONG i = 0; i < n; i++) {
        unsigned char *v = tmpl[i].pValue;
        size_t len = tmpl[i].ulValueLen;
        if (!v || tmpl[i].ulValueLen == CK_UNAVAILABLE_INFORMATION)
            continue;
        switch (tmpl[i].type) {
        case CKA_EC_POINT:
            if ((mask & WRONG_EC_POINT) && have_params)
                pubkey_alter_ec_point(params, params_len, v, len);
            break;
        case CKA_MODULUS:
            if (mask & WRONG_MODULUS)
                pubkey_alter_modulus(v, len);
            break;
        case CKA_PUBLIC_KEY_INFO:
            if (mask & WRONG_SPKI)
                pubkey_alter_spki(v, len);
            break;
        case CKA_VALUE:
            /* Only a certificate's value: a secret key's or a private
             * key's CKA_VALUE is never touched. */
            if ((mask & WRONG_CERT) && oclass == CKO_CERTIFICATE)
                pubkey_alter_cert(v, len);
            break;
        default:
            break;
        }
    }
    free(params);
}
