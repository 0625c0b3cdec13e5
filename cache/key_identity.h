/*
 * A loaded key: who it is (token identity, CKA_ID, key type, the
 * SubjectPublicKeyInfo it was cross-checked against) and where it was last
 * seen (token record and object handle), which are hints only. Before every
 * use the hints are confirmed; when they fail the key is found again by its
 * identity and must still be the same public key.
 */
#ifndef HSM_CACHE_KEY_IDENTITY_H
#define HSM_CACHE_KEY_IDENTITY_H

#include "cache/attr_set.h"
#include "cache/backoff.h"
#include "cache/token.h"

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

struct hsm_key {
    int refs;
    struct hsm_module *module;
    struct hsm_token_identity token_id;
    CK_KEY_TYPE key_type;
    unsigned char *id;
    size_t id_len;
    char *label;
    EVP_PKEY *pub; /* the remembered public key, held by a software provider */
    char fingerprint[65];
    bool always_authenticate;
    bool can_sign;
    bool can_decrypt;
    bool can_derive;
    /* RSA key for PSS signatures only: its CKA_ALLOWED_MECHANISMS admit only
     * PSS, or one of its views (a PSS CA's certificate) names it rsassaPss. */
    bool pss_only;
    /* A view names the key rsassaPss: to OpenSSL it is an RSA-PSS key (a TLS
     * stack pairs a key with a certificate of the same type). */
    bool pss_certified;
    /* A public attribute of the private key object itself (RSA modulus, EC
     * point) compared before each use; 0 when the token exposes none, and
     * then only a verified signature can show the handle is still the key. */
    CK_ATTRIBUTE_TYPE confirm_type;
    unsigned char *confirm_value;
    size_t confirm_len;
    /* Checking a signature in software costs less than one more PKCS#11
     * call to check the handle (RSA with a small public exponent), so it
     * replaces the handle check even with verify-signatures = no. */
    bool verify_is_cheaper;
    /* The possession proof, run again whenever the key is found anew. */
    bool (*prove)(void *arg, struct hsm_key *key);
    void *prove_arg;
    char *uri; /* canonical, PIN-free: for messages */
    char *pin; /* secure heap; to log in again after the token came back */
    OSSL_LIB_CTX *libctx;
    void *provctx;         /* for public-only keys imported by OpenSSL */
    const char *algorithm; /* their OpenSSL key type name */

    /* P-256 verification by a table of the public point (p256_verify.h):
     * the table once built, whether a thread has taken on building it (it
     * stays NULL when the table was not worth keeping), and how many
     * signatures were verified before. */
    struct hsm_p256_table *p256_table;
    bool p256_claimed;
    unsigned p256_verified;

    /* Guards the hints below; taken inside the fork gate, held for a few
     * instructions, never across a module call. */
    pthread_mutex_t lock;
    struct hsm_token *token;
    CK_OBJECT_HANDLE handle;
    /* Who loaded it: a forked child of the loader, running as another user,
     * that cannot reach the token is told it may lack permission. */
    unsigned loaded_fork_epoch;
    uid_t loaded_euid;
    /* When the key, once lost (deleted, replaced), may be looked for again:
     * until then each use fails at once with the error the search gave. */
    struct hsm_backoff backoff;
};

struct hsm_id_objects;

/*
 * Builds a key from private key |obj| found on |tok|: reads its identity and
 * cross-checks every public view. What the same load already read may be
 * passed in: |attrs|, the object's hsm_private_key_attrs, and |same_id|,
 * every object with its CKA_ID; NULL ones are read here. Takes ownership of
 * |pin| (may be NULL).
 */
struct hsm_key *hsm_key_from_object(struct hsm_token *tok, CK_FUNCTION_LIST *fns,
                                    CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                                    const struct hsm_attr_set *attrs,
                                    const struct hsm_id_objects *same_id, OSSL_LIB_CTX *libctx,
                                    char *pin);

/* OpenSSL's key type name for the key: "RSA" ("RSA-PSS" when a
 * certificate restricts it to PSS), "EC", "ED25519", "ED448". */
const char *hsm_key_type_name(const struct hsm_key *key);

/* False for a public key OpenSSL imported (it has no token identity). */
bool hsm_key_on_token(const struct hsm_key *key);

void hsm_key_ref(struct hsm_key *key);
void hsm_key_put(struct hsm_key *key);

/*
 * One private-key operation (C_SignInit+C_Sign, C_DecryptInit+C_Decrypt,
 * C_DeriveKey with |mech| carrying the peer) on the key, revalidated first.
 * |*outlen| is the buffer size in (for a derivation: the secret's length),
 * the result size out.
 */
/*
 * HSM_OP_SIGN_VERIFIED: the caller verifies the signature with the
 * remembered public key before using it, which shows which key signed more
 * surely than the handle's attributes can; the per-signature attribute
 * check is then skipped (it costs a third of a P-256 signature on SoftHSMv2).
 */
enum hsm_key_op { HSM_OP_SIGN, HSM_OP_SIGN_VERIFIED, HSM_OP_DECRYPT, HSM_OP_DERIVE };
bool hsm_key_operate(struct hsm_key *key, enum hsm_key_op op, CK_MECHANISM *mech,
                     const unsigned char *in, size_t inlen, unsigned char *out, size_t *outlen);

/*
 * True when every signature of this key is verified whatever the
 * configuration says: its handle cannot be confirmed from its attributes
 * alone, or verifying costs less than confirming.
 */
bool hsm_key_needs_verified_signatures(const struct hsm_key *key);

/*
 * After a signature failed verification: forgets the hints and looks the
 * key up again, so the error says whether the key under this id changed.
 */
void hsm_key_explain_bad_signature(struct hsm_key *key);

/* "pkcs11:token=...;id=...;type=private" with the serial, never a PIN. */
char *hsm_key_canonical_uri(const struct hsm_token_identity *tok, const unsigned char *id,
                            size_t idlen, const char *label, const char *type);

#endif
