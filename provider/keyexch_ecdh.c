/* ECDH on the token: C_DeriveKey with the peer's public point, the shared
 * secret read back from a session object that is destroyed at once. */
#include "provider/param_trace.h"
#include "provider/provider.h"
#include "provider/rsa_params.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <string.h>

struct ecdh_ctx {
    struct hsm_provctx *prov;
    struct hsm_key *key;
    struct hsm_key *peer;
    int cofactor_mode; /* -1: the key's own, 0 or 1 */
    /* Kept to be answered, as OpenSSL's provider does; with no KDF (the
     * only kind the token's plain derivation allows) they change nothing. */
    EVP_MD *kdf_md;
    size_t kdf_outlen;
    unsigned char *kdf_ukm;
    size_t kdf_ukm_len;
};

static void *ecdh_newctx(void *provctx)
{
    struct ecdh_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx != NULL) {
        ctx->prov = provctx;
        ctx->cofactor_mode = -1;
    }
    return ctx;
}

static void ecdh_freectx(void *vctx)
{
    struct ecdh_ctx *ctx = vctx;

    if (ctx == NULL)
        return;
    hsm_key_put(ctx->key);
    hsm_key_put(ctx->peer);
    EVP_MD_free(ctx->kdf_md);
    OPENSSL_clear_free(ctx->kdf_ukm, ctx->kdf_ukm_len);
    OPENSSL_free(ctx);
}

static void *ecdh_dupctx(void *vctx)
{
    struct ecdh_ctx *src = vctx, *dst = OPENSSL_memdup(src, sizeof(*src));

    if (dst == NULL)
        return NULL;
    if (dst->key != NULL)
        hsm_key_ref(dst->key);
    if (dst->peer != NULL)
        hsm_key_ref(dst->peer);
    if (dst->kdf_md != NULL)
        EVP_MD_up_ref(dst->kdf_md);
    dst->kdf_ukm = NULL;
    if (src->kdf_ukm != NULL &&
        (dst->kdf_ukm = OPENSSL_memdup(src->kdf_ukm, src->kdf_ukm_len)) == NULL) {
        ecdh_freectx(dst);
        return NULL;
    }
    return dst;
}

static int ecdh_set_ctx_params(void *vctx, const OSSL_PARAM params[]);

static int ecdh_init(void *vctx, void *vkey, const OSSL_PARAM params[])
{
    struct ecdh_ctx *ctx = vctx;
    struct hsm_key *key = vkey;

    if (key == NULL || key->key_type != CKK_EC) {
        hsm_error(HSM_R_BAD_INPUT, "ECDH needs an EC key%s%s", key != NULL ? "; this is " : "",
                  key != NULL && key->uri != NULL ? key->uri : "");
        return 0;
    }
    hsm_key_ref(key);
    hsm_key_put(ctx->key);
    ctx->key = key;
    ctx->cofactor_mode = -1;
    return ecdh_set_ctx_params(ctx, params);
}

static int ecdh_set_peer(void *vctx, void *vpeer)
{
    struct ecdh_ctx *ctx = vctx;
    struct hsm_key *peer = vpeer;

    if (peer == NULL || peer->pub == NULL || ctx->key == NULL ||
        EVP_PKEY_parameters_eq(peer->pub, ctx->key->pub) != 1) {
        hsm_error(HSM_R_BAD_INPUT, "the peer key is not on the same curve as %s",
                  ctx->key != NULL ? ctx->key->uri : "the key");
        return 0;
    }
    hsm_key_ref(peer);
    hsm_key_put(ctx->peer);
    ctx->peer = peer;
    return 1;
}

/* Is the key's curve one whose cofactor is not 1 (cofactor ECDH differs)? */
static bool cofactor_matters(const struct hsm_key *key)
{
    BIGNUM *h = NULL;
    bool matters =
        EVP_PKEY_get_bn_param(key->pub, OSSL_PKEY_PARAM_EC_COFACTOR, &h) && !BN_is_one(h);

    BN_free(h);
    return matters;
}

/* The cofactor mode in effect: the context's, else the key's own flag. */
static int cofactor_mode(const struct ecdh_ctx *ctx)
{
    int mode = 0;

    if (ctx->cofactor_mode != -1)
        return ctx->cofactor_mode;
    if (ctx->key != NULL)
        (void)EVP_PKEY_get_int_param(ctx->key->pub, OSSL_PKEY_PARAM_USE_COFACTOR_ECDH, &mode);
    return mode != 0;
}

/*
 * As OpenSSL's provider: a buffer shorter than the shared secret gets its
 * leading bytes (the secret is not an error to truncate, unlike DH). The
 * token always derives the whole secret, into memory of the key's size.
 */
static int ecdh_derive(void *vctx, unsigned char *secret, size_t *secretlen, size_t outlen)
{
    struct ecdh_ctx *ctx = vctx;
    size_t field, point_len = 0, len;
    unsigned char point[256], *whole;
    CK_ECDH1_DERIVE_PARAMS dp = {CKD_NULL, 0, NULL, 0, NULL};
    CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &dp, sizeof(dp)};
    bool ok;

    if (ctx->key == NULL || ctx->peer == NULL) {
        hsm_error(HSM_R_BAD_INPUT, "ECDH with %s: %s", ctx->key != NULL ? ctx->key->uri : "no key",
                  ctx->key == NULL ? "no key was given" : "no peer key was set");
        return 0;
    }
    field = (size_t)(EVP_PKEY_get_bits(ctx->key->pub) + 7) / 8;
    if (secret == NULL) {
        *secretlen = field;
        return 1;
    }
    if (!hsm_key_on_token(ctx->key) || !ctx->key->can_derive) {
        hsm_error(HSM_R_UNSUPPORTED, "%s cannot derive: the token marks it CKA_DERIVE false",
                  ctx->key->uri != NULL ? ctx->key->uri : "the key");
        return 0;
    }
    if (outlen == 0) {
        hsm_error(HSM_R_BAD_INPUT, "ECDH with %s: the output buffer has no room", ctx->key->uri);
        return 0;
    }
    if (!EVP_PKEY_get_octet_string_param(ctx->peer->pub, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                         sizeof(point), &point_len)) {
        hsm_error(HSM_R_BAD_INPUT, "ECDH with %s: the peer's public point cannot be encoded",
                  ctx->key->uri);
        return 0;
    }
    /* Where the cofactor is 1 both modes are the same derivation. */
    if (cofactor_mode(ctx) == 1 && cofactor_matters(ctx->key))
        mech.mechanism = CKM_ECDH1_COFACTOR_DERIVE;
    dp.pPublicData = point;
    dp.ulPublicDataLen = point_len;
    if ((whole = OPENSSL_secure_malloc(field)) == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return 0;
    }
    len = field;
    ok = hsm_key_operate(ctx->key, HSM_OP_DERIVE, &mech, NULL, 0, whole, &len);
    if (ok && len != field) {
        hsm_error(HSM_R_PKCS11,
                  "ECDH with %s: the token returned a %zu-byte secret where the curve's is %zu "
                  "bytes; nothing was returned",
                  ctx->key->uri, len, field);
        ok = false;
    }
    /* Recorded (the peer's point, never the secret) before the secret is
     * handed out; a secret whose use cannot be recorded is not. */
    if (ctx->prov->config.audit != NULL &&
        !hsm_audit_operation(ctx->prov->config.audit,
                             &(struct hsm_audit_event){.op = HSM_AUDIT_DERIVE,
                                                       .key = ctx->key,
                                                       .mechanism = &mech.mechanism,
                                                       .data = point,
                                                       .data_len = point_len,
                                                       .ok = ok}))
        ok = false;
    if (ok) {
        *secretlen = outlen < field ? outlen : field;
        memcpy(secret, whole, *secretlen);
    }
    OPENSSL_secure_clear_free(whole, field);
    return ok;
}

static const OSSL_PARAM *ecdh_settable_ctx_params(void *ctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, NULL),
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST_PROPS, NULL, 0),
        OSSL_PARAM_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, NULL),
        OSSL_PARAM_octet_string(OSSL_EXCHANGE_PARAM_KDF_UKM, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)ctx;
    (void)provctx;
    return params;
}

static const OSSL_PARAM *ecdh_settable_ctx_params(void *ctx, void *provctx);

static int ecdh_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct ecdh_ctx *ctx = vctx;
    const OSSL_PARAM *p;
    char text[64], *tp = text;

    if (params == NULL)
        return 1;
    hsm_params_trace_set("keyexch set_ctx_params", params, ecdh_settable_ctx_params(NULL, NULL));
    if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE)) != NULL) {
        int mode;

        if (!OSSL_PARAM_get_int(p, &mode) || mode < -1 || mode > 1) {
            hsm_error(HSM_R_BAD_INPUT, "ECDH cofactor mode must be -1, 0 or 1");
            return 0;
        }
        ctx->cofactor_mode = mode;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_TYPE)) != NULL) {
        if (!OSSL_PARAM_get_utf8_string(p, &tp, sizeof(text))) {
            hsm_error(HSM_R_BAD_INPUT, "parameter %s must be a KDF name", p->key);
            return 0;
        }
        /* The token derives the plain shared secret and nothing else. */
        if (text[0] != '\0') {
            hsm_error(HSM_R_UNSUPPORTED,
                      "ECDH with the %s KDF is not offered for %s: the token key derives the "
                      "plain shared secret only; derive that and apply the KDF in software",
                      text,
                      ctx->key != NULL && ctx->key->uri != NULL ? ctx->key->uri : "token keys");
            return 0;
        }
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST)) != NULL &&
        !hsm_md_param_get(ctx->prov->libctx, p, "KDF digest", &ctx->kdf_md))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_OUTLEN)) != NULL &&
        !OSSL_PARAM_get_size_t(p, &ctx->kdf_outlen)) {
        hsm_error(HSM_R_BAD_INPUT, "parameter %s must be a size", p->key);
        return 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_UKM)) != NULL) {
        void *ukm = NULL;
        size_t len = 0;

        if (!OSSL_PARAM_get_octet_string(p, &ukm, 0, &len)) {
            hsm_error(HSM_R_BAD_INPUT, "parameter %s must be an octet string", p->key);
            return 0;
        }
        OPENSSL_clear_free(ctx->kdf_ukm, ctx->kdf_ukm_len);
        ctx->kdf_ukm = ukm;
        ctx->kdf_ukm_len = len;
    }
    return 1;
}

static const OSSL_PARAM *ecdh_gettable_ctx_params(void *ctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, NULL),
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, NULL, 0),
        OSSL_PARAM_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, NULL),
        OSSL_PARAM_DEFN(OSSL_EXCHANGE_PARAM_KDF_UKM, OSSL_PARAM_OCTET_PTR, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)ctx;
    (void)provctx;
    return params;
}

static int ecdh_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct ecdh_ctx *ctx = vctx;
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE)) != NULL &&
        !OSSL_PARAM_set_int(p, cofactor_mode(ctx)))
        goto bad;
    if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_TYPE)) != NULL &&
        !OSSL_PARAM_set_utf8_string(p, ""))
        goto bad;
    if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST)) != NULL &&
        !hsm_md_param_set(p, ctx->kdf_md, "KDF digest"))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_OUTLEN)) != NULL &&
        !OSSL_PARAM_set_size_t(p, ctx->kdf_outlen))
        goto bad;
    if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_UKM)) != NULL &&
        !(p->data_type == OSSL_PARAM_OCTET_PTR
              ? OSSL_PARAM_set_octet_ptr(p, ctx->kdf_ukm, ctx->kdf_ukm_len)
              : OSSL_PARAM_set_octet_string(p, ctx->kdf_ukm, ctx->kdf_ukm_len)))
        goto bad;
    hsm_params_trace_get("keyexch get_ctx_params", params);
    return 1;
bad:
    hsm_error(HSM_R_BAD_INPUT, "ECDH parameter %s cannot be given in the form asked", p->key);
    return 0;
}

const OSSL_DISPATCH hsm_keyexch_ecdh_functions[] = {
    {OSSL_FUNC_KEYEXCH_NEWCTX, (void (*)(void))ecdh_newctx},
    {OSSL_FUNC_KEYEXCH_FREECTX, (void (*)(void))ecdh_freectx},
    {OSSL_FUNC_KEYEXCH_DUPCTX, (void (*)(void))ecdh_dupctx},
    {OSSL_FUNC_KEYEXCH_INIT, (void (*)(void))ecdh_init},
    {OSSL_FUNC_KEYEXCH_SET_PEER, (void (*)(void))ecdh_set_peer},
    {OSSL_FUNC_KEYEXCH_DERIVE, (void (*)(void))ecdh_derive},
    {OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS, (void (*)(void))ecdh_set_ctx_params},
    {OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS, (void (*)(void))ecdh_settable_ctx_params},
    {OSSL_FUNC_KEYEXCH_GET_CTX_PARAMS, (void (*)(void))ecdh_get_ctx_params},
    {OSSL_FUNC_KEYEXCH_GETTABLE_CTX_PARAMS, (void (*)(void))ecdh_gettable_ctx_params},
    {0, NULL},
};
