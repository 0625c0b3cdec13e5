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
#include "cache/u256_inverse.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/provider.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hsm_p256_table {
    EC_GROUP *curve;  /* P-256 as OpenSSL names it: its generator G has a table */
    EC_GROUP *by_key; /* P-256 with the public point Q as generator, and Q's table */
};

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

/* R = u1*G + u2*Q, both from tables; x(R) mod n must be r. s is public:
 * its inverse needs no constant time (u256_inverse.c, three times faster). */
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
        (!hsm_u256_mod_inverse(w, s, n, ctx) && BN_mod_inverse(w, s, n, ctx) == NULL) ||
        !BN_mod_mul(u1, e, w, n, ctx) || !BN_mod_mul(u2, r, w, n, ctx) ||
        (a = EC_POINT_new(t->curve)) == NULL || (b = EC_POINT_new(t->curve)) == NULL ||
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

int hsm_p256_table_verify(const struct hsm_p256_table *t, const unsigned char *dgst, size_t dlen,
                          const unsigned char *der, size_t derlen)
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

/* EVP_PKEY_verify's verdict on |der| over |dgst| (1 or 0), timed. */
static int evp_verdict(EVP_PKEY *pub, OSSL_LIB_CTX *libctx, const unsigned char *dgst,
                       const unsigned char *der, size_t derlen, double *secs)
{
    double t0 = seconds();
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_pkey(libctx, pub, HSM_SOFTWARE_PROPQ);
    int ok = pctx != NULL && EVP_PKEY_verify_init(pctx) > 0 &&
             EVP_PKEY_verify(pctx, der, derlen, dgst, 32) == 1;

    *secs = seconds() - t0;
    EVP_PKEY_CTX_free(pctx);
    return ok;
}

static int table_verdict(const struct hsm_p256_table *t, const unsigned char *dgst,
                         const unsigned char *der, size_t derlen, double *secs)
{
    double t0 = seconds();
    int verdict = hsm_p256_table_verify(t, dgst, 32, der, derlen);

    *secs = seconds() - t0;
    return verdict;
}

/*
 * A valid signature made from the public key alone, for a digest chosen
 * with it: with random a and b, R = aG + bQ, r = x(R) mod n, s = r/b and
 * e = a*s give u1 = a and u2 = b. |invalid| is the same with s + 1.
 */
static bool test_signatures(const struct hsm_p256_table *t, unsigned char digest[32],
                            unsigned char **valid, int *valid_len, unsigned char **invalid,
                            int *invalid_len)
{
    const BIGNUM *n = EC_GROUP_get0_order(t->curve);
    BN_CTX *ctx = BN_CTX_new();
    EC_POINT *r_point = EC_POINT_new(t->curve);
    ECDSA_SIG *good = ECDSA_SIG_new(), *bad = ECDSA_SIG_new();
    BIGNUM *a = BN_new(), *b = BN_new(), *r = BN_new(), *s = BN_new(), *e = BN_new();
    BIGNUM *r2 = BN_new(), *s2 = BN_new();
    bool ok = ctx != NULL && r_point != NULL && good != NULL && bad != NULL && a != NULL &&
              b != NULL && r != NULL && s != NULL && e != NULL && r2 != NULL && s2 != NULL &&
              BN_rand_range(a, n) && BN_rand_range(b, n) && !BN_is_zero(b) &&
              EC_POINT_mul(t->curve, r_point, a, EC_GROUP_get0_generator(t->by_key), b, ctx) &&
              EC_POINT_get_affine_coordinates(t->curve, r_point, r, NULL, ctx) &&
              BN_nnmod(r, r, n, ctx) && !BN_is_zero(r) && BN_mod_inverse(s, b, n, ctx) != NULL &&
              BN_mod_mul(s, s, r, n, ctx) && BN_mod_mul(e, a, s, n, ctx) &&
              BN_bn2binpad(e, digest, 32) == 32 && BN_copy(r2, r) != NULL &&
              BN_add(s2, s, BN_value_one()) && ECDSA_SIG_set0(good, r, s);

    if (ok) {
        r = s = NULL;
        ok = ECDSA_SIG_set0(bad, r2, s2);
        if (ok)
            r2 = s2 = NULL;
    }
    *valid_len = ok ? i2d_ECDSA_SIG(good, valid) : -1;
    *invalid_len = ok ? i2d_ECDSA_SIG(bad, invalid) : -1;
    BN_free(a);
    BN_free(b);
    BN_free(r);
    BN_free(s);
    BN_free(e);
    BN_free(r2);
    BN_free(s2);
    ECDSA_SIG_free(good);
    ECDSA_SIG_free(bad);
    EC_POINT_free(r_point);
    BN_CTX_free(ctx);
    return ok && *valid_len > 0 && *invalid_len > 0;
}

/* The table stands in for the default provider's ECDSA only. */
static bool default_provider_verifies(OSSL_LIB_CTX *libctx)
{
    EVP_SIGNATURE *sig = EVP_SIGNATURE_fetch(libctx, "ECDSA", HSM_SOFTWARE_PROPQ);
    bool ok = sig != NULL &&
              strcmp(OSSL_PROVIDER_get0_name(EVP_SIGNATURE_get0_provider(sig)), "default") == 0;

    EVP_SIGNATURE_free(sig);
    return ok;
}

/*
 * Five rounds, each verifying a valid and an invalid signature both ways:
 * every verdict must be OpenSSL's, and the table's fastest time well under
 * OpenSSL's (the invalid one does all the arithmetic too). Without
 * OpenSSL's P-256 assembly a lone multiplication by a table is no faster
 * than the combined one, and the table is not worth its memory (150 KB).
 */
bool hsm_p256_table_pays_off(const struct hsm_p256_table *t, EVP_PKEY *pub, OSSL_LIB_CTX *libctx,
                             double *table_us, double *evp_us)
{
    unsigned char digest[32], *valid = NULL, *invalid = NULL;
    double best_table = 1e9, best_evp = 1e9;
    int valid_len = -1, invalid_len = -1;
    bool sound = default_provider_verifies(libctx) &&
                 test_signatures(t, digest, &valid, &valid_len, &invalid, &invalid_len);

    for (int i = 0; sound && i < 5; i++) {
        double secs[4] = {1e9, 1e9, 1e9, 1e9};

        sound = table_verdict(t, digest, valid, (size_t)valid_len, &secs[0]) == 1 &&
                table_verdict(t, digest, invalid, (size_t)invalid_len, &secs[1]) == 0 &&
                evp_verdict(pub, libctx, digest, valid, (size_t)valid_len, &secs[2]) == 1 &&
                evp_verdict(pub, libctx, digest, invalid, (size_t)invalid_len, &secs[3]) == 0;
        best_table = secs[1] < best_table ? secs[1] : best_table;
        best_evp = secs[3] < best_evp ? secs[3] : best_evp;
    }
    ERR_clear_error();
    OPENSSL_free(valid);
    OPENSSL_free(invalid);
    *table_us = sound ? best_table * 1e6 : 0;
    *evp_us = sound ? best_evp * 1e6 : 0;
    return sound && best_table < 0.8 * best_evp;
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
        !EVP_PKEY_get_octet_string_param(pub, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &len))
        return NULL;
    ctx = BN_CTX_new();
    t = calloc(1, sizeof(*t));
    if (ctx == NULL || t == NULL ||
        (t->curve = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL ||
        (q = EC_POINT_new(t->curve)) == NULL || !EC_POINT_oct2point(t->curve, q, point, len, ctx) ||
        EC_POINT_is_at_infinity(t->curve, q) || (t->by_key = EC_GROUP_dup(t->curve)) == NULL ||
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
    double started, table_us = 0, evp_us = 0;

    /* Only the one thread whose exchange sets the claim builds. */
    if (t != NULL || key->key_type != CKK_EC || key->pub == NULL ||
        __atomic_load_n(&key->p256_claimed, __ATOMIC_RELAXED) ||
        __atomic_add_fetch(&key->p256_verified, 1, __ATOMIC_RELAXED) < HSM_P256_TABLE_AFTER ||
        __atomic_exchange_n(&key->p256_claimed, true, __ATOMIC_ACQ_REL))
        return t;
    started = seconds();
    t = hsm_p256_table_new(key->pub);
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
    return t;
}
