/* Reasons and the one function every layer uses to report a failure. */
#ifndef HSM_CACHE_ERROR_H
#define HSM_CACHE_ERROR_H

#include <openssl/core.h>
#include <p11-kit/pkcs11.h>
#include <stdarg.h>
#include <stdbool.h>

enum hsm_reason {
    HSM_R_INTERNAL = 1,
    HSM_R_CONFIG,
    HSM_R_URI_MALFORMED,
    HSM_R_URI_UNKNOWN_ATTRIBUTE,
    HSM_R_MODULE_NOT_ALLOWED,
    HSM_R_MODULE_LOAD,
    HSM_R_PKCS11,
    HSM_R_NO_TOKEN,
    HSM_R_AMBIGUOUS_TOKEN,
    HSM_R_NO_OBJECT,
    HSM_R_AMBIGUOUS_OBJECT,
    HSM_R_PIN_REQUIRED,
    HSM_R_PIN_INCORRECT,
    HSM_R_PIN_LOCKED,
    HSM_R_PIN_SOURCE,
    HSM_R_PUBLIC_KEY_MISMATCH,
    HSM_R_KEY_CHANGED,
    HSM_R_POSSESSION_FAILED,
    HSM_R_SIGNATURE_INVALID,
    HSM_R_UNSUPPORTED,
    HSM_R_TOKEN_GONE,
    HSM_R_BAD_INPUT,
    HSM_R_OBJECT_EXISTS,
    HSM_R_PUBLIC_KEY_INVALID,
    HSM_R_AUDIT_LOG,
    HSM_R_LAST = HSM_R_AUDIT_LOG,
};

/* Reason table registered with OpenSSL; terminated by {0, NULL}. */
extern const OSSL_ITEM hsm_reason_strings[];

/*
 * Raises one error: the reason's fixed text plus a detail line that says
 * what was asked, where, and what to do. Callers never put a PIN in |fmt|.
 */
void hsm_error_at(const char *file, int line, enum hsm_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define hsm_error(...) hsm_error_at(__FILE__, __LINE__, __VA_ARGS__)

/* Same, for a failed PKCS#11 call: the detail gets "FUNC: CKR_NAME". */
void hsm_error_rv_at(const char *file, int line, enum hsm_reason reason, const char *func, CK_RV rv,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
#define hsm_error_rv(...) hsm_error_rv_at(__FILE__, __LINE__, __VA_ARGS__)

/* The provider routes errors to OpenSSL's core; without a sink (unit tests,
 * benchmark) the last error is kept and can be read back. */
typedef void hsm_error_sink(int reason, const char *file, int line, const char *detail);
void hsm_error_set_sink(hsm_error_sink *sink);
const char *hsm_error_last_detail(void);
int hsm_error_last_reason(void);

/* Brackets calls into a PKCS#11 module: see error.c. */
void hsm_error_mark_push(void);
void hsm_error_mark_pop(void);
/* ERR_set_mark, ERR_pop_to_mark and ERR_clear_last_mark for code that
 * discards errors of ours: what is discarded is not raised again when a
 * module bracket is left. */
void hsm_error_set_mark(void);
void hsm_error_pop_to_mark(void);
void hsm_error_clear_last_mark(void);
/* Is this thread inside a call into a PKCS#11 module? Asking from a
 * provider entry point also records that the module re-entered it. */
bool hsm_error_inside_module(void);
void hsm_reentered_reset(void);
bool hsm_reentered_from_module(void);

/* "CKR_PIN_INCORRECT" for 0xa0; "CKR_0x..." for codes with no name. */
const char *hsm_ckr_name(CK_RV rv, char buf[32]);
const char *hsm_ckm_name(CK_MECHANISM_TYPE mech, char buf[32]);

#endif
