/*
 * The peer: pkcs11-provider (Debian's package), the provider users would
 * otherwise install, configured as its documentation says for SoftHSMv2
 * and otherwise at its defaults.
 *
 * It runs in processes of its own, one per role (signing on the token,
 * signing through the 1 ms shim, loading keys), each started before this
 * process initialises any PKCS#11 module. At its defaults it copies each
 * key it uses into a session object (pkcs11-module-cache-keys), and
 * SoftHSMv2 shows session objects to every session of the process: in the
 * benchmark's own process those copies would make every search for the key
 * find two. The rounds still alternate: the benchmark asks a peer process
 * to run one contender for one slice and waits for its rate.
 */
#include "tests/bench/bench.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/provider.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

bool peer_write_cnf(const char *file, const char *peer_so, const char *module_path)
{
    FILE *f = fopen(file, "w");

    if (f == NULL)
        return false;
    /* The quirks its documentation gives for SoftHSMv2: no C_Finalize at
     * unload, no operation-state duplication (SoftHSMv2 has none). */
    fprintf(f,
            "openssl_conf = openssl_init\n"
            "[openssl_init]\nproviders = provider_sect\n"
            "[provider_sect]\ndefault = default_sect\npkcs11 = pkcs11_sect\n"
            "[default_sect]\nactivate = 1\n"
            "[pkcs11_sect]\nmodule = %s\npkcs11-module-path = %s\n"
            "pkcs11-module-quirks = no-deinit no-operation-state\nactivate = 1\n",
            peer_so, module_path);
    return fclose(f) == 0;
}

OSSL_LIB_CTX *peer_libctx(const char *workdir, const char *name, const char *peer_so,
                          const char *module_path, char *why, size_t len)
{
    char file[1024];
    OSSL_LIB_CTX *ctx;

    snprintf(file, sizeof(file), "%s/%s.cnf", workdir, name);
    if (!peer_write_cnf(file, peer_so, module_path)) {
        snprintf(why, len, "cannot write %.400s", file);
        return NULL;
    }
    ctx = OSSL_LIB_CTX_new();
    if (ctx == NULL || !OSSL_LIB_CTX_load_config(ctx, file) ||
        !OSSL_PROVIDER_available(ctx, "pkcs11")) {
        bench_ssl_errors(why, len);
        OSSL_LIB_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void provider_build_info(OSSL_LIB_CTX *ctx, const char *name, char *buf, size_t len)
{
    OSSL_PROVIDER *prov = ctx != NULL ? OSSL_PROVIDER_load(ctx, name) : NULL;
    const char *info = NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_ptr(OSSL_PROV_PARAM_BUILDINFO, &info, 0),
        OSSL_PARAM_END,
    };

    snprintf(buf, len, "not loaded");
    if (prov != NULL && OSSL_PROVIDER_get_params(prov, params) && info != NULL)
        snprintf(buf, len, "%s", info);
    if (prov != NULL)
        OSSL_PROVIDER_unload(prov);
}

/* ------------------------------------------------------ the protocol */

/* seconds < 0 asks whether the contender could be set up. */
struct peer_request {
    int id, min_ops;
    double seconds;
};

struct peer_reply {
    int ok;
    double rate;
    char why[300];
};

static bool send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool recv_all(int fd, void *buf, size_t len)
{
    char *p = buf;

    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* ------------------------------------------------- the peer's process */

#define PEER_MAX 16

struct peer_child {
    struct contender c[PEER_MAX];
    EVP_PKEY *keys[PEER_MAX], *pubs[PEER_MAX];
    OSSL_LIB_CTX *ctx;
    int n;
};

static struct contender *add(struct peer_child *pc, int threads, const char *fmt, const char *a)
{
    struct contender *c = &pc->c[pc->n++];

    snprintf(c->name, sizeof(c->name), fmt, a);
    c->threads = threads;
    return c;
}

/* Signing contenders, one and two threads per key, ids 2*i and 2*i+1;
 * the first signature of each is verified with the token's public key. */
static void setup_sign(const struct options *o, struct peer_child *pc, const char *labels[],
                       size_t nlabels, EVP_PKEY *pubs[])
{
    char uri[512];

    for (size_t i = 0; i < nlabels && pc->n + 2 <= PEER_MAX; i++) {
        EVP_PKEY *key = NULL;
        char why[300] = "";

        snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private?pin-value=%s", o->token,
                 labels[i], o->pin);
        if (pc->ctx != NULL && pubs[i] != NULL)
            key = pc->keys[pc->n] = prov_load_key(pc->ctx, uri, why, sizeof(why));
        for (int t = 1; t <= 2; t++) {
            struct contender *c = add(pc, t, "%s", labels[i]);

            if (key == NULL) {
                contender_fail(c, "%s", pubs[i] == NULL ? "no such key on the token" : why);
                continue;
            }
            c->op = prov_sign_op;
            c->free_state = prov_sign_free;
            for (int k = 0; k < t && !c->failed; k++) {
                c->state[k] = prov_sign_state(pc->ctx, key, pubs[i], c->why, sizeof(c->why));
                c->failed = c->state[k] == NULL ||
                            !prov_sign_op(c->state[k], c->why, sizeof(c->why)) ||
                            !prov_sign_check(c->state[k], c->why, sizeof(c->why));
            }
        }
    }
}

/* Public keys read raw from the token, before the peer initialises the
 * module: the judge of the peer's first signatures. */
static void read_publics(const struct options *o, const char *labels[], size_t nlabels,
                         EVP_PKEY *pubs[])
{
    struct raw_module raw;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    char why[300];

    if (!raw_module_load(&raw, o->module, why, sizeof(why)) ||
        !raw_find_slot(&raw, o->token, &slot, why, sizeof(why)) ||
        !raw_session(&raw, slot, o->pin, &s, why, sizeof(why)))
        return;
    for (size_t i = 0; i < nlabels; i++) {
        struct raw_key k;

        pubs[i] = raw_key_find(&raw, slot, s, labels[i], &k, why, sizeof(why)) ? k.pub : NULL;
    }
    (void)raw.fns->C_CloseSession(s);
    raw_module_finalize(&raw);
}

static bool setup_child(const struct options *o, enum peer_role role, const char *labels[],
                        size_t nlabels, struct peer_child *pc, char *why, size_t len)
{
    EVP_PKEY *pubs[PEER_MAX] = {0};

    switch (role) {
    case PEER_SIGN:
        read_publics(o, labels, nlabels, pubs);
        pc->ctx = peer_libctx(o->workdir, "peer-sign", o->peer_so, o->module, why, len);
        setup_sign(o, pc, labels, nlabels, pubs);
        break;
    case PEER_SHIM: {
        char control[1024];
        FILE *f;

        read_publics(o, labels, nlabels, pubs);
        snprintf(control, sizeof(control), "%s/shim-peer.control", o->workdir);
        f = fopen(control, "w");
        if (f == NULL || fputs("latency C_Sign 1000\nlatency C_SignFinal 1000\n", f) < 0 ||
            fclose(f) != 0) {
            snprintf(why, len, "cannot write %.400s", control);
            break;
        }
        setenv("HSM_SHIM_MODULE", o->module, 1);
        setenv("HSM_SHIM_CONTROL", control, 1);
        pc->ctx = peer_libctx(o->workdir, "peer-shim", o->peer_so, o->shim, why, len);
        setup_sign(o, pc, labels, nlabels, pubs);
        break;
    }
    case PEER_LOAD: {
        const char *tokens[2] = {o->token, o->big_token};

        pc->ctx = peer_libctx(o->workdir, "peer-load", o->peer_so, o->module, why, len);
        for (int i = 0; i < 2; i++) {
            struct contender *c = add(pc, 1, "load %s", tokens[i] != NULL ? tokens[i] : "-");
            char uri[512];

            if (tokens[i] == NULL || pc->ctx == NULL) {
                contender_fail(c, "%s", tokens[i] == NULL ? "no such token" : why);
                continue;
            }
            snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=p256;type=private?pin-value=%s",
                     tokens[i], o->pin);
            c->state[0] = prov_load_state(pc->ctx, uri);
            c->op = prov_load_op;
            c->failed = c->state[0] == NULL || !prov_load_op(c->state[0], c->why, sizeof(c->why));
        }
        break;
    }
    }
    memcpy(pc->pubs, pubs, sizeof(pubs));
    return pc->ctx != NULL;
}

static void serve(int fd, struct peer_child *pc, const char *setup_why)
{
    struct peer_request rq;

    while (recv_all(fd, &rq, sizeof(rq)) && rq.id >= 0) {
        struct peer_reply rp = {.ok = 1};
        struct contender *c = rq.id < pc->n ? &pc->c[rq.id] : NULL;

        if (c == NULL) {
            rp.ok = 0;
            snprintf(rp.why, sizeof(rp.why), "%s", setup_why[0] ? setup_why : "no such contender");
        } else if (rq.seconds >= 0) {
            c->nrounds = 0; /* only this slice's rate is wanted */
            contender_run(c, rq.seconds, rq.min_ops);
            rp.rate = c->nrounds > 0 ? c->rates[0] : 0;
        }
        if (c != NULL && c->failed) {
            rp.ok = 0;
            snprintf(rp.why, sizeof(rp.why), "%s", c->why);
        }
        if (!send_all(fd, &rp, sizeof(rp)))
            break;
    }
}

static void child_main(int fd, const struct options *o, enum peer_role role, const char *labels[],
                       size_t nlabels)
{
    struct peer_child pc;
    char why[600] = "";

    memset(&pc, 0, sizeof(pc));
    setup_child(o, role, labels, nlabels, &pc, why, sizeof(why));
    /* Set up: the benchmark goes on (SoftHSMv2 instances that initialise
     * at the same moment sometimes miss a token). */
    if (send_all(fd, "r", 1))
        serve(fd, &pc, why);
    for (int i = 0; i < pc.n; i++)
        contender_free(&pc.c[i]);
    for (int i = 0; i < PEER_MAX; i++) {
        EVP_PKEY_free(pc.keys[i]);
        EVP_PKEY_free(pc.pubs[i]);
    }
    OSSL_LIB_CTX_free(pc.ctx);
}

void peer_stop(struct peer_proc *pp);

bool peer_start(struct peer_proc *pp, const struct options *o, enum peer_role role,
                const char *labels[], size_t nlabels)
{
    int sv[2];

    memset(pp, 0, sizeof(*pp));
    pp->fd = -1;
    if (o->peer_so == NULL || nlabels > PEER_MAX / 2 ||
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return false;
    fflush(NULL);
    pp->pid = fork();
    if (pp->pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return false;
    }
    if (pp->pid == 0) {
        close(sv[0]);
        child_main(sv[1], o, role, labels, nlabels);
        _exit(0);
    }
    close(sv[1]);
    pp->fd = sv[0];
    {
        char ready;

        if (!recv_all(pp->fd, &ready, 1)) {
            peer_stop(pp);
            return false;
        }
    }
    return true;
}

void peer_stop(struct peer_proc *pp)
{
    struct peer_request quit = {.id = -1};
    int status;

    if (pp->fd < 0)
        return;
    (void)send_all(pp->fd, &quit, sizeof(quit));
    close(pp->fd);
    pp->fd = -1;
    while (waitpid(pp->pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* contender_run's path for a contender that lives in a peer process. */
static void remote_run(struct contender *c, double seconds, int min_ops)
{
    struct peer_proc *pp = c->remote;
    struct peer_request rq = {.id = c->remote_id, .min_ops = min_ops, .seconds = seconds};
    struct peer_reply rp;

    if (pp->fd < 0 || !send_all(pp->fd, &rq, sizeof(rq)) || !recv_all(pp->fd, &rp, sizeof(rp))) {
        contender_fail(c, "the pkcs11-provider process ended");
        return;
    }
    rp.why[sizeof(rp.why) - 1] = '\0';
    if (!rp.ok)
        contender_fail(c, "%s", rp.why);
    else if (rp.rate > 0 && seconds >= 0 && c->nrounds < BENCH_MAX_ROUNDS)
        c->rates[c->nrounds++] = rp.rate;
}

bool peer_attach(struct contender *c, struct peer_proc *pp, int id)
{
    if (pp->fd < 0) {
        contender_fail(c, "pkcs11-provider is not installed (scripts/install-peer.sh)");
        return false;
    }
    c->remote = pp;
    c->remote_id = id;
    c->remote_run = remote_run;
    /* Whether the peer process could set it up. */
    remote_run(c, -1, 0);
    return !c->failed;
}
