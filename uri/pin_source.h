/* Where a token PIN comes from, and how it is kept while it is needed. */
#ifndef HSM_URI_PIN_SOURCE_H
#define HSM_URI_PIN_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

/* Largest PIN accepted from any source; no real token takes more. */
#define HSM_PIN_MAX 256

/*
 * Reads a PIN from |source| ("file:PATH" or an absolute PATH). The file must
 * be a regular file (not a symbolic link) owned by the effective user or
 * root, that group and others cannot read (unless |allow_shared|); one
 * trailing newline is dropped; an empty PIN is an error. The PIN lives in
 * OpenSSL's secure heap: free it with hsm_pin_free.
 */
char *hsm_pin_from_source(const char *source, bool allow_shared);

/* Copies a PIN given inline into the secure heap. */
char *hsm_pin_dup(const char *pin);

void hsm_pin_free(char *pin);

#endif
