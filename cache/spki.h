/*
 * SubjectPublicKeyInfo DER built from PKCS#11 attribute values. Pure
 * functions: no token, no OpenSSL state.
 */
#ifndef HSM_CACHE_SPKI_H
#define HSM_CACHE_SPKI_H

#include <stdbool.h>
#include <stddef.h>

/* RSA modulus and exponent (unsigned big-endian) to SPKI; malloc'd. */
bool hsm_spki_rsa(const unsigned char *n, size_t nlen, const unsigned char *e, size_t elen,
                  unsigned char **der, size_t *derlen);

/* EC named-curve parameters (DER OID, as CKA_EC_PARAMS) and point
 * (CKA_EC_POINT, DER OCTET STRING or raw) to SPKI; malloc'd. */
bool hsm_spki_ec(const unsigned char *params, size_t plen, const unsigned char *point, size_t ptlen,
                 unsigned char **der, size_t *derlen);

/* EdDSA: curve is the CKA_EC_PARAMS (OID or PrintableString name). */
bool hsm_spki_eddsa(const unsigned char *params, size_t plen, const unsigned char *point,
                    size_t ptlen, unsigned char **der, size_t *derlen);

/* CKA_EC_POINT is a DER OCTET STRING by the standard, raw on some tokens. */
void hsm_ec_point_unwrap(const unsigned char *in, size_t inlen, const unsigned char **pt,
                         size_t *ptlen);

#endif
