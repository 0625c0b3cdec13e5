#include "cache/module_rpc.h"

#include <p11-kit/p11-kit.h>
#include <stdlib.h>
#include <string.h>

bool hsm_module_file_is(const char *path, const char *file)
{
    const char *base;

    if (path == NULL)
        return false;
    base = strrchr(path, '/');
    return strcmp(base != NULL ? base + 1 : path, file) == 0;
}

/* Whether a module registered with p11-kit (which the proxy would load)
 * goes through the RPC client. Loading them is only dlopen and
 * C_GetFunctionList; none is initialised. Managed: p11-kit lists modules
 * with a `remote` setting only then. */
static bool proxy_reaches_rpc(void)
{
    CK_FUNCTION_LIST **mods = p11_kit_modules_load(NULL, 0);
    bool rpc = false;

    for (size_t i = 0; mods != NULL && mods[i] != NULL && !rpc; i++) {
        char *remote = p11_kit_config_option(mods[i], "remote");
        char *file = p11_kit_module_get_filename(mods[i]);

        rpc =
            (remote != NULL && remote[0] != '\0') || hsm_module_file_is(file, "p11-kit-client.so");
        free(remote);
        free(file);
    }
    if (mods != NULL)
        p11_kit_modules_release(mods);
    return rpc;
}

bool hsm_module_uses_p11kit_rpc(const char *path)
{
    if (hsm_module_file_is(path, "p11-kit-client.so"))
        return true;
    return hsm_module_file_is(path, "p11-kit-proxy.so") && proxy_reaches_rpc();
}
