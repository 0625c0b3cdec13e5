#ifndef HSM_PROVIDER_KEY_REFERENCE_PEM_H
#define HSM_PROVIDER_KEY_REFERENCE_PEM_H

#include "provider/provider.h"

/* The core's BIO functions, from the provider's init. */
void hsm_key_reference_pem_set_bio(OSSL_FUNC_BIO_read_ex_fn *rd, OSSL_FUNC_BIO_write_ex_fn *wr);

/* The longest URI a reference holds. */
#define HSM_REFERENCE_MAX 4096

/* Reads all of |in| into |buf| (at most |size| bytes); the length read. */
size_t hsm_key_reference_read(OSSL_CORE_BIO *in, unsigned char *buf, size_t size);

/* The PrivateKeyInfo that stands for a token key; exposed for unit tests. */
size_t hsm_key_reference_der(const char *uri, unsigned char *out, size_t outsize);
bool hsm_key_reference_parse(const unsigned char *der, size_t len, char *uri, size_t urisize);

extern const OSSL_DISPATCH hsm_key_reference_encoder_functions[];
extern const OSSL_DISPATCH hsm_key_reference_decoder_functions[];

#endif
