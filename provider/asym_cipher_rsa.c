/*
 * RSA decryption on the token (PKCS#1 v1.5, OAEP); encryption, a public
 * operation, in software with the remembered public key.
 */
#include "cache/provider_property.h"
#include "provider/provider.h"
#include "provider/rsa_params.h"
#include "provider/sign_on_token.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

struct rsa_cipher_ctx {
    struct hsm_provctx *prov;
    struct hsm_key *key;
    int padding;
    EVP_MD *oaep_md;
    EVP_MD *mgf1_md;
    unsigned char *label;
    size_t label_len;
    unsigned int tls_client_version;
    unsigned int tls_negotiated_version;
    /* OpenSSL 3.2's "implicit-rejection": 1 (the default) answers a bad
     * PKCS#1 v1.5 padding with a synthetic plaintext, 0 with an error. */
    unsigned int implicit_rejection;
};

static void *rsa_cipher_newctx(void *provctx)
{
    struct rsa_cipher_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx != NULL) {
        ctx->prov = provctx;
        ctx->padding = RSA_PKCS1_PADDING;
        ctx->implicit_rejection = 1;
    }
    return ctx;
}

static void rsa_cipher_freectx(void *vctx)
{
    struct rsa_cipher_ctx *ctx = vctx;

    if (ctx == NULL)
        return;
    hsm_key_put(ctx->key);
    EVP_MD_free(ctx->oaep_md);
    EVP_MD_free(ctx->mgf1_md);
    OPENSSL_free(ctx->label);
    OPENSSL_free(ctx);
}

static void *rsa_cipher_dupctx(void *vctx)
{
    struct rsa_cipher_ctx *src = vctx, *dst = OPENSSL_memdup(src, sizeof(*src));

    if (dst == NULL)
        return NULL;
    if (dst->key != NULL)
        hsm_key_ref(dst->key);
    if (dst->oaep_md != NULL)
        EVP_MD_up_ref(dst->oaep_md);
    if (dst->mgf1_md != NULL)
        EVP_MD_up_ref(dst->mgf1_md);
    dst->label = NULL;
    if (src->label != NULL && (dst->label = OPENSSL_memdup(src->label, src->label_len)) == NULL) {
        rsa_cipher_freectx(dst);
        return NULL;
    }
    return dst;
}

static int rsa_cipher_set_ctx_params(void *vctx, const OSSL_PARAM params[]);

static int rsa_cipher_init(void *vctx, void *vkey, const OSSL_PARAM params[])
{
    struct rsa_cipher_ctx *ctx = vctx;
    struct hsm_key *key = vkey;

    if (key == NULL || key->key_type != CKK_RSA)
        return 0;
    hsm_key_ref(key);
    hsm_key_put(ctx->key);
    ctx->key = key;
    return rsa_cipher_set_ctx_params(ctx, params);
}

/* Constant-time helpers: all ones when true, zero when false. */
static unsigned int ct_is_zero(unsigned int a)
{
    return 0u - ((~a & (a - 1)) >> (sizeof(a) * 8 - 1));
}

static unsigned int ct_eq(unsigned int a, unsigned int b)
{
    return ct_is_zero(a ^ b);
}

/* a < b, for values below 2^31. */
static unsigned int ct_lt(unsigned int a, unsigned int b)
{
    return 0u - ((a - b) >> (sizeof(a) * 8 - 1));
}

/*
 * TLS 1.2 RSA key exchange (RFC 5246, 7.4.7.1): the token decrypts without
 * padding, and the PKCS#1 v1.5 and version checks run here in constant
 * time. On any failure the premaster secret is random, so neither the
 * token's answer nor the timing tells an attacker whether padding was good.
 */
static int rsa_decrypt_tls(struct rsa_cipher_ctx *ctx, unsigned char *out, size_t *outlen,
                           size_t outsize, const unsigned char *in, size_t inlen, size_t k)
{
    CK_MECHANISM mech = {CKM_RSA_X_509, NULL, 0};
    unsigned char em[1024], fallback[48];
    size_t len = k;
    unsigned int good, found = 0, zero_at = 0, alt;

    if (outsize < 48 || k > sizeof(em) || k < 48 + 11 || ctx->tls_client_version == 0 ||
        RAND_priv_bytes_ex(ctx->prov->libctx, fallback, sizeof(fallback), 0) <= 0)
        return 0;
    if (!hsm_key_operate(ctx->key, HSM_OP_DECRYPT, &mech, in, inlen, em, &len))
        return 0;
    if (len < k) { /* left-pad to the modulus length */
        memmove(em + (k - len), em, len);
        memset(em, 0, k - len);
    }
    good = ct_eq(em[0], 0) & ct_eq(em[1], 2);
    for (size_t i = 2; i < k; i++) {
        unsigned int z = ct_is_zero(em[i]);

        zero_at = (~found & z & (unsigned int)i) | (~(~found & z) & zero_at);
        found |= z;
    }
    /* at least 8 non-zero padding bytes, then a zero, then 48 bytes */
    good &= found & ~ct_lt(zero_at, 10) & ct_eq((unsigned int)(k - zero_at - 1), 48);
    alt = ctx->tls_negotiated_version != 0
              ? ct_eq(em[k - 48], (ctx->tls_negotiated_version >> 8) & 0xff) &
                    ct_eq(em[k - 47], ctx->tls_negotiated_version & 0xff)
              : 0;
    good &= (ct_eq(em[k - 48], (ctx->tls_client_version >> 8) & 0xff) &
             ct_eq(em[k - 47], ctx->tls_client_version & 0xff)) |
            alt;
    for (size_t i = 0; i < 48; i++)
        out[i] = (unsigned char)((good & em[k - 48 + i]) | (~good & fallback[i]));
    OPENSSL_cleanse(em, sizeof(em));
    OPENSSL_cleanse(fallback, sizeof(fallback));
    *outlen = 48;
    return 1;
}

static int rsa_decrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                       const unsigned char *in, size_t inlen)
{
    struct rsa_cipher_ctx *ctx = vctx;
    size_t k = (size_t)EVP_PKEY_get_size(ctx->key->pub), len = k;
    CK_RSA_PKCS_OAEP_PARAMS oaep = {0};
    CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
    unsigned char buf[1024];
    const EVP_MD *md;

    if (out == NULL) {
        *outlen = k;
        return 1;
    }
    if (!hsm_key_on_token(ctx->key) || !ctx->key->can_decrypt) {
        hsm_error(HSM_R_UNSUPPORTED,
                  "%s cannot decrypt: the token marks it CKA_DECRYPT false (a signing key)",
                  ctx->key->uri != NULL ? ctx->key->uri : "the key");
        return 0;
    }
    if (ctx->padding == RSA_PKCS1_WITH_TLS_PADDING)
        return rsa_decrypt_tls(ctx, out, outlen, outsize, in, inlen, k);
    if (ctx->padding == RSA_PKCS1_OAEP_PADDING) {
        md = ctx->oaep_md != NULL ? ctx->oaep_md : EVP_sha1();
        if (!hsm_ck_digest(md, &oaep.hashAlg, NULL) ||
            !hsm_ck_digest(ctx->mgf1_md != NULL ? ctx->mgf1_md : md, NULL, &oaep.mgf)) {
            hsm_error(HSM_R_UNSUPPORTED, "OAEP with %s is not supported", EVP_MD_get0_name(md));
            return 0;
        }
        oaep.source = CKZ_DATA_SPECIFIED;
        oaep.pSourceData = ctx->label;
        oaep.ulSourceDataLen = ctx->label_len;
        mech = (CK_MECHANISM){CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
    } else if (ctx->padding != RSA_PKCS1_PADDING) {
        hsm_error(HSM_R_UNSUPPORTED,
                  "RSA decryption padding %d is not supported (pkcs1, oaep, TLS premaster)",
                  ctx->padding);
        return 0;
    }
    if (k > sizeof(buf) || !hsm_key_operate(ctx->key, HSM_OP_DECRYPT, &mech, in, inlen, buf, &len))
        return 0;
    if (len > outsize) {
        OPENSSL_cleanse(buf, sizeof(buf));
        hsm_error(HSM_R_BAD_INPUT, "output buffer too small");
        return 0;
    }
    memcpy(out, buf, len);
    OPENSSL_cleanse(buf, sizeof(buf));
    *outlen = len;
    return 1;
}

/* Encryption needs only the public key: done in software. */
static int rsa_encrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                       const unsigned char *in, size_t inlen)
{
    struct rsa_cipher_ctx *ctx = vctx;
    EVP_PKEY_CTX *pctx =
        EVP_PKEY_CTX_new_from_pkey(ctx->prov->libctx, ctx->key->pub, HSM_SOFTWARE_PROPQ);
    int ok = pctx != NULL && EVP_PKEY_encrypt_init(pctx) > 0 &&
             EVP_PKEY_CTX_set_rsa_padding(pctx, ctx->padding) > 0;

    if (ok && ctx->padding == RSA_PKCS1_OAEP_PADDING) {
        if (ctx->oaep_md != NULL)
            ok = EVP_PKEY_CTX_set_rsa_oaep_md(pctx, ctx->oaep_md) > 0;
        if (ok && ctx->mgf1_md != NULL)
            ok = EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, ctx->mgf1_md) > 0;
        if (ok && ctx->label != NULL) {
            unsigned char *copy = OPENSSL_memdup(ctx->label, ctx->label_len);
            ok = copy != NULL && EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, copy, (int)ctx->label_len) > 0;
        }
    }
    *outlen = outsize;
    ok = ok && EVP_PKEY_encrypt(pctx, out, outlen, in, inlen) > 0;
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

static int rsa_cipher_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct rsa_cipher_ctx *ctx = vctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    /* Digests' properties are the provider's own: hashing stays in software. */
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) != NULL &&
        !hsm_md_param_get(ctx->prov->libctx, p, "OAEP digest", &ctx->oaep_md))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE)) != NULL) {
        int mode;

        if (!hsm_rsa_pad_mode_get(p, &mode))
            return 0;
        if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_OAEP_PADDING && mode != RSA_NO_PADDING &&
            mode != RSA_PKCS1_WITH_TLS_PADDING) {
            hsm_error(HSM_R_UNSUPPORTED,
                      "RSA padding mode %s is not one for encryption (pkcs1, oaep, none are)",
                      hsm_rsa_pad_mode_name(mode));
            return 0;
        }
        ctx->padding = mode;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL &&
        !hsm_md_param_get(ctx->prov->libctx, p, "MGF1 digest", &ctx->mgf1_md))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL)) != NULL) {
        void *label = NULL;
        size_t len = 0;

        if (!OSSL_PARAM_get_octet_string(p, &label, 0, &len)) {
            hsm_error(HSM_R_BAD_INPUT, "parameter %s must be an octet string", p->key);
            return 0;
        }
        OPENSSL_free(ctx->label);
        ctx->label = label;
        ctx->label_len = len;
    }
    const struct {
        const char *name;
        unsigned int *value;
    } uints[] = {
        {OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, &ctx->tls_client_version},
        {OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, &ctx->tls_negotiated_version},
        {OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION, &ctx->implicit_rejection},
    };
    for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
        if ((p = OSSL_PARAM_locate_const(params, uints[i].name)) != NULL &&
            !OSSL_PARAM_get_uint(p, uints[i].value)) {
            hsm_error(HSM_R_BAD_INPUT, "parameter %s must be an unsigned integer", p->key);
            return 0;
        }
    }
    return 1;
}

static const OSSL_PARAM *rsa_cipher_settable_ctx_params(void *ctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST_PROPS, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST_PROPS, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
        OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, NULL),
        OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, NULL),
        OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION, NULL),
        OSSL_PARAM_END,
    };
    (void)ctx;
    (void)provctx;
    return params;
}

/* OAEP's digest: the one set, else SHA-1 (PKCS#1's default, and OpenSSL's). */
static const EVP_MD *oaep_digest(const struct rsa_cipher_ctx *ctx)
{
    return ctx->oaep_md != NULL ? ctx->oaep_md : EVP_sha1();
}

static int rsa_cipher_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct rsa_cipher_ctx *ctx = vctx;
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE)) != NULL &&
        !hsm_rsa_pad_mode_set(p, ctx->padding))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) != NULL &&
        !hsm_md_param_set(p, oaep_digest(ctx), "OAEP digest"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL &&
        !hsm_md_param_set(p, ctx->mgf1_md != NULL ? ctx->mgf1_md : oaep_digest(ctx), "MGF1 digest"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL)) != NULL &&
        !(p->data_type == OSSL_PARAM_OCTET_PTR
              ? OSSL_PARAM_set_octet_ptr(p, ctx->label, ctx->label_len)
              : OSSL_PARAM_set_octet_string(p, ctx->label, ctx->label_len))) {
        hsm_error(HSM_R_BAD_INPUT, "parameter %s: the %zu-byte OAEP label cannot be given as asked",
                  p->key, ctx->label_len);
        return 0;
    }
    const struct {
        const char *name;
        unsigned int value;
    } uints[] = {
        {OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, ctx->tls_client_version},
        {OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, ctx->tls_negotiated_version},
        {OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION, ctx->implicit_rejection},
    };
    for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
        if ((p = OSSL_PARAM_locate(params, uints[i].name)) != NULL &&
            !OSSL_PARAM_set_uint(p, uints[i].value)) {
            hsm_error(HSM_R_BAD_INPUT, "parameter %s must be an unsigned integer", p->key);
            return 0;
        }
    }
    return 1;
}

static const OSSL_PARAM *rsa_cipher_gettable_ctx_params(void *ctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
        OSSL_PARAM_DEFN(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, OSSL_PARAM_OCTET_PTR, NULL, 0),
        OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, NULL),
        OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_TLS_NEGOTIATED_VERSION, NULL),
        OSSL_PARAM_uint(OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION, NULL),
        OSSL_PARAM_END,
    };
    (void)ctx;
    (void)provctx;
    return params;
}

const OSSL_DISPATCH hsm_asym_cipher_rsa_functions[] = {
    {OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))rsa_cipher_newctx},
    {OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))rsa_cipher_freectx},
    {OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))rsa_cipher_dupctx},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT_INIT, (void (*)(void))rsa_cipher_init},
    {OSSL_FUNC_ASYM_CIPHER_ENCRYPT, (void (*)(void))rsa_encrypt},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))rsa_cipher_init},
    {OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))rsa_decrypt},
    {OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))rsa_cipher_set_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))rsa_cipher_settable_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))rsa_cipher_get_ctx_params},
    {OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))rsa_cipher_gettable_ctx_params},
    {0, NULL},
};
