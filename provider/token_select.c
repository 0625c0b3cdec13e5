/* Which tokens a URI names: found afresh, and exactly one when one thing is
 * to be used. */
#include "provider/token_select.h"

#include "cache/error.h"
#include "cache/module_caching.h"
#include "uri/uri.h"

#include <stdio.h>
#include <string.h>

void hsm_describe_tokens(struct hsm_token **toks, int n, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < n && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s'%s' (serial %s)", i ? ", " : "",
                                 toks[i]->id.label, toks[i]->id.serial);
    if (n == 0)
        snprintf(buf, len, "none");
}

int hsm_select_tokens(struct hsm_module *mod, const struct hsm_uri *uri, bool single,
                      struct hsm_token ***toks)
{
    struct hsm_token_scan scan = {0};
    char list[600];
    unsigned generation;
    bool reinitialized = false;
    int n;

    /* A module that keeps its view for the life of the process is
     * initialised again first when its store changed (restart equivalence). */
    if (!hsm_module_refresh_if_outdated(mod) || hsm_module_enter(mod, &generation) == NULL)
        return -1;
    hsm_module_leave(mod);
    n = hsm_tokens_find(mod, uri, NULL, toks, NULL);
    if (n == 0) {
        /* A module that fixed its slot list at C_Initialize (SoftHSMv2) does
         * not show a token created since; a fresh process would see it.
         * While an earlier attempt's wait runs (a URI naming no token, a
         * remote module whose server is down), the module is not
         * initialised again: the slot list read below says what is there. */
        hsm_tokens_put_all(*toks, 0);
        *toks = NULL;
        hsm_error_set_mark();
        reinitialized = hsm_module_reinitialize(mod, generation);
        hsm_error_pop_to_mark();
        n = hsm_tokens_find(mod, uri, NULL, toks, &scan);
        if (reinitialized && n > 0)
            hsm_module_recovery(mod, true);
    }
    if (n < 0)
        return -1;
    if (n == 0) {
        hsm_tokens_put_all(*toks, 0);
        *toks = NULL;
        struct hsm_token **all = NULL;
        int n_all = hsm_tokens_find(mod, NULL, NULL, &all, NULL);
        char problem[160];

        hsm_describe_tokens(all, n_all < 0 ? 0 : n_all, list, sizeof(list));
        hsm_tokens_put_all(all, n_all < 0 ? 0 : n_all);
        hsm_token_scan_describe(&scan, problem, sizeof(problem));
        hsm_error(HSM_R_NO_TOKEN, "%s: no token matches; tokens present in %s: %s%s", uri->redacted,
                  hsm_module_path(mod), list, problem);
        if (reinitialized)
            hsm_module_recovery(mod, false);
        return -1;
    }
    if (n > 1 && single) {
        hsm_refuse_several_tokens(uri, *toks, n);
        hsm_tokens_put_all(*toks, n);
        *toks = NULL;
        return -1;
    }
    return n;
}

void hsm_refuse_several_tokens(const struct hsm_uri *uri, struct hsm_token **toks, int n)
{
    char list[600];

    hsm_describe_tokens(toks, n, list, sizeof(list));
    hsm_error(HSM_R_AMBIGUOUS_TOKEN,
              "%s matches %d tokens: %s; add serial=... to the URI to choose one", uri->redacted, n,
              list);
}

bool hsm_uri_module_allowed(const char *configured, const struct hsm_uri *uri)
{
    const char *asked = hsm_uri_module_path(uri);

    if (asked == NULL || (configured != NULL && strcmp(asked, configured) == 0))
        return true;
    hsm_error(HSM_R_MODULE_NOT_ALLOWED,
              "%s asks for module-path %s, but the provider is configured for %s; a URI never "
              "loads a library. Set pkcs11-module-path in the configuration instead",
              uri->redacted, asked, configured != NULL ? configured : HSM_DEFAULT_MODULE);
    return false;
}
