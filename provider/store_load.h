#ifndef HSM_PROVIDER_STORE_LOAD_H
#define HSM_PROVIDER_STORE_LOAD_H

#include "provider/provider.h"

/*
 * Loads exactly one private key by |uri| the way the store does (fresh
 * search, cross-check, possession proof) and hands it to |object_cb| as a
 * reference. Returns the callback's result, or 0 after raising an error.
 */
int hsm_store_load_private_key(struct hsm_provctx *prov, const char *uri, OSSL_CALLBACK *object_cb,
                               void *object_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg);

#endif
