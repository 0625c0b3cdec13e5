/*
 * The control file (HSM_SHIM_CONTROL): what faults to inject.
 *
 * It is stat'ed on every call and re-read whenever its identity (device,
 * inode, size, mtime, ctime) changes, so a test can change the behaviour of
 * a process that is already running: that is how "the token changed under a
 * long-lived provider" is staged. A missing file means no faults.
 *
 * A line keeps its state (how many calls it has counted, whether its
 * snapshot was saved) for as long as the same text stays in the file, so
 * rewriting the file to add a line does not restart the counts of the
 * others: `fail C_Sign 3 ...` means the 3rd call since that line first
 * took effect.
 */
#include "shim.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum kind {
    K_FAIL,
    K_LATENCY,
    K_FORK,
    K_WRONG_PUBKEY,
    K_DEGENERATE,
    K_FORGE,
    K_ATTR_ERROR,
    K_SNAP_SAVE,
    K_SNAP_SERVE,
    K_REUSE,
    K_FLAGS,
    K_NUL_PAD,
    K_OVERLONG,
    K_STUCK
};
enum save_state { SAVE_PENDING, SAVE_RUNNING, SAVE_DONE };
/* `stuck`: armed until its function is called, engaged until the next
 * C_Initialize of this process, then spent for as long as the line stays. */
enum stuck_state { STUCK_ARMED, STUCK_ENGAGED, STUCK_SPENT };

struct directive {
    char *text; /* the line, normalised: its identity across reloads */
    enum kind kind;
    int fn;            /* fail/latency/fork: the function, -1 for `*` */
    unsigned long nth; /* fail: which call fails, 0 for `*` (every call) */
    CK_RV code;
    unsigned long usec;
    unsigned char *id; /* wrong-pubkey, degenerate-pubkey, forge-ecdsa */
    size_t id_len;
    unsigned mask;
    enum degenerate degenerate;
    CK_ATTRIBUTE_TYPE attr; /* attr-error (with code) */
    char *path;             /* snapshot-save / snapshot-serve */
    CK_FLAGS set, clear;
    /* state, carried over while the same text stays in the file */
    unsigned long calls;
    enum save_state save;
    enum stuck_state stuck;
    bool taken; /* scratch flag while carrying state over */
};

struct file_id {
    bool exists;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

/* All guarded by shim_lock(). */
static struct directive *dirs;
static size_t ndirs;
static struct file_id current;
static bool have_current;

static void dirs_free(struct directive *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(d[i].text);
        free(d[i].id);
        free(d[i].path);
    }
    free(d);
}

static bool same_file(const struct file_id *a, const struct file_id *b)
{
    if (a->exists != b->exists)
        return false;
    if (!a->exists)
        return true;
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static struct file_id identify(const char *path)
{
    struct file_id id = {0};
    struct stat st;
    if (stat(path, &st) != 0)
        return id;
    id.exists = true;
    id.dev = st.st_dev;
    id.ino = st.st_ino;
    id.size = st.st_size;
    id.mtime = st.st_mtim;
    id.ctime = st.st_ctim;
    return id;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "0a1b", "0x0a1b" or "0a:1b" -> bytes. */
static bool parse_hex(const char *s, unsigned char **out, size_t *len)
{
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    unsigned char *buf = malloc(strlen(s) / 2 + 1);
    size_t n = 0;
    if (!buf)
        return false;
    while (*s) {
        if (*s == ':') {
            s++;
            continue;
        }
        int hi = hexval((unsigned char)s[0]);
        int lo = s[1] ? hexval((unsigned char)s[1]) : -1;
        if (hi < 0 || lo < 0) {
            free(buf);
            return false;
        }
        buf[n++] = (unsigned char)(hi << 4 | lo);
        s += 2;
    }
    *out = buf;
    *len = n;
    return true;
}

static bool parse_ulong(const char *s, unsigned long *out)
{
    char *end;
    if (!isdigit((unsigned char)*s))
        return false;
    errno = 0;
    *out = strtoul(s, &end, 10); /* base 10: "010" is ten calls, not eight */
    return errno == 0 && *end == '\0';
}

static bool parse_fn(const char *s, int *fn)
{
    if (strcmp(s, "*") == 0) {
        *fn = -1;
        return true;
    }
    *fn = shim_fn_lookup(s);
    return *fn >= 0;
}

static bool parse_attribute(const char *s, CK_ATTRIBUTE_TYPE *out)
{
    static const struct {
        const char *name;
        CK_ATTRIBUTE_TYPE type;
    } attrs[] = {
        {"CKA_VALUE", CKA_VALUE},
        {"CKA_EC_POINT", CKA_EC_POINT},
        {"CKA_MODULUS", CKA_MODULUS},
        {"CKA_PUBLIC_EXPONENT", CKA_PUBLIC_EXPONENT},
        {"CKA_PUBLIC_KEY_INFO", CKA_PUBLIC_KEY_INFO},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        if (strcmp(s, attrs[i].name) == 0) {
            *out = attrs[i].type;
            return true;
        }
    return false;
}

#define MAX_WORDS 16

/* Parses one line's words into *d; returns an error message or NULL. */
static const char *parse_directive(char **w, int nw, struct directive *d)
{
    const char *k = w[0];
    if (strcmp(k, "fail") == 0) {
        d->kind = K_FAIL;
        if (nw != 4)
            return "expected: fail <C_Function|*> <n|*> <CKR_NAME|number>";
        if (!parse_fn(w[1], &d->fn))
            return "unknown function";
        if (strcmp(w[2], "*") == 0)
            d->nth = 0;
        else if (!parse_ulong(w[2], &d->nth) || d->nth == 0)
            return "call number must be 1 or more, or *";
        if (!shim_parse_ckr(w[3], &d->code))
            return "unknown CKR_ code";
    } else if (strcmp(k, "latency") == 0) {
        d->kind = K_LATENCY;
        if (nw != 3)
            return "expected: latency <C_Function|*> <microseconds>";
        if (!parse_fn(w[1], &d->fn))
            return "unknown function";
        if (!parse_ulong(w[2], &d->usec))
            return "bad microseconds";
    } else if (strcmp(k, "fork") == 0) {
        d->kind = K_FORK;
        if (nw != 2)
            return "expected: fork <C_Function|*>";
        if (!parse_fn(w[1], &d->fn))
            return "unknown function";
    } else if (strcmp(k, "wrong-pubkey") == 0) {
        d->kind = K_WRONG_PUBKEY;
        if (nw < 2)
            return "expected: wrong-pubkey <hex CKA_ID> [CKA_EC_POINT|CKA_MODULUS|"
                   "CKA_PUBLIC_KEY_INFO|CKA_VALUE ...]";
        if (!parse_hex(w[1], &d->id, &d->id_len))
            return "bad hex CKA_ID";
        for (int i = 2; i < nw; i++) {
            if (strcmp(w[i], "CKA_EC_POINT") == 0)
                d->mask |= WRONG_EC_POINT;
            else if (strcmp(w[i], "CKA_MODULUS") == 0)
                d->mask |= WRONG_MODULUS;
            else if (strcmp(w[i], "CKA_PUBLIC_KEY_INFO") == 0)
                d->mask |= WRONG_SPKI;
            else if (strcmp(w[i], "CKA_VALUE") == 0)
                d->mask |= WRONG_CERT;
            else
                return "unknown attribute (CKA_EC_POINT, CKA_MODULUS, CKA_PUBLIC_KEY_INFO, "
                       "CKA_VALUE)";
        }
        if (!d->mask)
            d->mask = WRONG_EC_POINT | WRONG_MODULUS | WRONG_SPKI | WRONG_CERT;
    } else if (strcmp(k, "degenerate-pubkey") == 0) {
        d->kind = K_DEGENERATE;
        if (nw != 3)
            return "expected: degenerate-pubkey <hex CKA_ID> <kind>";
        if (!parse_hex(w[1], &d->id, &d->id_len))
            return "bad hex CKA_ID";
        if ((d->degenerate = degenerate_lookup(w[2])) == DEGENERATE_NONE)
            return "unknown kind (ec-infinity, ec-off-curve, eddsa-identity, rsa-e-1, "
                   "rsa-e-even, rsa-small-modulus)";
    } else if (strcmp(k, "attr-error") == 0) {
        d->kind = K_ATTR_ERROR;
        if (nw != 4)
            return "expected: attr-error <hex CKA_ID> <CKA_NAME> <CKR_NAME|number>";
        if (!parse_hex(w[1], &d->id, &d->id_len))
            return "bad hex CKA_ID";
        if (!parse_attribute(w[2], &d->attr))
            return "unknown attribute (CKA_VALUE, CKA_EC_POINT, CKA_MODULUS, "
                   "CKA_PUBLIC_EXPONENT, CKA_PUBLIC_KEY_INFO)";
        if (!shim_parse_ckr(w[3], &d->code))
            return "unknown CKR_ code";
    } else if (strcmp(k, "forge-ecdsa") == 0) {
        d->kind = K_FORGE;
        if (nw != 2)
            return "expected: forge-ecdsa <hex CKA_ID>";
        if (!parse_hex(w[1], &d->id, &d->id_len))
            return "bad hex CKA_ID";
    } else if (strcmp(k, "snapshot-save") == 0 || strcmp(k, "snapshot-serve") == 0) {
        d->kind = strcmp(k, "snapshot-save") == 0 ? K_SNAP_SAVE : K_SNAP_SERVE;
        if (nw != 2)
            return "expected one path (no spaces)";
        d->path = strdup(w[1]);
        if (!d->path)
            return "out of memory";
    } else if (strcmp(k, "reuse-handles") == 0) {
        d->kind = K_REUSE;
        if (nw != 1)
            return "reuse-handles takes no argument";
    } else if (strcmp(k, "stuck") == 0) {
        d->kind = K_STUCK;
        if (nw != 3)
            return "expected: stuck <C_Function> <CKR_NAME|number>";
        if (!parse_fn(w[1], &d->fn) || d->fn < 0)
            return "unknown function";
        if (!shim_parse_ckr(w[2], &d->code))
            return "unknown CKR_ code";
    } else if (strcmp(k, "overlong") == 0) {
        d->kind = K_OVERLONG;
        if (nw != 2)
            return "expected: overlong <C_GetAttributeValue|C_FindObjects|C_GetSlotList|C_Sign|"
                   "C_Decrypt>";
        if (!parse_fn(w[1], &d->fn) || d->fn < 0)
            return "unknown function";
    } else if (strcmp(k, "nul-pad") == 0) {
        d->kind = K_NUL_PAD;
        if (nw != 1)
            return "nul-pad takes no argument";
    } else if (strcmp(k, "token-flags") == 0) {
        d->kind = K_FLAGS;
        if (nw < 2)
            return "expected: token-flags +CKF_NAME|-CKF_NAME ...";
        for (int i = 1; i < nw; i++) {
            CK_FLAGS f;
            if ((w[i][0] != '+' && w[i][0] != '-') || !shim_parse_ckf(w[i] + 1, &f))
                return "each flag must be +CKF_NAME or -CKF_NAME (token flags only)";
            if (w[i][0] == '+')
                d->set |= f;
            else
                d->clear |= f;
        }
    } else {
        return "unknown directive";
    }
    return NULL;
}

/* Reads and parses the whole file; bad lines are reported and skipped so a
 * typo is visible in the test's output instead of silently meaning "no
 * fault". */
static void parse_file(const char *path, struct directive **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    struct directive *d = NULL;
    size_t n = 0, lineno = 0;
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *w[MAX_WORDS];
        int nw = 0;
        for (char *save = NULL, *t = strtok_r(line, " \t\r\n", &save); t;
             t = strtok_r(NULL, " \t\r\n", &save)) {
            if (nw == MAX_WORDS) {
                nw = MAX_WORDS + 1;
                break;
            }
            w[nw++] = t;
        }
        if (nw == 0)
            continue;
        if (nw > MAX_WORDS) {
            shim_warn("%s:%zu: too many words, line ignored", path, lineno);
            continue;
        }
        struct directive *grown = realloc(d, (n + 1) * sizeof *d);
        if (!grown)
            break;
        d = grown;
        struct directive *cur = &d[n];
        memset(cur, 0, sizeof *cur);
        const char *err = parse_directive(w, nw, cur);
        size_t tlen = 0;
        for (int i = 0; i < nw; i++)
            tlen += strlen(w[i]) + 1;
        cur->text = malloc(tlen);
        if (err || !cur->text) {
            shim_warn("%s:%zu: %s: line ignored", path, lineno, err ? err : "out of memory");
            free(cur->text);
            free(cur->id);
            free(cur->path);
            continue;
        }
        cur->text[0] = '\0';
        for (int i = 0; i < nw; i++) {
            if (i)
                strcat(cur->text, " ");
            strcat(cur->text, w[i]);
        }
        n++;
    }
    free(line);
    fclose(f);
    *out = d;
    *nout = n;
}

/* Lines that were already in effect keep their counters; new ones start. */
static void carry_state(struct directive *nd, size_t nn, struct directive *od, size_t on)
{
    for (size_t i = 0; i < on; i++)
        od[i].taken = false;
    for (size_t i = 0; i < nn; i++)
        for (size_t j = 0; j < on; j++)
            if (!od[j].taken && strcmp(nd[i].text, od[j].text) == 0) {
                od[j].taken = true;
                nd[i].calls = od[j].calls;
                nd[i].stuck = od[j].stuck;
                nd[i].save = od[j].save;
                break;
            }
}

void control_refresh(void)
{
    const char *path = shim_env_control();
    if (!path)
        return;
    for (int attempt = 0; attempt < 3; attempt++) {
        struct file_id id = identify(path);
        shim_lock();
        bool same = have_current && same_file(&id, &current);
        shim_unlock();
        if (same)
            return;
        /* Read outside the lock: other threads keep the old directives
         * meanwhile, which is what they would have seen a moment earlier. */
        struct directive *nd = NULL;
        size_t nn = 0;
        if (id.exists)
            parse_file(path, &nd, &nn);
        /* If the file changed while it was read, read it again. */
        struct file_id after = identify(path);
        if (!same_file(&id, &after)) {
            dirs_free(nd, nn);
            continue;
        }
        shim_lock();
        struct directive *old = dirs;
        size_t on = ndirs;
        if (have_current && same_file(&id, &current)) {
            shim_unlock();
            dirs_free(nd, nn); /* another thread installed it already */
            return;
        }
        carry_state(nd, nn, old, on);
        dirs = nd;
        ndirs = nn;
        current = id;
        have_current = true;
        shim_unlock();
        dirs_free(old, on);
        return;
    }
}

void control_reset(void)
{
    shim_lock();
    struct directive *old = dirs;
    size_t on = ndirs;
    dirs = NULL;
    ndirs = 0;
    have_current = false;
    shim_unlock();
    dirs_free(old, on);
}

void control_on_call(enum shim_fn fn, struct call_plan *plan)
{
    *plan = (struct call_plan){.code = CKR_OK};
    shim_lock();
    for (size_t i = 0; i < ndirs; i++) {
        struct directive *d = &dirs[i];
        if (d->kind == K_STUCK) {
            if (fn == SHIM_C_Initialize && d->stuck == STUCK_ENGAGED)
                d->stuck = STUCK_SPENT;
            else if (d->fn == (int)fn && d->stuck != STUCK_SPENT && !plan->fail) {
                d->stuck = STUCK_ENGAGED;
                plan->fail = true;
                plan->code = d->code;
            }
            continue;
        }
        if ((d->kind != K_FAIL && d->kind != K_LATENCY && d->kind != K_FORK) ||
            (d->fn != -1 && d->fn != (int)fn))
            continue;
        if (d->kind == K_LATENCY) {
            plan->latency_us += d->usec;
            continue;
        }
        if (d->kind == K_FORK) {
            plan->fork = true;
            continue;
        }
        d->calls++;
        if (!plan->fail && (d->nth == 0 || d->calls == d->nth)) {
            plan->fail = true;
            plan->code = d->code;
        }
    }
    shim_unlock();
}

bool control_reuse_handles(void)
{
    bool on = false;
    shim_lock();
    for (size_t i = 0; i < ndirs && !on; i++)
        on = dirs[i].kind == K_REUSE;
    shim_unlock();
    return on;
}

bool control_overlong(enum shim_fn fn)
{
    bool on = false;
    shim_lock();
    for (size_t i = 0; i < ndirs && !on; i++)
        on = dirs[i].kind == K_OVERLONG && dirs[i].fn == (int)fn;
    shim_unlock();
    return on;
}

bool control_nul_pad(void)
{
    bool on = false;
    shim_lock();
    for (size_t i = 0; i < ndirs && !on; i++)
        on = dirs[i].kind == K_NUL_PAD;
    shim_unlock();
    return on;
}

void control_token_flags(CK_FLAGS *set, CK_FLAGS *clear)
{
    *set = *clear = 0;
    shim_lock();
    for (size_t i = 0; i < ndirs; i++)
        if (dirs[i].kind == K_FLAGS) {
            *set |= dirs[i].set;
            *clear |= dirs[i].clear;
        }
    shim_unlock();
}

bool control_any_wrong_pubkey(void)
{
    bool any = false;
    shim_lock();
    for (size_t i = 0; i < ndirs && !any; i++)
        any = dirs[i].kind == K_WRONG_PUBKEY;
    shim_unlock();
    return any;
}

unsigned control_wrong_pubkey(const unsigned char *id, size_t id_len)
{
    unsigned mask = 0;
    shim_lock();
    for (size_t i = 0; i < ndirs; i++)
        if (dirs[i].kind == K_WRONG_PUBKEY && dirs[i].id_len == id_len &&
            (id_len == 0 || memcmp(dirs[i].id, id, id_len) == 0))
            mask |= dirs[i].mask;
    shim_unlock();
    return mask;
}

/* Whether any line of |kind| is in effect, and whether one names |id|. */
static bool any_of(enum kind kind)
{
    bool any = false;
    shim_lock();
    for (size_t i = 0; i < ndirs && !any; i++)
        any = dirs[i].kind == kind;
    shim_unlock();
    return any;
}

static const struct directive *naming_locked(enum kind kind, const unsigned char *id, size_t id_len)
{
    for (size_t i = 0; i < ndirs; i++)
        if (dirs[i].kind == kind && dirs[i].id_len == id_len &&
            (id_len == 0 || memcmp(dirs[i].id, id, id_len) == 0))
            return &dirs[i];
    return NULL;
}

bool control_any_degenerate(void)
{
    return any_of(K_DEGENERATE);
}

enum degenerate control_degenerate(const unsigned char *id, size_t id_len)
{
    shim_lock();
    const struct directive *d = naming_locked(K_DEGENERATE, id, id_len);
    enum degenerate kind = d ? d->degenerate : DEGENERATE_NONE;
    shim_unlock();
    return kind;
}

bool control_any_attr_error(void)
{
    return any_of(K_ATTR_ERROR);
}

bool control_attr_error(const unsigned char *id, size_t id_len, CK_ATTRIBUTE_TYPE type, CK_RV *code)
{
    bool named = false;
    shim_lock();
    for (size_t i = 0; i < ndirs && !named; i++)
        if (dirs[i].kind == K_ATTR_ERROR && dirs[i].attr == type && dirs[i].id_len == id_len &&
            (id_len == 0 || memcmp(dirs[i].id, id, id_len) == 0)) {
            named = true;
            *code = dirs[i].code;
        }
    shim_unlock();
    return named;
}

bool control_any_forge(void)
{
    return any_of(K_FORGE);
}

bool control_forge(const unsigned char *id, size_t id_len)
{
    shim_lock();
    bool named = naming_locked(K_FORGE, id, id_len) != NULL;
    shim_unlock();
    return named;
}

char *control_snapshot_save_claim(void)
{
    char *path = NULL;
    shim_lock();
    for (size_t i = 0; i < ndirs; i++)
        if (dirs[i].kind == K_SNAP_SAVE && dirs[i].save == SAVE_PENDING) {
            path = strdup(dirs[i].path);
            if (path)
                dirs[i].save = SAVE_RUNNING; /* one thread saves; others go on */
            break;
        }
    shim_unlock();
    return path;
}

void control_snapshot_save_done(const char *path, bool ok)
{
    shim_lock();
    for (size_t i = 0; i < ndirs; i++)
        if (dirs[i].kind == K_SNAP_SAVE && dirs[i].save == SAVE_RUNNING &&
            strcmp(dirs[i].path, path) == 0) {
            dirs[i].save = ok ? SAVE_DONE : SAVE_PENDING;
            break;
        }
    shim_unlock();
}

char *control_snapshot_serve_path(void)
{
    const char *path = NULL;
    shim_lock();
    for (size_t i = 0; i < ndirs; i++)
        if (dirs[i].kind == K_SNAP_SERVE)
            path = dirs[i].path; /* the last line wins */
    char *copy = path ? strdup(path) : NULL;
    shim_unlock();
    return copy;
}
