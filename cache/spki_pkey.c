#include "cache/spki_pkey.h"

#include "cache/der.h"
#include "cache/spki.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char OID_RSA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};
static const unsigned char OID_RSA_PSS[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a};
static const unsigned char OID_EC[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const unsigned char OID_ED25519[] = {0x2b, 0x65, 0x70};
static const unsigned char OID_ED448[] = {0x2b, 0x65, 0x71};

static bool oid_is(const unsigned char *oid, size_t len, const unsigned char *want, size_t wlen)
{
    return len == wlen && memcmp(oid, want, len) == 0;
}

static EVP_PKEY *from_params(OSSL_LIB_CTX *libctx, const char *alg, const OSSL_PARAM *params)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(libctx, alg, HSM_SOFTWARE_PROPQ);
    EVP_PKEY *pkey = NULL;

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) <= 0)
        pkey = NULL;
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
static EVP_PKEY *rsa_key(struct hsm_der key, OSSL_LIB_CTX *libctx)
{
    struct hsm_der seq, n, e;
    size_t nlen, elen;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;

    if (!hsm_der_read(&key, 0x30, &seq) || hsm_der_left(&key) != 0 ||
        !hsm_der_read(&seq, 0x02, &n) || !hsm_der_read(&seq, 0x02, &e) || hsm_der_left(&seq) != 0)
        return NULL;
    nlen = hsm_der_left(&n);
    elen = hsm_der_left(&e);
    /* Positive integers only, as d2i_PUBKEY accepts them. */
    if (nlen == 0 || elen == 0 || (n.p[0] & 0x80) || (e.p[0] & 0x80))
        return NULL;
    bn = BN_bin2bn(n.p, (int)nlen, NULL);
    be = BN_bin2bn(e.p, (int)elen, NULL);
    if (bn != NULL && be != NULL && (bld = OSSL_PARAM_BLD_new()) != NULL &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
        pkey = from_params(libctx, "RSA", params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

/* Says why a key was not built, for the message that refuses it. */
static void say(char *why, size_t whysize, const char *text, const char *arg)
{
    if (why != NULL && whysize > 0)
        snprintf(why, whysize, text, arg);
}

static EVP_PKEY *ec_key(const unsigned char *curve, size_t clen, const unsigned char *pt,
                        size_t ptlen, OSSL_LIB_CTX *libctx, char *why, size_t whysize)
{
    EVP_PKEY *pkey;

    const unsigned char *c = curve;
    ASN1_OBJECT *obj = d2i_ASN1_OBJECT(NULL, &c, (long)clen);
    int nid = obj != NULL && c == curve + clen ? OBJ_obj2nid(obj) : NID_undef;
    const char *name = nid != NID_undef ? OBJ_nid2sn(nid) : NULL;
    char group[64];

    ASN1_OBJECT_free(obj);
    if (name == NULL) {
        say(why, whysize, "%s", "its EC curve is not a named curve OpenSSL knows");
        return NULL;
    }
    snprintf(group, sizeof(group), "%s", name);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, ptlen),
        OSSL_PARAM_END,
    };
    /* OpenSSL decodes the point here and refuses one off the curve. */
    pkey = from_params(libctx, "EC", params);
    if (pkey == NULL)
        say(why, whysize, "the EC point is not a point on curve %s", group);
    return pkey;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE { OID, params },
 * subjectPublicKey BIT STRING }: |alg| is left on the parameters. */
static bool spki_parts(const unsigned char *der, size_t len, struct hsm_der *alg,
                       struct hsm_der *oid, struct hsm_der *key)
{
    struct hsm_der d = hsm_der_reader(der, len), spki, bits;

    if (!hsm_der_read(&d, 0x30, &spki) || hsm_der_left(&d) != 0 ||
        !hsm_der_read(&spki, 0x30, alg) || !hsm_der_read(&spki, 0x03, &bits) ||
        hsm_der_left(&spki) != 0 || hsm_der_left(&bits) < 1 || bits.p[0] != 0 ||
        !hsm_der_read(alg, 0x06, oid))
        return false;
    *key = hsm_der_reader(bits.p + 1, hsm_der_left(&bits) - 1);
    return true;
}

bool hsm_spki_rsa_pss(const unsigned char *der, size_t len)
{
    struct hsm_der alg, oid, key;

    return spki_parts(der, len, &alg, &oid, &key) &&
           oid_is(oid.p, hsm_der_left(&oid), OID_RSA_PSS, sizeof(OID_RSA_PSS));
}

static EVP_PKEY *known_key(const unsigned char *der, size_t len, OSSL_LIB_CTX *libctx, char *why,
                           size_t whysize)
{
    struct hsm_der alg, oid, key;
    size_t oidlen;

    if (!spki_parts(der, len, &alg, &oid, &key))
        return NULL;
    oidlen = hsm_der_left(&oid);
    if (oid_is(oid.p, oidlen, OID_RSA, sizeof(OID_RSA))) {
        bool null_params = hsm_der_left(&alg) == 2 && alg.p[0] == 0x05 && alg.p[1] == 0x00;

        return hsm_der_left(&alg) == 0 || null_params ? rsa_key(key, libctx) : NULL;
    }
    /* RFC 4055: the same RSAPublicKey, restricted to PSS; its parameters
     * (absent, or RSASSA-PSS-params) say how it may sign, not what it is.
     * The key built is a plain RSA key: views compare key material, and
     * the restriction is read with hsm_spki_rsa_pss. */
    if (oid_is(oid.p, oidlen, OID_RSA_PSS, sizeof(OID_RSA_PSS))) {
        bool params =
            hsm_der_left(&alg) == 0 || (hsm_der_read(&alg, 0x30, NULL) && hsm_der_left(&alg) == 0);

        return params ? rsa_key(key, libctx) : NULL;
    }
    if (oid_is(oid.p, oidlen, OID_EC, sizeof(OID_EC)))
        return hsm_der_peek(&alg, 0x06) ? ec_key(alg.p, hsm_der_left(&alg), key.p,
                                                 hsm_der_left(&key), libctx, why, whysize)
                                        : NULL; /* explicit parameters */
    if (hsm_der_left(&alg) == 0 && (oid_is(oid.p, oidlen, OID_ED25519, sizeof(OID_ED25519)) ||
                                    oid_is(oid.p, oidlen, OID_ED448, sizeof(OID_ED448)))) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)key.p,
                                              hsm_der_left(&key)),
            OSSL_PARAM_END,
        };

        return from_params(libctx, oid.p[2] == 0x70 ? "ED25519" : "ED448", params);
    }
    return NULL;
}

EVP_PKEY *hsm_spki_to_pkey(const unsigned char *der, size_t len, OSSL_LIB_CTX *libctx, char *why,
                           size_t whysize)
{
    EVP_PKEY *pkey;
    const unsigned char *p = der;

    say(why, whysize, "%s", "it is not a SubjectPublicKeyInfo OpenSSL can read");
    pkey = known_key(der, len, libctx, why, whysize);
    if (pkey != NULL)
        return pkey;
    pkey = d2i_PUBKEY_ex(NULL, &p, (long)len, libctx, HSM_SOFTWARE_PROPQ);
    if (pkey != NULL && p != der + len) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    return pkey;
}

/* Any size: a public key OpenSSL imported need not be one the provider
 * would accept from a token. */
static bool rsa_spki(EVP_PKEY *pkey, unsigned char **der, size_t *len)
{
    BIGNUM *n = NULL, *e = NULL;
    unsigned char *nb = NULL, *eb = NULL;
    int nl, el;
    bool ok = false;

    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1 && (nl = BN_num_bytes(n)) > 0 &&
        (el = BN_num_bytes(e)) > 0 && (nb = malloc((size_t)nl)) != NULL &&
        (eb = malloc((size_t)el)) != NULL) {
        BN_bn2bin(n, nb);
        BN_bn2bin(e, eb);
        ok = hsm_spki_rsa(nb, (size_t)nl, eb, (size_t)el, der, len);
    }
    free(nb);
    free(eb);
    BN_free(n);
    BN_free(e);
    return ok;
}

static bool ec_spki(EVP_PKEY *pkey, unsigned char **der, size_t *len)
{
    unsigned char oid[32], *op = oid, point[3 + 200];
    char group[64];
    size_t ptlen;
    int nid, oidlen;

    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                       NULL) != 1 ||
        (nid = OBJ_sn2nid(group)) == NID_undef ||
        (oidlen = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), NULL)) <= 0 || oidlen > (int)sizeof(oid) ||
        i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &op) != oidlen ||
        EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point + 3, sizeof(point) - 3,
                                        &ptlen) != 1)
        return false;
    /* As CKA_EC_POINT: a DER OCTET STRING, so its reading is unambiguous. */
    if (ptlen < 0x80) {
        point[1] = 0x04;
        point[2] = (unsigned char)ptlen;
        return hsm_spki_ec(oid, (size_t)oidlen, point + 1, ptlen + 2, der, len);
    }
    point[0] = 0x04;
    point[1] = 0x81;
    point[2] = (unsigned char)ptlen;
    return hsm_spki_ec(oid, (size_t)oidlen, point, ptlen + 3, der, len);
}

static bool eddsa_spki(EVP_PKEY *pkey, unsigned char **der, size_t *len)
{
    unsigned char oid[5] = {0x06, 0x03, 0x2b, 0x65, EVP_PKEY_is_a(pkey, "ED25519") ? 0x70 : 0x71};
    unsigned char pub[64];
    size_t publen;

    return EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub),
                                           &publen) == 1 &&
           hsm_spki_eddsa(oid, sizeof(oid), pub, publen, der, len);
}

bool hsm_spki_of_pkey(EVP_PKEY *pkey, unsigned char **der, size_t *len)
{
    unsigned char *out = NULL;
    int n;

    if (EVP_PKEY_is_a(pkey, "RSA") && rsa_spki(pkey, der, len))
        return true;
    if (EVP_PKEY_is_a(pkey, "EC") && ec_spki(pkey, der, len))
        return true;
    if ((EVP_PKEY_is_a(pkey, "ED25519") || EVP_PKEY_is_a(pkey, "ED448")) &&
        eddsa_spki(pkey, der, len))
        return true;
    n = i2d_PUBKEY(pkey, &out);
    if (n <= 0 || (*der = malloc((size_t)n)) == NULL) {
        OPENSSL_free(out);
        return false;
    }
    memcpy(*der, out, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(out);
    return true;
}

bool hsm_cert_spki(const unsigned char *cert, size_t len, const unsigned char **spki,
                   size_t *spkilen)
{
    struct hsm_der d = hsm_der_reader(cert, len), c, tbs;

    /* Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature } */
    if (!hsm_der_read(&d, 0x30, &c) || hsm_der_left(&d) != 0 || !hsm_der_read(&c, 0x30, &tbs) ||
        !hsm_der_read(&c, 0x30, NULL) || !hsm_der_read(&c, 0x03, NULL) || hsm_der_left(&c) != 0)
        return false;
    /* TBSCertificate: [0] version OPTIONAL, serial, signature, issuer,
     * validity, subject, subjectPublicKeyInfo, ... */
    if (hsm_der_peek(&tbs, 0xa0) && !hsm_der_read(&tbs, 0xa0, NULL))
        return false;
    return hsm_der_read(&tbs, 0x02, NULL) && hsm_der_read(&tbs, 0x30, NULL) &&
           hsm_der_read(&tbs, 0x30, NULL) && hsm_der_read(&tbs, 0x30, NULL) &&
           hsm_der_read(&tbs, 0x30, NULL) && hsm_der_read_element(&tbs, 0x30, spki, spkilen);
}
