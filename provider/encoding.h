/* Byte formats between PKCS#11 and OpenSSL. Pure functions, unit-tested. */
#ifndef HSM_PROVIDER_ENCODING_H
#define HSM_PROVIDER_ENCODING_H

#include <stdbool.h>
#include <stddef.h>

/*
 * DigestInfo (PKCS#1 v1.5) for a digest named |mdname| (OpenSSL names:
 * "SHA256", "SHA2-256", ...). Writes prefix+digest to |out|; false when the
 * digest is unknown or its length is wrong, or |outsize| is too small.
 */
bool hsm_digestinfo(const char *mdname, const unsigned char *digest, size_t dlen,
                    unsigned char *out, size_t outsize, size_t *outlen);

/* ECDSA r||s (PKCS#11) to DER ECDSA-Sig-Value (OpenSSL). */
bool hsm_ecdsa_raw_to_der(const unsigned char *raw, size_t rawlen, unsigned char *der,
                          size_t dersize, size_t *derlen);

#endif
