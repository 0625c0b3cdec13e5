/*
 * SubjectPublicKeyInfo <-> EVP_PKEY for the keys tokens hold (RSA, RSA-PSS,
 * EC on a named curve, Ed25519, Ed448) without OpenSSL's decoder and encoder
 * chains: d2i_PUBKEY and i2d_PUBKEY set up a chain on every call, about
 * 160 us and 70 us here, several times per key load. The keys built here
 * are the same keys (EVP_PKEY_fromdata checks an EC point is on its
 * curve), and the DER written is what i2d_PUBKEY writes. Anything else
 * goes through d2i_PUBKEY / i2d_PUBKEY.
 */
#ifndef HSM_CACHE_SPKI_PKEY_H
#define HSM_CACHE_SPKI_PKEY_H

#include <openssl/evp.h>
#include <stdbool.h>
#include <stddef.h>

#include "cache/provider_property.h"

/* The public key in |der| (all of it), or NULL with |why| (may be NULL)
 * saying what is wrong. The key is parsed, not checked: that is
 * hsm_public_key_check's work. */
EVP_PKEY *hsm_spki_to_pkey(const unsigned char *der, size_t len, OSSL_LIB_CTX *libctx, char *why,
                           size_t whysize);

/* Whether the SubjectPublicKeyInfo names its key rsassaPss (RFC 4055): an
 * RSA key for PSS signatures only. hsm_spki_to_pkey reads such a key as a
 * plain RSA key, the same n and e. */
bool hsm_spki_rsa_pss(const unsigned char *der, size_t len);

/* The key's SubjectPublicKeyInfo as i2d_PUBKEY writes it; malloc'd. */
bool hsm_spki_of_pkey(EVP_PKEY *pkey, unsigned char **der, size_t *len);

/* The subjectPublicKeyInfo inside a DER certificate (pointing into it):
 * a strict walk of Certificate and TBSCertificate's fields up to it. */
bool hsm_cert_spki(const unsigned char *cert, size_t len, const unsigned char **spki,
                   size_t *spkilen);

#endif
