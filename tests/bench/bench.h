/*
 * The benchmark's shared pieces: a contender is anything whose rate is
 * measured (a raw C_Sign loop, the provider's EVP_DigestSign, a key load, a
 * whole process); rounds alternate all contenders and keep per-round rates,
 * so every ratio in the table compares numbers taken in the same minute.
 */
#ifndef HSM_BENCH_H
#define HSM_BENCH_H

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stddef.h>

#define BENCH_MAX_ROUNDS 25
#define BENCH_MAX_THREADS 8
#define BENCH_MSG_LEN 32

/* The 32-byte message every signature is made over. */
extern const unsigned char bench_msg[BENCH_MSG_LEN];

double bench_now(void);

/* ----------------------------------------------------------- contenders */

/* One operation on one thread's state; false on failure (with `why`). */
typedef bool bench_op(void *state, char *why, size_t len);

struct contender {
    char name[96];
    int threads;
    void *state[BENCH_MAX_THREADS]; /* one per thread, made before round 1 */
    bench_op *op;
    void (*free_state)(void *state);
    double rates[BENCH_MAX_ROUNDS]; /* operations per second, per round */
    int nrounds;
    bool failed;
    char why[300];
    /* A contender run by another process (the peer's): contender_run asks
     * it through remote_run. */
    void *remote;
    int remote_id;
    void (*remote_run)(struct contender *c, double seconds, int min_ops);
};

/* Runs `c` for `seconds` (at least `min_ops` operations per thread) and
 * appends the rate to its rounds. */
void contender_run(struct contender *c, double seconds, int min_ops);
double contender_median(const struct contender *c); /* 0 when failed or never run */
void contender_free(struct contender *c);
void contender_fail(struct contender *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ raw PKCS#11 */

struct raw_module {
    void *dl;
    CK_FUNCTION_LIST *fns;
    char path[512];
};

/* A key found directly on the token, the baseline's view. */
struct raw_key {
    struct raw_module *mod;
    CK_SLOT_ID slot;
    CK_OBJECT_HANDLE priv;
    CK_KEY_TYPE type;
    char label[64];
    EVP_PKEY *pub; /* built from the public key object, default provider */
    /* CKA_MODULUS or CKA_EC_POINT when the private object carries its public
     * key (the provider's handle check reads it), else 0. */
    CK_ATTRIBUTE_TYPE own_public;
};

bool raw_module_load(struct raw_module *m, const char *path, char *why, size_t len);
void raw_module_finalize(struct raw_module *m);
bool raw_find_slot(struct raw_module *m, const char *token, CK_SLOT_ID *slot, char *why,
                   size_t len);
/* A new session on `slot`, logged in as user (login is per token, so the
 * first call logs in and later ones find it done). */
bool raw_session(struct raw_module *m, CK_SLOT_ID slot, const char *pin, CK_SESSION_HANDLE *s,
                 char *why, size_t len);
/* Finds the private key `label` and builds its public key; false if absent. */
bool raw_key_find(struct raw_module *m, CK_SLOT_ID slot, CK_SESSION_HANDLE s, const char *label,
                  struct raw_key *k, char *why, size_t len);
/* Number of objects the logged-in session sees on the token. */
long raw_count_objects(struct raw_module *m, CK_SESSION_HANDLE s);

/* Raw signing state: C_SignInit + C_Sign on its own session. */
void *raw_sign_state(struct raw_key *k, const char *pin, char *why, size_t len);
bench_op raw_sign_op;
void raw_sign_free(void *state);
/* The same after the handle check the provider makes per signature: one
 * C_GetAttributeValue of class, key type, id and own_public. */
bench_op raw_sign_reval_op;
/* The last signature, converted to what EVP_DigestVerify expects (DER for
 * ECDSA), and checked with the public key object. */
bool raw_sign_der(void *state, unsigned char *out, size_t *outlen);
bool raw_sign_check(void *state, char *why, size_t len);

/* Raw key load: slot by label, private key by class+label, its attributes,
 * public key by class+id, its attributes; on one logged-in session. */
void *raw_load_state(struct raw_module *m, const char *token, const char *label, const char *pin,
                     char *why, size_t len);
bench_op raw_load_op;
void raw_load_free(void *state);
/* On the same state, what design.md's points 1-3 ask of every load, made
 * raw: every slot's token label (two tokens may share one), the private key
 * by class+label and its attributes, every object under its CKA_ID read
 * once, and a possession proof (a fresh challenge signed on the token and
 * verified). P-256 keys only. */
bench_op raw_policy_load_op;

/* ---------------------------------------------------------- the provider */

/* A library context with the hsm provider (and default) configured from a
 * generated openssl.cnf, with audit-log = |audit_log| unless it is NULL;
 * NULL and `why` when the provider does not load. */
OSSL_LIB_CTX *prov_libctx(const char *workdir, const char *name, const char *provider_so,
                          const char *module_path, bool verify, bool possession,
                          const char *audit_log, char *why, size_t len);
/* Writes the same configuration as a file for child processes. */
bool prov_write_cnf(const char *file, const char *provider_so, const char *module_path, bool verify,
                    bool possession, const char *audit_log);
EVP_PKEY *prov_load_key(OSSL_LIB_CTX *ctx, const char *uri, char *why, size_t len);

/* EVP_DigestSign through the provider; one state per thread. */
void *prov_sign_state(OSSL_LIB_CTX *ctx, EVP_PKEY *key, EVP_PKEY *pub, char *why, size_t len);
bench_op prov_sign_op;
void prov_sign_free(void *state);
bool prov_sign_check(void *state, char *why, size_t len);

/* OpenSSL's own EVP_DigestVerify with the default provider. */
void *sw_verify_state(EVP_PKEY *pub, const unsigned char *sig, size_t siglen, char *why,
                      size_t len);
bench_op sw_verify_op;
void sw_verify_free(void *state);

/* OSSL_STORE open + load + close of one key by URI. */
void *prov_load_state(OSSL_LIB_CTX *ctx, const char *uri);
bench_op prov_load_op;

/* The digest name for a key type: "SHA256", or NULL for EdDSA. */
const char *bench_md_for(CK_KEY_TYPE type);
/* Collects the OpenSSL error queue into one line. */
void bench_ssl_errors(char *buf, size_t len);

/* ----------------------------------------------------------- audit log */

/* One note appended to the log at |path| with the provider's own writer
 * (lock, last link, SHA-256, write, fsync): the log's cost alone. */
void *audit_append_state(const char *path, char *why, size_t len);
bench_op audit_append_op;
void audit_append_free(void *state);
/* The file system |path| is on ("ext4", "tmpfs", ...). */
const char *audit_fs_type(const char *path);
/* Reads the log with the provider's verifier: records and whether the
 * chain holds; false when it cannot be read. */
bool audit_log_check(const char *path, size_t *records, bool *holds);

/* ------------------------------------------------ the peer: pkcs11-provider */

struct options;

/* An openssl.cnf with pkcs11-provider (and default) on `module_path`, with
 * the quirks its documentation gives for SoftHSMv2. */
bool peer_write_cnf(const char *file, const char *peer_so, const char *module_path);

/* What a peer process measures: signing with each key on the token (ids
 * 2*i and 2*i+1 for one and two threads of labels[i]), the same through
 * the 1 ms shim, or loading the P-256 key (id 0: the small token, 1: the
 * crowded one). */
enum peer_role { PEER_SIGN, PEER_SHIM, PEER_LOAD };
struct peer_proc {
    int pid, fd;
};
/* Forks the process; call before this process initialises any PKCS#11
 * module. False when pkcs11-provider is not given or the fork fails. */
bool peer_start(struct peer_proc *pp, const struct options *o, enum peer_role role,
                const char *labels[], size_t nlabels);
/* Makes `c` run as contender `id` of `pp`; false (and `c` failed, with
 * the peer's reason) when the peer could not set it up. */
bool peer_attach(struct contender *c, struct peer_proc *pp, int id);
void peer_stop(struct peer_proc *pp);
/* A library context with pkcs11-provider on `module_path` (NULL and `why`
 * on failure). */
OSSL_LIB_CTX *peer_libctx(const char *workdir, const char *name, const char *peer_so,
                          const char *module_path, char *why, size_t len);
/* The build information a provider loaded in `ctx` reports. */
void provider_build_info(OSSL_LIB_CTX *ctx, const char *name, char *buf, size_t len);

/* --------------------------------------------------------- whole process */

/* Spawns argv with extra environment entries; ok when it exits 0. */
void *proc_state(char *const argv[], char *const extra_env[], const char *errfile);
bench_op proc_op;
void proc_free(void *state);

/* ------------------------------------------------------ what is measured */

/* The command line (see usage() in bench.c). */
struct options {
    const char *provider_so, *module, *shim, *spy, *oneshot, *openssl, *workdir;
    const char *token, *big_token, *pin, *softhsm_version, *proc_softhsm_conf;
    /* pkcs11-provider's module (NULL: not installed) and package version;
     * hsm's source revision. */
    const char *peer_so, *peer_version, *hsm_revision;
    const char *data_dir; /* --data: where the charts' data go (NULL: nowhere) */
    int rounds, proc_runs;
    double slice;
};

/* One key type on the token: the raw baseline and the provider's
 * contenders, one and two threads, direct and through the fault shim. */
struct alg {
    const char *label, *name;
    struct raw_key key, shim_key;
    bool have_key, have_shim_key;
    char why[300];
    EVP_PKEY *k_on, *k_off, *ks_on, *ks_off;
    struct contender raw1, rawr, raw2, rawr2, off1, off2, on1, on2, verify, sraw, soff, son;
    /* pkcs11-provider: one and two threads, direct and on the 1 ms token. */
    struct contender peer1, peer2, speer, speer2;
    /* Two threads on the 1 ms token: the token waits, not the CPU, so
     * these show whether a signature waits for another thread's. */
    struct contender sraw2, son2;
    /* Verify on with audit-log set: one fsync'ed record per signature. */
    EVP_PKEY *k_log;
    struct contender log1, log2;
};

/* OSSL_STORE loads of the P-256 key on one token, against raw look-ups. */
struct load_row {
    const char *token;
    long objects;
    /* pos and nopos load by label, as the raw baseline does; byid loads
     * the same key by CKA_ID (one search where a label needs two); policy
     * is raw PKCS#11 making the calls the policy asks of any load. */
    struct contender raw, pos, nopos, byid, policy, peer;
};

/* Whole processes signing with one key type. */
struct proc_row {
    const char *label, *name;
    struct contender raw, dgst, lean, pem, peer;
};

/* ----------------------------------------------------------------- report */

/* CPU time used by the whole machine and by this process (with its waited
 * children), to say how much other load shared the machine with a run. */
struct cpu_sample {
    double wall, busy, own;
};
void cpu_sample(struct cpu_sample *out);
/* The versions compared: hsm's and the peer's (NULL when absent). */
struct versions {
    const char *softhsm, *hsm_build, *hsm_revision, *peer_package;
};
void report_header(const struct versions *v, const struct cpu_sample *start,
                   const struct cpu_sample *end);
const char *fmt_rate(char *buf, size_t len, double v);
const char *fmt_ratio(char *buf, size_t len, double num, double den);

/* hsm beside pkcs11-provider and raw PKCS#11: the issue 19 comparison. */
void print_peer_table(const struct alg *algs, size_t nalgs, bool have_shim);
void print_sign_tables(const struct alg *algs, size_t nalgs, bool have_shim, const char *shim_why);
void print_load_table(const struct load_row *rows, int n);
/* floors: /bin/true, openssl version (default only, then with hsm),
 * openssl dgst with no key, hash_oneshot. */
enum { FLOOR_TRUE, FLOOR_VERSION_DEFAULT, FLOOR_VERSION_HSM, FLOOR_DGST, FLOOR_HASH, NFLOORS };
void print_proc_table(const struct proc_row *rows, int n, int runs,
                      const struct contender *const floors[NFLOORS]);
/* Signatures with the audit log on against off, and the log's own cost:
 * |append| (a note alone), the log at |log_path|. */
void print_audit_table(const struct alg *algs, size_t nalgs, const struct contender *append,
                       const char *log_path);
/* The charts' data (signing-softhsm.dat, signing-1ms.dat, keyload.dat) in
 * |dir|, for tests/bench/draw_charts.sh. */
bool write_data_files(const char *dir, const struct alg *algs, size_t nalgs, bool have_shim,
                      const struct load_row *rows, int nrows);
/* Loads keys through pkcs11-spy (o->spy) and prints the calls it logged. */
void report_call_counts(const struct options *o);
/* pkcs11-spy's log: the calls named in it after `offset`, by name. */
struct call_count {
    char name[40];
    long n;
};
int count_calls(const char *log, long offset, struct call_count *out, int max);
long file_size(const char *path);
void print_counts(const char *what, struct call_count *cc, int n, double per);

#endif
