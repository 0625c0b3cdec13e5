/* Where a login's PIN comes from, in order: the URI's pin-value, its
 * pin-source, the provider's pkcs11-module-token-pin, OpenSSL's prompt. */
#include "provider/pin_prompt.h"

#include "cache/error.h"
#include "provider/token_pin.h"
#include "uri/pin_source.h"
#include "uri/uri.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/ui.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *hsm_pin_for_login(void *arg, const struct hsm_token *tok)
{
    const struct hsm_pin_request *req = arg;
    const char *v;
    char buf[HSM_PIN_MAX + 1], prompt[200], *pin;
    size_t len = 0;

    if (req->uri != NULL && (v = hsm_uri_pin_value(req->uri)) != NULL)
        return hsm_pin_dup(v);
    if (req->uri != NULL && (v = hsm_uri_pin_source(req->uri)) != NULL)
        return hsm_pin_from_source(v, req->allow_shared_files);
    if (req->config_pin != NULL)
        return hsm_token_pin_get(req->config_pin);
    if (req->cb == NULL && req->terminal_prompt && isatty(STDIN_FILENO)) {
        /* Key generation gets no passphrase callback from OpenSSL: ask on the
         * terminal, as OpenSSL's own prompt would. */
        snprintf(prompt, sizeof(prompt), "PIN for token '%s' (serial %s): ", tok->id.label,
                 tok->id.serial);
        if (UI_UTIL_read_pw_string(buf, sizeof(buf) - 1, prompt, 0) != 0 || buf[0] == '\0') {
            OPENSSL_cleanse(buf, sizeof(buf));
            hsm_error(HSM_R_PIN_REQUIRED, "no PIN was given for token '%s' (serial %s)",
                      tok->id.label, tok->id.serial);
            return NULL;
        }
        pin = hsm_pin_dup(buf);
        OPENSSL_cleanse(buf, sizeof(buf));
        return pin;
    }
    if (req->cb == NULL) {
        hsm_error(HSM_R_PIN_REQUIRED,
                  "token '%s' (serial %s) needs a login; give pin-value or pin-source in the "
                  "URI, pkcs11-module-token-pin in the configuration, or run where OpenSSL can "
                  "prompt",
                  tok->id.label, tok->id.serial);
        return NULL;
    }
    snprintf(prompt, sizeof(prompt), "PIN for token '%s' (serial %s)", tok->id.label,
             tok->id.serial);
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PASSPHRASE_PARAM_INFO, prompt, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!req->cb(buf, sizeof(buf) - 1, &len, params, req->cbarg) || len == 0) {
        OPENSSL_cleanse(buf, sizeof(buf));
        hsm_error(HSM_R_PIN_REQUIRED, "no PIN was given for token '%s' (serial %s)", tok->id.label,
                  tok->id.serial);
        return NULL;
    }
    buf[len] = '\0';
    pin = hsm_pin_dup(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return pin;
}
