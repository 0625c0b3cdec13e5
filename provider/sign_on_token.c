#include "provider/sign_on_token.h"
#include "cache/key_sizes.h"
#include "cache/p256_verify.h"
#include "cache/provider_property.h"

#include "provider/encoding.h"

#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <string.h>

size_t hsm_signature_max(const struct hsm_key *key)
{
    return hsm_key_signature_size(key->pub);
}

/* PKCS#11 names of a digest and of MGF1 with it (PSS, OAEP). */
bool hsm_ck_digest(const EVP_MD *md, CK_MECHANISM_TYPE *mech, CK_RSA_PKCS_MGF_TYPE *mgf)
{
    static const struct {
        const char *name;
        CK_MECHANISM_TYPE mech;
        CK_RSA_PKCS_MGF_TYPE mgf;
    } table[] = {
        {"SHA1", CKM_SHA_1, CKG_MGF1_SHA1},        {"SHA2-224", CKM_SHA224, CKG_MGF1_SHA224},
        {"SHA2-256", CKM_SHA256, CKG_MGF1_SHA256}, {"SHA2-384", CKM_SHA384, CKG_MGF1_SHA384},
        {"SHA2-512", CKM_SHA512, CKG_MGF1_SHA512},
    };

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (EVP_MD_is_a(md, table[i].name)) {
            if (mech != NULL)
                *mech = table[i].mech;
            if (mgf != NULL)
                *mgf = table[i].mgf;
            return true;
        }
    }
    return false;
}

int hsm_pss_salt_length(const struct hsm_key *key, const struct hsm_sign_params *p)
{
    int bits = EVP_PKEY_get_bits(key->pub), hlen, max;

    if (p->md == NULL) {
        hsm_error(HSM_R_BAD_INPUT, "%s: RSA-PSS needs a digest", key->uri);
        return -1;
    }
    hlen = EVP_MD_get_size(p->md);
    /* RFC 8017 9.1.1: emLen = ceil((modBits - 1) / 8). */
    max = (bits - 1 + 7) / 8 - hlen - 2;
    switch (p->pss_saltlen) {
    case RSA_PSS_SALTLEN_DIGEST:
        return hlen <= max ? hlen : (hsm_error(HSM_R_BAD_INPUT, "%s: key too small", key->uri), -1);
    case RSA_PSS_SALTLEN_MAX:
    case RSA_PSS_SALTLEN_AUTO:
        return max;
    default:
        if (p->pss_saltlen < 0 || p->pss_saltlen > max) {
            hsm_error(HSM_R_BAD_INPUT,
                      "%s: PSS salt length %d is too long for a %d-bit key with %s (at most "
                      "%d)",
                      key->uri, p->pss_saltlen, bits, EVP_MD_get0_name(p->md), max);
            return -1;
        }
        return p->pss_saltlen;
    }
}

static bool sign_pss(struct hsm_key *key, enum hsm_key_op op, const struct hsm_sign_params *p,
                     const unsigned char *tbs, size_t tbslen, unsigned char *sig, size_t *siglen,
                     size_t sigsize)
{
    CK_RSA_PKCS_PSS_PARAMS pss;
    CK_MECHANISM mech = {CKM_RSA_PKCS_PSS, &pss, sizeof(pss)};
    int salt = hsm_pss_salt_length(key, p);
    size_t len = sigsize;

    if (salt < 0)
        return false;
    if (!hsm_ck_digest(p->md, &pss.hashAlg, NULL) ||
        !hsm_ck_digest(p->mgf1 != NULL ? p->mgf1 : p->md, NULL, &pss.mgf)) {
        hsm_error(HSM_R_UNSUPPORTED, "%s: RSA-PSS with %s is not supported", key->uri,
                  EVP_MD_get0_name(p->md));
        return false;
    }
    if (tbslen != (size_t)EVP_MD_get_size(p->md)) {
        hsm_error(HSM_R_BAD_INPUT, "%s: a %s digest is %d bytes, not %zu", key->uri,
                  EVP_MD_get0_name(p->md), EVP_MD_get_size(p->md), tbslen);
        return false;
    }
    pss.sLen = (CK_ULONG)salt;
    if (!hsm_key_operate(key, op, &mech, tbs, tbslen, sig, &len))
        return false;
    *siglen = len;
    return true;
}

static bool rsa_input(const struct hsm_key *key, const struct hsm_sign_params *p,
                      const unsigned char *tbs, size_t tbslen, unsigned char *buf, size_t bufsize,
                      size_t *len)
{
    if (p->md == NULL) {
        if (tbslen > bufsize) {
            hsm_error(HSM_R_BAD_INPUT, "%s: %zu bytes to sign are more than the key's %zu",
                      key->uri, tbslen, hsm_key_output_size(key->pub));
            return false;
        }
        memcpy(buf, tbs, tbslen);
        *len = tbslen;
        return true;
    }
    if (hsm_digestinfo(EVP_MD_get0_name(p->md), tbs, tbslen, buf, bufsize, len))
        return true;
    hsm_error(HSM_R_BAD_INPUT, "%s: cannot sign a %zu-byte input as a %s digest", key->uri, tbslen,
              EVP_MD_get0_name(p->md));
    return false;
}

CK_MECHANISM_TYPE hsm_sign_mechanism(const struct hsm_key *key, const struct hsm_sign_params *p)
{
    if (key->key_type != CKK_RSA)
        return key->key_type == CKK_EC ? CKM_ECDSA : CKM_EDDSA;
    return p->rsa_padding == RSA_PKCS1_PSS_PADDING ? CKM_RSA_PKCS_PSS
           : p->rsa_padding == RSA_NO_PADDING      ? CKM_RSA_X_509
                                                   : CKM_RSA_PKCS;
}

bool hsm_sign_audit(struct hsm_provctx *prov, enum hsm_audit_op op, const struct hsm_key *key,
                    const struct hsm_sign_params *p, const unsigned char *tbs, size_t tbslen,
                    const unsigned char *sig, size_t siglen)
{
    CK_MECHANISM_TYPE mech;

    if (prov->config.audit == NULL)
        return true;
    mech = hsm_sign_mechanism(key, p);
    return hsm_audit_operation(
        prov->config.audit,
        &(struct hsm_audit_event){.op = op,
                                  .key = key,
                                  .mechanism = &mech,
                                  .digest = p->md != NULL ? EVP_MD_get0_name(p->md) : NULL,
                                  .data = tbs,
                                  .data_len = tbslen,
                                  .signature = sig,
                                  .signature_len = siglen,
                                  .ok = sig != NULL});
}

bool hsm_sign_unchecked(struct hsm_key *key, bool will_verify, const struct hsm_sign_params *p,
                        const unsigned char *tbs, size_t tbslen, unsigned char *sig, size_t *siglen,
                        size_t sigsize)
{
    /* Sized for every key the provider accepts: RSA input (a DigestInfo, or
     * a block of the modulus length) and the token's raw r||s or EdDSA
     * signature. */
    unsigned char in[HSM_KEY_OUTPUT_MAX], raw[HSM_KEY_OUTPUT_MAX];
    size_t inlen, rawlen = sizeof(raw);
    CK_MECHANISM mech = {hsm_sign_mechanism(key, p), NULL, 0};
    enum hsm_key_op op = will_verify ? HSM_OP_SIGN_VERIFIED : HSM_OP_SIGN;

    if (!hsm_key_on_token(key)) {
        hsm_error(HSM_R_BAD_INPUT, "a public key cannot sign; load the private key by URI");
        return false;
    }
    if (!key->can_sign) {
        hsm_error(HSM_R_UNSUPPORTED, "%s has CKA_SIGN false; the token does not allow signing",
                  key->uri);
        return false;
    }

    if (key->key_type == CKK_RSA && p->rsa_padding == RSA_PKCS1_PSS_PADDING)
        return sign_pss(key, op, p, tbs, tbslen, sig, siglen, sigsize);
    if (key->pss_only) {
        hsm_error(HSM_R_UNSUPPORTED,
                  "%s is restricted to RSA-PSS by %s; use -sigopt "
                  "rsa_padding_mode:pss",
                  key->uri,
                  key->pss_certified ? "its certificate (rsassaPss)"
                                     : "the token (CKA_ALLOWED_MECHANISMS)");
        return false;
    }
    if (key->key_type == CKK_RSA) {
        if (p->rsa_padding != RSA_PKCS1_PADDING && p->rsa_padding != RSA_NO_PADDING) {
            hsm_error(HSM_R_UNSUPPORTED, "%s: RSA padding mode %d is not supported", key->uri,
                      p->rsa_padding);
            return false;
        }
        if (!rsa_input(key, p, tbs, tbslen, in, sizeof(in), &inlen))
            return false;
        rawlen = sigsize;
        return hsm_key_operate(key, op, &mech, in, inlen, sig, &rawlen) && (*siglen = rawlen, true);
    }
    if (!hsm_key_operate(key, op, &mech, tbs, tbslen, raw, &rawlen))
        return false;
    if (key->key_type != CKK_EC) {
        if (rawlen > sigsize) {
            hsm_error(HSM_R_BAD_INPUT, "%s: a %zu-byte signature does not fit %zu bytes", key->uri,
                      rawlen, sigsize);
            return false;
        }
        memcpy(sig, raw, rawlen);
        *siglen = rawlen;
        return true;
    }
    if (!hsm_ecdsa_raw_to_der(raw, rawlen, sig, sigsize, siglen)) {
        hsm_error(HSM_R_SIGNATURE_INVALID, "%s: the token returned a malformed ECDSA signature",
                  key->uri);
        return false;
    }
    return true;
}

bool hsm_verify_in_software(struct hsm_provctx *prov, struct hsm_key *key,
                            const struct hsm_sign_params *p, const unsigned char *tbs,
                            size_t tbslen, const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *pctx;
    bool ok;

    if (key->key_type == CKK_EC_EDWARDS) {
        /* EdDSA verifies the message itself, in one shot. */
        EVP_MD_CTX *md = EVP_MD_CTX_new();

        ok = md != NULL &&
             EVP_DigestVerifyInit_ex(md, NULL, NULL, prov->libctx, HSM_SOFTWARE_PROPQ, key->pub,
                                     NULL) > 0 &&
             EVP_DigestVerify(md, sig, siglen, tbs, tbslen) == 1;
        EVP_MD_CTX_free(md);
        return ok;
    }
    if (key->key_type == CKK_EC) {
        const struct hsm_p256_table *table = hsm_key_p256_table(key);
        int verdict = -1;

        /* The length rule EVP_PKEY_verify applies when a digest is set. */
        if (table != NULL && p->md != NULL && tbslen != (size_t)EVP_MD_get_size(p->md))
            return false;
        if (table != NULL)
            verdict = hsm_p256_table_verify(table, tbs, tbslen, sig, siglen);
        if (verdict >= 0)
            return verdict == 1;
    }
    pctx = EVP_PKEY_CTX_new_from_pkey(prov->libctx, key->pub, HSM_SOFTWARE_PROPQ);
    ok = pctx != NULL && EVP_PKEY_verify_init(pctx) > 0;

    if (ok && key->key_type == CKK_RSA)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, p->rsa_padding) > 0;
    if (ok && p->md != NULL)
        ok = EVP_PKEY_CTX_set_signature_md(pctx, p->md) > 0;
    if (ok && key->key_type == CKK_RSA && p->rsa_padding == RSA_PKCS1_PSS_PADDING) {
        int salt = hsm_pss_salt_length(key, p);

        ok = salt >= 0 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, p->mgf1 != NULL ? p->mgf1 : p->md) > 0;
    }
    ok = ok && EVP_PKEY_verify(pctx, sig, siglen, tbs, tbslen) == 1;
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

bool hsm_sign_on_token(struct hsm_provctx *prov, struct hsm_key *key,
                       const struct hsm_sign_params *p, const unsigned char *tbs, size_t tbslen,
                       unsigned char *sig, size_t *siglen, size_t sigsize)
{
    /* A key whose handle cannot be confirmed from its attributes is always
     * checked: verify-signatures = no must not open a gap. */
    bool verify = prov->config.verify_signatures || hsm_key_needs_verified_signatures(key);

    if (!hsm_sign_unchecked(key, verify, p, tbs, tbslen, sig, siglen, sigsize)) {
        (void)hsm_sign_audit(prov, HSM_AUDIT_SIGN, key, p, tbs, tbslen, NULL, 0);
        return false;
    }
    if (!verify || hsm_verify_in_software(prov, key, p, tbs, tbslen, sig, *siglen)) {
        /* Recorded before the signature leaves: none is returned unrecorded. */
        if (hsm_sign_audit(prov, HSM_AUDIT_SIGN, key, p, tbs, tbslen, sig, *siglen))
            return true;
        OPENSSL_cleanse(sig, sigsize);
        *siglen = 0;
        return false;
    }
    OPENSSL_cleanse(sig, sigsize);
    *siglen = 0;
    hsm_key_explain_bad_signature(key);
    hsm_error(HSM_R_SIGNATURE_INVALID,
              "%s: the signature made on token '%s' (serial %s) does not verify with the public "
              "key it publishes (SHA-256 %s), so it was not returned. A middleware cache is "
              "stale or the key was replaced: clear the cache (e.g. OpenSC's file cache), "
              "check the token's objects, and load the key again",
              key->uri, key->token_id.label, key->token_id.serial, key->fingerprint);
    (void)hsm_sign_audit(prov, HSM_AUDIT_SIGN, key, p, tbs, tbslen, NULL, 0);
    return false;
}
