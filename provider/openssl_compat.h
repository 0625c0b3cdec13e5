/*
 * What the OpenSSL the provider is built against offers beyond 3.0: the
 * one place where releases are told apart. A provider is built for one
 * release (Debian builds it per release), so these are compile-time
 * checks on what the headers define; a name a later release gave to a
 * parameter is defined here for the releases before it, so that requests
 * from applications built against the later headers are understood.
 */
#ifndef HSM_PROVIDER_OPENSSL_COMPAT_H
#define HSM_PROVIDER_OPENSSL_COMPAT_H

#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>

/* OpenSSL 3.1: "auto-digestmax", the PSS salt as long as the digest at most. */
#ifndef RSA_PSS_SALTLEN_AUTO_DIGEST_MAX
#define RSA_PSS_SALTLEN_AUTO_DIGEST_MAX -4
#endif

/* OpenSSL 3.2: the switch for implicit rejection in PKCS#1 v1.5 decryption. */
#ifndef OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION
#define OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION "implicit-rejection"
#endif

/* OpenSSL 3.4: message signatures (EVP_PKEY_sign_message_init and friends)
 * and the signature algorithms they fetch ("ECDSA-SHA2-256", ...). */
#ifdef OSSL_FUNC_SIGNATURE_SIGN_MESSAGE_INIT
#define HSM_HAVE_SIGN_MESSAGE 1
#else
#define HSM_HAVE_SIGN_MESSAGE 0
#endif

#endif
