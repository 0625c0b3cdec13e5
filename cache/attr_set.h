/*
 * Several attributes of one object in as few C_GetAttributeValue calls as
 * the standard allows: one when all are present, two when some are absent,
 * three when a value outgrew its first buffer. On SoftHSMv2 each call locks
 * the object's file whatever it asks for, so a key load that read its
 * attributes one by one spent most of its time there. The values live only
 * as long as the set, which lives only as long as one load.
 */
#ifndef HSM_CACHE_ATTR_SET_H
#define HSM_CACHE_ATTR_SET_H

#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stddef.h>

#define HSM_ATTR_SET_MAX 16

struct hsm_attr {
    CK_ATTRIBUTE_TYPE type;
    unsigned char *value; /* NULL when absent, unreadable or empty */
    size_t len;
    bool present;
};

struct hsm_attr_set {
    size_t n;
    struct hsm_attr a[HSM_ATTR_SET_MAX];
    unsigned char *arena;
    unsigned char *grown[HSM_ATTR_SET_MAX]; /* values that outgrew the arena */
};

/*
 * Reads |types| of |obj|. An attribute the object lacks, or keeps
 * sensitive, is simply absent; any other failure is returned (and the set
 * is left empty).
 */
CK_RV hsm_attr_set_read(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                        const CK_ATTRIBUTE_TYPE *types, size_t n, struct hsm_attr_set *set);

/* The attribute, or NULL when absent (or never asked for). */
const struct hsm_attr *hsm_attr_set_get(const struct hsm_attr_set *set, CK_ATTRIBUTE_TYPE type);

bool hsm_attr_set_ulong(const struct hsm_attr_set *set, CK_ATTRIBUTE_TYPE type, CK_ULONG *out);

/* The attribute's value as a malloc'd C string ("" when |a| is absent or
 * empty); NULL when out of memory. */
char *hsm_attr_text(const struct hsm_attr *a);

/* A CK_BBOOL attribute, |dflt| when absent. */
bool hsm_attr_set_bool(const struct hsm_attr_set *set, CK_ATTRIBUTE_TYPE type, bool dflt);

void hsm_attr_set_clear(struct hsm_attr_set *set);

#endif
