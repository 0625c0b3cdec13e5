/*
 * EC_GROUP_precompute_mult is deprecated in OpenSSL 3 but kept in every 3.x:
 * nothing else precomputes the multiples of a point that is not a curve's
 * standard generator, which is what makes the table worth having.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "cache/p256_verify.h"

#include "cache/debug_log.h"
#include "cache/key_identity.h"
#include "cache/provider_property.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hsm_p256_table {
    EC_GROUP *curve;  /* P-256 as OpenSSL names it: its generator G has a table */
    EC_GROUP *by_key; /* P-256 with the public point Q as generator, and Q's table */
};

enum { TABLE_NONE, TABLE_BUILDING, TABLE_READY, TABLE_DECLINED };

void hsm_p256_table_free(struct hsm_p256_table *t)
{
    if (t == NULL)
        return;
    EC_GROUP_free(t->curve);
    EC_GROUP_free(t->by_key);
    free(t);
}

/* OpenSSL's DER rule: the bytes must be exactly the re-encoded signature. */
static ECDSA_SIG *strict_der(const unsigned char *der, size_t derlen)
{
    const unsigned char *p = der;
    unsigned char *again = NULL;
    ECDSA_SIG *sig;
    int len;

    if (derlen > 1024)
        return NULL;
    sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    if (sig == NULL)
        return NULL;
    len = i2d_ECDSA_SIG(sig, &again);
    if (p != der + derlen || len != (int)derlen || memcmp(again, der, derlen) != 0) {
        ECDSA_SIG_free(sig);
        sig = NULL;
    }
    OPENSSL_free(again);
    return sig;
}

static bool in_range(const BIGNUM *v, const BIGNUM *order)
{
    return !BN_is_zero(v) && !BN_is_negative(v) && BN_ucmp(v, order) < 0;
}

/* R = u1*G + u2*Q, both from tables; x(R) mod n must be r. */
static int check(const struct hsm_p256_table *t, const unsigned char *dgst, size_t dlen,
                 const BIGNUM *r, const BIGNUM *s, BN_CTX *ctx)
{
    const BIGNUM *n = EC_GROUP_get0_order(t->curve);
    BIGNUM *e, *w, *u1, *u2, *x;
    EC_POINT *a = NULL, *b = NULL;
    int ok = -1;

    BN_CTX_start(ctx);
    e = BN_CTX_get(ctx);
    w = BN_CTX_get(ctx);
    u1 = BN_CTX_get(ctx);
    u2 = BN_CTX_get(ctx);
    x = BN_CTX_get(ctx);
    /* bits2int: the leftmost 256 bits of a longer digest. */
    if (x == NULL || BN_bin2bn(dgst, (int)(dlen > 32 ? 32 : dlen), e) == NULL ||
        BN_mod_inverse(w, s, n, ctx) == NULL || !BN_mod_mul(u1, e, w, n, ctx) ||
        !BN_mod_mul(u2, r, w, n, ctx) || (a = EC_POINT_new(t->curve)) == NULL ||
        (b = EC_POINT_new(t->curve)) == NULL ||
        !EC_POINT_mul(t->curve, a, u1, NULL, NULL, ctx) ||
        !EC_POINT_mul(t->by_key, b, u2, NULL, NULL, ctx) || !EC_POINT_add(t->curve, a, a, b, ctx))
        goto done;
    if (EC_POINT_is_at_infinity(t->curve, a)) {
        ok = 0;
        goto done;
    }
    if (!EC_POINT_get_affine_coordinates(t->curve, a, x, NULL, ctx) || !BN_nnmod(x, x, n, ctx))
        goto done;
    ok = BN_cmp(x, r) == 0;
done:
    EC_POINT_free(a);
    EC_POINT_free(b);
    BN_CTX_end(ctx);
    return ok;
}

int hsm_p256_table_verify(const struct hsm_p256_table *t, const unsigned char *dgst,
                          size_t dlen, const unsigned char *der, size_t derlen)
{
    ECDSA_SIG *sig = strict_der(der, derlen);
    const BIGNUM *r, *s, *n = EC_GROUP_get0_order(t->curve);
    BN_CTX *ctx;
    int ok;

    if (sig == NULL)
        return 0;
    ECDSA_SIG_get0(sig, &r, &s);
    if (!in_range(r, n) || !in_range(s, n)) {
        ECDSA_SIG_free(sig);
        return 0;
    }
    ctx = BN_CTX_new();
    ok = ctx != NULL ? check(t, dgst, dlen, r, s, ctx) : -1;
    BN_CTX_free(ctx);
    ECDSA_SIG_free(sig);
    return ok;
}

static double seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Times five verifications each way of a well-formed signature that fails
 * (both do all the arithmetic before comparing). Without OpenSSL's P-256
 * assembly a lone multiplication by a table is no faster than the
 * combined one, and the table is not worth its memory (150 KB).
 */
bool hsm_p256_table_pays_off(const struct hsm_p256_table *t, EVP_PKEY *pub,
                             OSSL_LIB_CTX *libctx, double *table_us, double *evp_us)
{
    static const unsigned char digest[32] = {0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a};
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_new(), *s = BN_new();
    unsigned char *der = NULL;
    double best_table = 1e9, best_evp = 1e9;
    int len = -1;

    if (sig != NULL && r != NULL && s != NULL && BN_set_word(r, 0x1234567) &&
        BN_set_word(s, 0x7654321) && ECDSA_SIG_set0(sig, r, s)) {
        r = s = NULL;
        len = i2d_ECDSA_SIG(sig, &der);
    }
    for (int i = 0; len > 0 && i < 5; i++) {
        EVP_PKEY_CTX *pctx;
        double t0 = seconds(), t1;

        if (hsm_p256_table_verify(t, digest, sizeof(digest), der, (size_t)len) != 0)
            break;
        t1 = seconds();
        pctx = EVP_PKEY_CTX_new_from_pkey(libctx, pub, HSM_SOFTWARE_PROPQ);
        if (pctx == NULL || EVP_PKEY_verify_init(pctx) <= 0 ||
            EVP_PKEY_verify(pctx, der, (size_t)len, digest, sizeof(digest)) == 1) {
            EVP_PKEY_CTX_free(pctx);
            break;
        }
        EVP_PKEY_CTX_free(pctx);
        best_table = t1 - t0 < best_table ? t1 - t0 : best_table;
        best_evp = seconds() - t1 < best_evp ? seconds() - t1 : best_evp;
    }
    ERR_clear_error();
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    BN_free(r);
    BN_free(s);
    *table_us = best_table * 1e6;
    *evp_us = best_evp * 1e6;
    return best_table < 1e9 && best_table < 0.8 * best_evp;
}

#ifdef OPENSSL_NO_DEPRECATED_3_0
static bool precompute(EC_GROUP *group, BN_CTX *ctx)
{
    (void)group;
    (void)ctx;
    return false;
}
#else
static bool precompute(EC_GROUP *group, BN_CTX *ctx)
{
    return EC_GROUP_precompute_mult(group, ctx) && EC_GROUP_have_precompute_mult(group);
}
#endif

struct hsm_p256_table *hsm_p256_table_new(EVP_PKEY *pub)
{
    struct hsm_p256_table *t = NULL;
    unsigned char point[65];
    size_t len = 0;
    EC_POINT *q = NULL;
    BN_CTX *ctx;
    char group[32];

    if (!EVP_PKEY_is_a(pub, "EC") ||
        !EVP_PKEY_get_utf8_string_param(pub, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        NULL) ||
        OBJ_txt2nid(group) != NID_X9_62_prime256v1 ||
        !EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                         &len))
        return NULL;
    ctx = BN_CTX_new();
    t = calloc(1, sizeof(*t));
    if (ctx == NULL || t == NULL ||
        (t->curve = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL ||
        (q = EC_POINT_new(t->curve)) == NULL ||
        !EC_POINT_oct2point(t->curve, q, point, len, ctx) ||
        EC_POINT_is_at_infinity(t->curve, q) ||
        (t->by_key = EC_GROUP_dup(t->curve)) == NULL ||
        !EC_GROUP_set_generator(t->by_key, q, EC_GROUP_get0_order(t->curve),
                                EC_GROUP_get0_cofactor(t->curve)) ||
        !precompute(t->by_key, ctx)) {
        hsm_p256_table_free(t);
        t = NULL;
    }
    EC_POINT_free(q);
    BN_CTX_free(ctx);
    ERR_clear_error();
    return t;
}

const struct hsm_p256_table *hsm_key_p256_table(struct hsm_key *key)
{
    struct hsm_p256_table *t = __atomic_load_n(&key->p256_table, __ATOMIC_ACQUIRE);
    int state = TABLE_NONE;
    double started, table_us = 0, evp_us = 0;

    if (t != NULL || key->key_type != CKK_EC || key->pub == NULL ||
        __atomic_load_n(&key->p256_state, __ATOMIC_RELAXED) != TABLE_NONE ||
        __atomic_add_fetch(&key->p256_verified, 1, __ATOMIC_RELAXED) < HSM_P256_TABLE_AFTER ||
        !__atomic_compare_exchange_n(&key->p256_state, &state, TABLE_BUILDING, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return t;
    started = seconds();
    /* A process that asks for FIPS-approved algorithms keeps OpenSSL's own
     * verification: the table's arithmetic is libcrypto's, not the module's. */
    t = EVP_default_properties_is_fips_enabled(key->libctx) ? NULL : hsm_p256_table_new(key->pub);
    if (t != NULL) {
        bool faster = hsm_p256_table_pays_off(t, key->pub, key->libctx, &table_us, &evp_us);

        hsm_debug(1,
                  "%s: P-256 verification table %s after %u signatures (%.1f ms): %.0f us per "
                  "verification, OpenSSL's %.0f us",
                  key->uri != NULL ? key->uri : "public key", faster ? "in use" : "not kept",
                  HSM_P256_TABLE_AFTER, (seconds() - started) * 1e3, table_us, evp_us);
        if (!faster) {
            hsm_p256_table_free(t);
            t = NULL;
        }
    }
    if (t != NULL)
        __atomic_store_n(&key->p256_table, t, __ATOMIC_RELEASE);
    __atomic_store_n(&key->p256_state, t != NULL ? TABLE_READY : TABLE_DECLINED,
                     __ATOMIC_RELEASE);
    return t;
}
