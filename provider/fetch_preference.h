/* Which provider serves a fetch that does not name one. */
#ifndef HSM_PROVIDER_FETCH_PREFERENCE_H
#define HSM_PROVIDER_FETCH_PREFERENCE_H

#include "cache/provider_property.h"

#include <openssl/types.h>
#include <stdbool.h>

/*
 * Applies the provider option prefer-other-providers (|setting|, NULL for
 * the default "yes"): makes any other provider's implementation preferred
 * to this provider's in |libctx| for fetches that do not ask for hsm.
 * Raises and returns false on a bad setting or a failed update.
 */
bool hsm_prefer_other_providers(OSSL_LIB_CTX *libctx, const char *setting);

#endif
