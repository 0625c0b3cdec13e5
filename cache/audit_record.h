/*
 * What every audit record says about the process that made it: when, on
 * which host, which process and program, its command line with secrets
 * masked, and which user. Read afresh for each record: a forked child or a
 * server that changed its user says so in its own records.
 */
#ifndef HSM_CACHE_AUDIT_RECORD_H
#define HSM_CACHE_AUDIT_RECORD_H

#include "cache/audit_json.h"

#include <stddef.h>

/* At most this many bytes of arguments are recorded; the number of
 * arguments left out is then "cmdline_omitted". */
#define HSM_AUDIT_CMDLINE_MAX 8192

/* Adds "time", "host", "pid", "program", "cmdline" (and
 * "cmdline_omitted"), "uid", "user" (and "euid" when it differs). Facts
 * that cannot be read are left out, never written empty. */
void hsm_audit_process_facts(struct hsm_json *j);

/*
 * One command-line argument as it is recorded: the argument after
 * -passin, -passout, -pass, -password or -pin (any number of leading
 * dashes) becomes "****", and so do a pin-value in a pkcs11: URI, what
 * follows "pass:" at the start of an argument or after '=', and the value
 * of --option=VALUE for those options. |prev| is the argument before
 * (NULL for the first). malloc'd; NULL when out of memory.
 */
char *hsm_audit_mask_argument(const char *prev, const char *arg);

/* The masked command line of the process as a JSON member "cmdline" (from
 * the NUL-separated |raw|, as /proc/self/cmdline gives it). Exposed for
 * tests. */
void hsm_audit_cmdline(struct hsm_json *j, const char *raw, size_t len);

#endif
