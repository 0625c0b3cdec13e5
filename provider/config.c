#include "provider/provider.h"

#include "cache/backoff.h"
#include "provider/options.h"
#include "provider/token_pin.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool parse_bool(const char *name, const char *value, bool *out)
{
    if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
        strcmp(value, "1") == 0 || strcasecmp(value, "on") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 ||
        strcmp(value, "0") == 0 || strcasecmp(value, "off") == 0) {
        *out = false;
        return true;
    }
    hsm_error(HSM_R_CONFIG, "%s = \"%s\": use yes or no", name, value);
    return false;
}

static bool parse_ms(const char *name, const char *value, unsigned *out)
{
    char *end;
    unsigned long v;

    v = strtoul(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || v == 0 || v > 3600000) {
        hsm_error(HSM_R_CONFIG, "%s = \"%s\": use a number of milliseconds (1 to 3600000)", name,
                  value);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

static bool config_bool(const char *const values[HSM_OPT_COUNT], enum hsm_option_id id, bool *out)
{
    return parse_bool(hsm_options[id].name, hsm_option_value(values, id), out);
}

static bool config_ms(const char *const values[HSM_OPT_COUNT], enum hsm_option_id id, unsigned *out)
{
    return parse_ms(hsm_options[id].name, hsm_option_value(values, id), out);
}

static bool config_backoff(unsigned min_ms, unsigned max_ms)
{
    if (max_ms < min_ms) {
        hsm_error(HSM_R_CONFIG,
                  "retry-interval-min-ms = %u and retry-interval-max-ms = %u: the minimum must "
                  "be at most the maximum",
                  min_ms, max_ms);
        return false;
    }
    hsm_backoff_configure(min_ms, max_ms);
    return true;
}

static bool config_pkcs1_decryption(const char *value, enum hsm_pkcs1_decryption *out)
{
    if (strcmp(value, "implicit-rejection") == 0)
        *out = HSM_PKCS1_DECRYPTION_IMPLICIT;
    else if (strcmp(value, "implicit-rejection-or-token") == 0)
        *out = HSM_PKCS1_DECRYPTION_IMPLICIT_OR_TOKEN;
    else if (strcmp(value, "refuse") == 0)
        *out = HSM_PKCS1_DECRYPTION_REFUSE;
    else {
        hsm_error(HSM_R_CONFIG,
                  "rsa-pkcs1-decryption = \"%s\": use implicit-rejection, "
                  "implicit-rejection-or-token or refuse",
                  value);
        return false;
    }
    return true;
}

static bool config_module_init_args(struct hsm_config *cfg, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return true;
    if ((cfg->module_init_args = strdup(value)) == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return false;
    }
    return true;
}

/* audit-log-keys and audit-log-on-failure say nothing without audit-log:
 * set alone, they are a mistake (a log someone expects and that is not
 * kept), so the provider does not start. */
static bool config_audit(struct hsm_config *cfg, const char *const values[HSM_OPT_COUNT])
{
    static const enum hsm_option_id needs_log[] = {HSM_OPT_AUDIT_LOG_KEYS,
                                                   HSM_OPT_AUDIT_LOG_ON_FAILURE};
    const char *path = values[HSM_OPT_AUDIT_LOG];

    if (path != NULL && path[0] != '\0')
        return hsm_audit_log_configure(path, values[HSM_OPT_AUDIT_LOG_KEYS],
                                       hsm_option_value(values, HSM_OPT_AUDIT_LOG_ON_FAILURE),
                                       &cfg->audit);
    for (size_t i = 0; i < sizeof(needs_log) / sizeof(needs_log[0]); i++) {
        const char *v = values[needs_log[i]];

        if (v != NULL && v[0] != '\0') {
            hsm_error(HSM_R_CONFIG,
                      "%s is set but audit-log is not: set audit-log = PATH to "
                      "record key uses",
                      hsm_options[needs_log[i]].name);
            return false;
        }
    }
    return true;
}

bool hsm_config_from_options(struct hsm_config *cfg, const char *const values[HSM_OPT_COUNT])
{
    const char *module = values[HSM_OPT_MODULE_PATH], *pin = values[HSM_OPT_TOKEN_PIN];
    unsigned min_ms, max_ms;

    memset(cfg, 0, sizeof(*cfg));
    if (!config_bool(values, HSM_OPT_VERIFY_SIGNATURES, &cfg->verify_signatures) ||
        !config_bool(values, HSM_OPT_CHECK_POSSESSION, &cfg->check_possession) ||
        !config_bool(values, HSM_OPT_PIN_FILE_ALLOW_SHARED, &cfg->pin_file_allow_shared) ||
        !config_bool(values, HSM_OPT_PREFER_OTHER_PROVIDERS, &cfg->prefer_other_providers) ||
        !config_pkcs1_decryption(hsm_option_value(values, HSM_OPT_RSA_PKCS1_DECRYPTION),
                                 &cfg->pkcs1_decryption) ||
        !config_ms(values, HSM_OPT_RETRY_INTERVAL_MIN_MS, &min_ms) ||
        !config_ms(values, HSM_OPT_RETRY_INTERVAL_MAX_MS, &max_ms) ||
        !config_backoff(min_ms, max_ms))
        return false;
    if (module != NULL && module[0] != '\0' && (cfg->module_path = strdup(module)) == NULL)
        goto oom;
    if (!config_module_init_args(cfg, values[HSM_OPT_MODULE_INIT_ARGS]) ||
        !config_audit(cfg, values))
        goto fail;
    if (pin != NULL && pin[0] != '\0') {
        /* A PIN file is read now, while the host still runs as the user
         * that starts it (token_pin.h). */
        cfg->token_pin = hsm_token_pin_new(pin, cfg->pin_file_allow_shared);
        if (cfg->token_pin == NULL)
            goto fail;
    }
    return true;
oom:
    hsm_error(HSM_R_INTERNAL, "out of memory");
fail:
    hsm_config_clear(cfg);
    return false;
}

void hsm_config_clear(struct hsm_config *cfg)
{
    free(cfg->module_path);
    free(cfg->module_init_args);
    hsm_token_pin_free(cfg->token_pin);
    hsm_audit_log_free(cfg->audit);
    memset(cfg, 0, sizeof(*cfg));
}
