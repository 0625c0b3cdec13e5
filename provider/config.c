#include "provider/provider.h"

#include "uri/pin_source.h"

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
        /* "file:PATH" and "env:NAME" are read at each login, so an operator
         * can change them without restarting the host. */
        cfg->token_pin = hsm_pin_dup(token_pin);
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
    hsm_pin_free(cfg->token_pin);
    memset(cfg, 0, sizeof(*cfg));
}
