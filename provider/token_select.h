#ifndef HSM_PROVIDER_TOKEN_SELECT_H
#define HSM_PROVIDER_TOKEN_SELECT_H

#include "cache/token.h"

#include <stdbool.h>

struct hsm_uri;

/* "'a' (serial 1), 'b' (serial 2)" */
void hsm_describe_tokens(struct hsm_token **toks, int n, char *buf, size_t len);

/*
 * The tokens of |mod| that match |uri|, found afresh (the module is
 * initialised again once when none matches: SoftHSMv2 fixes its slot list
 * at C_Initialize). None, or several when |single|, is an error that lists
 * the tokens present. Returns the count, or -1 after raising an error.
 */
int hsm_select_tokens(struct hsm_module *mod, const struct hsm_uri *uri, bool single,
                      struct hsm_token ***toks);

/* Raises the error for a URI that matches the |n| tokens |toks| where one
 * is wanted: it lists them and says which attribute tells them apart. */
void hsm_refuse_several_tokens(const struct hsm_uri *uri, struct hsm_token **toks, int n);

/* A URI's module-path must be the configured module: a URI never makes the
 * provider load a library. Raises and returns false otherwise. */
bool hsm_uri_module_allowed(const char *configured, const struct hsm_uri *uri);

#endif
