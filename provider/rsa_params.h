/*
 * RSA context parameters in every form OpenSSL's own provider takes and
 * gives: the padding mode and PSS salt length as integers or as names, a
 * digest as its name. OpenSSL 3.0's EVP_PKEY_CTX_get_rsa_padding and
 * get_rsa_pss_saltlen ask for the names; applications set either form.
 * Every function raises a reason when it returns false.
 */
#ifndef HSM_PROVIDER_RSA_PARAMS_H
#define HSM_PROVIDER_RSA_PARAMS_H

#include <openssl/core.h>
#include <openssl/evp.h>
#include <stdbool.h>

#include "provider/openssl_compat.h"

#define HSM_PSS_SALTLEN_AUTO_DIGEST_MAX_NAME "auto-digestmax"

/* RSA_*_PADDING from an integer or a name (pkcs1, none, oaep, x931, pss);
 * which modes the operation accepts is the caller's to check. */
bool hsm_rsa_pad_mode_get(const OSSL_PARAM *p, int *mode);
/* Answers |mode| in the form |p| asks for. */
bool hsm_rsa_pad_mode_set(OSSL_PARAM *p, int mode);
/* "pkcs1", "pss", ...; "unknown" for a mode with no name. */
const char *hsm_rsa_pad_mode_name(int mode);

/* RSA_PSS_SALTLEN_* or a length, from an integer or a name (digest, max,
 * auto, auto-digestmax, or a decimal number). */
bool hsm_rsa_saltlen_get(const OSSL_PARAM *p, int *saltlen);
bool hsm_rsa_saltlen_set(OSSL_PARAM *p, int saltlen);

/* A digest named by |p| (utf8), fetched for hashing in software. */
bool hsm_md_param_get(OSSL_LIB_CTX *libctx, const OSSL_PARAM *p, const char *what, EVP_MD **md);
/* Answers a digest's name; "" for none, as OpenSSL's provider does. */
bool hsm_md_param_set(OSSL_PARAM *p, const EVP_MD *md, const char *what);

#endif
