#include "provider/options.h"

#include "cache/backoff.h"

#include <openssl/params.h>

#define MS_RANGE "a number of milliseconds, 1 to 3600000"
#define DECIMAL_(n) #n
#define DECIMAL(n) DECIMAL_(n)

const struct hsm_option hsm_options[HSM_OPT_COUNT] = {
    [HSM_OPT_MODULE_PATH] = {"pkcs11-module-path", "a path to a PKCS#11 module", NULL,
                             "The PKCS#11 module to load; unset, p11-kit's proxy module, which "
                             "offers every module registered with p11-kit."},
    [HSM_OPT_MODULE_INIT_ARGS] = {"pkcs11-module-init-args", "a string", NULL,
                                  "Passed to the module's C_Initialize as pReserved (NSS "
                                  "softoken's configdir=... string); unset, none."},
    [HSM_OPT_PIN_FILE_ALLOW_SHARED] = {"pin-file-allow-shared", "yes | no", "no",
                                       "Accept PIN files that the group or others may access; "
                                       "a PIN file must still belong to root or to the "
                                       "process's user."},
    [HSM_OPT_TOKEN_PIN] = {"pkcs11-module-token-pin", "PIN | file:PATH | env:NAME", NULL,
                           "The user PIN for tokens the URI gives no PIN for: the PIN itself, "
                           "a file read when the provider starts, or an environment variable; "
                           "unset, OpenSSL's prompt."},
    [HSM_OPT_VERIFY_SIGNATURES] = {"verify-signatures", "yes | no", "yes",
                                   "Verify every signature with the token's public key before "
                                   "returning it."},
    [HSM_OPT_CHECK_POSSESSION] = {"check-possession", "yes | no", "yes",
                                  "Have the token sign a challenge when a key is loaded or found "
                                  "anew, proving it holds the private half of the public key "
                                  "read."},
    [HSM_OPT_PREFER_OTHER_PROVIDERS] = {"prefer-other-providers", "yes | no", "yes",
                                        "Let other providers serve fetches that do not ask for "
                                        "hsm, so that only token keys come to this provider."},
    [HSM_OPT_RSA_PKCS1_DECRYPTION] = {"rsa-pkcs1-decryption",
                                      "implicit-rejection | implicit-rejection-or-token | refuse",
                                      "implicit-rejection",
                                      "What PKCS#1 v1.5 decryption may do: implicit rejection "
                                      "over raw RSA, also the token's own v1.5 decryption where "
                                      "raw RSA is not offered, or none."},
    [HSM_OPT_RETRY_INTERVAL_MIN_MS] = {"retry-interval-min-ms", MS_RANGE,
                                       DECIMAL(HSM_BACKOFF_MIN_MS_DEFAULT),
                                       "The first wait before a module or key that failed is "
                                       "tried again; the wait doubles on each failure."},
    [HSM_OPT_RETRY_INTERVAL_MAX_MS] = {"retry-interval-max-ms", MS_RANGE,
                                       DECIMAL(HSM_BACKOFF_MAX_MS_DEFAULT),
                                       "The longest wait before a failed module or key is tried "
                                       "again."},
    [HSM_OPT_AUDIT_LOG] = {"audit-log", "an absolute path", NULL,
                           "Append a chained record of every use and refusal of a token key "
                           "to this file, flushed before the result is returned; unset, no "
                           "record is kept."},
    [HSM_OPT_AUDIT_LOG_KEYS] = {"audit-log-keys", "pkcs11: URIs separated by commas", NULL,
                                "Record only the uses of keys one of these URIs names (refusals "
                                "before a key is known are always recorded); unset, every key."},
    [HSM_OPT_AUDIT_LOG_ON_FAILURE] = {"audit-log-on-failure", "fail | continue", "fail",
                                      "What a key use whose record cannot be written does: fail "
                                      "and return nothing, or go on and say so once."},
};

bool hsm_options_get(OSSL_FUNC_core_get_params_fn *get_params, const OSSL_CORE_HANDLE *handle,
                     const char *values[HSM_OPT_COUNT])
{
    OSSL_PARAM params[HSM_OPT_COUNT + 1];
    char *got[HSM_OPT_COUNT] = {NULL};

    for (int i = 0; i < HSM_OPT_COUNT; i++)
        params[i] = OSSL_PARAM_construct_utf8_ptr(hsm_options[i].name, &got[i], 0);
    params[HSM_OPT_COUNT] = OSSL_PARAM_construct_end();
    if (get_params == NULL || !get_params(handle, params))
        return false;
    for (int i = 0; i < HSM_OPT_COUNT; i++)
        values[i] = got[i];
    return true;
}

const char *hsm_option_value(const char *const values[HSM_OPT_COUNT], enum hsm_option_id id)
{
    return values[id] != NULL ? values[id] : hsm_options[id].default_value;
}
