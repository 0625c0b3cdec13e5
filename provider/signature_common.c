#include "provider/signature_common.h"
#include "cache/provider_property.h"
#include "provider/param_trace.h"
#include "provider/rsa_params.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

void *hsm_sig_newctx_for(void *provctx, const char *propq, CK_KEY_TYPE type)
{
    struct hsm_sigctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->prov = provctx;
    ctx->want_type = type;
    ctx->params.rsa_padding = RSA_PKCS1_PADDING;
    ctx->params.pss_saltlen = RSA_PSS_SALTLEN_AUTO;
    if (propq != NULL && (ctx->propq = OPENSSL_strdup(propq)) == NULL) {
        OPENSSL_free(ctx);
        return NULL;
    }
    return ctx;
}

void hsm_sig_freectx(void *vctx)
{
    struct hsm_sigctx *ctx = vctx;

    if (ctx == NULL)
        return;
    hsm_key_put(ctx->key);
    EVP_MD_CTX_free(ctx->mdctx);
    EVP_MD_free(ctx->md);
    EVP_MD_free(ctx->mgf1);
    OPENSSL_free(ctx->propq);
    OPENSSL_free(ctx->expected_sig);
    OPENSSL_free(ctx);
}

void *hsm_sig_dupctx(void *vctx)
{
    struct hsm_sigctx *src = vctx, *dst = OPENSSL_memdup(src, sizeof(*src));

    if (dst == NULL)
        return NULL;
    dst->propq = NULL;
    dst->mdctx = NULL;
    dst->expected_sig = NULL;
    if (dst->mgf1 != NULL)
        EVP_MD_up_ref(dst->mgf1);
    if (dst->key != NULL)
        hsm_key_ref(dst->key);
    if (dst->md != NULL)
        EVP_MD_up_ref(dst->md);
    if ((src->propq != NULL && (dst->propq = OPENSSL_strdup(src->propq)) == NULL) ||
        (src->expected_sig != NULL &&
         (dst->expected_sig = OPENSSL_memdup(src->expected_sig, src->expected_siglen)) == NULL) ||
        (src->mdctx != NULL && ((dst->mdctx = EVP_MD_CTX_new()) == NULL ||
                                !EVP_MD_CTX_copy_ex(dst->mdctx, src->mdctx)))) {
        hsm_sig_freectx(dst);
        return NULL;
    }
    return dst;
}

static bool set_md(struct hsm_sigctx *ctx, const char *mdname)
{
    EVP_MD *md;

    /* Hashing stays in software, and never in this provider. */
    md = EVP_MD_fetch(ctx->prov->libctx, mdname, HSM_SOFTWARE_PROPQ);
    if (md == NULL) {
        hsm_error(HSM_R_UNSUPPORTED, "digest %s is not available", mdname);
        return false;
    }
    if (ctx->want_type == CKK_EC && EVP_MD_is_a(md, "SHA1") == 0 && EVP_MD_get_size(md) < 28) {
        EVP_MD_free(md);
        hsm_error(HSM_R_UNSUPPORTED, "digest %s is too weak for ECDSA", mdname);
        return false;
    }
    if (ctx->want_type == CKK_RSA && ctx->params.rsa_padding == RSA_NO_PADDING) {
        EVP_MD_free(md);
        hsm_error(HSM_R_BAD_INPUT, "RSA without padding takes no digest (%s was given)", mdname);
        return false;
    }
    EVP_MD_free(ctx->md);
    ctx->md = md;
    ctx->params.md = md;
    return true;
}

static int init(struct hsm_sigctx *ctx, void *vkey, const OSSL_PARAM params[])
{
    struct hsm_key *key = vkey;

    if (key != NULL) {
        if (key->key_type != ctx->want_type) {
            hsm_error(HSM_R_BAD_INPUT, "%s is not a key for this signature algorithm", key->uri);
            return 0;
        }
        hsm_key_ref(key);
        hsm_key_put(ctx->key);
        ctx->key = key;
        /* A key restricted to PSS signs with PSS unless the caller asks
         * otherwise (and PKCS#1 v1.5 is then refused by name). */
        if (key->pss_only)
            ctx->params.rsa_padding = RSA_PKCS1_PSS_PADDING;
    }
    if (ctx->key == NULL)
        return 0;
    return hsm_sig_set_ctx_params(ctx, params);
}

int hsm_sig_sign_init(void *ctx, void *key, const OSSL_PARAM params[])
{
    return init(ctx, key, params);
}

int hsm_sig_verify_init(void *ctx, void *key, const OSSL_PARAM params[])
{
    return init(ctx, key, params);
}

/*
 * The parameters an operation runs with: "auto-digestmax" (OpenSSL 3.1's
 * default for signing) is the digest's length, or less when the key is too
 * small for it; a verification detects the salt.
 */
static struct hsm_sign_params effective(const struct hsm_sigctx *ctx, bool signing)
{
    struct hsm_sign_params p = ctx->params;

    if (p.pss_saltlen == RSA_PSS_SALTLEN_AUTO_DIGEST_MAX) {
        p.pss_saltlen = RSA_PSS_SALTLEN_AUTO;
        if (signing && p.md != NULL && ctx->key != NULL) {
            int hlen = EVP_MD_get_size(p.md);
            int max = (EVP_PKEY_get_bits(ctx->key->pub) - 1 + 7) / 8 - hlen - 2;

            p.pss_saltlen = hlen < max ? hlen : RSA_PSS_SALTLEN_MAX;
        }
    }
    return p;
}

int hsm_sig_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
                 const unsigned char *tbs, size_t tbslen)
{
    struct hsm_sigctx *ctx = vctx;
    size_t max = hsm_signature_max(ctx->key);

    if (sig == NULL) {
        *siglen = max;
        return 1;
    }
    if (sigsize < max) {
        hsm_error(HSM_R_BAD_INPUT, "signature buffer of %zu bytes is smaller than %zu", sigsize,
                  max);
        return 0;
    }
    struct hsm_sign_params p = effective(ctx, true);

    return hsm_sign_on_token(ctx->prov, ctx->key, &p, tbs, tbslen, sig, siglen, sigsize);
}

int hsm_sig_verify(void *vctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                   size_t tbslen)
{
    struct hsm_sigctx *ctx = vctx;

    struct hsm_sign_params p = effective(ctx, false);

    return hsm_verify_in_software(ctx->prov, ctx->key, &p, tbs, tbslen, sig, siglen);
}

static int digest_init(struct hsm_sigctx *ctx, const char *mdname, void *key,
                       const OSSL_PARAM params[])
{
    if (!init(ctx, key, params))
        return 0;
    if (mdname != NULL && mdname[0] != '\0' && !set_md(ctx, mdname))
        return 0;
    if (ctx->md == NULL && !set_md(ctx, "SHA2-256"))
        return 0;
    if (ctx->mdctx == NULL && (ctx->mdctx = EVP_MD_CTX_new()) == NULL)
        return 0;
    return EVP_DigestInit_ex2(ctx->mdctx, ctx->md, NULL);
}

int hsm_sig_message_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[])
{
    return digest_init(ctx, mdname, key, params);
}

int hsm_sig_digest_sign_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[])
{
    return digest_init(ctx, mdname, key, params);
}

int hsm_sig_digest_verify_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[])
{
    return digest_init(ctx, mdname, key, params);
}

int hsm_sig_digest_update(void *vctx, const unsigned char *data, size_t len)
{
    struct hsm_sigctx *ctx = vctx;

    return ctx->mdctx != NULL && EVP_DigestUpdate(ctx->mdctx, data, len);
}

int hsm_sig_digest_sign_final(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
    struct hsm_sigctx *ctx = vctx;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    /* A size query must not finish the running digest. */
    if (sig == NULL)
        return hsm_sig_sign(ctx, NULL, siglen, 0, NULL, 0);
    if (ctx->mdctx == NULL || !EVP_DigestFinal_ex(ctx->mdctx, digest, &dlen))
        return 0;
    return hsm_sig_sign(ctx, sig, siglen, sigsize, digest, dlen);
}

int hsm_sig_digest_verify_final(void *vctx, const unsigned char *sig, size_t siglen)
{
    struct hsm_sigctx *ctx = vctx;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (ctx->mdctx == NULL || !EVP_DigestFinal_ex(ctx->mdctx, digest, &dlen))
        return 0;
    return hsm_sig_verify(ctx, sig, siglen, digest, dlen);
}

/* X509_ALGOR of a digest, with the NULL parameter RFC 4055 expects. */
static X509_ALGOR *digest_algor(const EVP_MD *md)
{
    X509_ALGOR *a = X509_ALGOR_new();

    if (a != NULL)
        X509_ALGOR_set_md(a, md);
    return a;
}

/* RSASSA-PSS-params (RFC 4055) for the certificate's signature field. */
static int pss_algorithm_id(const struct hsm_sigctx *ctx, OSSL_PARAM *p)
{
    const EVP_MD *mgf1 = ctx->mgf1 != NULL ? ctx->mgf1 : ctx->md;
    struct hsm_sign_params params = effective(ctx, true);
    int salt = hsm_pss_salt_length(ctx->key, &params);
    RSA_PSS_PARAMS *pss = RSA_PSS_PARAMS_new();
    X509_ALGOR *alg = X509_ALGOR_new(), *mgf1_hash = NULL;
    ASN1_STRING *packed = NULL, *mgf1_packed = NULL;
    unsigned char *der = NULL;
    int len = 0, ok = 0;

    if (salt < 0 || pss == NULL || alg == NULL)
        goto done;
    if (!EVP_MD_is_a(ctx->md, "SHA1") && (pss->hashAlgorithm = digest_algor(ctx->md)) == NULL)
        goto done;
    if (!EVP_MD_is_a(mgf1, "SHA1")) {
        if ((mgf1_hash = digest_algor(mgf1)) == NULL ||
            (mgf1_packed = ASN1_item_pack(mgf1_hash, ASN1_ITEM_rptr(X509_ALGOR), NULL)) == NULL ||
            (pss->maskGenAlgorithm = X509_ALGOR_new()) == NULL)
            goto done;
        X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE, mgf1_packed);
        mgf1_packed = NULL;
    }
    if (salt != 20) {
        if ((pss->saltLength = ASN1_INTEGER_new()) == NULL ||
            !ASN1_INTEGER_set(pss->saltLength, salt))
            goto done;
    }
    if ((packed = ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), NULL)) == NULL)
        goto done;
    X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, packed);
    len = i2d_X509_ALGOR(alg, &der);
    ok = len > 0 && OSSL_PARAM_set_octet_string(p, der, (size_t)len);
done:
    OPENSSL_free(der);
    ASN1_STRING_free(mgf1_packed);
    X509_ALGOR_free(mgf1_hash);
    X509_ALGOR_free(alg);
    RSA_PSS_PARAMS_free(pss);
    return ok;
}

/* AlgorithmIdentifier of the signature, for certificates and CSRs. */
static int algorithm_id(const struct hsm_sigctx *ctx, OSSL_PARAM *p)
{
    int sig_nid,
        pkey_nid = ctx->want_type == CKK_RSA ? NID_rsaEncryption : NID_X9_62_id_ecPublicKey;
    unsigned char *der = NULL;
    X509_ALGOR *alg;
    int len, ok;

    if (ctx->md != NULL && ctx->want_type == CKK_RSA &&
        ctx->params.rsa_padding == RSA_PKCS1_PSS_PADDING)
        return pss_algorithm_id(ctx, p);
    if (ctx->md == NULL || !OBJ_find_sigid_by_algs(&sig_nid, EVP_MD_get_type(ctx->md), pkey_nid))
        return 0;
    alg = X509_ALGOR_new();
    if (alg == NULL)
        return 0;
    X509_ALGOR_set0(alg, OBJ_nid2obj(sig_nid),
                    ctx->want_type == CKK_RSA ? V_ASN1_NULL : V_ASN1_UNDEF, NULL);
    len = i2d_X509_ALGOR(alg, &der);
    ok = len > 0 && OSSL_PARAM_set_octet_string(p, der, (size_t)len);
    OPENSSL_free(der);
    X509_ALGOR_free(alg);
    return ok;
}

int hsm_sig_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct hsm_sigctx *ctx = vctx;
    bool rsa = ctx->want_type == CKK_RSA;
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) != NULL &&
        !algorithm_id(ctx, p)) {
        hsm_error(HSM_R_BAD_INPUT, "no signature algorithm identifier for %s with %s",
                  ctx->key != NULL ? ctx->key->uri : "a key not yet set",
                  ctx->md != NULL ? EVP_MD_get0_name(ctx->md) : "no digest");
        return 0;
    }
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL &&
        !hsm_md_param_set(p, ctx->md, "digest"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST_SIZE)) != NULL && !rsa &&
        !OSSL_PARAM_set_size_t(p, ctx->md != NULL ? (size_t)EVP_MD_get_size(ctx->md) : 0)) {
        hsm_error(HSM_R_BAD_INPUT, "parameter %s must be a size_t", p->key);
        return 0;
    }
    if (!rsa)
        return 1;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL &&
        !hsm_rsa_pad_mode_set(p, ctx->params.rsa_padding))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL &&
        !hsm_md_param_set(p, ctx->mgf1 != NULL ? ctx->mgf1 : ctx->md, "MGF1 digest"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL &&
        !hsm_rsa_saltlen_set(p, ctx->params.pss_saltlen))
        return 0;
    hsm_params_trace_get("signature get_ctx_params", params);
    return 1;
}

const OSSL_PARAM *hsm_sig_gettable_ctx_params(void *vctx, void *provctx)
{
    /* The forms OpenSSL's own provider lists: names, which it also gives
     * as integers when asked so. */
    static const OSSL_PARAM rsa[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
        OSSL_PARAM_END,
    };
    static const OSSL_PARAM ecdsa[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_size_t(OSSL_SIGNATURE_PARAM_DIGEST_SIZE, NULL),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_END,
    };
    struct hsm_sigctx *ctx = vctx;

    (void)provctx;
    return ctx != NULL && ctx->want_type == CKK_EC ? ecdsa : rsa;
}

static bool set_rsa_params(struct hsm_sigctx *ctx, const OSSL_PARAM params[])
{
    const OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
        int mode;

        if (!hsm_rsa_pad_mode_get(p, &mode))
            return false;
        if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_PSS_PADDING && mode != RSA_NO_PADDING) {
            hsm_error(HSM_R_UNSUPPORTED,
                      "RSA padding mode %s is not one for signatures here (pkcs1, pss, none are)",
                      hsm_rsa_pad_mode_name(mode));
            return false;
        }
        /* As OpenSSL's provider: raw RSA signs what it is given. */
        if (mode == RSA_NO_PADDING && ctx->md != NULL) {
            hsm_error(HSM_R_BAD_INPUT, "RSA without padding takes no digest (%s is set)",
                      EVP_MD_get0_name(ctx->md));
            return false;
        }
        ctx->params.rsa_padding = mode;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL &&
        !hsm_rsa_saltlen_get(p, &ctx->params.pss_saltlen))
        return false;
    /* The MGF1 digest's properties are the provider's own: hashing stays in
     * software whatever an application asks. */
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL) {
        if (!hsm_md_param_get(ctx->prov->libctx, p, "MGF1 digest", &ctx->mgf1))
            return false;
        ctx->params.mgf1 = ctx->mgf1;
    }
    return true;
}

/* Every signature parameter some algorithm of the provider takes. */
static const OSSL_PARAM known_sig_params[] = {
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, NULL, 0),
    OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
    OSSL_PARAM_END,
};

const OSSL_PARAM *hsm_sig_settable_all(void)
{
    return known_sig_params;
}

int hsm_sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct hsm_sigctx *ctx = vctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    hsm_params_trace_set("signature set_ctx_params", params, known_sig_params);
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL) {
        char mdname[64] = "", *name = mdname;

        if (!OSSL_PARAM_get_utf8_string(p, &name, sizeof(mdname))) {
            hsm_error(HSM_R_BAD_INPUT, "parameter %s must be a digest name of at most %zu bytes",
                      p->key, sizeof(mdname) - 1);
            return 0;
        }
        if (!set_md(ctx, mdname))
            return 0;
    }
    if (ctx->want_type == CKK_RSA && !set_rsa_params(ctx, params))
        return 0;
    return 1;
}
