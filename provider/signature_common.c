#include "provider/signature_common.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

void *hsm_sig_newctx_for(void *provctx, const char *propq, CK_KEY_TYPE type)
{
    struct hsm_sigctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->prov = provctx;
    ctx->want_type = type;
    ctx->params.rsa_padding = RSA_PKCS1_PADDING;
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
    OPENSSL_free(ctx->propq);
    OPENSSL_free(ctx);
}

void *hsm_sig_dupctx(void *vctx)
{
    struct hsm_sigctx *src = vctx, *dst = OPENSSL_memdup(src, sizeof(*src));

    if (dst == NULL)
        return NULL;
    dst->propq = NULL;
    dst->mdctx = NULL;
    if (dst->key != NULL)
        hsm_key_ref(dst->key);
    if (dst->md != NULL)
        EVP_MD_up_ref(dst->md);
    if ((src->propq != NULL && (dst->propq = OPENSSL_strdup(src->propq)) == NULL) ||
        (src->mdctx != NULL &&
         ((dst->mdctx = EVP_MD_CTX_new()) == NULL || !EVP_MD_CTX_copy_ex(dst->mdctx, src->mdctx)))) {
        hsm_sig_freectx(dst);
        return NULL;
    }
    return dst;
}

static bool set_md(struct hsm_sigctx *ctx, const char *mdname)
{
    EVP_MD *md;

    /* Hashing stays in software, and never in this provider. */
    md = EVP_MD_fetch(ctx->prov->libctx, mdname, ctx->prov->software_propq);
    if (md == NULL) {
        hsm_error(HSM_R_UNSUPPORTED, "digest %s is not available", mdname);
        return false;
    }
    if (ctx->want_type == CKK_EC && EVP_MD_is_a(md, "SHA1") == 0 &&
        EVP_MD_get_size(md) < 28) {
        EVP_MD_free(md);
        hsm_error(HSM_R_UNSUPPORTED, "digest %s is too weak for ECDSA", mdname);
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
    return hsm_sign_on_token(ctx->prov, ctx->key, &ctx->params, tbs, tbslen, sig, siglen,
                             sigsize);
}

int hsm_sig_verify(void *vctx, const unsigned char *sig, size_t siglen, const unsigned char *tbs,
                   size_t tbslen)
{
    struct hsm_sigctx *ctx = vctx;

    return hsm_verify_in_software(ctx->prov, ctx->key, &ctx->params, tbs, tbslen, sig, siglen);
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

int hsm_sig_digest_sign_init(void *ctx, const char *mdname, void *key, const OSSL_PARAM params[])
{
    return digest_init(ctx, mdname, key, params);
}

int hsm_sig_digest_verify_init(void *ctx, const char *mdname, void *key,
                               const OSSL_PARAM params[])
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

/* AlgorithmIdentifier of the signature, for certificates and CSRs. */
static int algorithm_id(const struct hsm_sigctx *ctx, OSSL_PARAM *p)
{
    int sig_nid, pkey_nid = ctx->want_type == CKK_RSA ? NID_rsaEncryption : NID_X9_62_id_ecPublicKey;
    unsigned char *der = NULL;
    X509_ALGOR *alg;
    int len, ok;

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
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) != NULL &&
        !algorithm_id(ctx, p))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL &&
        (ctx->md == NULL || !OSSL_PARAM_set_utf8_string(p, EVP_MD_get0_name(ctx->md))))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL &&
        ctx->want_type == CKK_RSA && !OSSL_PARAM_set_int(p, ctx->params.rsa_padding))
        return 0;
    return 1;
}

const OSSL_PARAM *hsm_sig_gettable_ctx_params(void *ctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_int(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL),
        OSSL_PARAM_END,
    };
    (void)ctx;
    (void)provctx;
    return params;
}

int hsm_sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct hsm_sigctx *ctx = vctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL) {
        char mdname[64] = "", *name = mdname;

        if (!OSSL_PARAM_get_utf8_string(p, &name, sizeof(mdname)) || !set_md(ctx, mdname))
            return 0;
    }
    if (ctx->want_type == CKK_RSA &&
        (p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
        int mode = 0;

        if (p->data_type == OSSL_PARAM_INTEGER) {
            if (!OSSL_PARAM_get_int(p, &mode))
                return 0;
        } else if (p->data_type == OSSL_PARAM_UTF8_STRING && p->data != NULL) {
            mode = strcmp(p->data, "pkcs1") == 0 ? RSA_PKCS1_PADDING
                   : strcmp(p->data, "none") == 0 ? RSA_NO_PADDING
                                                  : -1;
        }
        if (mode != RSA_PKCS1_PADDING && mode != RSA_NO_PADDING) {
            hsm_error(HSM_R_UNSUPPORTED, "RSA padding mode is not supported here (pkcs1 is)");
            return 0;
        }
        ctx->params.rsa_padding = mode;
    }
    return 1;
}
