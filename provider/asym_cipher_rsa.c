/*
 * RSA decryption on the token: OAEP by the token; PKCS#1 v1.5 (with
 * implicit rejection), the TLS premaster secret and no padding over raw RSA
 * (CKM_RSA_X_509), unpadded here in constant time. Encryption, a public
 * operation, in software with the remembered public key.
 */
#include "cache/provider_property.h"
#include "provider/param_trace.h"
#include "provider/provider.h"
#include "provider/rsa_params.h"
#include "provider/rsa_raw_decrypt.h"
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
    /* The mechanism the last decryption ran on the token, for its audit
     * record. */
    CK_MECHANISM_TYPE mech;
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

static const EVP_MD *oaep_digest(const struct rsa_cipher_ctx *ctx);

/*
 * The audit record of one decryption: the ciphertext's hash, never the
 * plaintext. A PKCS#1 v1.5 or TLS decryption is recorded alike whether the
 * padding was good or not (the result is a plaintext either way), so the
 * log tells no more about the padding than the caller learns. False: the
 * record could not be written and the plaintext must not be returned.
 */
static bool audit_decryption(const struct rsa_cipher_ctx *ctx, const unsigned char *in,
                             size_t inlen, bool ok)
{
    if (ctx->prov->config.audit == NULL)
        return true;
    return hsm_audit_operation(
        ctx->prov->config.audit,
        &(struct hsm_audit_event){.op = HSM_AUDIT_DECRYPT,
                                  .key = ctx->key,
                                  .mechanism = &ctx->mech,
                                  .digest = ctx->padding == RSA_PKCS1_OAEP_PADDING
                                                ? EVP_MD_get0_name(oaep_digest(ctx))
                                                : NULL,
                                  .data = in,
                                  .data_len = inlen,
                                  .ok = ok});
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
    unsigned char *em, fallback[48];
    enum hsm_raw_result raw;

    if (outsize < 48 || k < 48 + 11 || ctx->tls_client_version == 0) {
        hsm_error(HSM_R_BAD_INPUT,
                  "TLS premaster decryption with %s needs a 48-byte buffer, a key of at least "
                  "59 bytes and the client's version",
                  ctx->key->uri);
        return 0;
    }
    if (RAND_priv_bytes_ex(ctx->prov->libctx, fallback, sizeof(fallback), 0) <= 0 ||
        (em = OPENSSL_secure_malloc(k)) == NULL) {
        hsm_error(HSM_R_INTERNAL, "no random bytes or memory for the TLS premaster secret");
        return 0;
    }
    raw = hsm_rsa_raw_decrypt(ctx->key, in, inlen, em, k);
    if (raw == HSM_RAW_OK)
        hsm_rsa_tls_premaster_unpad(em, k, ctx->tls_client_version, ctx->tls_negotiated_version,
                                    fallback, out);
    OPENSSL_secure_clear_free(em, k);
    OPENSSL_cleanse(fallback, sizeof(fallback));
    if (raw != HSM_RAW_OK)
        return 0;
    *outlen = 48;
    return 1;
}

/* The token's own PKCS#1 v1.5 decryption (the configuration allowed it
 * where raw RSA is not offered): its answer to a bad padding is its own. */
static int rsa_decrypt_token_pkcs1(struct rsa_cipher_ctx *ctx, unsigned char *out, size_t *outlen,
                                   const unsigned char *in, size_t inlen, size_t k)
{
    CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
    size_t len = k;

    ctx->mech = CKM_RSA_PKCS;
    if (!hsm_key_operate(ctx->key, HSM_OP_DECRYPT, &mech, in, inlen, out, &len))
        return 0;
    if (len > k) {
        OPENSSL_cleanse(out, k);
        hsm_error(HSM_R_PKCS11, "decryption with %s returned %zu bytes for a %zu-byte modulus",
                  ctx->key->uri, len, k);
        return 0;
    }
    *outlen = len;
    return 1;
}

/*
 * PKCS#1 v1.5 with implicit rejection: raw RSA on the token, the padding
 * checked here in constant time, a bad padding answered with a synthetic
 * plaintext derived from the key's secret and the ciphertext. Whether the
 * padding was good changes neither the result's form, the error queue, nor
 * the work done. |out| has room for |k| bytes.
 */
static int rsa_decrypt_pkcs1(struct rsa_cipher_ctx *ctx, unsigned char *out, size_t *outlen,
                             const unsigned char *in, size_t inlen, size_t k)
{
    enum hsm_pkcs1_decryption policy = ctx->prov->config.pkcs1_decryption;
    unsigned char secret[HSM_REJECTION_SECRET_LEN], *em = NULL, *c = NULL;
    enum hsm_raw_result raw;
    size_t good = 0;
    int ok = 0;

    if (policy == HSM_PKCS1_DECRYPTION_REFUSE) {
        hsm_error(HSM_R_UNSUPPORTED,
                  "PKCS#1 v1.5 decryption with %s is turned off (rsa-pkcs1-decryption = refuse); "
                  "use OAEP",
                  ctx->key->uri);
        return 0;
    }
    hsm_error_set_mark();
    raw = hsm_rsa_rejection_secret(ctx->prov->libctx, ctx->key, secret);
    if (raw == HSM_RAW_NOT_OFFERED && policy == HSM_PKCS1_DECRYPTION_IMPLICIT_OR_TOKEN) {
        hsm_error_pop_to_mark();
        return rsa_decrypt_token_pkcs1(ctx, out, outlen, in, inlen, k);
    }
    hsm_error_clear_last_mark();
    if (raw == HSM_RAW_NOT_OFFERED) {
        hsm_error(HSM_R_UNSUPPORTED,
                  "PKCS#1 v1.5 decryption with %s is refused: the token does not offer raw RSA "
                  "(CKM_RSA_X_509) for this key, and its own v1.5 decryption tells a bad padding "
                  "from a good one (a padding oracle). Use OAEP, or accept the token's behaviour "
                  "with rsa-pkcs1-decryption = implicit-rejection-or-token",
                  ctx->key->uri);
        return 0;
    }
    if (raw != HSM_RAW_OK)
        return 0;
    if ((em = OPENSSL_secure_malloc(k)) == NULL || (c = OPENSSL_zalloc(k)) == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        goto done;
    }
    if (hsm_rsa_raw_decrypt(ctx->key, in, inlen, em, k) != HSM_RAW_OK)
        goto done;
    memcpy(c + (k - inlen), in, inlen); /* inlen <= k: checked by the raw decryption */
    if (!hsm_rsa_pkcs1_unpad(ctx->prov->libctx, secret, c, em, k, out, outlen, &good))
        goto done;
    ok = 1;
    /* Explicit rejection, when the application asked for it (OpenSSL 3.2's
     * implicit-rejection = 0), tells a bad padding as OpenSSL's provider
     * does: that application has chosen to see it. */
    if (ctx->implicit_rejection == 0 && good == 0) {
        OPENSSL_cleanse(out, k);
        hsm_error(HSM_R_BAD_INPUT, "PKCS#1 v1.5 decryption with %s: the padding is not valid",
                  ctx->key->uri);
        ok = 0;
    }
done:
    OPENSSL_cleanse(secret, sizeof(secret));
    if (em != NULL)
        OPENSSL_secure_clear_free(em, k);
    OPENSSL_free(c);
    return ok;
}

/* RSA without padding: the raw block, left-padded to the modulus length. */
static int rsa_decrypt_none(struct rsa_cipher_ctx *ctx, unsigned char *out, size_t *outlen,
                            const unsigned char *in, size_t inlen, size_t k)
{
    if (hsm_rsa_raw_decrypt(ctx->key, in, inlen, out, k) != HSM_RAW_OK)
        return 0;
    *outlen = k;
    return 1;
}

static int rsa_decrypt_oaep(struct rsa_cipher_ctx *ctx, unsigned char *out, size_t *outlen,
                            const unsigned char *in, size_t inlen, size_t k)
{
    CK_RSA_PKCS_OAEP_PARAMS oaep = {0};
    CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
    const EVP_MD *md = oaep_digest(ctx);
    size_t len = k;

    if (!hsm_ck_digest(md, &oaep.hashAlg, NULL) ||
        !hsm_ck_digest(ctx->mgf1_md != NULL ? ctx->mgf1_md : md, NULL, &oaep.mgf)) {
        hsm_error(HSM_R_UNSUPPORTED, "OAEP with %s is not supported", EVP_MD_get0_name(md));
        return 0;
    }
    oaep.source = CKZ_DATA_SPECIFIED;
    oaep.pSourceData = ctx->label;
    oaep.ulSourceDataLen = ctx->label_len;
    if (!hsm_key_operate(ctx->key, HSM_OP_DECRYPT, &mech, in, inlen, out, &len))
        return 0;
    if (len > k) {
        OPENSSL_cleanse(out, k);
        hsm_error(HSM_R_PKCS11, "decryption with %s returned %zu bytes for a %zu-byte modulus",
                  ctx->key->uri, len, k);
        return 0;
    }
    *outlen = len;
    return 1;
}

static int rsa_decrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
                       const unsigned char *in, size_t inlen)
{
    struct rsa_cipher_ctx *ctx = vctx;
    size_t k = (size_t)EVP_PKEY_get_size(ctx->key->pub);
    unsigned char *buf;
    int ok;

    if (ctx->padding == RSA_PKCS1_WITH_TLS_PADDING && out == NULL) {
        *outlen = 48;
        return 1;
    }
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
    /* Raw RSA unless the padding is the token's (OAEP, and the fallback
     * to the token's PKCS#1 v1.5, which sets its own). */
    ctx->mech = ctx->padding == RSA_PKCS1_OAEP_PADDING ? CKM_RSA_PKCS_OAEP : CKM_RSA_X_509;
    if (ctx->padding == RSA_PKCS1_WITH_TLS_PADDING) {
        ok = rsa_decrypt_tls(ctx, out, outlen, outsize, in, inlen, k);
        if (audit_decryption(ctx, in, inlen, ok))
            return ok;
        if (ok)
            OPENSSL_cleanse(out, 48);
        return 0;
    }
    /* As OpenSSL's provider: room for the modulus length, whatever the
     * message turns out to be (a public check, before any decryption). */
    if (outsize < k) {
        hsm_error(HSM_R_BAD_INPUT,
                  "decrypting with %s needs an output buffer of %zu bytes, %zu were given",
                  ctx->key->uri, k, outsize);
        return 0;
    }
    if ((buf = OPENSSL_secure_malloc(k)) == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return 0;
    }
    switch (ctx->padding) {
    case RSA_PKCS1_PADDING:
        ok = rsa_decrypt_pkcs1(ctx, buf, outlen, in, inlen, k);
        break;
    case RSA_PKCS1_OAEP_PADDING:
        ok = rsa_decrypt_oaep(ctx, buf, outlen, in, inlen, k);
        break;
    case RSA_NO_PADDING:
        ok = rsa_decrypt_none(ctx, buf, outlen, in, inlen, k);
        break;
    default:
        hsm_error(HSM_R_UNSUPPORTED,
                  "RSA decryption padding %s is not supported (pkcs1, oaep, none, TLS premaster)",
                  hsm_rsa_pad_mode_name(ctx->padding));
        ok = 0;
    }
    if (!audit_decryption(ctx, in, inlen, ok))
        ok = 0;
    if (ok)
        memcpy(out, buf, *outlen);
    OPENSSL_secure_clear_free(buf, k);
    return ok;
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
            ok = copy != NULL &&
                 EVP_PKEY_CTX_set0_rsa_oaep_label(pctx, copy, (int)ctx->label_len) > 0;
        }
    }
    *outlen = outsize;
    ok = ok && EVP_PKEY_encrypt(pctx, out, outlen, in, inlen) > 0;
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

static const OSSL_PARAM *rsa_cipher_settable_ctx_params(void *ctx, void *provctx);

static int rsa_cipher_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct rsa_cipher_ctx *ctx = vctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    hsm_params_trace_set("asym_cipher set_ctx_params", params,
                         rsa_cipher_settable_ctx_params(NULL, NULL));
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
    hsm_params_trace_get("asym_cipher get_ctx_params", params);
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
