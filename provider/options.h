/*
 * The provider's configuration options, in one table: each option's name
 * in an openssl.cnf provider section, the values it takes, its default and
 * what it does. The defaults here are the ones parsed when an option is
 * unset; docs/configuration.md and the man page describe every row (a
 * test compares them with hsm-options, which prints this table).
 */
#ifndef HSM_PROVIDER_OPTIONS_H
#define HSM_PROVIDER_OPTIONS_H

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <stdbool.h>

enum hsm_option_id {
    HSM_OPT_MODULE_PATH,
    HSM_OPT_MODULE_INIT_ARGS,
    HSM_OPT_PIN_FILE_ALLOW_SHARED, /* before the PIN: it rules how a PIN file is read */
    HSM_OPT_TOKEN_PIN,
    HSM_OPT_VERIFY_SIGNATURES,
    HSM_OPT_CHECK_POSSESSION,
    HSM_OPT_PREFER_OTHER_PROVIDERS,
    HSM_OPT_RSA_PKCS1_DECRYPTION,
    HSM_OPT_RETRY_INTERVAL_MIN_MS,
    HSM_OPT_RETRY_INTERVAL_MAX_MS,
    HSM_OPT_AUDIT_LOG,
    HSM_OPT_AUDIT_LOG_KEYS,
    HSM_OPT_AUDIT_LOG_ON_FAILURE,
    HSM_OPT_COUNT
};

struct hsm_option {
    const char *name;
    const char *values;        /* the accepted values, as a person writes them */
    const char *default_value; /* parsed when the option is unset; NULL: none */
    const char *meaning;       /* one sentence; what an unset value means included */
};

extern const struct hsm_option hsm_options[HSM_OPT_COUNT];

/* Asks the core for every option of the provider's section: values[i] is
 * the configured string or NULL. The strings stay the core's. */
bool hsm_options_get(OSSL_FUNC_core_get_params_fn *get_params, const OSSL_CORE_HANDLE *handle,
                     const char *values[HSM_OPT_COUNT]);

/* values[i] when set, else the option's default. */
const char *hsm_option_value(const char *const values[HSM_OPT_COUNT], enum hsm_option_id id);

#endif
