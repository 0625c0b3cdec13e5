/*
 * hsm-fault-shim: a PKCS#11 module that wraps a real one (SoftHSMv2) and
 * injects the faults a test asks for in a control file. This header is the
 * contract between the shim's files; nothing here is exported from the .so
 * except C_GetFunctionList (module.c).
 *
 * Locking rule for every file: the shim's own state (directives, handle
 * table, sessions, snapshots) is guarded by shim_lock()/shim_unlock(), and
 * that lock is never held across a call into the real module: SoftHSM calls
 * back into libcrypto, which may re-enter the caller's provider, which may
 * call the shim again on the same thread.
 */
#ifndef HSM_FAULT_SHIM_H
#define HSM_FAULT_SHIM_H

#include <p11-kit/pkcs11.h>
#include <stdbool.h>
#include <stddef.h>

/* Every function of CK_FUNCTION_LIST (PKCS#11 2.40), in list order. */
#define SHIM_FUNCTIONS(X)                                                                          \
    X(C_Initialize)                                                                                \
    X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList) X(C_GetSlotList) X(C_GetSlotInfo) X(           \
        C_GetTokenInfo) X(C_GetMechanismList) X(C_GetMechanismInfo) X(C_InitToken) X(C_InitPIN)    \
        X(C_SetPIN) X(C_OpenSession) X(C_CloseSession) X(C_CloseAllSessions) X(C_GetSessionInfo)   \
            X(C_GetOperationState) X(C_SetOperationState) X(C_Login) X(C_Logout) X(C_CreateObject) \
                X(C_CopyObject) X(C_DestroyObject) X(C_GetObjectSize) X(C_GetAttributeValue)       \
                    X(C_SetAttributeValue) X(C_FindObjectsInit) X(C_FindObjects)                   \
                        X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate)     \
                            X(C_EncryptFinal) X(C_DecryptInit) X(C_Decrypt) X(C_DecryptUpdate) X(  \
                                C_DecryptFinal) X(C_DigestInit) X(C_Digest) X(C_DigestUpdate)      \
                                X(C_DigestKey) X(C_DigestFinal) X(C_SignInit) X(C_Sign) X(         \
                                    C_SignUpdate) X(C_SignFinal) X(C_SignRecoverInit)              \
                                    X(C_SignRecover) X(C_VerifyInit) X(C_Verify) X(C_VerifyUpdate) \
                                        X(C_VerifyFinal) X(C_VerifyRecoverInit) X(C_VerifyRecover) \
                                            X(C_DigestEncryptUpdate) X(C_DecryptDigestUpdate)      \
                                                X(C_SignEncryptUpdate) X(C_DecryptVerifyUpdate)    \
                                                    X(C_GenerateKey) X(C_GenerateKeyPair)          \
                                                        X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey) \
                                                            X(C_SeedRandom) X(C_GenerateRandom)    \
                                                                X(C_GetFunctionStatus)             \
                                                                    X(C_CancelFunction)            \
                                                                        X(C_WaitForSlotEvent)

#define SHIM_FN_ENUM(name) SHIM_##name,
enum shim_fn { SHIM_FUNCTIONS(SHIM_FN_ENUM) SHIM_FN_COUNT };
#undef SHIM_FN_ENUM

/* ---- module.c: the real module and the process-wide lock ---- */
CK_FUNCTION_LIST *shim_real(void);
const char *shim_env_control(void); /* HSM_SHIM_CONTROL or NULL */
const char *shim_env_log(void);     /* HSM_SHIM_LOG or NULL */
void shim_lock(void);
void shim_unlock(void);
void shim_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- names.c: symbolic names <-> numbers ---- */
const char *shim_fn_name(enum shim_fn fn);
int shim_fn_lookup(const char *name);              /* -1 if unknown */
const char *shim_ckr_name(CK_RV rv);               /* NULL if unknown */
bool shim_parse_ckr(const char *s, CK_RV *out);    /* CKR_ name or number */
bool shim_parse_ckf(const char *s, CK_FLAGS *out); /* token CKF_ name or number */

/* ---- log.c: HSM_SHIM_LOG ---- */
void shim_log_call(enum shim_fn fn, CK_RV rv);
/* "fork <function> ok|failed": a `fork` directive's child came and went. */
void shim_log_fork(enum shim_fn fn, bool ok);

/* ---- control.c: the control file and the directives it holds ---- */
void control_refresh(void);
void control_reset(void); /* forget every directive (unload) */
/* What the directives ask of one call, in the order faults.c does it. */
struct call_plan {
    unsigned long latency_us; /* `latency`: sleep first (µs, all lines added) */
    bool fork;                /* `fork`: fork a child and wait for it */
    bool fail;                /* `fail`: return code without the real module */
    CK_RV code;
};
/* Counts this call for every `fail` line naming fn and says what to do.
 * Locks internally. */
void control_on_call(enum shim_fn fn, struct call_plan *plan);
bool control_reuse_handles(void);
void control_token_flags(CK_FLAGS *set, CK_FLAGS *clear);
bool control_nul_pad(void);
bool control_overlong(enum shim_fn fn);
bool control_any_wrong_pubkey(void);
/* Which attributes (a mask of WRONG_* bits) to alter for objects with this
 * CKA_ID; 0 if none. */
#define WRONG_EC_POINT 1u
#define WRONG_MODULUS 2u
#define WRONG_SPKI 4u
#define WRONG_CERT 8u
unsigned control_wrong_pubkey(const unsigned char *id, size_t id_len);
/* degenerate-pubkey: the kind of degenerate key served for this CKA_ID. */
enum degenerate {
    DEGENERATE_NONE,
    DEGENERATE_EC_INFINITY,       /* CKA_EC_POINT: the point at infinity */
    DEGENERATE_EC_OFF_CURVE,      /* CKA_EC_POINT: y changed, off the curve */
    DEGENERATE_EDDSA_IDENTITY,    /* CKA_EC_POINT: the identity, of order 1 */
    DEGENERATE_RSA_E_ONE,         /* CKA_PUBLIC_EXPONENT 1 */
    DEGENERATE_RSA_E_EVEN,        /* CKA_PUBLIC_EXPONENT with its low bit cleared */
    DEGENERATE_RSA_SMALL_MODULUS, /* CKA_MODULUS of 512 bits */
};
enum degenerate degenerate_lookup(const char *name); /* DEGENERATE_NONE if unknown */
bool control_any_degenerate(void);
enum degenerate control_degenerate(const unsigned char *id, size_t id_len);
/* attr-error: whether reading |type| of an object with this CKA_ID fails,
 * and with which code. */
bool control_any_attr_error(void);
bool control_attr_error(const unsigned char *id, size_t id_len, CK_ATTRIBUTE_TYPE type,
                        CK_RV *code);
/* forge-ecdsa: C_Sign by this key returns a forgery. */
bool control_any_forge(void);
bool control_forge(const unsigned char *id, size_t id_len);
/* snapshot-save: claim the pending save (returns a malloc'ed path the
 * caller must free, or NULL), then report the outcome. */
char *control_snapshot_save_claim(void);
void control_snapshot_save_done(const char *path, bool ok);
char *control_snapshot_serve_path(void); /* malloc'ed, or NULL */

/* ---- faults.c: what happens around every call ---- */
/* Returns true if the call must not reach the real module; *rv is then the
 * injected result. */
bool shim_begin(enum shim_fn fn, CK_RV *rv);
CK_RV shim_end(enum shim_fn fn, CK_RV rv);
void faults_apply_token_flags(CK_TOKEN_INFO *info);
void faults_nul_pad_module(CK_INFO *info);
void faults_nul_pad_slot(CK_SLOT_INFO *info);
void faults_nul_pad_token(CK_TOKEN_INFO *info);

/* ---- sessions.c: what the shim knows about each open session ---- */
bool sessions_slot(CK_SESSION_HANDLE s, CK_SLOT_ID *slot); /* asks the real module if unknown */
void sessions_opened(CK_SESSION_HANDLE s, CK_SLOT_ID slot);
void sessions_closed(CK_SESSION_HANDLE s);
void sessions_closed_all(CK_SLOT_ID slot);
void sessions_reset(void);
bool sessions_is_user(CK_SESSION_HANDLE s); /* logged in as user (sees private objects) */
/* forge-ecdsa: the session's signature in progress is to be forged. */
void sessions_set_forge(CK_SESSION_HANDLE s, bool forge);
bool sessions_forge(CK_SESSION_HANDLE s);
/* A stale (snapshot-served) search in progress on this session. */
bool sessions_served_find_start(CK_SESSION_HANDLE s, CK_SLOT_ID slot, const CK_OBJECT_HANDLE *found,
                                size_t n);
bool sessions_served_find_active(CK_SESSION_HANDLE s);
size_t sessions_served_find_next(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *out, size_t max);
bool sessions_served_find_end(CK_SESSION_HANDLE s);

/* ---- handles.c: virtual object handles (reuse-handles) ---- */
/* Synthetic handles name snapshot objects; they live above every virtual
 * handle the table will ever hand out. */
#define SHIM_SYNTHETIC_BASE 0x7e000000UL
#define SHIM_IS_SYNTHETIC(h) ((h) >= SHIM_SYNTHETIC_BASE)
CK_OBJECT_HANDLE handles_to_real(CK_OBJECT_HANDLE virt); /* 0 if unknown */
/* Translates real handles just returned by the real module, in place. */
void handles_from_real(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *h, size_t n);
void handles_forget_real(CK_OBJECT_HANDLE real); /* destroyed through the shim */
/* After a *_HANDLE_INVALID result: with reuse-handles on, frees the numbers
 * of those of these virtual handles whose real object is gone. */
void handles_check_gone(CK_SESSION_HANDLE s, const CK_OBJECT_HANDLE *virt, size_t n);
void handles_reset(void);
bool shim_rv_is_handle_invalid(CK_RV rv);

/* ---- der.c: just enough DER to find a public key inside SPKI/X.509 ---- */
struct der {
    unsigned tag;
    size_t hdr; /* bytes of tag + length */
    size_t len; /* bytes of content */
    unsigned char *content;
};
bool der_read(unsigned char *p, size_t avail, struct der *out);

/* ---- pubkey.c: wrong-pubkey alterations, always length-preserving ---- */
/* Fetches one attribute of the object being altered (malloc'ed value). */
typedef bool (*attr_getter)(void *ctx, CK_ATTRIBUTE_TYPE type, unsigned char **val, CK_ULONG *len);
void pubkey_alter_template(CK_ATTRIBUTE *tmpl, CK_ULONG n, attr_getter get, void *ctx);
bool pubkey_alter_ec_point(const unsigned char *params, size_t params_len, unsigned char *pt,
                           size_t len);
bool pubkey_alter_modulus(unsigned char *n, size_t len);
bool pubkey_alter_spki(unsigned char *spki, size_t len);
bool pubkey_alter_cert(unsigned char *cert, size_t len);

/* ---- degenerate.c: degenerate-pubkey, attr-error, forge-ecdsa ---- */
void degenerate_alter_template(CK_ATTRIBUTE *tmpl, CK_ULONG n, attr_getter get, void *ctx);
/* attr-error: marks the named attribute unavailable and returns the
 * directive's code in place of |rv|. */
CK_RV degenerate_attr_error(CK_ATTRIBUTE *tmpl, CK_ULONG n, attr_getter get, void *ctx, CK_RV rv);
/* At C_SignInit: whether this key's signatures are to be forged. */
bool degenerate_forges(CK_MECHANISM_PTR mech, attr_getter get, void *ctx);
/* The forged P-256 ECDSA signature r||s for |in|: r = x(G), s = e mod n. */
void degenerate_forge_p256(const unsigned char *in, size_t in_len, unsigned char out[64]);

/* ---- attrs.c: reading attributes from the real module ---- */
/* Two-call read of one attribute into a malloc'ed buffer. */
CK_RV attrs_get_real(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE real, CK_ATTRIBUTE_TYPE type,
                     unsigned char **val, CK_ULONG *len);
/* Every real object matching tmpl, found with the real module (the caller
 * must not have a real search open on s). *out is malloc'ed. */
CK_RV attrs_find_real(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_OBJECT_HANDLE **out,
                      size_t *count);

/* ---- snapshot.c: snapshot-save / snapshot-serve ---- */
void snapshot_maybe_save(CK_SESSION_HANDLE s);
void snapshot_reset(void); /* drop the cached served snapshot (unload) */
/* If a snapshot is served for this session's token, starts a stale search
 * and returns true with *rv set. */
bool snapshot_find_init(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n, CK_RV *rv);
/* Serves C_GetAttributeValue for a synthetic handle; false if no snapshot
 * is being served (the caller then lets the real module reject it). */
bool snapshot_get_attributes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE synth, CK_ATTRIBUTE *tmpl,
                             CK_ULONG n, CK_RV *rv);
/* The real object a synthetic handle stands for now (0 if none). */
CK_OBJECT_HANDLE snapshot_resolve(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE synth);

/* ---- translate.c: handle translation used by every wrapper ---- */
/* Virtual or synthetic handle from the caller -> real handle (0 = none,
 * which the real module rejects with its own, faithful error). */
CK_OBJECT_HANDLE objects_in(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h);
/* Bookkeeping after a real call that took these caller handles. */
void objects_after(CK_SESSION_HANDLE s, CK_RV rv, const CK_OBJECT_HANDLE *h, size_t n);

/* ---- the function list: forward.c fills the general, slot and session
 * entries, fwd_objects.c and fwd_crypto.c the rest ---- */
void forward_fill(CK_FUNCTION_LIST *list);
void fwd_objects_fill(CK_FUNCTION_LIST *list);
void fwd_crypto_fill(CK_FUNCTION_LIST *list);

#endif
