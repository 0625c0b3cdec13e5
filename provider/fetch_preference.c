/*
 * A fetch without a property query (EVP_PKEY_CTX_new_from_name(NULL, "EC",
 * NULL), EVP_PKEY_CTX_new_id(), libssl's own fetches) takes the first
 * activated provider that implements the name. Activated before default,
 * this provider would serve them all with key management and operations
 * that only work for token keys, and break what is not a token key:
 *
 *  - libssl keeps a TLS group only when the key management it fetches for
 *    the group comes from the provider that announced it; "EC" from hsm
 *    drops P-256/P-384/P-521, so a TLS 1.2 server with an ECDSA key finds
 *    no shared cipher and a client offering only P-256 gets no key share;
 *  - SoftHSMv2 makes EdDSA keys with EVP_PKEY_keygen inside its own
 *    C_GenerateKeyPair, in the same library context, and would reach this
 *    provider's key generation, which needs a token URI;
 *  - `openssl genpkey -algorithm RSA` would not make a software key.
 *
 * Property definitions cannot demote an implementation for a query that
 * does not name the property; the library context's default query can.
 * "?provider!=hsm" makes every other provider preferred where both
 * implement an algorithm. A query's own "provider" overrides the default
 * one, so "?provider=hsm" and "provider=hsm" still reach this provider,
 * and keys loaded from a token still get its operations: OpenSSL falls
 * back to the key's own provider when the key cannot be exported to the
 * preferred one (private halves never can).
 */
#include "provider/fetch_preference.h"

#include "cache/error.h"

#include <openssl/evp.h>

#define PREFER_OTHERS "?provider!=" HSM_PROVIDER_PROPERTY

bool hsm_prefer_other_providers(OSSL_LIB_CTX *libctx)
{
    const char *query;

    /*
     * OpenSSL 3.0 cannot read the default query back, so this replaces it.
     * FIPS mode is the one a host is likely to have set, and it is kept.
     */
    query =
        EVP_default_properties_is_fips_enabled(libctx) ? "fips=yes," PREFER_OTHERS : PREFER_OTHERS;
    if (EVP_set_default_properties(libctx, query) != 1) {
        hsm_error(HSM_R_CONFIG, "cannot set the default property query \"%s\"", query);
        return false;
    }
    return true;
}
