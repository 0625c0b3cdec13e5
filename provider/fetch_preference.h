/* Which provider serves a fetch that does not name one. */
#ifndef HSM_PROVIDER_FETCH_PREFERENCE_H
#define HSM_PROVIDER_FETCH_PREFERENCE_H

#include "cache/provider_property.h"

#include <openssl/types.h>
#include <stdbool.h>

/*
 * What the provider option prefer-other-providers (default yes) asks for:
 * makes any other provider's implementation preferred to this provider's in
 * |libctx| for fetches that do not ask for hsm. Raises and returns false
 * when the default property query cannot be set.
 */
bool hsm_prefer_other_providers(OSSL_LIB_CTX *libctx);

#endif
