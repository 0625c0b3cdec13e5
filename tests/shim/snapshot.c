/*
 * snapshot-save / snapshot-serve: the OpenSC-file-cache stale view.
 *
 * OpenSC once kept serving a token's old object list (old CKA_ID, old public
 * key, old certificate) after the card was re-initialised, while the card
 * itself signed with its new key. snapshot-save records a token's objects;
 * snapshot-serve answers searches and attribute reads from that record,
 * under synthetic handles, while any operation on a synthetic key handle
 * runs on the token's real, current key (snapshot_resolve).
 *
 * File format (text, one item per line):
 *   hsm-fault-shim-snapshot 1
 *   token <hex of the 32-byte CK_TOKEN_INFO label>
 *   object
 *   attr <type, hex> <value, hex, or - when empty>
 *   end
 * Values are the raw bytes the module returned (CK_ULONG and CK_BBOOL in
 * this machine's layout). Only token objects are recorded (session objects
 * are no part of a token's cached view), and a CKA_VALUE only for
 * certificates: never a secret.
 */
#include "shim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct snap_attr {
    CK_ATTRIBUTE_TYPE type;
    CK_ULONG len;
    unsigned char *val;
};

struct snap_obj {
    struct snap_attr *attrs;
    size_t n;
};

struct snapshot {
    char *path;
    struct stat st; /* to reload when a test replaces the file */
    unsigned char label[32];
    struct snap_obj *objs;
    size_t n;
    int refs;
};

static const CK_ATTRIBUTE_TYPE recorded[] = {
    CKA_CLASS,
    CKA_ID,
    CKA_LABEL,
    CKA_KEY_TYPE,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_DECRYPT,
    CKA_ENCRYPT,
    CKA_DERIVE,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_VALUE,
    CKA_CERTIFICATE_TYPE,
    CKA_SUBJECT,
    CKA_ISSUER,
    CKA_SERIAL_NUMBER,
    CKA_PUBLIC_KEY_INFO,
    CKA_ALWAYS_AUTHENTICATE,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
};

/* The snapshot being served, guarded by shim_lock(); refcounted so a
 * reader can use it without the lock while a reload replaces it. */
static struct snapshot *served;

static void snap_free(struct snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        for (size_t j = 0; j < s->objs[i].n; j++)
            free(s->objs[i].attrs[j].val);
        free(s->objs[i].attrs);
    }
    free(s->objs);
    free(s->path);
    free(s);
}

static void snap_put(struct snapshot *s)
{
    if (!s)
        return;
    shim_lock();
    bool last = --s->refs == 0;
    shim_unlock();
    if (last)
        snap_free(s);
}

static const struct snap_attr *snap_find_attr(const struct snap_obj *o, CK_ATTRIBUTE_TYPE t)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->attrs[i].type == t)
            return &o->attrs[i];
    return NULL;
}

static bool attr_is_true(const struct snap_obj *o, CK_ATTRIBUTE_TYPE t)
{
    const struct snap_attr *a = snap_find_attr(o, t);
    return a && a->len == sizeof(CK_BBOOL) && a->val[0] == CK_TRUE;
}

/* ---- saving ---- */

static void put_hex(FILE *f, const unsigned char *p, size_t n)
{
    if (!n)
        fputc('-', f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%02x", p[i]);
}

static bool write_object(FILE *f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
    CK_ATTRIBUTE ca = {CKA_CLASS, &cls, sizeof cls};
    if (shim_real()->C_GetAttributeValue(s, h, &ca, 1) != CKR_OK)
        return true; /* vanished meanwhile: not part of the view */
    fputs("object\n", f);
    for (size_t i = 0; i < sizeof recorded / sizeof recorded[0]; i++) {
        if (recorded[i] == CKA_VALUE && cls != CKO_CERTIFICATE)
            continue;
        unsigned char *v;
        CK_ULONG len;
        if (attrs_get_real(s, h, recorded[i], &v, &len) != CKR_OK)
            continue; /* absent or sensitive: the snapshot lacks it */
        fprintf(f, "attr 0x%lx ", (unsigned long)recorded[i]);
        put_hex(f, v, len);
        fputc('\n', f);
        free(v);
    }
    fputs("end\n", f);
    return !ferror(f);
}

static bool save(CK_SESSION_HANDLE s, CK_SLOT_ID slot, const char *path)
{
    CK_TOKEN_INFO ti;
    if (shim_real()->C_GetTokenInfo(slot, &ti) != CKR_OK)
        return false;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl = {CKA_TOKEN, &yes, sizeof yes};
    CK_OBJECT_HANDLE *objs;
    size_t n;
    if (attrs_find_real(s, &tmpl, 1, &objs, &n) != CKR_OK)
        return false; /* e.g. the caller has a search open: try next time */
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(objs);
        return false;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    FILE *f = fopen(tmp, "we");
    bool ok = f != NULL;
    if (ok) {
        fputs("hsm-fault-shim-snapshot 1\ntoken ", f);
        put_hex(f, ti.label, sizeof ti.label);
        fputc('\n', f);
        for (size_t i = 0; i < n && ok; i++)
            ok = write_object(f, s, objs[i]);
        ok = fclose(f) == 0 && ok;
    }
    /* Renamed into place so a reader never sees half a snapshot. */
    if (ok)
        ok = rename(tmp, path) == 0;
    else
        remove(tmp);
    if (!ok)
        shim_warn("snapshot-save %s failed", path);
    free(tmp);
    free(objs);
    return ok;
}

void snapshot_maybe_save(CK_SESSION_HANDLE s)
{
    char *path = control_snapshot_save_claim();
    if (!path)
        return;
    bool ok = false;
    CK_SLOT_ID slot;
    if (sessions_slot(s, &slot)) {
        CK_TOKEN_INFO ti;
        /* Wait for a session that sees the private objects, unless the
         * token has none to hide. */
        bool sees_all = sessions_is_user(s) || (shim_real()->C_GetTokenInfo(slot, &ti) == CKR_OK &&
                                                !(ti.flags & CKF_LOGIN_REQUIRED));
        if (sees_all)
            ok = save(s, slot, path);
    }
    control_snapshot_save_done(path, ok);
    free(path);
}

/* ---- loading ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool unhex(const char *s, unsigned char **out, CK_ULONG *len)
{
    size_t n = strcmp(s, "-") == 0 ? 0 : strlen(s);
    if (n % 2)
        return false;
    unsigned char *buf = malloc(n / 2 + 1);
    if (!buf)
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(buf);
            return false;
        }
        buf[i] = (unsigned char)(hi << 4 | lo);
    }
    *out = buf;
    *len = n / 2;
    return true;
}

static bool load_line(struct snapshot *snap, char *line)
{
    char *save = NULL;
    char *word = strtok_r(line, " \t\r\n", &save);
    if (!word || strcmp(word, "end") == 0 || strcmp(word, "hsm-fault-shim-snapshot") == 0)
        return true;
    if (strcmp(word, "token") == 0) {
        unsigned char *v;
        CK_ULONG len;
        char *hex = strtok_r(NULL, " \t\r\n", &save);
        if (!hex || !unhex(hex, &v, &len))
            return false;
        memset(snap->label, ' ', sizeof snap->label);
        memcpy(snap->label, v, len < sizeof snap->label ? len : sizeof snap->label);
        free(v);
        return true;
    }
    if (strcmp(word, "object") == 0) {
        struct snap_obj *grown = realloc(snap->objs, (snap->n + 1) * sizeof *grown);
        if (!grown)
            return false;
        snap->objs = grown;
        snap->objs[snap->n++] = (struct snap_obj){0};
        return true;
    }
    if (strcmp(word, "attr") == 0 && snap->n) {
        char *type = strtok_r(NULL, " \t\r\n", &save);
        char *hex = strtok_r(NULL, " \t\r\n", &save);
        struct snap_obj *o = &snap->objs[snap->n - 1];
        struct snap_attr a;
        if (!type || !hex || !unhex(hex, &a.val, &a.len))
            return false;
        a.type = strtoul(type, NULL, 0);
        struct snap_attr *grown = realloc(o->attrs, (o->n + 1) * sizeof *grown);
        if (!grown) {
            free(a.val);
            return false;
        }
        o->attrs = grown;
        o->attrs[o->n++] = a;
        return true;
    }
    return false;
}

static struct snapshot *load(const char *path, const struct stat *st)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return NULL;
    struct snapshot *snap = calloc(1, sizeof *snap);
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    bool ok = snap && (snap->path = strdup(path)) != NULL;
    if (ok) {
        snap->st = *st;
        memset(snap->label, ' ', sizeof snap->label);
    }
    while (ok && getline(&line, &cap, f) >= 0) {
        lineno++;
        ok = load_line(snap, line);
    }
    free(line);
    fclose(f);
    if (!ok) {
        shim_warn("snapshot %s: bad line %zu", path, lineno);
        snap_free(snap);
        return NULL;
    }
    return snap;
}

/* The snapshot named by the current snapshot-serve line, or NULL. */
static struct snapshot *snap_get(void)
{
    char *path = control_snapshot_serve_path();
    if (!path)
        return NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        shim_warn("snapshot-serve %s: no such file, serving the real token", path);
        free(path);
        return NULL;
    }
    struct snapshot *s = NULL;
    shim_lock();
    if (served && strcmp(served->path, path) == 0 && served->st.st_ino == st.st_ino &&
        served->st.st_size == st.st_size && served->st.st_mtim.tv_sec == st.st_mtim.tv_sec &&
        served->st.st_mtim.tv_nsec == st.st_mtim.tv_nsec) {
        s = served;
        s->refs++;
    }
    shim_unlock();
    if (s) {
        free(path);
        return s;
    }
    s = load(path, &st); /* file I/O outside the lock */
    free(path);
    if (!s)
        return NULL;
    struct snapshot *old;
    shim_lock();
    old = served;
    served = s;
    s->refs = 2; /* one for `served`, one for the caller */
    shim_unlock();
    snap_put(old);
    return s;
}

void snapshot_reset(void)
{
    shim_lock();
    struct snapshot *old = served;
    served = NULL;
    shim_unlock();
    snap_put(old);
}

/* ---- serving ---- */

static bool matches(const struct snap_obj *o, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++) {
        const struct snap_attr *a = snap_find_attr(o, tmpl[i].type);
        if (!a || a->len != tmpl[i].ulValueLen ||
            (a->len && memcmp(a->val, tmpl[i].pValue, a->len) != 0))
            return false;
    }
    return true;
}

/* Is this session's token the one the snapshot was taken of? Matched by
 * label, which survives a re-initialisation (the case being emulated). */
static bool for_this_token(const struct snapshot *snap, CK_SLOT_ID slot)
{
    CK_TOKEN_INFO ti;
    return shim_real()->C_GetTokenInfo(slot, &ti) == CKR_OK &&
           memcmp(ti.label, snap->label, sizeof ti.label) == 0;
}

bool snapshot_find_init(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_RV *rv)
{
    struct snapshot *snap = snap_get();
    if (!snap)
        return false;
    CK_SLOT_ID slot;
    CK_SESSION_INFO si;
    bool handled = true;
    if (!sessions_slot(s, &slot) || (*rv = shim_real()->C_GetSessionInfo(s, &si)) != CKR_OK) {
        *rv = CKR_SESSION_HANDLE_INVALID;
    } else if (!for_this_token(snap, slot)) {
        handled = false;
    } else if (n && !tmpl) {
        *rv = CKR_ARGUMENTS_BAD;
    } else {
        bool user = si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS;
        CK_OBJECT_HANDLE *found = malloc((snap->n ? snap->n : 1) * sizeof *found);
        size_t nfound = 0;
        for (size_t i = 0; found && i < snap->n; i++) {
            if (attr_is_true(&snap->objs[i], CKA_PRIVATE) && !user)
                continue; /* what the real token would hide too */
            if (matches(&snap->objs[i], tmpl, n))
                found[nfound++] = SHIM_SYNTHETIC_BASE + i;
        }
        if (!found)
            *rv = CKR_HOST_MEMORY;
        else if (!sessions_served_find_start(s, slot, found, nfound))
            *rv = CKR_OPERATION_ACTIVE;
        else
            *rv = CKR_OK;
        free(found);
    }
    snap_put(snap);
    return handled;
}

struct snap_getter_ctx {
    const struct snap_obj *obj;
};

static bool snap_getter(void *ctx, CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len)
{
    const struct snap_attr *a = snap_find_attr(((struct snap_getter_ctx *)ctx)->obj, type);
    if (!a || !(*val = malloc(a->len ? a->len : 1)))
        return false;
    if (a->len)
        memcpy(*val, a->val, a->len);
    *len = a->len;
    return true;
}

bool snapshot_get_attributes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE synth, CK_ATTRIBUTE *tmpl,
                             CK_ULONG n, CK_RV *rv)
{
    struct snapshot *snap = snap_get();
    if (!snap)
        return false;
    size_t idx = (size_t)(synth - SHIM_SYNTHETIC_BASE);
    if (idx >= snap->n) {
        snap_put(snap);
        return false;
    }
    const struct snap_obj *o = &snap->objs[idx];
    CK_SESSION_INFO si;
    if ((*rv = shim_real()->C_GetSessionInfo(s, &si)) != CKR_OK) {
        snap_put(snap);
        return true;
    }
    if (!tmpl && n) {
        *rv = CKR_ARGUMENTS_BAD;
        snap_put(snap);
        return true;
    }
    /* Same rules as a real module: every entry is processed; absent ->
     * TYPE_INVALID, too small -> BUFFER_TOO_SMALL, both with
     * CK_UNAVAILABLE_INFORMATION in that entry. */
    *rv = CKR_OK;
    for (CK_ULONG i = 0; i < n; i++) {
        const struct snap_attr *a = snap_find_attr(o, tmpl[i].type);
        if (!a) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            *rv = CKR_ATTRIBUTE_TYPE_INVALID;
        } else if (!tmpl[i].pValue) {
            tmpl[i].ulValueLen = a->len;
        } else if (tmpl[i].ulValueLen < a->len) {
            tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
            if (*rv == CKR_OK)
                *rv = CKR_BUFFER_TOO_SMALL;
        } else {
            if (a->len)
                memcpy(tmpl[i].pValue, a->val, a->len);
            tmpl[i].ulValueLen = a->len;
        }
    }
    if (control_any_wrong_pubkey()) {
        struct snap_getter_ctx ctx = {o};
        pubkey_alter_template(tmpl, n, snap_getter, &ctx);
    }
    snap_put(snap);
    return true;
}

/* The card signs with its new key: the real object of the same class with
 * the same CKA_ID if there is one, else one of the same class and key type. */
CK_OBJECT_HANDLE snapshot_resolve(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE synth)
{
    struct snapshot *snap = snap_get();
    if (!snap)
        return CK_INVALID_HANDLE;
    size_t idx = (size_t)(synth - SHIM_SYNTHETIC_BASE);
    CK_OBJECT_HANDLE real = CK_INVALID_HANDLE;
    if (idx < snap->n) {
        const struct snap_obj *o = &snap->objs[idx];
        const struct snap_attr *cls = snap_find_attr(o, CKA_CLASS);
        const struct snap_attr *id = snap_find_attr(o, CKA_ID);
        const struct snap_attr *kt = snap_find_attr(o, CKA_KEY_TYPE);
        for (int pass = 0; cls && pass < 2 && !real; pass++) {
            const struct snap_attr *second = pass == 0 ? id : kt;
            if (!second)
                continue;
            CK_ATTRIBUTE t[2] = {{CKA_CLASS, cls->val, cls->len},
                                 {second->type, second->val, second->len}};
            CK_OBJECT_HANDLE *found;
            size_t nfound;
            if (attrs_find_real(s, t, 2, &found, &nfound) == CKR_OK) {
                if (nfound)
                    real = found[0];
                free(found);
            }
        }
    }
    snap_put(snap);
    return real;
}
