/*
 * The debug log at level 3 names each parameter OpenSSL asked of the
 * provider that it did not answer, and each one OpenSSL set that the
 * provider does not take: that is how what a new OpenSSL release asks of
 * a provider is found (docs/platforms.md lists what 3.5 asks).
 */
#ifndef HSM_PROVIDER_PARAM_TRACE_H
#define HSM_PROVIDER_PARAM_TRACE_H

#include <openssl/core.h>

/* After a get: the names left unmodified. */
void hsm_params_trace_get(const char *where, const OSSL_PARAM *params);

/* Before or after a set: the names not in |settable| (NULL: none taken). */
void hsm_params_trace_set(const char *where, const OSSL_PARAM *params, const OSSL_PARAM *settable);

#endif
