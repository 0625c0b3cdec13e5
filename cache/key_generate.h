/* Key pairs generated inside the token: the private key never exists
 * anywhere else, and a generation never leaves a half-made key behind. */
#ifndef HSM_CACHE_KEY_GENERATE_H
#define HSM_CACHE_KEY_GENERATE_H

#include "cache/key_identity.h"

struct hsm_keygen_request {
    CK_KEY_TYPE type; /* CKK_RSA, CKK_EC, CKK_EC_EDWARDS */
    CK_ULONG rsa_bits;
    unsigned char rsa_e[16]; /* big-endian public exponent */
    size_t rsa_e_len;
    const unsigned char *curve; /* CKA_EC_PARAMS: DER OID */
    size_t curve_len;
    const unsigned char *curve_alt; /* the same curve as a name, for tokens that want it */
    size_t curve_alt_len;
    const char *label;    /* CKA_LABEL, may be NULL */
    unsigned char id[64]; /* CKA_ID; a random one when id_len is 0 */
    size_t id_len;
    /* Uses besides signing; a CA key signs and nothing else by default. */
    bool allow_decrypt;
    bool allow_derive;
};

/*
 * Generates the pair on |tok| (CKA_TOKEN, CKA_PRIVATE and CKA_SENSITIVE
 * true, CKA_EXTRACTABLE false), refusing before touching the token when any
 * object already has the label or the id. Returns the cross-checked key, or
 * NULL after raising an error and destroying anything it made.
 */
struct hsm_key *hsm_key_generate(struct hsm_token *tok, struct hsm_keygen_request *req,
                                 hsm_pin_getter *getter, void *arg, OSSL_LIB_CTX *libctx);

/* Removes a freshly generated key's objects again (it failed a check). */
void hsm_key_destroy_generated(struct hsm_key *key);

#endif
