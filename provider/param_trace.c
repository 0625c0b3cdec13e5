#include "provider/param_trace.h"

#include "cache/debug_log.h"

#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

#define TRACE_LEVEL 3

static void append(char *buf, size_t len, size_t *used, const char *key)
{
    if (*used < len)
        *used += (size_t)snprintf(buf + *used, len - *used, "%s%s", *used > 0 ? ", " : "", key);
}

void hsm_params_trace_get(const char *where, const OSSL_PARAM *params)
{
    char names[600];
    size_t used = 0;

    if (params == NULL || hsm_debug_level() < TRACE_LEVEL)
        return;
    for (const OSSL_PARAM *p = params; p->key != NULL; p++)
        if (!OSSL_PARAM_modified(p))
            append(names, sizeof(names), &used, p->key);
    if (used > 0)
        hsm_debug(TRACE_LEVEL, "%s: not answered: %s", where, names);
}

void hsm_params_trace_set(const char *where, const OSSL_PARAM *params, const OSSL_PARAM *settable)
{
    char names[600];
    size_t used = 0;

    if (params == NULL || hsm_debug_level() < TRACE_LEVEL)
        return;
    for (const OSSL_PARAM *p = params; p->key != NULL; p++)
        if (settable == NULL || OSSL_PARAM_locate_const(settable, p->key) == NULL)
            append(names, sizeof(names), &used, p->key);
    if (used > 0)
        hsm_debug(TRACE_LEVEL, "%s: not taken: %s", where, names);
}
