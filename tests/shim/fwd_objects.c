/*
 * Object functions: where handles are translated (handles.c), where
 * snapshot-serve answers searches and attribute reads from its stale
 * record (snapshot.c), and where wrong-pubkey and degenerate-pubkey edit
 * what the token says (pubkey.c, degenerate.c).
 */
#include "fwd.h"

#include <stdlib.h>

static CK_RV shim_C_CreateObject(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                                 CK_OBJECT_HANDLE_PTR obj)
{
    SHIM_BEGIN(C_CreateObject);
    rv = R->C_CreateObject(s, tmpl, n, obj);
    if (rv == CKR_OK && obj)
        handles_from_real(s, obj, 1);
    SHIM_RETURN(C_CreateObject);
}

static CK_RV shim_C_CopyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl,
                               CK_ULONG n, CK_OBJECT_HANDLE_PTR copy)
{
    SHIM_BEGIN(C_CopyObject);
    rv = R->C_CopyObject(s, objects_in(s, obj), tmpl, n, copy);
    if (rv == CKR_OK && copy)
        handles_from_real(s, copy, 1);
    objects_after(s, rv, &obj, 1);
    SHIM_RETURN(C_CopyObject);
}

static CK_RV shim_C_DestroyObject(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    SHIM_BEGIN(C_DestroyObject);
    CK_OBJECT_HANDLE real = objects_in(s, obj);
    rv = R->C_DestroyObject(s, real);
    if (rv == CKR_OK) /* gone for certain: reuse-handles may give its number away */
        handles_forget_real(real);
    objects_after(s, rv, &obj, 1);
    SHIM_RETURN(C_DestroyObject);
}

static CK_RV shim_C_GetObjectSize(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj, CK_ULONG_PTR size)
{
    SHIM_BEGIN(C_GetObjectSize);
    rv = R->C_GetObjectSize(s, objects_in(s, obj), size);
    objects_after(s, rv, &obj, 1);
    SHIM_RETURN(C_GetObjectSize);
}

struct real_getter_ctx {
    CK_SESSION_HANDLE s;
    CK_OBJECT_HANDLE real;
};

static bool real_getter(void *ctx, CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len)
{
    struct real_getter_ctx *c = ctx;
    return attrs_get_real(c->s, c->real, type, val, len) == CKR_OK;
}

static CK_RV shim_C_GetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                                      CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    SHIM_BEGIN(C_GetAttributeValue);
    /* A stale object's attributes come from the snapshot, not the token. */
    if (SHIM_IS_SYNTHETIC(obj) && snapshot_get_attributes(s, obj, tmpl, n, &rv))
        SHIM_RETURN(C_GetAttributeValue);
    CK_OBJECT_HANDLE real = SHIM_IS_SYNTHETIC(obj) ? CK_INVALID_HANDLE : objects_in(s, obj);
    rv = R->C_GetAttributeValue(s, real, tmpl, n);
    /* These results still fill in the entries that were readable. */
    if ((rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
         rv == CKR_BUFFER_TOO_SMALL) &&
        tmpl && control_any_wrong_pubkey()) {
        struct real_getter_ctx ctx = {s, real};
        pubkey_alter_template(tmpl, n, real_getter, &ctx);
    }
    if ((rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
         rv == CKR_BUFFER_TOO_SMALL) &&
        tmpl && control_any_degenerate()) {
        struct real_getter_ctx ctx = {s, real};
        degenerate_alter_template(tmpl, n, real_getter, &ctx);
    }
    if (tmpl && control_any_attr_error()) {
        struct real_getter_ctx ctx = {s, real};
        rv = degenerate_attr_error(tmpl, n, real_getter, &ctx, rv);
    }
    /* `overlong`: lengths past the caller's buffers, for every value the
     * module wrote (whatever the call returned). */
    if ((rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID) &&
        tmpl && control_overlong(SHIM_C_GetAttributeValue))
        for (CK_ULONG i = 0; i < n; i++)
            if (tmpl[i].pValue != NULL && tmpl[i].ulValueLen != (CK_ULONG)-1)
                tmpl[i].ulValueLen += 4096;
    objects_after(s, rv, &obj, 1);
    SHIM_RETURN(C_GetAttributeValue);
}

static CK_RV shim_C_SetAttributeValue(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                                      CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    SHIM_BEGIN(C_SetAttributeValue);
    rv = R->C_SetAttributeValue(s, objects_in(s, obj), tmpl, n);
    objects_after(s, rv, &obj, 1);
    SHIM_RETURN(C_SetAttributeValue);
}

static CK_RV shim_C_FindObjectsInit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
    SHIM_BEGIN(C_FindObjectsInit);
    /* A pending snapshot-save is taken now, before the caller's search
     * opens on this session (a session has one search at a time). */
    snapshot_maybe_save(s);
    if (!snapshot_find_init(s, tmpl, n, &rv))
        rv = R->C_FindObjectsInit(s, tmpl, n);
    SHIM_RETURN(C_FindObjectsInit);
}

static CK_RV shim_C_FindObjects(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE_PTR out, CK_ULONG max,
                                CK_ULONG_PTR count)
{
    SHIM_BEGIN(C_FindObjects);
    if (sessions_served_find_active(s)) {
        if (!out || !count) {
            rv = CKR_ARGUMENTS_BAD;
        } else {
            *count = (CK_ULONG)sessions_served_find_next(s, out, max);
            rv = CKR_OK;
        }
        SHIM_RETURN(C_FindObjects);
    }
    rv = R->C_FindObjects(s, out, max, count);
    if (rv == CKR_OK && out && count)
        handles_from_real(s, out, *count);
    /* `overlong`: more handles than there was room for. */
    if (rv == CKR_OK && count && *count > 0 && control_overlong(SHIM_C_FindObjects))
        *count = max + 1;
    SHIM_RETURN(C_FindObjects);
}

static CK_RV shim_C_FindObjectsFinal(CK_SESSION_HANDLE s)
{
    SHIM_BEGIN(C_FindObjectsFinal);
    rv = sessions_served_find_end(s) ? CKR_OK : R->C_FindObjectsFinal(s);
    SHIM_RETURN(C_FindObjectsFinal);
}

void fwd_objects_fill(CK_FUNCTION_LIST *l)
{
    l->C_CreateObject = shim_C_CreateObject;
    l->C_CopyObject = shim_C_CopyObject;
    l->C_DestroyObject = shim_C_DestroyObject;
    l->C_GetObjectSize = shim_C_GetObjectSize;
    l->C_GetAttributeValue = shim_C_GetAttributeValue;
    l->C_SetAttributeValue = shim_C_SetAttributeValue;
    l->C_FindObjectsInit = shim_C_FindObjectsInit;
    l->C_FindObjects = shim_C_FindObjects;
    l->C_FindObjectsFinal = shim_C_FindObjectsFinal;
}
