/*
 * The audit log as a file and a hash chain (docs/audit-log.md). Each line
 * is one record ending in "hash": the SHA-256 of the line's bytes before
 * the comma that opens that member. Every record after the header carries
 * "prev", the hash of the line before it, and "seq", its number: line 1 is
 * the header (seq 0), the chain's first link. Appends hold a write lock on
 * the file (fcntl) and read the last link under it, so processes and
 * threads that share a log extend one chain; readers hold a read lock.
 */
#ifndef HSM_CACHE_AUDIT_CHAIN_H
#define HSM_CACHE_AUDIT_CHAIN_H

#include "cache/audit_json.h"

#include <stdbool.h>
#include <stddef.h>

#define HSM_AUDIT_FORMAT_VERSION 1

/* "2025-06-01T12:00:00.123456Z": now, in UTC. */
void hsm_audit_utc_now(char out[32]);

/*
 * Appends one record whose members (JSON, no braces) follow "v" and "seq"
 * and begin with "type". Creates the file (mode 0600, never through a
 * symbolic link) with its header when it is empty. Returns once the record
 * is written and fsync'ed; otherwise the file is cut back to its length
 * before, HSM_R_AUDIT_LOG is raised and false returned. |link| (may be
 * NULL) receives the new record's seq and hash.
 */
struct hsm_audit_link {
    unsigned long long seq;
    char hash[65];
};
bool hsm_audit_append(const char *path, const char *members, size_t len,
                      struct hsm_audit_link *link);

/* One line of a log as it is read. */
struct hsm_audit_line {
    size_t number;    /* 1-based */
    const char *text; /* without the newline */
    size_t len;
    const struct hsm_json_object *obj; /* NULL when the line is not a record */
    bool linked;                       /* the chain holds up to this line */
};

/* The first broken link, if any. */
struct hsm_audit_verdict {
    size_t lines;       /* lines read */
    size_t broken_line; /* 0: every line is a record and the chain holds */
    char why[512];
};

/* Called for every line; false stops the reading. */
typedef bool hsm_audit_visit(void *arg, const struct hsm_audit_line *line);

/*
 * Reads the log under a read lock, checks the format and every link, and
 * calls |visit| (may be NULL) for each line. False (and HSM_R_AUDIT_LOG
 * raised) only when the file cannot be read; a broken chain is reported in
 * |verdict|.
 */
bool hsm_audit_read(const char *path, hsm_audit_visit *visit, void *arg,
                    struct hsm_audit_verdict *verdict);

/* SHA-256 of a line's body, as lowercase hex; false when |text| does not
 * end in a "hash" member. Exposed for the verifier's tests. */
bool hsm_audit_line_hash(const char *text, size_t len, char hex[65]);

#endif
