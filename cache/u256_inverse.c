/*
 * Binary extended Euclid (Menezes et al., Handbook of Applied Cryptography,
 * algorithm 14.61 for an odd modulus) on four 64-bit words.
 */
#include "cache/u256_inverse.h"

#include <stdint.h>
#include <string.h>

typedef uint64_t u256[4]; /* least significant word first */

static bool is_even(const u256 v)
{
    return (v[0] & 1) == 0;
}

static bool is_one(const u256 v)
{
    return v[0] == 1 && v[1] == 0 && v[2] == 0 && v[3] == 0;
}

static bool is_zero(const u256 v)
{
    return (v[0] | v[1] | v[2] | v[3]) == 0;
}

static int compare(const u256 a, const u256 b)
{
    for (int i = 3; i >= 0; i--)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return 0;
}

/* r = a + b; returns the carry out. */
static uint64_t add(u256 r, const u256 a, const u256 b)
{
    unsigned __int128 c = 0;

    for (int i = 0; i < 4; i++) {
        c += (unsigned __int128)a[i] + b[i];
        r[i] = (uint64_t)c;
        c >>= 64;
    }
    return (uint64_t)c;
}

/* r = a - b; returns the borrow out. */
static uint64_t sub(u256 r, const u256 a, const u256 b)
{
    uint64_t borrow = 0;

    for (int i = 0; i < 4; i++) {
        uint64_t d = a[i] - b[i] - borrow;

        borrow = (a[i] < b[i]) || (a[i] == b[i] && borrow) ? 1 : 0;
        r[i] = d;
    }
    return borrow;
}

/* v = (v + carry * 2^256) / 2 */
static void half(u256 v, uint64_t carry)
{
    for (int i = 0; i < 3; i++)
        v[i] = (v[i] >> 1) | (v[i + 1] << 63);
    v[3] = (v[3] >> 1) | (carry << 63);
}

/* x = x / 2 mod n, for x < n and n odd. */
static void half_mod(u256 x, const u256 n)
{
    if (is_even(x))
        half(x, 0);
    else
        half(x, add(x, x, n));
}

/* x = x - y mod n, for x, y < n. */
static void sub_mod(u256 x, const u256 y, const u256 n)
{
    if (sub(x, x, y))
        (void)add(x, x, n);
}

static bool to_u256(u256 out, const BIGNUM *v)
{
    unsigned char le[32];

    if (BN_is_negative(v) || BN_bn2lebinpad(v, le, sizeof(le)) != sizeof(le))
        return false;
    for (int i = 0; i < 4; i++) {
        out[i] = 0;
        for (int j = 7; j >= 0; j--)
            out[i] = (out[i] << 8) | le[8 * i + j];
    }
    return true;
}

static bool from_u256(BIGNUM *out, const u256 v)
{
    unsigned char le[32];

    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            le[8 * i + j] = (unsigned char)(v[i] >> (8 * j));
    return BN_lebin2bn(le, sizeof(le), out) != NULL;
}

bool hsm_u256_mod_inverse(BIGNUM *out, const BIGNUM *a, const BIGNUM *n, BN_CTX *ctx)
{
    u256 u, v, x1 = {1, 0, 0, 0}, x2 = {0, 0, 0, 0}, mod;
    BIGNUM *check;
    bool ok;

    if (!BN_is_odd(n) || BN_is_one(n) || !to_u256(mod, n) || !to_u256(u, a) || is_zero(u) ||
        compare(u, mod) >= 0)
        return false;
    memcpy(v, mod, sizeof(v));
    /* Invariants: x1 * a = u and x2 * a = v (mod n); each step removes at
     * least one bit from u or v, so this ends within 512 rounds. */
    while (!is_one(u) && !is_one(v)) {
        if (is_zero(u) || is_zero(v))
            return false; /* gcd(a, n) > 1 */
        while (is_even(u)) {
            half(u, 0);
            half_mod(x1, mod);
        }
        while (is_even(v)) {
            half(v, 0);
            half_mod(x2, mod);
        }
        if (compare(u, v) >= 0) {
            (void)sub(u, u, v);
            sub_mod(x1, x2, mod);
        } else {
            (void)sub(v, v, u);
            sub_mod(x2, x1, mod);
        }
    }
    if (!from_u256(out, is_one(u) ? x1 : x2))
        return false;
    BN_CTX_start(ctx);
    check = BN_CTX_get(ctx);
    ok = check != NULL && BN_mod_mul(check, a, out, n, ctx) && BN_is_one(check);
    BN_CTX_end(ctx);
    return ok;
}
