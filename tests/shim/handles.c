/*
 * Virtual object handles.
 *
 * Every object handle the caller sees is a shim number (2, 3, ...) mapped to
 * the real module's handle. Without `reuse-handles` the mapping is a plain
 * bijection, numbers are never recycled, so behaviour is the real module's:
 * a dead real handle stays dead behind its number. With `reuse-handles` the
 * shim emulates a token whose handle numbers restart: once the real object
 * behind a number is gone, the number is freed and the next new real object
 * gets it, so a handle a caller remembered silently names another object.
 * That is the case a "handles are hints" provider must survive.
 *
 * The table is always on (not only with reuse-handles) so that a test can
 * switch reuse-handles on in a running process without invalidating the
 * handles the process already holds.
 */
#include "shim.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    CK_OBJECT_HANDLE real;
    CK_SLOT_ID slot;
    bool used;
    CK_OBJECT_HANDLE chain; /* next virtual number in the same hash bucket */
};

#define FIRST_VIRTUAL 2

/* Guarded by shim_lock(). entries[] is indexed by virtual number; buckets
 * map a real handle's hash to the first virtual number of its chain, so a
 * long-running benchmark that derives thousands of keys stays O(1). */
static struct entry *entries;
static size_t entries_cap;
static CK_OBJECT_HANDLE next_virtual = FIRST_VIRTUAL;
static size_t nfree; /* unused numbers below next_virtual */
static CK_OBJECT_HANDLE *buckets;
static size_t nbuckets, nused;

static size_t bucket_of(CK_OBJECT_HANDLE real)
{
    return (size_t)((real * 0x9E3779B97F4A7C15ULL) >> 17) & (nbuckets - 1);
}

static CK_OBJECT_HANDLE lookup_locked(CK_OBJECT_HANDLE real)
{
    if (!nbuckets)
        return 0;
    for (CK_OBJECT_HANDLE v = buckets[bucket_of(real)]; v; v = entries[v].chain)
        if (entries[v].real == real)
            return v;
    return 0;
}

static bool rehash_locked(size_t n)
{
    CK_OBJECT_HANDLE *nb = calloc(n, sizeof *nb);
    if (!nb)
        return false;
    free(buckets);
    buckets = nb;
    nbuckets = n;
    for (CK_OBJECT_HANDLE v = FIRST_VIRTUAL; v < next_virtual; v++)
        if (entries[v].used) {
            size_t b = bucket_of(entries[v].real);
            entries[v].chain = buckets[b];
            buckets[b] = v;
        }
    return true;
}

static void unlink_locked(CK_OBJECT_HANDLE v)
{
    CK_OBJECT_HANDLE *p = &buckets[bucket_of(entries[v].real)];
    while (*p && *p != v)
        p = &entries[*p].chain;
    if (*p)
        *p = entries[v].chain;
    entries[v].used = false;
    entries[v].chain = 0;
    nused--;
    nfree++;
}

/* A number for a real handle seen for the first time; 0 if out of memory. */
static CK_OBJECT_HANDLE assign_locked(CK_OBJECT_HANDLE real, CK_SLOT_ID slot, bool reuse)
{
    CK_OBJECT_HANDLE v = 0;
    /* Grow the hash first: a failure then leaves nothing half done (longer
     * chains are still correct, only a missing table is fatal). */
    if (nused + 1 > nbuckets * 2 && !rehash_locked(nbuckets ? nbuckets * 4 : 64) && !nbuckets)
        return 0;
    if (reuse && nfree) {
        /* Lowest freed number first, like a token whose counter restarts. */
        for (CK_OBJECT_HANDLE i = FIRST_VIRTUAL; i < next_virtual; i++)
            if (!entries[i].used) {
                v = i;
                break;
            }
        nfree--;
    } else {
        if (next_virtual >= SHIM_SYNTHETIC_BASE)
            return 0;
        if (next_virtual >= entries_cap) {
            size_t ncap = entries_cap ? entries_cap * 2 : 64;
            struct entry *grown = realloc(entries, ncap * sizeof *grown);
            if (!grown)
                return 0;
            memset(grown + entries_cap, 0, (ncap - entries_cap) * sizeof *grown);
            entries = grown;
            entries_cap = ncap;
        }
        v = next_virtual++;
    }
    entries[v].real = real;
    entries[v].slot = slot;
    entries[v].used = true;
    size_t b = bucket_of(real);
    entries[v].chain = buckets[b];
    buckets[b] = v;
    nused++;
    return v;
}

bool shim_rv_is_handle_invalid(CK_RV rv)
{
    return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID ||
           rv == CKR_WRAPPING_KEY_HANDLE_INVALID || rv == CKR_UNWRAPPING_KEY_HANDLE_INVALID;
}

CK_OBJECT_HANDLE handles_to_real(CK_OBJECT_HANDLE virt)
{
    CK_OBJECT_HANDLE real = 0;
    shim_lock();
    if (virt >= FIRST_VIRTUAL && virt < next_virtual && entries[virt].used)
        real = entries[virt].real;
    shim_unlock();
    return real;
}

void handles_forget_real(CK_OBJECT_HANDLE real)
{
    shim_lock();
    CK_OBJECT_HANDLE v = lookup_locked(real);
    if (v)
        unlink_locked(v);
    shim_unlock();
}

/* Is this real object gone, in the real module's own words? */
static bool real_gone(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE real)
{
    CK_OBJECT_CLASS cls;
    CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof cls};
    return shim_real()->C_GetAttributeValue(s, real, &a, 1) == CKR_OBJECT_HANDLE_INVALID;
}

static void forget_if_gone(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE v, CK_OBJECT_HANDLE real)
{
    if (!real_gone(s, real)) /* probed without the lock: never across a real call */
        return;
    shim_lock();
    if (v < next_virtual && entries[v].used && entries[v].real == real)
        unlink_locked(v);
    shim_unlock();
}

/* Before numbering new objects under reuse-handles: free the numbers of
 * the objects on this token that have gone (deleted by another process,
 * token re-initialised), so the new ones can take them. */
static void sweep(CK_SESSION_HANDLE s, CK_SLOT_ID slot)
{
    size_t n = 0;
    CK_OBJECT_HANDLE *pairs = NULL;
    shim_lock();
    if (nused)
        pairs = malloc(nused * 2 * sizeof *pairs);
    for (CK_OBJECT_HANDLE v = FIRST_VIRTUAL; pairs && v < next_virtual; v++)
        if (entries[v].used && entries[v].slot == slot) {
            pairs[2 * n] = v;
            pairs[2 * n + 1] = entries[v].real;
            n++;
        }
    shim_unlock();
    for (size_t i = 0; i < n; i++)
        forget_if_gone(s, pairs[2 * i], pairs[2 * i + 1]);
    free(pairs);
}

void handles_from_real(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *h, size_t n)
{
    if (!n)
        return;
    CK_SLOT_ID slot = 0;
    (void)sessions_slot(s, &slot);
    bool reuse = control_reuse_handles();
    if (reuse) {
        bool any_new = false;
        shim_lock();
        for (size_t i = 0; i < n && !any_new; i++)
            any_new = h[i] != CK_INVALID_HANDLE && !lookup_locked(h[i]);
        shim_unlock();
        if (any_new)
            sweep(s, slot);
    }
    shim_lock();
    for (size_t i = 0; i < n; i++) {
        if (h[i] == CK_INVALID_HANDLE)
            continue;
        CK_OBJECT_HANDLE v = lookup_locked(h[i]);
        if (!v)
            v = assign_locked(h[i], slot, reuse);
        h[i] = v;
    }
    shim_unlock();
}

void handles_check_gone(CK_SESSION_HANDLE s, const CK_OBJECT_HANDLE *virt, size_t n)
{
    if (!control_reuse_handles())
        return; /* without reuse a dead number simply stays dead */
    for (size_t i = 0; i < n; i++) {
        if (SHIM_IS_SYNTHETIC(virt[i]))
            continue;
        CK_OBJECT_HANDLE real = handles_to_real(virt[i]);
        if (real)
            forget_if_gone(s, virt[i], real);
    }
}

void handles_reset(void)
{
    shim_lock();
    free(entries);
    free(buckets);
    entries = NULL;
    buckets = NULL;
    entries_cap = nbuckets = nused = nfree = 0;
    next_virtual = FIRST_VIRTUAL;
    shim_unlock();
}
