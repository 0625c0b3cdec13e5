/* Message signatures (OpenSSL 3.4 and later): signature_message.c. */
#ifndef HSM_PROVIDER_SIGNATURE_MESSAGE_H
#define HSM_PROVIDER_SIGNATURE_MESSAGE_H

#include "provider/openssl_compat.h"

#include <openssl/core_dispatch.h>

#if HSM_HAVE_SIGN_MESSAGE
extern const OSSL_DISPATCH hsm_signature_rsa_sha1_functions[];
extern const OSSL_DISPATCH hsm_signature_rsa_sha224_functions[];
extern const OSSL_DISPATCH hsm_signature_rsa_sha256_functions[];
extern const OSSL_DISPATCH hsm_signature_rsa_sha384_functions[];
extern const OSSL_DISPATCH hsm_signature_rsa_sha512_functions[];
extern const OSSL_DISPATCH hsm_signature_ecdsa_sha1_functions[];
extern const OSSL_DISPATCH hsm_signature_ecdsa_sha224_functions[];
extern const OSSL_DISPATCH hsm_signature_ecdsa_sha256_functions[];
extern const OSSL_DISPATCH hsm_signature_ecdsa_sha384_functions[];
extern const OSSL_DISPATCH hsm_signature_ecdsa_sha512_functions[];

/* The algorithm table's rows, with OpenSSL's names for each. */
#define HSM_MESSAGE_SIGNATURE_ALGORITHMS(props)                                                    \
    {"RSA-SHA1:RSA-SHA-1:sha1WithRSAEncryption:1.2.840.113549.1.1.5", props,                       \
     hsm_signature_rsa_sha1_functions, "RSA message signatures with SHA-1"},                       \
        {"RSA-SHA2-224:RSA-SHA224:sha224WithRSAEncryption:1.2.840.113549.1.1.14", props,           \
         hsm_signature_rsa_sha224_functions, "RSA message signatures with SHA-224"},               \
        {"RSA-SHA2-256:RSA-SHA256:sha256WithRSAEncryption:1.2.840.113549.1.1.11", props,           \
         hsm_signature_rsa_sha256_functions, "RSA message signatures with SHA-256"},               \
        {"RSA-SHA2-384:RSA-SHA384:sha384WithRSAEncryption:1.2.840.113549.1.1.12", props,           \
         hsm_signature_rsa_sha384_functions, "RSA message signatures with SHA-384"},               \
        {"RSA-SHA2-512:RSA-SHA512:sha512WithRSAEncryption:1.2.840.113549.1.1.13", props,           \
         hsm_signature_rsa_sha512_functions, "RSA message signatures with SHA-512"},               \
        {"ECDSA-SHA1:ECDSA-SHA-1:ecdsa-with-SHA1:1.2.840.10045.4.1", props,                        \
         hsm_signature_ecdsa_sha1_functions, "ECDSA message signatures with SHA-1"},               \
        {"ECDSA-SHA2-224:ECDSA-SHA224:ecdsa-with-SHA224:1.2.840.10045.4.3.1", props,               \
         hsm_signature_ecdsa_sha224_functions, "ECDSA message signatures with SHA-224"},           \
        {"ECDSA-SHA2-256:ECDSA-SHA256:ecdsa-with-SHA256:1.2.840.10045.4.3.2", props,               \
         hsm_signature_ecdsa_sha256_functions, "ECDSA message signatures with SHA-256"},           \
        {"ECDSA-SHA2-384:ECDSA-SHA384:ecdsa-with-SHA384:1.2.840.10045.4.3.3", props,               \
         hsm_signature_ecdsa_sha384_functions, "ECDSA message signatures with SHA-384"},           \
        {"ECDSA-SHA2-512:ECDSA-SHA512:ecdsa-with-SHA512:1.2.840.10045.4.3.4", props,               \
         hsm_signature_ecdsa_sha512_functions, "ECDSA message signatures with SHA-512"},
#else
#define HSM_MESSAGE_SIGNATURE_ALGORITHMS(props)
#endif

#endif
