/* The parts of hsm-audit, one command each. */
#ifndef HSM_TOOLS_AUDIT_TOOL_H
#define HSM_TOOLS_AUDIT_TOOL_H

#include "cache/audit_chain.h"

#include <stdbool.h>
#include <stdio.h>

/* Exit statuses: the log holds (or the record was found); it does not
 * (broken chain, record missing); the command could not run. */
enum { AUDIT_EXIT_OK = 0, AUDIT_EXIT_FAILED = 1, AUDIT_EXIT_USAGE = 2 };

/* Prints one record readably. */
void audit_print_record(FILE *out, const struct hsm_audit_line *line);

/* Prints the broken link, if any; true when the chain holds. */
bool audit_report_verdict(FILE *out, const char *path, const struct hsm_audit_verdict *v);

int audit_show(const char *path, int argc, char **argv);

/* The data digest and signature hash a certificate's record must carry:
 * lowercase hex SHA-256s. False (with a message on stderr) when the file
 * is not a certificate this program can read. */
bool audit_cert_expect(const char *file, char data_sha256[65], char signature_sha256[65]);

/* Prints the last error the provider's code raised, after |what|. */
void audit_print_error(const char *what);

#endif
