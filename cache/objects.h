/* Object searches and attribute reads, each asked of the token afresh. */
#ifndef HSM_CACHE_OBJECTS_H
#define HSM_CACHE_OBJECTS_H

#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stddef.h>

/* All objects matching |tmpl|; |*out| is malloc'd (NULL when none). */
CK_RV hsm_find_objects(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl,
                       CK_ULONG n, CK_OBJECT_HANDLE **out, size_t *count);

/* One attribute, malloc'd. An absent or unreadable attribute gives
 * CKR_OK with |*val| NULL and |*len| 0 only for empty values; otherwise the
 * token's return value (CKR_ATTRIBUTE_TYPE_INVALID, ...). */
CK_RV hsm_attr_alloc(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE_TYPE type, unsigned char **val, size_t *len);

CK_RV hsm_attr_ulong(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                     CK_ATTRIBUTE_TYPE type, CK_ULONG *val);

/* A CK_BBOOL attribute, |dflt| when the token does not have it. */
bool hsm_attr_bool(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                   CK_ATTRIBUTE_TYPE type, bool dflt);

/* "%01%02" style hex of a CKA_ID for messages and URIs. */
void hsm_id_to_text(const unsigned char *id, size_t len, char *buf, size_t buflen);

#endif
