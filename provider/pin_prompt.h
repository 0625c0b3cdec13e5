#ifndef HSM_PROVIDER_PIN_PROMPT_H
#define HSM_PROVIDER_PIN_PROMPT_H

#include "cache/token.h"

#include <openssl/core.h>

struct hsm_uri;
struct hsm_token_pin;

struct hsm_pin_request {
    const struct hsm_uri *uri;
    struct hsm_token_pin *config_pin; /* pkcs11-module-token-pin, or NULL */
    bool allow_shared_files;
    OSSL_PASSPHRASE_CALLBACK *cb;
    void *cbarg;
    /* Without a callback, ask on the terminal (key generation). */
    bool terminal_prompt;
};

/* An hsm_pin_getter; |arg| is a struct hsm_pin_request. */
char *hsm_pin_for_login(void *arg, const struct hsm_token *tok);

#endif
