#include "provider/provider.h"

#include "cache/backoff.h"
#include "provider/token_pin.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool hsm_config_bool(const char *name, const char *value, bool dflt, bool *out)
{
    if (value == NULL) {
        *out = dflt;
        return true;
    }
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

bool hsm_config_ms(const char *name, const char *value, unsigned dflt, unsigned *out)
{
    char *end;
    unsigned long v;

    if (value == NULL) {
        *out = dflt;
        return true;
    }
    v = strtoul(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || *end != '\0' || v > 3600000) {
        hsm_error(HSM_R_CONFIG, "%s = \"%s\": use a number of milliseconds (0 to 3600000)",
                  name, value);
        return false;
    }
    *out = (unsigned)v;
    return true;
}

bool hsm_config_backoff(unsigned min_ms, unsigned max_ms)
{
    if (min_ms == 0 || max_ms < min_ms) {
        hsm_error(HSM_R_CONFIG,
                  "retry-interval-min-ms = %u and retry-interval-max-ms = %u: the minimum must "
                  "be above 0 and at most the maximum",
                  min_ms, max_ms);
        return false;
    }
    hsm_backoff_configure(min_ms, max_ms);
    return true;
}

bool hsm_config_parse(struct hsm_config *cfg, const char *module_path, const char *token_pin,
                      const char *verify, const char *possession, const char *allow_shared)
{
    memset(cfg, 0, sizeof(*cfg));
    if (!hsm_config_bool("verify-signatures", verify, true, &cfg->verify_signatures) ||
        !hsm_config_bool("check-possession", possession, true, &cfg->check_possession) ||
        !hsm_config_bool("pin-file-allow-shared", allow_shared, false, &cfg->pin_file_allow_shared))
        return false;
    if (module_path != NULL && module_path[0] != '\0') {
        cfg->module_path = strdup(module_path);
        if (cfg->module_path == NULL)
            goto oom;
    }
    if (token_pin != NULL && token_pin[0] != '\0') {
        /* A PIN file is read now, while the host still runs as the user
         * that starts it (token_pin.h). */
        cfg->token_pin = hsm_token_pin_new(token_pin, cfg->pin_file_allow_shared);
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

bool hsm_config_module_init_args(struct hsm_config *cfg, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return true;
    if ((cfg->module_init_args = strdup(value)) == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return false;
    }
    return true;
}

void hsm_config_clear(struct hsm_config *cfg)
{
    free(cfg->module_path);
    free(cfg->module_init_args);
    hsm_token_pin_free(cfg->token_pin);
    memset(cfg, 0, sizeof(*cfg));
}
