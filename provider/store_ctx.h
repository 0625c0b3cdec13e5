/* What one OSSL_STORE open of a pkcs11: URI holds: the request, and what
 * the search on the token found for it. */
#ifndef HSM_PROVIDER_STORE_CTX_H
#define HSM_PROVIDER_STORE_CTX_H

#include "provider/provider.h"
#include "uri/uri.h"

#include <openssl/core_dispatch.h>
#include <stdbool.h>
#include <stddef.h>

struct store_result {
    int object_type;     /* OSSL_OBJECT_PKEY, OSSL_OBJECT_CERT */
    struct hsm_key *key; /* private keys: passed by reference */
    unsigned char *der;  /* public keys and certificates: passed as DER */
    size_t der_len;
    const char *data_type; /* "RSA", "EC", ... for keys */
    const char *structure; /* for DER */
    char *desc;            /* canonical URI */
};

struct store_ctx {
    struct hsm_provctx *prov;
    struct hsm_uri *uri;
    /* The tokens the URI matches, found at open: a URI that reaches no
     * module or no token fails there, where the caller learns of it. */
    struct hsm_module *module;
    struct hsm_token **toks;
    int n_toks;
    int expect;             /* OSSL_STORE_INFO_*, 0 for anything */
    unsigned char *subject; /* DER X509_NAME from OSSL_STORE_find, or NULL */
    size_t subject_len;
    char *alias; /* CKA_LABEL from OSSL_STORE_SEARCH_by_alias, or NULL */
    /* The provider's own loads (a key reference PEM) take one key and never
     * read names: several matches are an error at once. */
    bool strict;
    bool searched;
    struct store_result *results;
    size_t n, next;
    /* A listing (nothing expected, and a URI that names a token but no
     * object): each object is preceded by its URI as a name, which opens
     * exactly that object again. */
    bool name_given;
    /* Several objects where one kind was expected: only their names are
     * handed out, then this error, so that a caller that takes the first
     * object it gets (OpenSSL's applications do) gets none. */
    char *ambiguity;
    /* During a search by a URI with an id: every object with that id on
     * each token, found once for the keys and their public views. */
    struct hsm_id_objects **same_id;
    size_t n_same_id;
};

/* Exactly one object is wanted: OSSL_STORE_expect() named a kind. */
bool hsm_store_one_kind(const struct store_ctx *ctx);

/* Objects are handed out with their names: a listing of a token. */
bool hsm_store_gives_names(const struct store_ctx *ctx);

/*
 * Searches the tokens the URI names afresh and fills ctx->results, or
 * ctx->ambiguity with the names of several candidates. Raises and returns
 * false when nothing may be handed out.
 */
bool hsm_store_search(struct store_ctx *ctx, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg);

void hsm_store_result_clear(struct store_result *r);

#endif
