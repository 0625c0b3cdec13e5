/*
 * hsm-bench: the provider against the token's own speed, in one run.
 *
 * Every contender (raw C_Sign, the provider with verify-after-sign on and
 * off, OpenSSL's software verification, one and two threads, the fault
 * shim's 1 ms latency, key loads, whole processes) runs for a short slice in
 * each round, in an order that rotates from round to round; the table shows
 * medians and ratios against raw numbers taken in the same rounds. Nothing
 * here is a test: run_bench.sh makes the tokens and runs it.
 */
#include "tests/bench/bench.h"

#include "cache/p256_verify.h"

#include <getopt.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct alg algs[] = {
    {.label = "rsa2048", .name = "RSA-2048"},
    {.label = "p256", .name = "P-256"},
    {.label = "p384", .name = "P-384"},
    {.label = "ed25519", .name = "Ed25519"},
};
#define NALGS (sizeof(algs) / sizeof(algs[0]))

struct entry {
    struct contender *c;
    double seconds;
    int min_ops;
    int warm_ops; /* operations per thread before the rounds, at least */
};

/* Signers are measured in their steady state, as in a long-running
 * process: past the signature after which the provider verifies a P-256
 * key's signatures with a table of its point (cache/p256_verify.h). */
#define STEADY_SIGNATURES (HSM_P256_TABLE_AFTER + 76)

/* Process floors: an empty process, and the openssl binary doing nothing
 * with the provider configured (it loads the PKCS#11 module lazily). */
static struct contender floor_true, floor_version, floor_default, floor_dgst, floor_hash;

static struct entry entries[256];
static int nentries;
static const char *only; /* --only: schedule just the contenders named so (profiling) */
static bool verbose;     /* --verbose: per-round rates on stderr */

/* Reasons for n/a cells, printed under the tables. */
static char notes[32][420];
static int nnotes;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;

    if (nnotes >= 32)
        return;
    va_start(ap, fmt);
    vsnprintf(notes[nnotes++], sizeof(notes[0]), fmt, ap);
    va_end(ap);
}

/* Does --only name |c| (a part of its name, or of one of several names
 * separated by commas)? */
static bool chosen(const struct contender *c)
{
    const char *at = only;

    while (at != NULL) {
        const char *comma = strchr(at, ',');
        size_t len = comma != NULL ? (size_t)(comma - at) : strlen(at);
        char part[96];

        snprintf(part, sizeof(part), "%.*s", (int)len, at);
        if (strstr(c->name, part) != NULL)
            return true;
        at = comma != NULL ? comma + 1 : NULL;
    }
    return only == NULL;
}

static void schedule(struct contender *c, double seconds, int min_ops, int warm_ops)
{
    if (!chosen(c))
        return;
    if (!c->failed && nentries < (int)(sizeof(entries) / sizeof(entries[0])))
        entries[nentries++] = (struct entry){c, seconds, min_ops, warm_ops};
}

static void name_it(struct contender *c, int threads, const char *fmt, const char *a, const char *b)
{
    snprintf(c->name, sizeof(c->name), fmt, a, b);
    c->threads = threads;
}

/* Runs one operation per thread state and checks the signature it made. */
static void first_op(struct contender *c, bool (*check)(void *, char *, size_t))
{
    for (int i = 0; i < c->threads && !c->failed; i++) {
        if (!c->op(c->state[i], c->why, sizeof(c->why)) ||
            (check != NULL && !check(c->state[i], c->why, sizeof(c->why))))
            c->failed = true;
    }
}

static void setup_raw_sign(struct contender *c, struct raw_key *k, const char *pin)
{
    for (int i = 0; i < c->threads && !c->failed; i++) {
        c->state[i] = raw_sign_state(k, pin, c->why, sizeof(c->why));
        c->failed = c->state[i] == NULL;
    }
    c->op = raw_sign_op;
    c->free_state = raw_sign_free;
    first_op(c, raw_sign_check);
}

static void setup_prov_sign(struct contender *c, OSSL_LIB_CTX *ctx, EVP_PKEY *key, EVP_PKEY *pub,
                            const char *why_no_key)
{
    if (key == NULL) {
        contender_fail(c, "%s", why_no_key);
        return;
    }
    for (int i = 0; i < c->threads && !c->failed; i++) {
        c->state[i] = prov_sign_state(ctx, key, pub, c->why, sizeof(c->why));
        c->failed = c->state[i] == NULL;
    }
    c->op = prov_sign_op;
    c->free_state = prov_sign_free;
    first_op(c, prov_sign_check);
}

static EVP_PKEY *load_or_note(OSSL_LIB_CTX *ctx, const char *uri, const char *what, char *why,
                              size_t len)
{
    EVP_PKEY *pk;

    if (ctx == NULL)
        return NULL;
    pk = prov_load_key(ctx, uri, why, len);
    if (pk == NULL)
        note("%s: the provider did not load the key: %s", what, why);
    return pk;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
    fprintf(stderr, "usage: hsm-bench --provider HSM.SO --module LIBSOFTHSM2.SO --workdir DIR\n"
                    "  [--token bench] [--big-token big] [--pin 1234] [--shim SHIM.SO]\n"
                    "  [--spy PKCS11-SPY.SO] [--oneshot RAW_ONESHOT] [--openssl /usr/bin/openssl]\n"
                    "  [--rounds 5] [--slice 0.3] [--proc-runs 10] [--softhsm-version TEXT]\n"
                    "  [--proc-softhsm-conf FILE]  SOFTHSM2_CONF for the whole-process runs\n"
                    "  [--peer PKCS11.SO] [--peer-version TEXT]  pkcs11-provider, measured beside\n"
                    "  [--hsm-revision TEXT]  hsm's source revision, for the header\n"
                    "  [--data DIR]  write the charts' data files there (draw_charts.sh)\n"
                    "  [--only TEXT[,TEXT...]]  run only contenders whose name contains a TEXT\n"
                    "  [--verbose]  per-round rates of every contender on stderr\n");
    exit(2);
}

static void parse(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {{"provider", 1, 0, 'P'},
                                         {"module", 1, 0, 'm'},
                                         {"shim", 1, 0, 's'},
                                         {"spy", 1, 0, 'y'},
                                         {"oneshot", 1, 0, 'o'},
                                         {"openssl", 1, 0, 'O'},
                                         {"workdir", 1, 0, 'w'},
                                         {"token", 1, 0, 't'},
                                         {"big-token", 1, 0, 'b'},
                                         {"pin", 1, 0, 'p'},
                                         {"rounds", 1, 0, 'r'},
                                         {"slice", 1, 0, 'l'},
                                         {"proc-runs", 1, 0, 'n'},
                                         {"softhsm-version", 1, 0, 'v'},
                                         {"proc-softhsm-conf", 1, 0, 'c'},
                                         {"only", 1, 0, 'x'},
                                         {"verbose", 0, 0, 'V'},
                                         {"peer", 1, 0, 'e'},
                                         {"peer-version", 1, 0, 'E'},
                                         {"hsm-revision", 1, 0, 'R'},
                                         {"data", 1, 0, 'D'},
                                         {0, 0, 0, 0}};
    int ch;

    *o = (struct options){.token = "bench",
                          .pin = "1234",
                          .openssl = "/usr/bin/openssl",
                          .rounds = 5,
                          .slice = 0.3,
                          .proc_runs = 10,
                          .softhsm_version = "unknown",
                          .peer_version = "unknown",
                          .hsm_revision = "unknown"};
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'P':
            o->provider_so = optarg;
            break;
        case 'm':
            o->module = optarg;
            break;
        case 's':
            o->shim = optarg;
            break;
        case 'y':
            o->spy = optarg;
            break;
        case 'o':
            o->oneshot = optarg;
            break;
        case 'O':
            o->openssl = optarg;
            break;
        case 'w':
            o->workdir = optarg;
            break;
        case 't':
            o->token = optarg;
            break;
        case 'b':
            o->big_token = optarg;
            break;
        case 'p':
            o->pin = optarg;
            break;
        case 'r':
            o->rounds = atoi(optarg);
            break;
        case 'l':
            o->slice = atof(optarg);
            break;
        case 'n':
            o->proc_runs = atoi(optarg);
            break;
        case 'v':
            o->softhsm_version = optarg;
            break;
        case 'c':
            o->proc_softhsm_conf = optarg;
            break;
        case 'x':
            only = optarg;
            break;
        case 'V':
            verbose = true;
            break;
        case 'e':
            o->peer_so = optarg[0] != '\0' ? optarg : NULL;
            break;
        case 'E':
            o->peer_version = optarg;
            break;
        case 'R':
            o->hsm_revision = optarg;
            break;
        case 'D':
            o->data_dir = optarg;
            break;
        default:
            usage();
        }
    }
    if (o->provider_so == NULL || o->module == NULL || o->workdir == NULL || o->rounds < 1 ||
        o->rounds > BENCH_MAX_ROUNDS || o->slice <= 0 || o->proc_runs < 1)
        usage();
}

static void setup_signing(const struct options *o, struct raw_module *raw, CK_SLOT_ID slot,
                          CK_SESSION_HANDLE s, OSSL_LIB_CTX *on, OSSL_LIB_CTX *off,
                          const char *ctx_why, struct peer_proc *peer)
{
    char uri[512], why[600], what[64];

    for (size_t i = 0; i < NALGS; i++) {
        struct alg *x = &algs[i];

        name_it(&x->raw1, 1, "%s raw 1T%s", x->name, "");
        name_it(&x->rawr, 1, "%s raw + handle check%s", x->name, "");
        name_it(&x->raw2, 2, "%s raw 2T%s", x->name, "");
        name_it(&x->rawr2, 2, "%s raw + handle check 2T%s", x->name, "");
        name_it(&x->off1, 1, "%s provider verify off 1T%s", x->name, "");
        name_it(&x->off2, 2, "%s provider verify off 2T%s", x->name, "");
        name_it(&x->on1, 1, "%s provider verify on 1T%s", x->name, "");
        name_it(&x->on2, 2, "%s provider verify on 2T%s", x->name, "");
        name_it(&x->verify, 1, "%s OpenSSL verify%s", x->name, "");
        name_it(&x->peer1, 1, "%s pkcs11-provider 1T%s", x->name, "");
        name_it(&x->peer2, 2, "%s pkcs11-provider 2T%s", x->name, "");
        x->have_key = raw_key_find(raw, slot, s, x->label, &x->key, x->why, sizeof(x->why));
        if (!x->have_key) {
            note("%s: no usable key on the token: %s", x->name, x->why);
            struct contender *all[] = {&x->raw1,   &x->rawr,  &x->raw2, &x->rawr2,
                                       &x->off1,   &x->off2,  &x->on1,  &x->on2,
                                       &x->verify, &x->peer1, &x->peer2};
            for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
                contender_fail(all[k], "no key");
            continue;
        }
        setup_raw_sign(&x->raw1, &x->key, o->pin);
        setup_raw_sign(&x->raw2, &x->key, o->pin);
        setup_raw_sign(&x->rawr, &x->key, o->pin);
        x->rawr.op = raw_sign_reval_op;
        setup_raw_sign(&x->rawr2, &x->key, o->pin);
        x->rawr2.op = raw_sign_reval_op;
        if (!x->raw1.failed) {
            unsigned char der[1024];
            size_t derlen = sizeof(der);

            if (raw_sign_der(x->raw1.state[0], der, &derlen)) {
                x->verify.state[0] =
                    sw_verify_state(x->key.pub, der, derlen, x->verify.why, sizeof(x->verify.why));
                x->verify.op = sw_verify_op;
                x->verify.free_state = sw_verify_free;
                x->verify.failed = x->verify.state[0] == NULL;
                first_op(&x->verify, NULL);
            } else {
                contender_fail(&x->verify, "no raw signature to verify");
            }
        } else {
            note("%s: raw signing failed: %s", x->name, x->raw1.why);
            contender_fail(&x->verify, "no raw signature to verify");
        }
        snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private?pin-value=%s", o->token,
                 x->label, o->pin);
        snprintf(what, sizeof(what), "%s", x->name);
        if (on == NULL || off == NULL)
            note("%s: %s", x->name, ctx_why);
        x->k_on = load_or_note(on, uri, what, why, sizeof(why));
        x->k_off =
            off != NULL && x->k_on != NULL ? prov_load_key(off, uri, why, sizeof(why)) : NULL;
        setup_prov_sign(&x->off1, off, x->k_off, x->key.pub, "provider key not loaded");
        setup_prov_sign(&x->off2, off, x->k_off, x->key.pub, "provider key not loaded");
        setup_prov_sign(&x->on1, on, x->k_on, x->key.pub, "provider key not loaded");
        setup_prov_sign(&x->on2, on, x->k_on, x->key.pub, "provider key not loaded");
        if (x->k_on != NULL && x->on1.failed)
            note("%s: provider signing failed: %s", x->name, x->on1.why);
        if (x->k_off != NULL && x->off1.failed)
            note("%s: provider signing (verify off) failed: %s", x->name, x->off1.why);
        if (!peer_attach(&x->peer1, peer, (int)(2 * i)) && peer->fd >= 0)
            note("%s: pkcs11-provider: %s", x->name, x->peer1.why);
        peer_attach(&x->peer2, peer, (int)(2 * i + 1));
    }
}

static bool setup_shim(const struct options *o, struct raw_module *shim, char *shim_why, size_t len,
                       OSSL_LIB_CTX **s_on, OSSL_LIB_CTX **s_off, struct peer_proc *peer)
{
    char control[1024], uri[512], why[600];
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    FILE *f;

    if (o->shim == NULL) {
        snprintf(shim_why, len, "the fault shim (tests/shim, hsm-fault-shim.so) is not built");
        return false;
    }
    snprintf(control, sizeof(control), "%s/shim.control", o->workdir);
    f = fopen(control, "w");
    /* A signature ends in C_Sign (hsm, raw, the peer's ECDSA) or in
     * C_SignFinal (the peer's RSA, hashed on the token): 1 ms either way. */
    if (f == NULL || fputs("latency C_Sign 1000\nlatency C_SignFinal 1000\n", f) < 0 ||
        fclose(f) != 0) {
        snprintf(shim_why, len, "cannot write %.200s", control);
        return false;
    }
    setenv("HSM_SHIM_MODULE", o->module, 1);
    setenv("HSM_SHIM_CONTROL", control, 1);
    if (!raw_module_load(shim, o->shim, shim_why, len) ||
        !raw_find_slot(shim, o->token, &slot, shim_why, len) ||
        !raw_session(shim, slot, o->pin, &s, shim_why, len))
        return false;
    *s_on = prov_libctx(o->workdir, "shim-on", o->provider_so, o->shim, true, true, NULL, why,
                        sizeof(why));
    *s_off = prov_libctx(o->workdir, "shim-off", o->provider_so, o->shim, false, true, NULL, why,
                         sizeof(why));
    for (size_t i = 0; i < NALGS; i++) {
        struct alg *x = &algs[i];

        name_it(&x->sraw, 1, "%s raw via shim%s", x->name, "");
        name_it(&x->soff, 1, "%s provider shim verify off%s", x->name, "");
        name_it(&x->son, 1, "%s provider shim verify on%s", x->name, "");
        name_it(&x->sraw2, 2, "%s raw via shim 2T%s", x->name, "");
        name_it(&x->son2, 2, "%s provider shim verify on 2T%s", x->name, "");
        name_it(&x->speer, 1, "%s pkcs11-provider shim%s", x->name, "");
        name_it(&x->speer2, 2, "%s pkcs11-provider shim 2T%s", x->name, "");
        x->have_shim_key = raw_key_find(shim, slot, s, x->label, &x->shim_key, why, sizeof(why));
        if (!x->have_shim_key) {
            contender_fail(&x->sraw, "%s", why);
            contender_fail(&x->soff, "no key");
            contender_fail(&x->son, "no key");
            contender_fail(&x->sraw2, "no key");
            contender_fail(&x->son2, "no key");
            contender_fail(&x->speer, "no key");
            contender_fail(&x->speer2, "no key");
            continue;
        }
        setup_raw_sign(&x->sraw, &x->shim_key, o->pin);
        setup_raw_sign(&x->sraw2, &x->shim_key, o->pin);
        snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private?pin-value=%s", o->token,
                 x->label, o->pin);
        x->ks_on = *s_on != NULL ? prov_load_key(*s_on, uri, why, sizeof(why)) : NULL;
        x->ks_off = *s_off != NULL ? prov_load_key(*s_off, uri, why, sizeof(why)) : NULL;
        setup_prov_sign(&x->soff, *s_off, x->ks_off, x->shim_key.pub, "provider key not loaded");
        setup_prov_sign(&x->son, *s_on, x->ks_on, x->shim_key.pub, "provider key not loaded");
        setup_prov_sign(&x->son2, *s_on, x->ks_on, x->shim_key.pub, "provider key not loaded");
        if (!peer_attach(&x->speer, peer, (int)(2 * i)) && peer->fd >= 0)
            note("%s via the shim: pkcs11-provider: %s", x->name, x->speer.why);
        peer_attach(&x->speer2, peer, (int)(2 * i + 1));
    }
    return true;
}

static int setup_loads(const struct options *o, struct raw_module *raw, OSSL_LIB_CTX *on,
                       OSSL_LIB_CTX *nopos, struct peer_proc *peer, struct load_row *rows)
{
    const char *tokens[2] = {o->token, o->big_token};
    char uri[512];
    int n = 0;

    for (int i = 0; i < 2; i++) {
        struct load_row *r = &rows[n];
        CK_SLOT_ID slot;
        CK_SESSION_HANDLE s;
        char why[300];

        if (tokens[i] == NULL)
            continue;
        r->token = tokens[i];
        r->objects = raw_find_slot(raw, tokens[i], &slot, why, sizeof(why)) &&
                             raw_session(raw, slot, o->pin, &s, why, sizeof(why))
                         ? raw_count_objects(raw, s)
                         : -1;
        name_it(&r->raw, 1, "load %s raw%s", tokens[i], "");
        name_it(&r->pos, 1, "load %s provider possession on%s", tokens[i], "");
        name_it(&r->nopos, 1, "load %s provider possession off%s", tokens[i], "");
        name_it(&r->byid, 1, "load %s provider by id possession on%s", tokens[i], "");
        name_it(&r->policy, 1, "load %s raw policy calls%s", tokens[i], "");
        name_it(&r->peer, 1, "load %s pkcs11-provider%s", tokens[i], "");
        r->raw.state[0] =
            raw_load_state(raw, tokens[i], "p256", o->pin, r->raw.why, sizeof(r->raw.why));
        r->raw.failed = r->raw.state[0] == NULL;
        r->raw.op = raw_load_op;
        r->raw.free_state = raw_load_free;
        r->policy.state[0] =
            raw_load_state(raw, tokens[i], "p256", o->pin, r->policy.why, sizeof(r->policy.why));
        r->policy.failed = r->policy.state[0] == NULL;
        r->policy.op = raw_policy_load_op;
        r->policy.free_state = raw_load_free;
        snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=p256;type=private?pin-value=%s",
                 tokens[i], o->pin);
        r->pos.state[0] = prov_load_state(on, uri);
        r->pos.op = prov_load_op;
        r->pos.failed = on == NULL;
        r->nopos.state[0] = prov_load_state(nopos, uri);
        r->nopos.op = prov_load_op;
        r->nopos.failed = nopos == NULL;
        /* run_bench.sh gives the P-256 key id 02 on both tokens. */
        snprintf(uri, sizeof(uri), "pkcs11:token=%s;id=%%02;type=private?pin-value=%s", tokens[i],
                 o->pin);
        r->byid.state[0] = prov_load_state(on, uri);
        r->byid.op = prov_load_op;
        r->byid.failed = on == NULL;
        first_op(&r->raw, NULL);
        first_op(&r->pos, NULL);
        first_op(&r->nopos, NULL);
        first_op(&r->byid, NULL);
        first_op(&r->policy, NULL);
        if (!peer_attach(&r->peer, peer, i) && peer->fd >= 0)
            note("pkcs11-provider key load on %s: %s", tokens[i], r->peer.why);
        if (r->pos.failed)
            note("key load on %s: %s", tokens[i], r->pos.why);
        if (r->raw.failed)
            note("raw key load on %s: %s", tokens[i], r->raw.why);
        if (r->policy.failed)
            note("raw policy load on %s: %s", tokens[i], r->policy.why);
        n++;
    }
    return n;
}

/* A software key and a default-only openssl.cnf: `openssl dgst` without
 * the provider, the floor any provider's whole process stands on. */
static bool write_software_key(const char *file, const char *label)
{
    EVP_PKEY *pk = strcmp(label, "rsa2048") == 0
                       ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                       : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    FILE *f = pk != NULL ? fopen(file, "w") : NULL;
    bool ok = f != NULL && PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);

    if (f != NULL)
        ok = fclose(f) == 0 && ok;
    EVP_PKEY_free(pk);
    return ok;
}

/*
 * `openssl dgst -sha256` of the data with no key, against hash_oneshot (built
 * beside raw_oneshot) doing the same: the openssl command's own cost.
 */
static void setup_command_floor(const struct options *o, char *env_default_only)
{
    char data[1024], out[1024], err[1024], hash[1024];
    const char *slash = o->oneshot != NULL ? strrchr(o->oneshot, '/') : NULL;
    char *envp[] = {env_default_only, NULL};

    name_it(&floor_dgst, 1, "process openssl dgst no key%s%s", "", "");
    name_it(&floor_hash, 1, "process hash one-shot%s%s", "", "");
    if (slash == NULL) {
        contender_fail(&floor_dgst, "raw_oneshot not given (--oneshot)");
        contender_fail(&floor_hash, "raw_oneshot not given (--oneshot)");
        return;
    }
    snprintf(hash, sizeof(hash), "%.*s/hash_oneshot", (int)(slash - o->oneshot), o->oneshot);
    snprintf(data, sizeof(data), "%s/data", o->workdir);
    snprintf(out, sizeof(out), "%s/data.sha256", o->workdir);
    {
        char *dgst_argv[] = {
            (char *)o->openssl, "dgst", "-sha256", "-binary", "-out", out, data, NULL};
        char *hash_argv[] = {hash, data, out, NULL};

        snprintf(err, sizeof(err), "%s/dgst-nokey.err", o->workdir);
        floor_dgst.state[0] = proc_state(dgst_argv, envp, err);
        snprintf(err, sizeof(err), "%s/hash-oneshot.err", o->workdir);
        floor_hash.state[0] = proc_state(hash_argv, envp, err);
    }
    floor_dgst.op = floor_hash.op = proc_op;
    floor_dgst.free_state = floor_hash.free_state = proc_free;
    first_op(&floor_dgst, NULL);
    first_op(&floor_hash, NULL);
}

static void setup_floors(const struct options *o)
{
    char cnf[1024], env[1100], err[1024], cnf_d[1024], env_d[1100];
    char *true_argv[] = {"/bin/true", NULL};
    char *version_argv[] = {(char *)o->openssl, "version", NULL};
    char *envp[] = {env, NULL}, *envp_d[] = {env_d, NULL};

    snprintf(cnf, sizeof(cnf), "%s/dgst-default.cnf", o->workdir);
    snprintf(env, sizeof(env), "OPENSSL_CONF=%s", cnf);
    /* setup_procs's openssl.cnf without the hsm section: the difference is
     * what loading and activating the provider costs a process. */
    snprintf(cnf_d, sizeof(cnf_d), "%s/software.cnf", o->workdir);
    snprintf(env_d, sizeof(env_d), "OPENSSL_CONF=%s", cnf_d);
    setup_command_floor(o, env_d);
    name_it(&floor_default, 1, "process openssl version default only%s%s", "", "");
    snprintf(err, sizeof(err), "%s/version-default.err", o->workdir);
    floor_default.state[0] = proc_state(version_argv, envp_d, err);
    floor_default.op = proc_op;
    floor_default.free_state = proc_free;
    first_op(&floor_default, NULL);
    name_it(&floor_true, 1, "process /bin/true%s%s", "", "");
    name_it(&floor_version, 1, "process openssl version%s%s", "", "");
    snprintf(err, sizeof(err), "%s/true.err", o->workdir);
    floor_true.state[0] = proc_state(true_argv, NULL, err);
    floor_true.op = proc_op;
    floor_true.free_state = proc_free;
    snprintf(err, sizeof(err), "%s/version.err", o->workdir);
    floor_version.state[0] = proc_state(version_argv, envp, err);
    floor_version.op = proc_op;
    floor_version.free_state = proc_free;
    first_op(&floor_true, NULL);
    first_op(&floor_version, NULL);
}

static int setup_procs(const struct options *o, struct proc_row *rows)
{
    static const char *labels[][2] = {{"p256", "P-256"}, {"rsa2048", "RSA-2048"}};
    char data[1024], cnf_default[1024], cnf_lean[1024], env_default[1100], env_lean[1100],
        env_softhsm[1100], cnf_sw[1024], env_sw[1100], cnf_peer[1024], env_peer[1100];
    const char *conf;
    FILE *f;
    int n = 0;

    snprintf(data, sizeof(data), "%s/data", o->workdir);
    f = fopen(data, "wb");
    if (f == NULL || fwrite(bench_msg, 1, BENCH_MSG_LEN, f) != BENCH_MSG_LEN || fclose(f) != 0)
        return 0;
    snprintf(cnf_default, sizeof(cnf_default), "%s/dgst-default.cnf", o->workdir);
    snprintf(cnf_lean, sizeof(cnf_lean), "%s/dgst-lean.cnf", o->workdir);
    if (!prov_write_cnf(cnf_default, o->provider_so, o->module, true, true, NULL) ||
        !prov_write_cnf(cnf_lean, o->provider_so, o->module, false, false, NULL))
        return 0;
    snprintf(cnf_peer, sizeof(cnf_peer), "%s/dgst-peer.cnf", o->workdir);
    if (o->peer_so != NULL && !peer_write_cnf(cnf_peer, o->peer_so, o->module))
        return 0;
    snprintf(env_peer, sizeof(env_peer), "OPENSSL_CONF=%s", cnf_peer);
    snprintf(env_default, sizeof(env_default), "OPENSSL_CONF=%s", cnf_default);
    snprintf(env_lean, sizeof(env_lean), "OPENSSL_CONF=%s", cnf_lean);
    snprintf(cnf_sw, sizeof(cnf_sw), "%s/software.cnf", o->workdir);
    f = fopen(cnf_sw, "w");
    if (f == NULL ||
        fputs("openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n"
              "[provider_sect]\ndefault = default_sect\n[default_sect]\nactivate = 1\n",
              f) < 0 ||
        fclose(f) != 0)
        return 0;
    snprintf(env_sw, sizeof(env_sw), "OPENSSL_CONF=%s", cnf_sw);
    /* Child processes see only the small token: SoftHSMv2 reads every
     * token's objects at C_Initialize, which would hide the difference. */
    conf = o->proc_softhsm_conf != NULL ? o->proc_softhsm_conf : getenv("SOFTHSM2_CONF");
    snprintf(env_softhsm, sizeof(env_softhsm), "SOFTHSM2_CONF=%s",
             conf != NULL ? conf : "/etc/softhsm/softhsm2.conf");
    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
        struct proc_row *r = &rows[n++];
        char uri[512], out[1024], err[1024], pem[1024];
        char *pem_argv[] = {
            (char *)o->openssl, "dgst", "-sha256", "-sign", pem, "-out", out, data, NULL};
        char *env_s[] = {env_sw, NULL};
        char *dgst_argv[] = {
            (char *)o->openssl, "dgst", "-sha256", "-sign", uri, "-out", out, data, NULL};
        char *env_d[] = {env_default, env_softhsm, NULL}, *env_l[] = {env_lean, env_softhsm, NULL};
        char *env_r[] = {env_softhsm, NULL}, *env_p[] = {env_peer, env_softhsm, NULL};
        char *raw_argv[] = {(char *)o->oneshot,
                            (char *)o->module,
                            (char *)o->token,
                            (char *)labels[i][0],
                            (char *)o->pin,
                            data,
                            out,
                            NULL};

        r->label = labels[i][0];
        r->name = labels[i][1];
        snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private?pin-value=%s", o->token,
                 r->label, o->pin);
        snprintf(out, sizeof(out), "%s/%s.sig", o->workdir, r->label);
        name_it(&r->raw, 1, "process %s raw one-shot%s", r->name, "");
        name_it(&r->dgst, 1, "process %s openssl dgst%s", r->name, "");
        name_it(&r->lean, 1, "process %s openssl dgst lean%s", r->name, "");
        name_it(&r->pem, 1, "process %s openssl dgst PEM key%s", r->name, "");
        name_it(&r->peer, 1, "process %s openssl dgst pkcs11-provider%s", r->name, "");
        if (o->peer_so != NULL) {
            snprintf(err, sizeof(err), "%s/%s-peer.err", o->workdir, r->label);
            r->peer.state[0] = proc_state(dgst_argv, env_p, err);
            r->peer.op = proc_op;
            r->peer.free_state = proc_free;
        } else {
            contender_fail(&r->peer, "pkcs11-provider is not installed");
        }
        snprintf(pem, sizeof(pem), "%s/software-%s.pem", o->workdir, r->label);
        if (write_software_key(pem, r->label)) {
            snprintf(err, sizeof(err), "%s/%s-pem.err", o->workdir, r->label);
            r->pem.state[0] = proc_state(pem_argv, env_s, err);
            r->pem.op = proc_op;
            r->pem.free_state = proc_free;
        } else {
            contender_fail(&r->pem, "cannot make a software key");
        }
        snprintf(err, sizeof(err), "%s/%s-dgst.err", o->workdir, r->label);
        r->dgst.state[0] = proc_state(dgst_argv, env_d, err);
        r->dgst.op = proc_op;
        r->dgst.free_state = proc_free;
        snprintf(err, sizeof(err), "%s/%s-lean.err", o->workdir, r->label);
        r->lean.state[0] = proc_state(dgst_argv, env_l, err);
        r->lean.op = proc_op;
        r->lean.free_state = proc_free;
        if (o->oneshot != NULL) {
            snprintf(err, sizeof(err), "%s/%s-raw.err", o->workdir, r->label);
            r->raw.state[0] = proc_state(raw_argv, env_r, err);
            r->raw.op = proc_op;
            r->raw.free_state = proc_free;
        } else {
            contender_fail(&r->raw, "raw_oneshot not given (--oneshot)");
        }
        first_op(&r->raw, NULL);
        first_op(&r->dgst, NULL);
        first_op(&r->lean, NULL);
        first_op(&r->pem, NULL);
        first_op(&r->peer, NULL);
        if (o->peer_so != NULL && r->peer.failed)
            note("openssl dgst %s through pkcs11-provider: %s", r->name, r->peer.why);
        if (r->dgst.failed)
            note("openssl dgst %s: %s", r->name, r->dgst.why);
        if (r->raw.failed)
            note("raw one-shot %s: %s", r->name, r->raw.why);
    }
    return n;
}

/*
 * The audit log's cost: P-256 and RSA-2048 signing with verify on in a
 * library context whose provider has audit-log set, beside the same
 * without it (the "on" contenders), and a record appended alone.
 */
static void setup_audit(const struct options *o, struct contender *append, char *log_path,
                        size_t log_len, OSSL_LIB_CTX **ctx)
{
    char uri[512], why[600], append_log[1024];

    snprintf(log_path, log_len, "%s/audit.log", o->workdir);
    snprintf(append_log, sizeof(append_log), "%s/audit-append.log", o->workdir);
    *ctx = prov_libctx(o->workdir, "audit-on", o->provider_so, o->module, true, true, log_path, why,
                       sizeof(why));
    if (*ctx == NULL)
        note("audit log: the provider did not load with audit-log set: %s", why);
    for (size_t i = 0; i < NALGS; i++) {
        struct alg *x = &algs[i];

        name_it(&x->log1, 1, "%s provider audit log on 1T%s", x->name, "");
        name_it(&x->log2, 2, "%s provider audit log on 2T%s", x->name, "");
        if (strcmp(x->label, "p256") != 0 && strcmp(x->label, "rsa2048") != 0) {
            x->log1.failed = x->log2.failed = true; /* measured for two keys only */
            continue;
        }
        snprintf(uri, sizeof(uri), "pkcs11:token=%s;object=%s;type=private?pin-value=%s", o->token,
                 x->label, o->pin);
        x->k_log = x->have_key ? load_or_note(*ctx, uri, x->name, why, sizeof(why)) : NULL;
        setup_prov_sign(&x->log1, *ctx, x->k_log, x->key.pub, "provider key not loaded");
        setup_prov_sign(&x->log2, *ctx, x->k_log, x->key.pub, "provider key not loaded");
        if (x->k_log != NULL && x->log1.failed)
            note("%s: signing with the audit log on failed: %s", x->name, x->log1.why);
    }
    name_it(append, 1, "audit log append alone%s%s", "", "");
    append->state[0] = audit_append_state(append_log, append->why, sizeof(append->why));
    append->failed = append->state[0] == NULL;
    append->op = audit_append_op;
    append->free_state = audit_append_free;
    first_op(append, NULL);
}

int main(int argc, char **argv)
{
    struct options o;
    struct raw_module raw, shim;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE s;
    OSSL_LIB_CTX *on, *off, *nopos, *s_on = NULL, *s_off = NULL, *audit = NULL;
    char why[600], shim_why[300] = "", audit_log[1024], hsm_build[200];
    struct contender audit_append = {0};
    struct peer_proc peer_sign, peer_shim, peer_load;
    const char *labels[NALGS];
    struct load_row loads[2];
    struct proc_row procs[2];
    int nloads = 0, nprocs = 0, status = 0;
    bool have_shim;
    struct cpu_sample cpu_start, cpu_end;

    parse(argc, argv, &o);
    /* The peer's processes first: before this one initialises a module. */
    for (size_t i = 0; i < NALGS; i++)
        labels[i] = algs[i].label;
    if (!peer_start(&peer_sign, &o, PEER_SIGN, labels, NALGS) && o.peer_so != NULL)
        note("pkcs11-provider: cannot start its process");
    if (o.shim == NULL || !peer_start(&peer_shim, &o, PEER_SHIM, labels, NALGS))
        peer_shim.fd = -1;
    peer_start(&peer_load, &o, PEER_LOAD, labels, NALGS);
    memset(loads, 0, sizeof(loads));
    memset(procs, 0, sizeof(procs));
    memset(&shim, 0, sizeof(shim));
    if (!raw_module_load(&raw, o.module, why, sizeof(why)) ||
        !raw_find_slot(&raw, o.token, &slot, why, sizeof(why)) ||
        !raw_session(&raw, slot, o.pin, &s, why, sizeof(why))) {
        fprintf(stderr, "hsm-bench: %s\n", why);
        return 1;
    }
    on = prov_libctx(o.workdir, "verify-on", o.provider_so, o.module, true, true, NULL, why,
                     sizeof(why));
    off = on != NULL ? prov_libctx(o.workdir, "verify-off", o.provider_so, o.module, false, true,
                                   NULL, why, sizeof(why))
                     : NULL;
    nopos = on != NULL ? prov_libctx(o.workdir, "possession-off", o.provider_so, o.module, true,
                                     false, NULL, why, sizeof(why))
                       : NULL;
    if (on == NULL)
        fprintf(stderr, "hsm-bench: the provider did not load: %s\n", why);
    provider_build_info(on, "hsm", hsm_build, sizeof(hsm_build));

    fprintf(stderr, "hsm-bench: setting up contenders\n");
    setup_signing(&o, &raw, slot, s, on, off, why, &peer_sign);
    have_shim = setup_shim(&o, &shim, shim_why, sizeof(shim_why), &s_on, &s_off, &peer_shim);
    setup_audit(&o, &audit_append, audit_log, sizeof(audit_log), &audit);
    nloads = setup_loads(&o, &raw, on, nopos, &peer_load, loads);
    nprocs = setup_procs(&o, procs);
    if (nprocs > 0)
        setup_floors(&o);

    for (size_t i = 0; i < NALGS; i++) {
        struct alg *x = &algs[i];
        struct contender *sign[] = {&x->raw1,  &x->rawr, &x->off1, &x->on1,   &x->verify, &x->raw2,
                                    &x->rawr2, &x->off2, &x->on2,  &x->peer1, &x->peer2};

        for (size_t k = 0; k < sizeof(sign) / sizeof(sign[0]); k++)
            schedule(sign[k], o.slice, 5, STEADY_SIGNATURES);
        schedule(&x->log1, o.slice, 5, STEADY_SIGNATURES);
        schedule(&x->log2, o.slice, 5, STEADY_SIGNATURES / 2);
        if (have_shim) {
            schedule(&x->sraw, o.slice, 5, STEADY_SIGNATURES);
            schedule(&x->soff, o.slice, 5, STEADY_SIGNATURES);
            schedule(&x->son, o.slice, 5, STEADY_SIGNATURES);
            schedule(&x->sraw2, o.slice, 5, STEADY_SIGNATURES / 2);
            schedule(&x->son2, o.slice, 5, STEADY_SIGNATURES / 2);
            schedule(&x->speer, o.slice, 5, STEADY_SIGNATURES);
            schedule(&x->speer2, o.slice, 5, STEADY_SIGNATURES / 2);
        }
    }
    schedule(&audit_append, o.slice, 5, 5);
    for (int i = 0; i < nloads; i++) {
        schedule(&loads[i].raw, o.slice, 3, 1);
        schedule(&loads[i].pos, o.slice, 3, 1);
        schedule(&loads[i].nopos, o.slice, 3, 1);
        schedule(&loads[i].byid, o.slice, 3, 1);
        schedule(&loads[i].policy, o.slice, 3, 1);
        schedule(&loads[i].peer, o.slice, 3, 1);
    }
    for (int i = 0; i < nprocs; i++) {
        schedule(&procs[i].raw, 0, o.proc_runs, 2);
        schedule(&procs[i].dgst, 0, o.proc_runs, 2);
        schedule(&procs[i].lean, 0, o.proc_runs, 2);
        schedule(&procs[i].pem, 0, o.proc_runs, 2);
        schedule(&procs[i].peer, 0, o.proc_runs, 2);
    }
    if (nprocs > 0) {
        schedule(&floor_true, 0, o.proc_runs, 2);
        schedule(&floor_version, 0, o.proc_runs, 2);
        schedule(&floor_default, 0, o.proc_runs, 2);
        schedule(&floor_dgst, 0, o.proc_runs, 2);
        schedule(&floor_hash, 0, o.proc_runs, 2);
    }

    /* A warm-up slice each (not counted), then rounds in rotating order. */
    fprintf(stderr, "hsm-bench: %d contenders, warm-up\n", nentries);
    for (int i = 0; i < nentries; i++) {
        contender_run(entries[i].c, entries[i].seconds / 3, entries[i].warm_ops);
        if (entries[i].c->nrounds > 0)
            entries[i].c->nrounds--;
    }
    cpu_sample(&cpu_start);
    for (int r = 0; r < o.rounds; r++) {
        fprintf(stderr, "hsm-bench: round %d of %d\n", r + 1, o.rounds);
        for (int k = 0; k < nentries; k++) {
            struct entry *e = &entries[(k + r * 7) % nentries];

            contender_run(e->c, e->seconds, e->min_ops);
            if (e->c->failed && e->c->why[0] != '\0') {
                note("%s failed during the rounds: %s", e->c->name, e->c->why);
                e->c->why[0] = '\0';
            }
        }
    }

    /* Per-round rates on stderr, to judge the spread behind each median. */
    for (int i = 0; verbose && i < nentries; i++) {
        fprintf(stderr, "%-48s", entries[i].c->name);
        for (int r = 0; r < entries[i].c->nrounds; r++)
            fprintf(stderr, " %9.1f", entries[i].c->rates[r]);
        fprintf(stderr, "%s\n", entries[i].c->failed ? " (failed)" : "");
    }
    cpu_sample(&cpu_end);
    report_header(&(struct versions){.softhsm = o.softhsm_version,
                                     .hsm_build = hsm_build,
                                     .hsm_revision = o.hsm_revision,
                                     .peer_package = o.peer_so != NULL ? o.peer_version : NULL},
                  &cpu_start, &cpu_end);
    print_peer_table(algs, NALGS, have_shim);
    print_sign_tables(algs, NALGS, have_shim, shim_why);
    print_audit_table(algs, NALGS, &audit_append, audit_log);
    print_load_table(loads, nloads);
    print_proc_table(procs, nprocs, o.proc_runs,
                     (const struct contender *[]){&floor_true, &floor_default, &floor_version,
                                                  &floor_dgst, &floor_hash});
    if (o.spy != NULL)
        report_call_counts(&o);
    if (nnotes > 0) {
        printf("\n### Notes (n/a cells)\n\n");
        for (int i = 0; i < nnotes; i++)
            printf("- %.400s\n", notes[i]);
    }
    fflush(stdout);
    if (o.data_dir != NULL && !write_data_files(o.data_dir, algs, NALGS, have_shim, loads, nloads))
        status = 1;

    for (size_t i = 0; i < NALGS; i++) {
        struct contender *all[] = {
            &algs[i].raw1, &algs[i].rawr,  &algs[i].raw2,  &algs[i].rawr2,  &algs[i].off1,
            &algs[i].off2, &algs[i].on1,   &algs[i].on2,   &algs[i].verify, &algs[i].sraw,
            &algs[i].soff, &algs[i].son,   &algs[i].sraw2, &algs[i].son2,   &algs[i].log1,
            &algs[i].log2, &algs[i].peer1, &algs[i].peer2, &algs[i].speer,  &algs[i].speer2};

        for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++)
            contender_free(all[k]);
        EVP_PKEY_free(algs[i].key.pub);
        EVP_PKEY_free(algs[i].shim_key.pub);
    }
    for (int i = 0; i < nloads; i++) {
        contender_free(&loads[i].raw);
        contender_free(&loads[i].pos);
        contender_free(&loads[i].nopos);
        contender_free(&loads[i].byid);
        contender_free(&loads[i].policy);
        contender_free(&loads[i].peer);
    }
    for (int i = 0; i < nprocs; i++) {
        contender_free(&procs[i].raw);
        contender_free(&procs[i].dgst);
        contender_free(&procs[i].lean);
        contender_free(&procs[i].pem);
        contender_free(&procs[i].peer);
    }
    contender_free(&floor_true);
    contender_free(&floor_version);
    contender_free(&floor_default);
    contender_free(&floor_dgst);
    contender_free(&floor_hash);
    for (size_t i = 0; i < NALGS; i++) {
        EVP_PKEY_free(algs[i].k_on);
        EVP_PKEY_free(algs[i].k_off);
        EVP_PKEY_free(algs[i].ks_on);
        EVP_PKEY_free(algs[i].ks_off);
        EVP_PKEY_free(algs[i].k_log);
    }
    contender_free(&audit_append);
    OSSL_LIB_CTX_free(audit);
    OSSL_LIB_CTX_free(s_on);
    OSSL_LIB_CTX_free(s_off);
    OSSL_LIB_CTX_free(on);
    OSSL_LIB_CTX_free(off);
    OSSL_LIB_CTX_free(nopos);
    peer_stop(&peer_sign);
    peer_stop(&peer_shim);
    peer_stop(&peer_load);
    if (have_shim)
        raw_module_finalize(&shim);
    raw_module_finalize(&raw);
    return status;
}
