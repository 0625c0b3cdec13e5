/*
 * Shared shape of every wrapper: shim_begin() may inject a result (then the
 * real module is not called), otherwise the real function runs; the result
 * goes out through shim_end(), which logs it.
 */
#ifndef HSM_FAULT_SHIM_FWD_H
#define HSM_FAULT_SHIM_FWD_H

#include "shim.h"

#define R (shim_real())

#define SHIM_BEGIN(fn)                                                                             \
    CK_RV rv;                                                                                      \
    if (shim_begin(SHIM_##fn, &rv))                                                                \
    return shim_end(SHIM_##fn, rv)

#define SHIM_RETURN(fn) return shim_end(SHIM_##fn, rv)

#endif
