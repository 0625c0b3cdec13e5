#include "cache/token.h"

#include "cache/debug_log.h"
#include "cache/error.h"
#include "cache/fork_gate.h"
#include "cache/lock.h"
#include "uri/pin_source.h"
#include "uri/uri.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Taken inside the fork gate only (module calls and their callers). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hsm_token *registry;

bool hsm_token_gone(const struct hsm_token *tok)
{
    return __atomic_load_n(&tok->gone, __ATOMIC_ACQUIRE);
}

static void mark_gone(struct hsm_token *tok)
{
    __atomic_store_n(&tok->gone, true, __ATOMIC_RELEASE);
}

static void trim_copy(char *dst, const CK_UTF8CHAR *src, size_t len)
{
    while (len > 0 && (src[len - 1] == ' ' || src[len - 1] == '\0'))
        len--;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/*
 * PKCS#11 pads text fields with spaces; some modules pad with NUL bytes
 * (tpm2-pkcs11's model) or end a field with a NUL and leave bytes behind
 * it. Matching (p11-kit's, on space-padded URI fields) and every URI the
 * provider writes see the field as it reads: up to the first NUL, then
 * spaces.
 */
static void pad_with_spaces(CK_UTF8CHAR *field, size_t len)
{
    const CK_UTF8CHAR *nul = memchr(field, '\0', len);

    if (nul != NULL)
        memset(field + (nul - field), ' ', len - (size_t)(nul - field));
}

static void normalize_module_info(CK_INFO *info)
{
    pad_with_spaces(info->manufacturerID, sizeof(info->manufacturerID));
    pad_with_spaces(info->libraryDescription, sizeof(info->libraryDescription));
}

static void normalize_slot_info(CK_SLOT_INFO *info)
{
    pad_with_spaces(info->slotDescription, sizeof(info->slotDescription));
    pad_with_spaces(info->manufacturerID, sizeof(info->manufacturerID));
}

static void normalize_token_info(CK_TOKEN_INFO *info)
{
    pad_with_spaces(info->label, sizeof(info->label));
    pad_with_spaces(info->manufacturerID, sizeof(info->manufacturerID));
    pad_with_spaces(info->model, sizeof(info->model));
    pad_with_spaces(info->serialNumber, sizeof(info->serialNumber));
}

void hsm_token_identity_from_info(struct hsm_token_identity *id, const CK_TOKEN_INFO *info)
{
    trim_copy(id->label, info->label, sizeof(info->label));
    trim_copy(id->manufacturer, info->manufacturerID, sizeof(info->manufacturerID));
    trim_copy(id->model, info->model, sizeof(info->model));
    trim_copy(id->serial, info->serialNumber, sizeof(info->serialNumber));
}

bool hsm_token_identity_equal(const struct hsm_token_identity *a,
                              const struct hsm_token_identity *b)
{
    return strcmp(a->label, b->label) == 0 && strcmp(a->manufacturer, b->manufacturer) == 0 &&
           strcmp(a->model, b->model) == 0 && strcmp(a->serial, b->serial) == 0;
}

void hsm_token_describe(const struct hsm_token *tok, char *buf, size_t len)
{
    snprintf(buf, len, "token '%s' (serial %s, %s %s, slot %lu)", tok->id.label, tok->id.serial,
             tok->id.manufacturer, tok->id.model, (unsigned long)tok->slot);
}

void hsm_token_ref(struct hsm_token *tok)
{
    __atomic_add_fetch(&tok->refs, 1, __ATOMIC_RELAXED);
}

void hsm_token_put(struct hsm_token *tok)
{
    if (tok == NULL || __atomic_sub_fetch(&tok->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    /* Idle sessions of a forgotten token died with its module generation;
     * those of a live one are closed by hsm_session_release's callers. */
    hsm_pin_free(tok->pin);
    pthread_mutex_destroy(&tok->lock);
    pthread_mutex_destroy(&tok->login_mutex);
    pthread_cond_destroy(&tok->login_done);
    free(tok);
}

void hsm_tokens_put_all(struct hsm_token **toks, int n)
{
    for (int i = 0; i < n; i++)
        hsm_token_put(toks[i]);
    free(toks);
}

/* Unlinks |tok| from the registry; caller holds registry_lock. */
static void unlink_locked(struct hsm_token *tok)
{
    for (struct hsm_token **p = &registry; *p != NULL; p = &(*p)->next) {
        if (*p == tok) {
            *p = tok->next;
            mark_gone(tok);
            return;
        }
    }
}

void hsm_tokens_forget_all_after_fork(void)
{
    /* Single-threaded here: the locks are made anew, since a thread the
     * child does not have may have held one (a login slot is held across a
     * passphrase prompt). A key that still refers to a record finds it gone
     * and looks its token up again. */
    pthread_mutex_init(&registry_lock, NULL);
    for (struct hsm_token *tok = registry, *next; tok != NULL; tok = next) {
        next = tok->next;
        mark_gone(tok);
        pthread_mutex_init(&tok->lock, NULL);
        pthread_mutex_init(&tok->login_mutex, NULL);
        pthread_cond_init(&tok->login_done, NULL);
        tok->login_busy = false;
        tok->n_idle = 0;
        hsm_token_put(tok);
    }
    registry = NULL;
}

void hsm_tokens_forget_module(struct hsm_module *mod)
{
    hsm_fork_gate_enter();
    if (!hsm_lock(&registry_lock)) {
        hsm_fork_gate_leave();
        return;
    }
    for (struct hsm_token *tok = registry, *next; tok != NULL; tok = next) {
        next = tok->next;
        if (tok->module == mod) {
            unlink_locked(tok);
            if (hsm_lock(&tok->lock)) {
                tok->n_idle = 0;
                hsm_unlock(&tok->lock);
            }
            hsm_token_put(tok);
        }
    }
    hsm_unlock(&registry_lock);
    hsm_fork_gate_leave();
}

/*
 * The record for the token now in |slot|: the pooled one if the same token
 * is still there, a new one otherwise (the old one is retired, so sessions
 * on a replaced token are never reused).
 */
static struct hsm_token *record_for(struct hsm_module *mod, unsigned generation, CK_SLOT_ID slot,
                                    const struct hsm_token_identity *id, CK_FUNCTION_LIST *fns)
{
    CK_SESSION_HANDLE stale[HSM_POOL_MAX];
    size_t n_stale = 0;
    struct hsm_token *tok, *next;

    if (!hsm_lock(&registry_lock))
        return NULL;
    for (tok = registry; tok != NULL; tok = next) {
        next = tok->next;
        if (tok->module != mod || tok->slot != slot)
            continue;
        if (tok->generation == generation && hsm_token_identity_equal(&tok->id, id)) {
            hsm_token_ref(tok);
            hsm_unlock(&registry_lock);
            return tok;
        }
        unlink_locked(tok);
        if (hsm_lock(&tok->lock)) {
            /* Closed below, with no lock held. */
            for (size_t i = 0; tok->generation == generation && i < tok->n_idle; i++)
                if (n_stale < HSM_POOL_MAX)
                    stale[n_stale++] = tok->idle[i];
            tok->n_idle = 0;
            hsm_unlock(&tok->lock);
        }
        hsm_token_put(tok);
    }
    tok = calloc(1, sizeof(*tok));
    if (tok != NULL) {
        tok->refs = 2; /* the registry's and the caller's */
        tok->module = mod;
        tok->generation = generation;
        tok->slot = slot;
        tok->id = *id;
        pthread_mutex_init(&tok->lock, NULL);
        pthread_mutex_init(&tok->login_mutex, NULL);
        pthread_cond_init(&tok->login_done, NULL);
        tok->next = registry;
        registry = tok;
    }
    hsm_unlock(&registry_lock);
    for (size_t i = 0; i < n_stale; i++)
        (void)fns->C_CloseSession(stale[i]);
    return tok;
}

void hsm_token_scan_describe(const struct hsm_token_scan *scan, char *buf, size_t len)
{
    char name[32];

    if (scan == NULL || scan->func == NULL)
        snprintf(buf, len, "%s", "");
    else
        snprintf(buf, len, "; the module answered %s to %s for slot %lu",
                 hsm_ckr_name(scan->rv, name), scan->func, (unsigned long)scan->slot);
}

/* A slot call failed: noted for the message, and for the module's health. */
static void slot_failed(struct hsm_module *mod, struct hsm_token_scan *scan, const char *func,
                        CK_RV rv, CK_SLOT_ID slot)
{
    hsm_debug_call(1, func, rv, hsm_module_path(mod));
    hsm_module_observe(mod, HSM_SIGN_ANSWER, func, rv);
    if (scan != NULL && scan->func == NULL)
        *scan = (struct hsm_token_scan){func, rv, slot};
}

int hsm_tokens_find(struct hsm_module *mod, const struct hsm_uri *uri,
                    const struct hsm_token_identity *want, struct hsm_token ***out,
                    struct hsm_token_scan *scan)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG n_slots = 0, allocated = 0;
    struct hsm_token **found = NULL;
    int n_found = 0;
    unsigned generation;
    CK_FUNCTION_LIST *fns;
    CK_INFO info;
    CK_RV rv;

    *out = NULL;
    if (scan != NULL)
        scan->func = NULL;
    fns = hsm_module_enter(mod, &generation);
    if (fns == NULL)
        return -1;
    rv = fns->C_GetInfo(&info);
    if (rv != CKR_OK) {
        hsm_module_observe(mod, HSM_SIGN_ANSWER, "C_GetInfo", rv);
        hsm_error_rv(HSM_R_PKCS11, "C_GetInfo", rv, "asking module %s about itself",
                     hsm_module_path(mod));
        goto fail;
    }
    normalize_module_info(&info);
    if (uri != NULL && !hsm_uri_match_module(uri, &info))
        goto done;
    /* Ask twice as the standard says: the slot list can change in between. */
    for (int tries = 0; tries < 3; tries++) {
        rv = fns->C_GetSlotList(CK_TRUE, NULL, &n_slots);
        if (rv != CKR_OK)
            break;
        if (n_slots > HSM_MODULE_SLOTS_MAX) {
            rv = hsm_module_misbehaved("C_GetSlotList", "%lu slots (at most %d are accepted)",
                                       (unsigned long)n_slots, HSM_MODULE_SLOTS_MAX);
            goto fail;
        }
        allocated = n_slots;
        free(slots);
        slots = calloc(n_slots + 1, sizeof(*slots));
        if (slots == NULL) {
            hsm_error(HSM_R_INTERNAL, "out of memory");
            goto fail;
        }
        rv = fns->C_GetSlotList(CK_TRUE, slots, &n_slots);
        if (rv == CKR_OK && n_slots > allocated) {
            rv = hsm_module_misbehaved("C_GetSlotList", "CKR_OK and %lu slots in room for %lu",
                                       (unsigned long)n_slots, (unsigned long)allocated);
            goto fail;
        }
        if (rv != CKR_BUFFER_TOO_SMALL)
            break;
    }
    if (rv != CKR_OK) {
        if (rv == CKR_BUFFER_TOO_SMALL)
            hsm_module_observe(mod, HSM_SIGN_SLOT_LIST_UNSTABLE, "C_GetSlotList", rv);
        else
            hsm_module_observe(mod, HSM_SIGN_ANSWER, "C_GetSlotList", rv);
        hsm_error_rv(HSM_R_PKCS11, "C_GetSlotList", rv,
                     "listing tokens of module %s; if it reaches its tokens over a network, "
                     "check that its server is running",
                     hsm_module_path(mod));
        goto fail;
    }
    found = calloc(n_slots + 1, sizeof(*found));
    if (found == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        goto fail;
    }
    for (CK_ULONG i = 0; i < n_slots; i++) {
        CK_SLOT_INFO sinfo;
        CK_TOKEN_INFO tinfo;
        struct hsm_token_identity id;
        struct hsm_token *tok;

        rv = fns->C_GetSlotInfo(slots[i], &sinfo);
        if (rv != CKR_OK) {
            slot_failed(mod, scan, "C_GetSlotInfo", rv, slots[i]);
            continue;
        }
        if ((sinfo.flags & CKF_TOKEN_PRESENT) == 0)
            continue;
        /* A token pulled out between the two calls is simply not there. */
        rv = fns->C_GetTokenInfo(slots[i], &tinfo);
        if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED)
            continue;
        if (rv != CKR_OK) {
            slot_failed(mod, scan, "C_GetTokenInfo", rv, slots[i]);
            continue;
        }
        normalize_slot_info(&sinfo);
        normalize_token_info(&tinfo);
        /* SoftHSMv2 describes its empty slot's token without reading a file:
         * only an initialised token shows that the process can reach one. */
        if ((tinfo.flags & CKF_TOKEN_INITIALIZED) == 0)
            continue;
        hsm_module_note_token_reached(mod);
        hsm_token_identity_from_info(&id, &tinfo);
        if (uri != NULL &&
            (!hsm_uri_match_slot(uri, slots[i], &sinfo) || !hsm_uri_match_token(uri, &tinfo)))
            continue;
        if (want != NULL && !hsm_token_identity_equal(want, &id))
            continue;
        tok = record_for(mod, generation, slots[i], &id, fns);
        if (tok == NULL) {
            hsm_error(HSM_R_INTERNAL, "out of memory");
            goto fail;
        }
        found[n_found++] = tok;
    }
done:
    hsm_module_leave(mod);
    free(slots);
    *out = found;
    if (hsm_debug_level() > 0)
        hsm_debug(1, "C_GetSlotList: %lu slots with a token, %d match %s", (unsigned long)n_slots,
                  n_found,
                  uri != NULL    ? uri->redacted
                  : want != NULL ? want->serial
                                 : "all");
    return n_found;
fail:
    hsm_module_leave(mod);
    free(slots);
    hsm_tokens_put_all(found, n_found);
    return -1;
}

bool hsm_rv_is_stale(CK_RV rv)
{
    switch (rv) {
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_DEVICE_REMOVED:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_SLOT_ID_INVALID:
    case CKR_DEVICE_ERROR:
    case CKR_CRYPTOKI_NOT_INITIALIZED:
    case CKR_USER_NOT_LOGGED_IN:
        return true;
    default:
        return false;
    }
}
