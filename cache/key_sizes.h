/*
 * The sizes of the keys the provider accepts, and of what they produce, in
 * one place. The public key check (public_key_check.h) refuses any other
 * key, so a buffer sized from here holds what any accepted key produces.
 */
#ifndef HSM_CACHE_KEY_SIZES_H
#define HSM_CACHE_KEY_SIZES_H

#include <openssl/evp.h>
#include <stddef.h>

/*
 * RSA moduli of 1024 to 16384 bits. Below 1024 bits a key can be factored
 * with public means, so a signature proves nothing; 1024-bit keys are still
 * read, because old cards hold them. 16384 bits is the largest the provider
 * generates and the largest OpenSSL verifies (OPENSSL_RSA_MAX_MODULUS_BITS):
 * a larger key could never pass verify-after-sign.
 */
#define HSM_RSA_MIN_BITS 1024
#define HSM_RSA_MAX_BITS 16384

/*
 * Public exponents of at most 64 bits: OpenSSL verifies nothing with a
 * larger one once the modulus passes 3072 bits
 * (OPENSSL_RSA_MAX_PUBEXP_BITS), and no token or standard makes one.
 */
#define HSM_RSA_E_MAX_BITS 64

/* The largest output of one private-key operation on the token (C_Sign,
 * C_Decrypt) of any key the provider accepts: an RSA-16384 block, 2048
 * bytes. For a fixed buffer; hsm_key_output_size gives one key's. */
#define HSM_KEY_OUTPUT_MAX (HSM_RSA_MAX_BITS / 8)

/* The largest signature in OpenSSL's format of any key the provider
 * accepts (an RSA-16384 signature; a DER P-521 ECDSA signature is 139). */
#define HSM_SIGNATURE_MAX HSM_KEY_OUTPUT_MAX

/* Bytes one C_Sign or C_Decrypt with the private half of |pub| returns:
 * RSA the modulus length, ECDSA r||s (twice the order's length), Ed25519
 * 64, Ed448 114; 0 for a key the provider does not use. Never more than
 * HSM_KEY_OUTPUT_MAX for a key that passed the public key check. */
size_t hsm_key_output_size(const EVP_PKEY *pub);

/* The largest signature |pub|'s private half makes, in OpenSSL's format
 * (DER for ECDSA); 0 for a key the provider does not use. Never more than
 * HSM_SIGNATURE_MAX for a key that passed the public key check. */
size_t hsm_key_signature_size(const EVP_PKEY *pub);

/* The largest DER ECDSA-Sig-Value for a curve whose order has
 * |order_bits| bits. */
size_t hsm_ecdsa_der_max(size_t order_bits);

#endif
