#include "provider/sign_on_token.h"

#include "provider/encoding.h"

#include <openssl/crypto.h>
#include <openssl/rsa.h>
#include <string.h>

size_t hsm_signature_max(const struct hsm_key *key)
{
    int size = EVP_PKEY_get_size(key->pub);

    return size > 0 ? (size_t)size : 0;
}

static bool rsa_input(const struct hsm_key *key, const struct hsm_sign_params *p,
                      const unsigned char *tbs, size_t tbslen, unsigned char *buf,
                      size_t bufsize, size_t *len)
{
    if (p->md == NULL) {
        if (tbslen > bufsize)
            return false;
        memcpy(buf, tbs, tbslen);
        *len = tbslen;
        return true;
    }
    if (hsm_digestinfo(EVP_MD_get0_name(p->md), tbs, tbslen, buf, bufsize, len))
        return true;
    hsm_error(HSM_R_BAD_INPUT, "%s: cannot sign a %zu-byte input as a %s digest", key->uri,
              tbslen, EVP_MD_get0_name(p->md));
    return false;
}

bool hsm_sign_unchecked(struct hsm_key *key, const struct hsm_sign_params *p,
                     const unsigned char *tbs, size_t tbslen, unsigned char *sig, size_t *siglen,
                     size_t sigsize)
{
    unsigned char in[1024], raw[1024];
    size_t inlen, rawlen = sizeof(raw);
    CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};

    if (!hsm_key_on_token(key)) {
        hsm_error(HSM_R_BAD_INPUT, "a public key cannot sign; load the private key by URI");
        return false;
    }
    if (!key->can_sign) {
        hsm_error(HSM_R_UNSUPPORTED, "%s has CKA_SIGN false; the token does not allow signing",
                  key->uri);
        return false;
    }

    if (key->key_type == CKK_RSA) {
        if (p->rsa_padding == RSA_NO_PADDING)
            mech.mechanism = CKM_RSA_X_509;
        else if (p->rsa_padding != RSA_PKCS1_PADDING) {
            hsm_error(HSM_R_UNSUPPORTED, "%s: RSA padding mode %d is not supported", key->uri,
                      p->rsa_padding);
            return false;
        }
        if (!rsa_input(key, p, tbs, tbslen, in, sizeof(in), &inlen))
            return false;
        rawlen = sigsize;
        return hsm_key_operate(key, HSM_OP_SIGN, &mech, in, inlen, sig, &rawlen) &&
               (*siglen = rawlen, true);
    }
    mech.mechanism = key->key_type == CKK_EC ? CKM_ECDSA : CKM_EDDSA;
    if (!hsm_key_operate(key, HSM_OP_SIGN, &mech, tbs, tbslen, raw, &rawlen))
        return false;
    if (key->key_type != CKK_EC) {
        if (rawlen > sigsize)
            return false;
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

bool hsm_verify_in_software(struct hsm_provctx *prov, const struct hsm_key *key,
                            const struct hsm_sign_params *p, const unsigned char *tbs,
                            size_t tbslen, const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *pctx =
        EVP_PKEY_CTX_new_from_pkey(prov->libctx, key->pub, prov->software_propq);
    bool ok = pctx != NULL && EVP_PKEY_verify_init(pctx) > 0;

    if (ok && key->key_type == CKK_RSA)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, p->rsa_padding) > 0;
    if (ok && p->md != NULL)
        ok = EVP_PKEY_CTX_set_signature_md(pctx, p->md) > 0;
    ok = ok && EVP_PKEY_verify(pctx, sig, siglen, tbs, tbslen) == 1;
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

bool hsm_sign_on_token(struct hsm_provctx *prov, struct hsm_key *key,
                       const struct hsm_sign_params *p, const unsigned char *tbs, size_t tbslen,
                       unsigned char *sig, size_t *siglen, size_t sigsize)
{
    if (!hsm_sign_unchecked(key, p, tbs, tbslen, sig, siglen, sigsize))
        return false;
    if (!prov->config.verify_signatures ||
        hsm_verify_in_software(prov, key, p, tbs, tbslen, sig, *siglen))
        return true;
    OPENSSL_cleanse(sig, sigsize);
    *siglen = 0;
    hsm_error(HSM_R_SIGNATURE_INVALID,
              "%s: the signature made on token '%s' (serial %s) does not verify with the public "
              "key it publishes (SHA-256 %s), so it was not returned. A middleware cache is "
              "stale or the key was replaced: clear the cache (e.g. OpenSC's file cache), "
              "check the token's objects, and load the key again",
              key->uri, key->token_id.label, key->token_id.serial, key->fingerprint);
    return false;
}
