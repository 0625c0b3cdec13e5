#include "cache/objects.h"

#include "cache/debug_log.h"
#include "cache/module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

CK_RV hsm_find_objects(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                       CK_OBJECT_HANDLE **out, size_t *count)
{
    CK_OBJECT_HANDLE *all = NULL, batch[64];
    size_t total = 0;
    CK_ULONG got;
    CK_RV rv;

    *out = NULL;
    *count = 0;
    rv = fns->C_FindObjectsInit(s, tmpl, n);
    if (rv != CKR_OK) {
        hsm_debug_call(1, "C_FindObjectsInit", rv, "search");
        return rv;
    }
    do {
        rv = fns->C_FindObjects(s, batch, 64, &got);
        if (rv != CKR_OK)
            break;
        if (got > 64) {
            rv = hsm_module_misbehaved("C_FindObjects", "%lu handles for room for 64",
                                       (unsigned long)got);
            break;
        }
        if (total + got > HSM_MODULE_OBJECTS_MAX) {
            rv = hsm_module_misbehaved("C_FindObjects", "more than %d objects for one search",
                                       HSM_MODULE_OBJECTS_MAX);
            break;
        }
        if (got > 0) {
            CK_OBJECT_HANDLE *more = realloc(all, (total + got) * sizeof(*all));
            if (more == NULL) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            all = more;
            memcpy(all + total, batch, got * sizeof(*all));
            total += got;
        }
    } while (got == 64);
    CK_RV frv = fns->C_FindObjectsFinal(s);
    if (rv == CKR_OK)
        rv = frv;
    if (hsm_debug_level() >= 2)
        hsm_debug(2,
                  "C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal -> %s (%zu objects, "
                  "%lu attributes in the template)",
                  rv == CKR_OK ? "CKR_OK" : "failed", total, (unsigned long)n);
    if (rv != CKR_OK) {
        free(all);
        return rv;
    }
    *out = all;
    *count = total;
    return CKR_OK;
}

void hsm_id_to_text(const unsigned char *id, size_t len, char *buf, size_t buflen)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < len && used + 4 < buflen; i++)
        used += (size_t)snprintf(buf + used, buflen - used, "%%%02x", id[i]);
    if (len > 0 && used + 4 >= buflen && buflen > 4)
        snprintf(buf + buflen - 4, 4, "...");
}
