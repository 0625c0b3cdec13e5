/* The provider's own context and the pieces its files share. */
#ifndef HSM_PROVIDER_PROVIDER_H
#define HSM_PROVIDER_PROVIDER_H

#include "cache/audit_log.h"
#include "cache/error.h"
#include "cache/key_identity.h"
#include "provider/options.h"

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <pthread.h>
#include <stdbool.h>

/* rsa-pkcs1-decryption: what PKCS#1 v1.5 decryption may do. */
enum hsm_pkcs1_decryption {
    /* implicit-rejection (default): over raw RSA on the token, a bad
     * padding answered with a synthetic plaintext; refused where the
     * token does not offer raw RSA for the key. */
    HSM_PKCS1_DECRYPTION_IMPLICIT = 0,
    /* implicit-rejection-or-token: the same, and where raw RSA is not
     * offered, the token's own v1.5 decryption (its padding answers are
     * its own: a possible padding oracle). */
    HSM_PKCS1_DECRYPTION_IMPLICIT_OR_TOKEN,
    /* refuse: no PKCS#1 v1.5 decryption at all (OAEP only). */
    HSM_PKCS1_DECRYPTION_REFUSE,
};

struct hsm_token_pin;

struct hsm_config {
    char *module_path;               /* NULL: p11-kit's proxy */
    char *module_init_args;          /* pReserved for C_Initialize, or NULL */
    struct hsm_token_pin *token_pin; /* pkcs11-module-token-pin, or NULL */
    bool verify_signatures;          /* verify-after-sign */
    bool check_possession;           /* sign a challenge on load */
    bool pin_file_allow_shared;      /* accept PIN files others can read */
    bool prefer_other_providers;     /* other providers serve fetches not asking for hsm */
    enum hsm_pkcs1_decryption pkcs1_decryption;
    struct hsm_audit_log *audit; /* audit-log; NULL: key uses are not recorded */
};

struct hsm_provctx {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx;
    struct hsm_config config;
    struct hsm_module *module; /* loaded on first use; read and set atomically */
    char buildinfo[1200];      /* the build and the configured module (provider.c) */
};

/* The configuration from the options' values (provider/options.h; NULL:
 * unset); raises and returns false when a value is not one the option
 * takes. Also sets the retry intervals, which are process-wide. */
bool hsm_config_from_options(struct hsm_config *cfg, const char *const values[HSM_OPT_COUNT]);
void hsm_config_clear(struct hsm_config *cfg);

/* The module named by the configuration, loaded on first use. */
struct hsm_module *hsm_provctx_module(struct hsm_provctx *ctx);

/* Proves on load that the token holds the private half of |key|. */
bool hsm_prove_possession(struct hsm_provctx *ctx, struct hsm_key *key);
bool hsm_prove_possession_hook(void *provctx, struct hsm_key *key);

/* With check-possession on: proves possession now and whenever the key is
 * found anew later. */
bool hsm_key_arm_possession_proof(struct hsm_provctx *prov, struct hsm_key *key);

/* Dispatch tables, one per algorithm and operation. */
extern const OSSL_DISPATCH hsm_store_functions[];
extern const OSSL_DISPATCH hsm_keymgmt_rsa_functions[];
extern const OSSL_DISPATCH hsm_keymgmt_rsa_pss_functions[];
extern const OSSL_DISPATCH hsm_keymgmt_ec_functions[];
extern const OSSL_DISPATCH hsm_keymgmt_ed25519_functions[];
extern const OSSL_DISPATCH hsm_keymgmt_ed448_functions[];
extern const OSSL_DISPATCH hsm_signature_rsa_functions[];
extern const OSSL_DISPATCH hsm_signature_ecdsa_functions[];
extern const OSSL_DISPATCH hsm_signature_eddsa_functions[];
extern const OSSL_DISPATCH hsm_asym_cipher_rsa_functions[];
extern const OSSL_DISPATCH hsm_keyexch_ecdh_functions[];

#endif
