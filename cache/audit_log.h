/*
 * The audit log of key uses (audit-log = PATH): one chained record per
 * private-key operation and per refusal of the policy, written and
 * fsync'ed before the operation's result goes back to the caller
 * (docs/audit-log.md has the format).
 */
#ifndef HSM_CACHE_AUDIT_LOG_H
#define HSM_CACHE_AUDIT_LOG_H

#include "cache/error.h"
#include "cache/key_identity.h"
#include "cache/token.h"

#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stddef.h>

/* The configured log; NULL when audit-log is not set. */
struct hsm_audit_log;

/*
 * From the options audit-log (|path|: set, and absolute), audit-log-keys
 * (pkcs11: URIs separated by commas: only keys one of them names are
 * recorded; NULL or empty: every key) and audit-log-on-failure (fail or
 * continue; the caller passes the table's default when it is unset).
 * Raises HSM_R_CONFIG and returns false on a bad value.
 */
bool hsm_audit_log_configure(const char *path, const char *keys, const char *on_failure,
                             struct hsm_audit_log **out);
void hsm_audit_log_free(struct hsm_audit_log *log);
const char *hsm_audit_log_path(const struct hsm_audit_log *log);

enum hsm_audit_op {
    HSM_AUDIT_SIGN = 1,
    HSM_AUDIT_PROVE_POSSESSION,
    HSM_AUDIT_DECRYPT,
    HSM_AUDIT_DERIVE,
    HSM_AUDIT_GENERATE,
    HSM_AUDIT_LOAD, /* a refusal while a URI was opened: no key yet */
};

/* One use of a key, or one refusal. Absent facts are NULL and are left out
 * of the record. */
struct hsm_audit_event {
    enum hsm_audit_op op;
    /* The key used or refused; NULL when none was identified yet. */
    const struct hsm_key *key;
    /* Without a key: the URI as asked, without its PIN, and the token
     * chosen, if one was. */
    const char *uri;
    const struct hsm_token_identity *token;
    const CK_MECHANISM_TYPE *mechanism;
    const char *digest; /* OpenSSL's name of the signature's digest */
    /* What the key was applied to, recorded as its SHA-256 and length:
     * the digest signed (before any DigestInfo), the whole message for
     * EdDSA, the ciphertext, the peer's public key. NULL: absent (pass a
     * non-NULL pointer for empty data). */
    const unsigned char *data;
    size_t data_len;
    /* The signature returned (OpenSSL's format), recorded as its SHA-256.
     * Never a plaintext or a secret. */
    const unsigned char *signature;
    size_t signature_len;
    /* false: a refusal. Its reason is |reason|, or when that is 0 the
     * error this thread raised last (reason and detail). */
    bool ok;
    enum hsm_reason reason;
    const char *detail;
};

/*
 * Writes |ev| to |log| (NULL: the log is off, nothing to do) unless
 * audit-log-keys leaves its key out. Returns false only when the record
 * could not be written and audit-log-on-failure is fail: the caller then
 * fails the operation and returns no result (HSM_R_AUDIT_LOG is raised).
 * With continue, a failure is reported once per process on stderr and in
 * the debug log, and true is returned. Called with no lock held, outside
 * the fork gate and every module call: it waits for the file lock and
 * for fsync.
 */
bool hsm_audit_operation(const struct hsm_audit_log *log, const struct hsm_audit_event *ev);

/* Appends a note record (a ceremony step, a witness) to the log at
 * |path|, under the same lock; |link| (may be NULL) receives its seq and
 * hash. Raises and returns false on failure. */
struct hsm_audit_link;
bool hsm_audit_note(const char *path, const char *text, struct hsm_audit_link *link);

/* Does the pkcs11: URI |filter| name the key whose canonical URI is
 * |key_uri|? Token and object attributes are compared (p11-kit's
 * matching); library and slot attributes are not. */
struct hsm_uri;
bool hsm_audit_uri_names(const struct hsm_uri *filter, const char *key_uri);

#endif
