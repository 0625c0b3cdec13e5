/*
 * The token PIN the configuration names (pkcs11-module-token-pin): the PIN
 * itself, file:PATH or env:NAME. A PIN file is read when the provider
 * starts and the PIN kept in the secure heap, because a forking server
 * starts as root and its children, running as another user, cannot read
 * the file: a child logs in with the PIN its parent read, never the file.
 * In the process that read it, the file is read again when it has changed
 * (an operator corrected it); a file that has gone or cannot be reached
 * leaves the kept PIN in use.
 */
#ifndef HSM_PROVIDER_TOKEN_PIN_H
#define HSM_PROVIDER_TOKEN_PIN_H

#include <stdbool.h>

struct hsm_token_pin;

/* Keeps |configured| (non-empty); a file it names is read now, best effort
 * (a failure is reported by the login that needs the PIN, not here).
 * NULL after raising when memory is short or the value is too long. */
struct hsm_token_pin *hsm_token_pin_new(const char *configured, bool allow_shared);
void hsm_token_pin_free(struct hsm_token_pin *pin);

/* The PIN for one login, in the secure heap (hsm_pin_free), or NULL after
 * raising why there is none. Called with no lock held. */
char *hsm_token_pin_get(struct hsm_token_pin *pin);

#endif
