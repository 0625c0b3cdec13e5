/*
 * The inverse of a public 256-bit value modulo an odd modulus, without
 * BIGNUM's per-step overhead: the P-256 table's verification (p256_verify.c)
 * needs s^-1 mod n for every signature, and BN_mod_inverse took a third to
 * a half of that verification. Variable time: only for public values (an ECDSA
 * signature's s), never for a secret.
 */
#ifndef HSM_CACHE_U256_INVERSE_H
#define HSM_CACHE_U256_INVERSE_H

#include <openssl/bn.h>
#include <stdbool.h>

/*
 * |out| = |a|^-1 mod |n|, for an odd |n| of at most 256 bits and
 * 0 < |a| < |n|. False when there is none (a and n share a factor) or the
 * arguments are outside that range; the caller then uses BN_mod_inverse.
 * The result is checked (a * out mod n = 1) before it is returned.
 */
bool hsm_u256_mod_inverse(BIGNUM *out, const BIGNUM *a, const BIGNUM *n, BN_CTX *ctx);

#endif
