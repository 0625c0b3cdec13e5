/*
 * The operator's debug log: HSM_DEBUG_LOG=/path/file (and HSM_DEBUG_LEVEL=
 * 1 for the calls that matter, 2 for every PKCS#11 call the provider makes)
 * appends one line per event with the time, thread, PKCS#11 function, its
 * CKR_ name and the key or token involved. PINs are never written.
 */
#ifndef HSM_CACHE_DEBUG_LOG_H
#define HSM_CACHE_DEBUG_LOG_H

#include <p11-kit/pkcs11.h>

/* 0 when the log is off; read once from the environment. */
int hsm_debug_level(void);

void hsm_debug(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "C_Sign -> CKR_OK (what)" at |level|. */
void hsm_debug_call(int level, const char *func, CK_RV rv, const char *what);

#endif
