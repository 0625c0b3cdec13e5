/* The configured token PIN and the copy kept of a PIN file (token_pin.h). */
#include "provider/token_pin.h"

#include "cache/error.h"
#include "cache/fork_gate.h"
#include "cache/lock.h"
#include "uri/pin_source.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* What tells one version of a file from the next, without reading it. */
struct file_version {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

struct hsm_token_pin {
    char *configured; /* secure heap: the option's value as written */
    bool allow_shared;
    pthread_mutex_t lock; /* guards the three below; taken inside the fork gate */
    char *kept;           /* secure heap: the PIN the file held when last read */
    struct file_version read_version;
    unsigned read_epoch; /* hsm_fork_epoch() when it was read */
};

static bool is_file(const char *configured)
{
    return strncmp(configured, "file:", 5) == 0;
}

static const char *file_path(const char *configured)
{
    const char *path = configured + 5;

    return strncmp(path, "//", 2) == 0 ? path + 2 : path;
}

static bool version_of(const char *path, struct file_version *v)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return false;
    memset(v, 0, sizeof(*v));
    v->dev = st.st_dev;
    v->ino = st.st_ino;
    v->size = st.st_size;
    v->mtime = st.st_mtim;
    v->ctime = st.st_ctim;
    return true;
}

static bool same_version(const struct file_version *a, const struct file_version *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
           a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Reads the file; on success the PIN replaces the kept one. */
static char *read_and_keep(struct hsm_token_pin *tp)
{
    struct file_version v = {0};
    bool known = version_of(file_path(tp->configured), &v);
    char *pin = hsm_pin_from_source(tp->configured, tp->allow_shared), *copy;

    if (pin == NULL || !known || (copy = hsm_pin_dup(pin)) == NULL)
        return pin;
    hsm_fork_gate_enter();
    if (hsm_lock(&tp->lock)) {
        hsm_pin_free(tp->kept);
        tp->kept = copy;
        tp->read_version = v;
        tp->read_epoch = hsm_fork_epoch();
        copy = NULL;
        hsm_unlock(&tp->lock);
    }
    hsm_fork_gate_leave();
    hsm_pin_free(copy);
    return pin;
}

struct hsm_token_pin *hsm_token_pin_new(const char *configured, bool allow_shared)
{
    struct hsm_token_pin *tp = calloc(1, sizeof(*tp));

    if (tp == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return NULL;
    }
    tp->configured = hsm_pin_dup(configured);
    if (tp->configured == NULL) {
        free(tp);
        return NULL;
    }
    tp->allow_shared = allow_shared;
    pthread_mutex_init(&tp->lock, NULL);
    if (is_file(configured)) {
        hsm_error_set_mark();
        hsm_pin_free(read_and_keep(tp));
        hsm_error_pop_to_mark();
    }
    return tp;
}

void hsm_token_pin_free(struct hsm_token_pin *tp)
{
    if (tp == NULL)
        return;
    hsm_pin_free(tp->configured);
    hsm_pin_free(tp->kept);
    pthread_mutex_destroy(&tp->lock);
    free(tp);
}

/* The kept PIN when it may stand for the file: always in a child (which
 * never reads the file), and in this process while the file is unchanged
 * or out of reach. NULL when the file must be read. */
static char *kept_copy(struct hsm_token_pin *tp)
{
    struct file_version now = {0};
    bool reachable = version_of(file_path(tp->configured), &now);
    char *pin = NULL;

    hsm_fork_gate_enter();
    if (hsm_lock(&tp->lock)) {
        if (tp->kept != NULL && (tp->read_epoch != hsm_fork_epoch() || !reachable ||
                                 same_version(&now, &tp->read_version)))
            pin = hsm_pin_dup(tp->kept);
        hsm_unlock(&tp->lock);
    }
    hsm_fork_gate_leave();
    return pin;
}

char *hsm_token_pin_get(struct hsm_token_pin *tp)
{
    const char *v;
    char *pin;

    if (is_file(tp->configured))
        return (pin = kept_copy(tp)) != NULL ? pin : read_and_keep(tp);
    if (strncmp(tp->configured, "env:", 4) == 0) {
        /* For scripts whose operator accepts a PIN in the environment. */
        v = secure_getenv(tp->configured + 4);
        if (v == NULL || v[0] == '\0') {
            hsm_error(HSM_R_PIN_SOURCE,
                      "environment variable %s (pkcs11-module-token-pin) is not set or empty",
                      tp->configured + 4);
            return NULL;
        }
        return hsm_pin_dup(v);
    }
    return hsm_pin_dup(tp->configured);
}
