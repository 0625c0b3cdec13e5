/*
 * Reading from the real module on the shim's own behalf (wrong-pubkey needs
 * an object's CKA_ID and curve, snapshots read every attribute). These calls
 * go straight to the real module: they are not the caller's calls, so they
 * are neither counted by `fail` nor logged.
 */
#include "shim.h"

#include <stdlib.h>

CK_RV attrs_get_real(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE real, CK_ATTRIBUTE_TYPE type,
                     unsigned char **val, CK_ULONG *len)
{
    CK_ATTRIBUTE a = {type, NULL, 0};
    CK_RV rv = shim_real()->C_GetAttributeValue(s, real, &a, 1);
    if (rv != CKR_OK)
        return rv;
    if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return CKR_ATTRIBUTE_TYPE_INVALID;
    unsigned char *buf = malloc(a.ulValueLen ? a.ulValueLen : 1);
    if (!buf)
        return CKR_HOST_MEMORY;
    a.pValue = buf;
    rv = shim_real()->C_GetAttributeValue(s, real, &a, 1);
    if (rv != CKR_OK) {
        free(buf);
        return rv;
    }
    *val = buf;
    *len = a.ulValueLen;
    return CKR_OK;
}

CK_RV attrs_find_real(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **out,
                      size_t *count)
{
    CK_FUNCTION_LIST *r = shim_real();
    *out = NULL;
    *count = 0;
    CK_RV rv = r->C_FindObjectsInit(s, tmpl, n);
    if (rv != CKR_OK)
        return rv;
    CK_OBJECT_HANDLE *found = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (used == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            CK_OBJECT_HANDLE *grown = realloc(found, ncap * sizeof *grown);
            if (!grown) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            found = grown;
            cap = ncap;
        }
        CK_ULONG got = 0;
        rv = r->C_FindObjects(s, found + used, (CK_ULONG)(cap - used), &got);
        if (rv != CKR_OK || got == 0)
            break;
        used += got;
    }
    r->C_FindObjectsFinal(s);
    if (rv != CKR_OK) {
        free(found);
        return rv;
    }
    *out = found;
    *count = used;
    return CKR_OK;
}
