#include "cache/module_caching.h"

#include "cache/debug_log.h"
#include "cache/fork_gate.h"
#include "cache/lock.h"
#include "cache/module_health.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WATCH_MAX 9

struct stamp {
    bool present;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct watch {
    const struct hsm_module *mod;
    size_t n;
    char *files[WATCH_MAX];
    struct stamp seen[WATCH_MAX];
    bool outdated;         /* a change was seen ... */
    unsigned outdated_gen; /* ... while this generation was in use */
    struct watch *next;
};

/* Taken inside the fork gate, never across a module call. Records are
 * never freed (modules are never unloaded). */
static pthread_mutex_t watches_lock = PTHREAD_MUTEX_INITIALIZER;
static struct watch *watches;

static void add_file(struct watch *w, const char *dir, const char *name)
{
    char path[4096];

    if (w->n >= WATCH_MAX || dir == NULL || dir[0] == '\0')
        return;
    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
        return;
    w->files[w->n] = strdup(path);
    if (w->files[w->n] != NULL)
        w->n++;
}

static void add_sqlite(struct watch *w, const char *dir, const char *db)
{
    char name[256];

    add_file(w, dir, db);
    snprintf(name, sizeof(name), "%s-journal", db);
    add_file(w, dir, name);
    snprintf(name, sizeof(name), "%s-wal", db);
    add_file(w, dir, name);
}

static bool basename_has(const char *path, const char *what)
{
    const char *base = strrchr(path, '/');

    return strstr(base != NULL ? base + 1 : path, what) != NULL;
}

/* NSS's configdir='sql:DIR' (or dbm: / no prefix) from its init args. */
static void add_nss_configdir(struct watch *w, const char *args)
{
    const char *p = args != NULL ? strstr(args, "configdir=") : NULL;
    char dir[4096];
    size_t len;
    char quote = 0;

    if (p == NULL)
        return;
    p += strlen("configdir=");
    if (*p == '\'' || *p == '"')
        quote = *p++;
    len = quote ? strcspn(p, (char[]){quote, 0}) : strcspn(p, " ");
    if (len >= sizeof(dir))
        return;
    memcpy(dir, p, len);
    dir[len] = '\0';
    p = strchr(dir, ':');
    p = (p != NULL && p - dir <= 4) ? p + 1 : dir;
    add_file(w, p, "cert9.db");
    add_file(w, p, "key4.db");
}

/* Which files the module's view comes from; none for most modules. */
static void choose_files(struct watch *w, const struct hsm_module *mod)
{
    const char *path = hsm_module_path(mod), *home;
    char dir[4096];

    if (basename_has(path, "tpm2_pkcs11")) {
        add_sqlite(w, secure_getenv("TPM2_PKCS11_STORE"), "tpm2_pkcs11.sqlite3");
        add_sqlite(w, "/etc/tpm2_pkcs11", "tpm2_pkcs11.sqlite3");
        if ((home = secure_getenv("HOME")) != NULL &&
            snprintf(dir, sizeof(dir), "%s/.tpm2_pkcs11", home) < (int)sizeof(dir))
            add_sqlite(w, dir, "tpm2_pkcs11.sqlite3");
    } else if (basename_has(path, "softokn3")) {
        add_nss_configdir(w, hsm_module_init_args(mod));
    }
}

static void take(const char *file, struct stamp *s)
{
    struct stat st;

    memset(s, 0, sizeof(*s));
    if (stat(file, &st) != 0)
        return;
    s->present = true;
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    s->size = st.st_size;
    s->mtime = st.st_mtim;
}

static bool same(const struct stamp *a, const struct stamp *b)
{
    return a->present == b->present && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The module's record, made on first use (its files stamped then). */
static struct watch *watch_of(struct hsm_module *mod)
{
    struct watch *w;

    for (w = watches; w != NULL; w = w->next)
        if (w->mod == mod)
            return w;
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return NULL;
    w->mod = mod;
    choose_files(w, mod);
    for (size_t i = 0; i < w->n; i++)
        take(w->files[i], &w->seen[i]);
    w->next = watches;
    watches = w;
    return w;
}

bool hsm_module_view_outdated(struct hsm_module *mod, unsigned generation)
{
    struct stamp now[WATCH_MAX];
    struct watch *w;
    bool outdated = false;
    size_t n;

    hsm_fork_gate_enter();
    if (!hsm_lock(&watches_lock)) {
        hsm_fork_gate_leave();
        return false;
    }
    w = watch_of(mod);
    n = w != NULL ? w->n : 0;
    hsm_unlock(&watches_lock);
    hsm_fork_gate_leave();
    if (n == 0)
        return false;
    /* The stats run with no lock held; the files list never changes. */
    for (size_t i = 0; i < n; i++)
        take(w->files[i], &now[i]);

    hsm_fork_gate_enter();
    if (hsm_lock(&watches_lock)) {
        for (size_t i = 0; i < n; i++)
            if (!same(&now[i], &w->seen[i])) {
                hsm_debug(1, "%s changed: %s is initialised again before its next use", w->files[i],
                          hsm_module_path(mod));
                memcpy(w->seen, now, sizeof(now[0]) * n);
                w->outdated = true;
                w->outdated_gen = generation;
                break;
            }
        /* Generations only grow: one past the outdated one was made after
         * the change was seen. */
        if (w->outdated && (int)(generation - w->outdated_gen) > 0)
            w->outdated = false;
        outdated = w->outdated;
        hsm_unlock(&watches_lock);
    }
    hsm_fork_gate_leave();
    return outdated;
}

static bool watched(struct hsm_module *mod)
{
    struct watch *w = NULL;

    hsm_fork_gate_enter();
    if (hsm_lock(&watches_lock)) {
        w = watch_of(mod);
        hsm_unlock(&watches_lock);
    }
    hsm_fork_gate_leave();
    return w != NULL && w->n > 0;
}

bool hsm_module_refresh_if_outdated(struct hsm_module *mod)
{
    unsigned generation;

    if (!watched(mod))
        return true; /* most modules: nothing to look at */
    if (hsm_module_enter(mod, &generation) == NULL)
        return false;
    hsm_module_leave(mod);
    /* The module's one place for re-initialisation decides and does it, at
     * the next entry into the module. */
    if (hsm_module_view_outdated(mod, generation))
        hsm_module_observe(mod, HSM_SIGN_STORE_CHANGED, "its store", CKR_OK);
    return true;
}
