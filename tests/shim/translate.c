/*
 * Object handles crossing the shim: the caller's number (virtual, or
 * synthetic under snapshot-serve) becomes the real module's handle on the
 * way in, and a *_HANDLE_INVALID on the way out tells reuse-handles that a
 * number may be free.
 */
#include "shim.h"

CK_OBJECT_HANDLE objects_in(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    if (h == CK_INVALID_HANDLE)
        return CK_INVALID_HANDLE;
    /* A synthetic (stale) handle is used as the token's current object:
     * the stale view lies about which key it is, the card does not. */
    if (SHIM_IS_SYNTHETIC(h))
        return snapshot_resolve(s, h);
    /* An unknown number goes in as CK_INVALID_HANDLE, so the real module
     * gives its own error for it, in its own order of checks. */
    return handles_to_real(h);
}

void objects_after(CK_SESSION_HANDLE s, CK_RV rv, const CK_OBJECT_HANDLE *h, size_t n)
{
    if (shim_rv_is_handle_invalid(rv))
        handles_check_gone(s, h, n);
}
