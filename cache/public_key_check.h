/*
 * The full check every public key passes before the provider trusts it
 * (to compare views, verify a possession proof or a signature, or hand it
 * out). A degenerate key lets anyone make "signatures" that verify: with
 * the EC point at infinity, ECDSA accepts r = x(G), s = e for any message;
 * with an Ed25519 point of small order, [s]B = R for any message; with
 * e = 1, the message itself.
 */
#ifndef HSM_CACHE_PUBLIC_KEY_CHECK_H
#define HSM_CACHE_PUBLIC_KEY_CHECK_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * True when |pkey| is a public key the provider can trust:
 *  - RSA (and RSA-PSS): modulus odd, of HSM_RSA_MIN_BITS to
 *    HSM_RSA_MAX_BITS; exponent odd, at least 3, of at most
 *    HSM_RSA_E_MAX_BITS;
 *  - EC: not the point at infinity, and passing OpenSSL's full public
 *    check in a software provider (coordinates in range, on the curve, in
 *    the subgroup of the curve's order);
 *  - Ed25519, Ed448: canonical encoding of a point on the curve, not of
 *    small order.
 * Otherwise false, with |why| (may be NULL) saying what is wrong, for a
 * message ("the EC point is the point at infinity").
 */
bool hsm_public_key_check(EVP_PKEY *pkey, OSSL_LIB_CTX *libctx, char *why, size_t whysize);

#endif
