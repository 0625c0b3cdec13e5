/*
 * The sizes of the keys the provider accepts, in one place: the public key
 * check refuses any other key, so a buffer sized from here holds what any
 * accepted key produces.
 */
#ifndef HSM_CACHE_KEY_SIZES_H
#define HSM_CACHE_KEY_SIZES_H

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

#endif
