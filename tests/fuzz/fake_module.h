/* The hostile module of fuzz_module (fake_module.c), as its harness sees it. */
#ifndef HSM_TESTS_FUZZ_FAKE_MODULE_H
#define HSM_TESTS_FUZZ_FAKE_MODULE_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/* The script the next calls follow (kept by reference; NULL, 0: behave). */
void fake_module_feed(const uint8_t *data, size_t len);

/* The public half of the key the token really signs with. */
const EVP_PKEY *fake_module_public_key(void);

#endif
