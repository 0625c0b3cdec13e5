/* Object searches and attribute reads, each asked of the token afresh. */
#ifndef HSM_CACHE_OBJECTS_H
#define HSM_CACHE_OBJECTS_H

#include <p11-kit/pkcs11.h>
#include <stddef.h>

/* All objects matching |tmpl|; |*out| is malloc'd (NULL when none). */
CK_RV hsm_find_objects(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n,
                       CK_OBJECT_HANDLE **out, size_t *count);

/* "%01%02" style hex of a CKA_ID for messages and URIs. */
void hsm_id_to_text(const unsigned char *id, size_t len, char *buf, size_t buflen);

#endif
