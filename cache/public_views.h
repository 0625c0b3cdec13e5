/*
 * Every public view of one key on one token: the private key's own public
 * attributes, public key objects and certificates with its CKA_ID. They
 * must all be one SubjectPublicKeyInfo, or the key is not handed out.
 */
#ifndef HSM_CACHE_PUBLIC_VIEWS_H
#define HSM_CACHE_PUBLIC_VIEWS_H

#include "cache/attr_set.h"

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>

/* Every view is checked; a key with more than this many is refused, naming
 * the limit (no real key has that many certificates under its id; a module
 * that answers so is not to be followed). */
#define HSM_VIEWS_MAX 256

struct hsm_view {
    char what[96];
    EVP_PKEY *pkey;
};

struct hsm_views {
    size_t n;
    struct hsm_view *v; /* n of them; hsm_views_clear frees */
    /* A view names the RSA key rsassaPss (a PSS CA's certificate): the key
     * is for PSS signatures only. Its key material is compared like any
     * other view's. */
    bool rsa_pss_only;
};

/* What a load reads of the private key object, in one set: its identity,
 * flags and its own public key. */
#define HSM_PRIVATE_KEY_ATTRS 13
extern const CK_ATTRIBUTE_TYPE *const hsm_private_key_attrs;

/*
 * Every object on a token with one CKA_ID, each read as one set of
 * hsm_object_attrs (hsm_private_key_attrs and CKA_CLASS): a load by a URI
 * with an id searches once and uses the result twice, for the key the URI
 * names and for its public views. Lives for one load.
 */
#define HSM_OBJECT_ATTRS (HSM_PRIVATE_KEY_ATTRS + 1)
struct hsm_id_objects {
    size_t n;
    CK_OBJECT_HANDLE *handles;
    struct hsm_attr_set *sets;
};

/* |*call| names the PKCS#11 call that failed, for the error. The object
 * |already_read| (CK_INVALID_HANDLE for none) is listed but not read: its
 * set stays empty. */
CK_RV hsm_id_objects_find(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, const unsigned char *id,
                          size_t idlen, CK_OBJECT_HANDLE already_read, struct hsm_id_objects *out,
                          const char **call);
void hsm_id_objects_clear(struct hsm_id_objects *objs);

/* Collects the views: the private key's own (from |priv_attrs|, read with
 * hsm_private_key_attrs) and those of every other object with its CKA_ID,
 * from |same_id| when the load already found them, else searched for here.
 * Each passes the public key check (public_key_check.h). Raises and returns
 * false on a token error, a view that cannot be parsed or fails the check,
 * an X.509 certificate whose value cannot be read, or more than
 * HSM_VIEWS_MAX views. |where| names the key in messages. */
bool hsm_views_collect(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                       const struct hsm_attr_set *priv_attrs, const struct hsm_id_objects *same_id,
                       CK_KEY_TYPE key_type, const unsigned char *id, size_t idlen,
                       OSSL_LIB_CTX *libctx, const char *where, struct hsm_views *views);

/* The one key all views agree on (a new reference), or NULL after raising
 * an error that names the views that disagree, or that there are none. */
EVP_PKEY *hsm_views_agree(const struct hsm_views *views, const char *where);

void hsm_views_clear(struct hsm_views *views);

/* Views a single key object gives from its attributes already read
 * (modulus and exponent, EC parameters and point, CKA_PUBLIC_KEY_INFO);
 * exposed for the listing of public keys. */
bool hsm_views_of_key_attrs(const struct hsm_attr_set *attrs, CK_KEY_TYPE key_type,
                            const char *label, OSSL_LIB_CTX *libctx, struct hsm_views *views);

/* SHA-256 of the key's SubjectPublicKeyInfo in hex. */
bool hsm_spki_fingerprint(EVP_PKEY *pkey, char hex[65]);

#endif
