/* The core's BIO functions, handed to the provider at init: encoders and
 * decoders read and write the application's BIOs through them. */
#ifndef HSM_PROVIDER_CORE_BIO_H
#define HSM_PROVIDER_CORE_BIO_H

#include <openssl/core_dispatch.h>
#include <stdbool.h>
#include <stddef.h>

void hsm_core_bio_set(OSSL_FUNC_BIO_read_ex_fn *rd, OSSL_FUNC_BIO_write_ex_fn *wr);

/* All of |len| bytes, or false. */
bool hsm_core_bio_write_all(OSSL_CORE_BIO *out, const void *data, size_t len);

/* Up to |size| bytes until the end of input; false when the core gave no
 * BIO functions. */
bool hsm_core_bio_read_all(OSSL_CORE_BIO *in, unsigned char *buf, size_t size, size_t *len);

#endif
