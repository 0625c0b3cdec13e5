/*
 * What the shim remembers per session: its slot (virtual handles and
 * snapshots are per token) and an open snapshot-served search, whose
 * results live here because the real module knows nothing of it.
 */
#include "shim.h"

#include <stdlib.h>
#include <string.h>

struct session {
    CK_SESSION_HANDLE handle;
    CK_SLOT_ID slot;
    bool serving; /* a snapshot-served C_FindObjects* is open */
    bool forge;   /* forge-ecdsa: the signature in progress is forged */
    CK_OBJECT_HANDLE *found;
    size_t nfound, pos;
};

/* Guarded by shim_lock(). A handful of sessions per process: a flat array. */
static struct session *table;
static size_t used, cap;

static struct session *find_locked(CK_SESSION_HANDLE h)
{
    for (size_t i = 0; i < used; i++)
        if (table[i].handle == h)
            return &table[i];
    return NULL;
}

static struct session *add_locked(CK_SESSION_HANDLE h, CK_SLOT_ID slot)
{
    struct session *s = find_locked(h);
    if (s) {
        s->slot = slot;
        return s;
    }
    if (used == cap) {
        size_t ncap = cap ? cap * 2 : 16;
        struct session *grown = realloc(table, ncap * sizeof *grown);
        if (!grown)
            return NULL;
        table = grown;
        cap = ncap;
    }
    s = &table[used++];
    memset(s, 0, sizeof *s);
    s->handle = h;
    s->slot = slot;
    return s;
}

static void remove_at_locked(size_t i)
{
    free(table[i].found);
    table[i] = table[--used];
}

void sessions_opened(CK_SESSION_HANDLE h, CK_SLOT_ID slot)
{
    shim_lock();
    struct session *s = add_locked(h, slot);
    if (s) { /* a reused session number starts clean */
        free(s->found);
        s->found = NULL;
        s->serving = false;
        s->forge = false;
    }
    shim_unlock();
}

void sessions_set_forge(CK_SESSION_HANDLE h, bool forge)
{
    CK_SLOT_ID slot;
    if (!sessions_slot(h, &slot))
        return;
    shim_lock();
    struct session *s = find_locked(h);
    if (s)
        s->forge = forge;
    shim_unlock();
}

bool sessions_forge(CK_SESSION_HANDLE h)
{
    shim_lock();
    struct session *s = find_locked(h);
    bool forge = s && s->forge;
    shim_unlock();
    return forge;
}

void sessions_closed(CK_SESSION_HANDLE h)
{
    shim_lock();
    for (size_t i = 0; i < used; i++)
        if (table[i].handle == h) {
            remove_at_locked(i);
            break;
        }
    shim_unlock();
}

void sessions_closed_all(CK_SLOT_ID slot)
{
    shim_lock();
    for (size_t i = 0; i < used;)
        if (table[i].slot == slot)
            remove_at_locked(i);
        else
            i++;
    shim_unlock();
}

void sessions_reset(void)
{
    shim_lock();
    while (used)
        remove_at_locked(used - 1);
    free(table);
    table = NULL;
    cap = 0;
    shim_unlock();
}

bool sessions_slot(CK_SESSION_HANDLE h, CK_SLOT_ID *slot)
{
    shim_lock();
    struct session *s = find_locked(h);
    if (s)
        *slot = s->slot;
    shim_unlock();
    if (s)
        return true;
    /* Not opened through this shim instance's bookkeeping (e.g. after a
     * C_Finalize race): ask the real module. */
    CK_SESSION_INFO info;
    if (shim_real()->C_GetSessionInfo(h, &info) != CKR_OK)
        return false;
    *slot = info.slotID;
    sessions_opened(h, info.slotID);
    return true;
}

bool sessions_is_user(CK_SESSION_HANDLE h)
{
    CK_SESSION_INFO info;
    if (shim_real()->C_GetSessionInfo(h, &info) != CKR_OK)
        return false;
    return info.state == CKS_RO_USER_FUNCTIONS || info.state == CKS_RW_USER_FUNCTIONS;
}

bool sessions_served_find_start(CK_SESSION_HANDLE h, CK_SLOT_ID slot, const CK_OBJECT_HANDLE *found,
                                size_t n)
{
    CK_OBJECT_HANDLE *copy = malloc((n ? n : 1) * sizeof *copy);
    if (!copy)
        return false;
    if (n)
        memcpy(copy, found, n * sizeof *copy);
    shim_lock();
    struct session *s = find_locked(h);
    if (!s)
        s = add_locked(h, slot);
    bool ok = s && !s->serving;
    if (ok) {
        free(s->found);
        s->found = copy;
        s->nfound = n;
        s->pos = 0;
        s->serving = true;
        copy = NULL;
    }
    shim_unlock();
    free(copy);
    return ok;
}

bool sessions_served_find_active(CK_SESSION_HANDLE h)
{
    shim_lock();
    struct session *s = find_locked(h);
    bool active = s && s->serving;
    shim_unlock();
    return active;
}

size_t sessions_served_find_next(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *out, size_t max)
{
    size_t n = 0;
    shim_lock();
    struct session *s = find_locked(h);
    if (s && s->serving)
        while (n < max && s->pos < s->nfound)
            out[n++] = s->found[s->pos++];
    shim_unlock();
    return n;
}

bool sessions_served_find_end(CK_SESSION_HANDLE h)
{
    shim_lock();
    struct session *s = find_locked(h);
    bool was = s && s->serving;
    if (was) {
        free(s->found);
        s->found = NULL;
        s->nfound = s->pos = 0;
        s->serving = false;
    }
    shim_unlock();
    return was;
}
