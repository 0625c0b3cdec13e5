#include "cache/attr_set.h"

#include "cache/debug_log.h"
#include "cache/module.h"

#include <stdlib.h>
#include <string.h>

/* First-try buffer sizes: enough for every key up to RSA-8192 and most
 * certificates, so the common load needs no size query. */
static size_t first_size(CK_ATTRIBUTE_TYPE type)
{
    switch (type) {
    case CKA_CLASS:
    case CKA_KEY_TYPE:
        return sizeof(CK_ULONG);
    case CKA_SIGN:
    case CKA_DECRYPT:
    case CKA_DERIVE:
    case CKA_ALWAYS_AUTHENTICATE:
        return sizeof(CK_BBOOL);
    case CKA_MODULUS:
        return 1024;
    case CKA_VALUE:
        return 4096;
    case CKA_PUBLIC_KEY_INFO:
        return 2048;
    default:
        return 512;
    }
}

/*
 * Whether a -1 answer to a buffer of first_size(type) is final: absent or
 * sensitive, never "too small", so that asking again could not change it.
 * So for fixed-size values, for attributes that are not of the key's type
 * (|key_type| from the same answer; nothing reads them for such a key),
 * and for values the buffer holds for any key the provider accepts (an RSA
 * exponent of at most 64 bits, any supported curve's point).
 */
static bool refusal_is_final(CK_ATTRIBUTE_TYPE type, CK_ULONG key_type)
{
    bool rsa = key_type == CKK_RSA;
    bool ec = key_type == CKK_EC || key_type == CKK_EC_EDWARDS;

    switch (type) {
    case CKA_CLASS:
    case CKA_KEY_TYPE:
    case CKA_SIGN:
    case CKA_DECRYPT:
    case CKA_DERIVE:
    case CKA_ALWAYS_AUTHENTICATE:
        return true;
    case CKA_MODULUS:
        return ec;
    case CKA_PUBLIC_EXPONENT:
        return rsa || ec;
    case CKA_EC_PARAMS:
        return rsa;
    case CKA_EC_POINT:
        return rsa || ec;
    default:
        return false;
    }
}

/* The CKA_KEY_TYPE among the first call's answers, if it was read. */
static CK_ULONG answered_key_type(const CK_ATTRIBUTE *t, size_t n)
{
    CK_ULONG type = CK_UNAVAILABLE_INFORMATION;

    for (size_t i = 0; i < n; i++)
        if (t[i].type == CKA_KEY_TYPE && t[i].ulValueLen == sizeof(CK_ULONG))
            memcpy(&type, t[i].pValue, sizeof(type));
    return type;
}

#define UNTOUCHED 0xa5

/* Still all filler: the module never wrote it (real values of exactly the
 * buffer's size are told apart by the size query that follows). */
static bool untouched(const unsigned char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (buf[i] != UNTOUCHED)
            return false;
    return true;
}

static void set_value(struct hsm_attr *a, unsigned char *value, CK_ULONG len)
{
    a->present = true;
    a->len = len;
    a->value = len > 0 ? value : NULL;
}

/* Size query for the attributes still unknown, then their values. */
static CK_RV read_unknown(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                          struct hsm_attr_set *set, const bool *unknown)
{
    CK_ATTRIBUTE q[HSM_ATTR_SET_MAX];
    CK_ULONG sizes[HSM_ATTR_SET_MAX];
    size_t idx[HSM_ATTR_SET_MAX], m = 0, big = 0;
    CK_RV rv;

    for (size_t i = 0; i < set->n; i++) {
        if (unknown[i]) {
            q[m] = (CK_ATTRIBUTE){set->a[i].type, NULL, 0};
            idx[m++] = i;
        }
    }
    if (m == 0)
        return CKR_OK;
    rv = fns->C_GetAttributeValue(s, obj, q, (CK_ULONG)m);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE)
        return rv;
    /* Without a buffer only absence or sensitivity gives -1: those stay absent. */
    for (size_t j = 0; j < m; j++) {
        if (q[j].ulValueLen == (CK_ULONG)-1 || q[j].ulValueLen == 0) {
            if (q[j].ulValueLen == 0)
                set_value(&set->a[idx[j]], NULL, 0);
            continue;
        }
        if (q[j].ulValueLen > HSM_MODULE_VALUE_MAX)
            return hsm_module_misbehaved("C_GetAttributeValue",
                                         "a size of %lu bytes for attribute 0x%lx (at most %d "
                                         "are accepted)",
                                         (unsigned long)q[j].ulValueLen, (unsigned long)q[j].type,
                                         HSM_MODULE_VALUE_MAX);
        set->grown[idx[j]] = malloc(q[j].ulValueLen);
        if (set->grown[idx[j]] == NULL)
            return CKR_HOST_MEMORY;
        q[big] = (CK_ATTRIBUTE){q[j].type, set->grown[idx[j]], q[j].ulValueLen};
        sizes[big] = q[j].ulValueLen;
        idx[big++] = idx[j];
    }
    if (big == 0)
        return CKR_OK;
    rv = fns->C_GetAttributeValue(s, obj, q, (CK_ULONG)big);
    if (rv != CKR_OK)
        return rv; /* the value changed size between the calls: the load fails, nothing guessed */
    for (size_t j = 0; j < big; j++) {
        if (q[j].ulValueLen > sizes[j])
            return hsm_module_misbehaved("C_GetAttributeValue",
                                         "CKR_OK and a length of %lu bytes for attribute 0x%lx "
                                         "in a buffer of %lu",
                                         (unsigned long)q[j].ulValueLen, (unsigned long)q[j].type,
                                         (unsigned long)sizes[j]);
        set_value(&set->a[idx[j]], set->grown[idx[j]], q[j].ulValueLen);
    }
    return CKR_OK;
}

CK_RV hsm_attr_set_read(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj,
                        const CK_ATTRIBUTE_TYPE *types, size_t n, struct hsm_attr_set *set)
{
    CK_ATTRIBUTE t[HSM_ATTR_SET_MAX];
    bool unknown[HSM_ATTR_SET_MAX] = {false};
    size_t total = 0, off = 0;
    CK_ULONG key_type;
    CK_RV rv;

    memset(set, 0, sizeof(*set));
    if (n > HSM_ATTR_SET_MAX)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < n; i++)
        total += first_size(types[i]);
    set->arena = malloc(total);
    if (set->arena == NULL)
        return CKR_HOST_MEMORY;
    memset(set->arena, UNTOUCHED, total);
    set->n = n;
    for (size_t i = 0; i < n; i++) {
        set->a[i].type = types[i];
        t[i] = (CK_ATTRIBUTE){types[i], set->arena + off, first_size(types[i])};
        off += first_size(types[i]);
    }
    rv = fns->C_GetAttributeValue(s, obj, t, (CK_ULONG)n);
    if (rv != CKR_OK && rv != CKR_ATTRIBUTE_TYPE_INVALID && rv != CKR_ATTRIBUTE_SENSITIVE &&
        rv != CKR_BUFFER_TOO_SMALL) {
        hsm_attr_set_clear(set);
        return rv;
    }
    key_type = answered_key_type(t, n);
    for (size_t i = 0; i < n; i++) {
        if (rv == CKR_OK && t[i].ulValueLen != (CK_ULONG)-1 &&
            t[i].ulValueLen > first_size(types[i])) {
            rv = hsm_module_misbehaved("C_GetAttributeValue",
                                       "CKR_OK and a length of %lu bytes for attribute 0x%lx in "
                                       "a buffer of %zu",
                                       (unsigned long)t[i].ulValueLen, (unsigned long)types[i],
                                       first_size(types[i]));
            hsm_attr_set_clear(set);
            return rv;
        }
        /* The standard lets a module report a too-small buffer as any of the
         * three codes, and some modules stop at the first attribute they
         * cannot serve (leaving the rest untouched): after a failed call, a
         * missing value, or one the module may never have written, is asked
         * again, unless its -1 cannot mean a buffer too small. */
        if (t[i].ulValueLen == (CK_ULONG)-1 && refusal_is_final(types[i], key_type))
            continue;
        if (t[i].ulValueLen == (CK_ULONG)-1 || t[i].ulValueLen > first_size(types[i]) ||
            (rv != CKR_OK && t[i].ulValueLen == first_size(types[i]) &&
             untouched(t[i].pValue, first_size(types[i]))))
            unknown[i] = true;
        else
            set_value(&set->a[i], t[i].pValue, t[i].ulValueLen);
    }
    if (rv != CKR_OK)
        rv = read_unknown(fns, s, obj, set, unknown);
    if (hsm_debug_level() >= 2)
        hsm_debug(2, "C_GetAttributeValue(handle %lu, %zu attributes) -> %s", (unsigned long)obj, n,
                  rv == CKR_OK ? "CKR_OK" : "failed");
    if (rv != CKR_OK)
        hsm_attr_set_clear(set);
    return rv;
}

const struct hsm_attr *hsm_attr_set_get(const struct hsm_attr_set *set, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->a[i].type == type)
            return set->a[i].present ? &set->a[i] : NULL;
    return NULL;
}

bool hsm_attr_set_ulong(const struct hsm_attr_set *set, CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
    const struct hsm_attr *a = hsm_attr_set_get(set, type);

    if (a == NULL || a->len != sizeof(*out))
        return false;
    memcpy(out, a->value, sizeof(*out));
    return true;
}

char *hsm_attr_text(const struct hsm_attr *a)
{
    size_t len = a != NULL && a->value != NULL ? a->len : 0;
    char *text = malloc(len + 1);

    if (text != NULL) {
        if (len > 0)
            memcpy(text, a->value, len);
        text[len] = '\0';
    }
    return text;
}

bool hsm_attr_set_bool(const struct hsm_attr_set *set, CK_ATTRIBUTE_TYPE type, bool dflt)
{
    const struct hsm_attr *a = hsm_attr_set_get(set, type);

    if (a == NULL || a->len != sizeof(CK_BBOOL))
        return dflt;
    return *a->value == CK_TRUE;
}

void hsm_attr_set_clear(struct hsm_attr_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->grown[i]);
    free(set->arena);
    memset(set, 0, sizeof(*set));
}
