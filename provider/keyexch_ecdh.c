/* ECDH on the token: C_DeriveKey with the peer's public point, the shared
 * secret read back from a session object that is destroyed at once. */
#include "provider/provider.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <string.h>

struct ecdh_ctx {
    struct hsm_provctx *prov;
    struct hsm_key *key;
    struct hsm_key *peer;
};

static void *ecdh_newctx(void *provctx)
{
    struct ecdh_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx != NULL)
        ctx->prov = provctx;
    return ctx;
}

static void ecdh_freectx(void *vctx)
{
    struct ecdh_ctx *ctx = vctx;

    if (ctx == NULL)
        return;
    hsm_key_put(ctx->key);
    hsm_key_put(ctx->peer);
    OPENSSL_free(ctx);
}

static void *ecdh_dupctx(void *vctx)
{
    struct ecdh_ctx *dst = OPENSSL_memdup(vctx, sizeof(struct ecdh_ctx));

    if (dst != NULL) {
        if (dst->key != NULL)
            hsm_key_ref(dst->key);
        if (dst->peer != NULL)
            hsm_key_ref(dst->peer);
    }
    return dst;
}

static int ecdh_init(void *vctx, void *vkey, const OSSL_PARAM params[])
{
    struct ecdh_ctx *ctx = vctx;
    struct hsm_key *key = vkey;

    (void)params;
    if (key == NULL || key->key_type != CKK_EC)
        return 0;
    hsm_key_ref(key);
    hsm_key_put(ctx->key);
    ctx->key = key;
    return 1;
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

static int ecdh_derive(void *vctx, unsigned char *secret, size_t *secretlen, size_t outlen)
{
    struct ecdh_ctx *ctx = vctx;
    size_t field = ctx->key != NULL ? (size_t)(EVP_PKEY_get_bits(ctx->key->pub) + 7) / 8 : 0;
    unsigned char point[256];
    size_t point_len = 0, len = field;
    CK_ECDH1_DERIVE_PARAMS dp = {CKD_NULL, 0, NULL, 0, NULL};
    CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &dp, sizeof(dp)};

    if (ctx->key == NULL || ctx->peer == NULL)
        return 0;
    if (secret == NULL) {
        *secretlen = field;
        return 1;
    }
    if (!hsm_key_on_token(ctx->key) || !ctx->key->can_derive) {
        hsm_error(HSM_R_UNSUPPORTED, "%s cannot derive: the token marks it CKA_DERIVE false",
                  ctx->key->uri != NULL ? ctx->key->uri : "the key");
        return 0;
    }
    if (outlen < field ||
        !EVP_PKEY_get_octet_string_param(ctx->peer->pub, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
                                         point, sizeof(point), &point_len))
        return 0;
    dp.pPublicData = point;
    dp.ulPublicDataLen = point_len;
    if (!hsm_key_operate(ctx->key, HSM_OP_DERIVE, &mech, NULL, 0, secret, &len))
        return 0;
    *secretlen = len;
    return 1;
}

static const OSSL_PARAM *ecdh_settable_ctx_params(void *ctx, void *provctx)
{
    static const OSSL_PARAM params[] = {OSSL_PARAM_END};
    (void)ctx;
    (void)provctx;
    return params;
}

static int ecdh_set_ctx_params(void *ctx, const OSSL_PARAM params[])
{
    (void)ctx;
    (void)params;
    return 1;
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
    {0, NULL},
};
