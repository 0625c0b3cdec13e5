/*
 * OSSL_STORE for the pkcs11: scheme. Every open searches the token afresh:
 * no handle or result from an earlier open decides what this one returns.
 * When the caller expects one object (a key for signing, a certificate),
 * exactly one must match, or the error lists the candidates.
 */
#include "provider/pin_prompt.h"
#include "provider/provider.h"
#include "provider/store_load.h"
#include "provider/token_select.h"

#include "cache/objects.h"
#include "cache/public_views.h"
#include "uri/uri.h"

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct store_result {
    int object_type; /* OSSL_OBJECT_PKEY, OSSL_OBJECT_CERT */
    struct hsm_key *key;    /* private keys: passed by reference */
    unsigned char *der;     /* public keys and certificates: passed as DER */
    size_t der_len;
    const char *data_type;  /* "RSA", "EC", ... for keys */
    const char *structure;  /* for DER */
    char *desc;             /* canonical URI */
};

struct store_ctx {
    struct hsm_provctx *prov;
    struct hsm_uri *uri;
    int expect; /* OSSL_STORE_INFO_*, 0 for anything */
    unsigned char *subject; /* DER X509_NAME from OSSL_STORE_find, or NULL */
    size_t subject_len;
    bool searched;
    struct store_result *results;
    size_t n, next;
    /* Listing (nothing expected): each object is preceded by its URI as a
     * name, which opens exactly that object again. */
    bool name_given;
};

/* A private key the search found, before it is built into a key. */
struct candidate {
    struct hsm_token *tok;
    CK_OBJECT_HANDLE handle;
    unsigned char *id;
    size_t id_len;
    char *label;
};

static void *store_open(void *provctx, const char *uri)
{
    struct store_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->prov = provctx;
    ctx->uri = hsm_uri_parse(uri);
    if (ctx->uri == NULL) {
        OPENSSL_free(ctx);
        return NULL;
    }
    return ctx;
}

static const OSSL_PARAM *store_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_octet_string(OSSL_STORE_PARAM_SUBJECT, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return params;
}

static int store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
    struct store_ctx *ctx = loaderctx;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);

    if (p != NULL && !OSSL_PARAM_get_int(p, &ctx->expect))
        return 0;
    p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_SUBJECT);
    if (p != NULL) {
        void *der = NULL;
        size_t len = 0;

        if (!OSSL_PARAM_get_octet_string(p, &der, 0, &len))
            return 0;
        OPENSSL_free(ctx->subject);
        ctx->subject = der;
        ctx->subject_len = len;
    }
    return 1;
}

static void result_clear(struct store_result *r)
{
    hsm_key_put(r->key);
    free(r->der);
    free(r->desc);
}

static bool add_result(struct store_ctx *ctx, struct store_result *r)
{
    struct store_result *more = realloc(ctx->results, (ctx->n + 1) * sizeof(*more));

    if (more == NULL) {
        result_clear(r);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return false;
    }
    ctx->results = more;
    ctx->results[ctx->n++] = *r;
    return true;
}

static bool wants(const struct store_ctx *ctx, CK_OBJECT_CLASS cls)
{
    if (ctx->uri->has_class)
        return ctx->uri->klass == cls;
    switch (ctx->expect) {
    case OSSL_STORE_INFO_PKEY:
        return cls == CKO_PRIVATE_KEY;
    case OSSL_STORE_INFO_PUBKEY:
        return cls == CKO_PUBLIC_KEY;
    case OSSL_STORE_INFO_CERT:
        return cls == CKO_CERTIFICATE;
    default:
        return true;
    }
}

/* Loading one thing to use it (not listing): exactly one may match. */
static bool single(const struct store_ctx *ctx)
{
    return ctx->expect == OSSL_STORE_INFO_PKEY || ctx->expect == OSSL_STORE_INFO_PUBKEY ||
           ctx->expect == OSSL_STORE_INFO_CERT;
}

static bool find_tokens(struct store_ctx *ctx, struct hsm_module *mod, struct hsm_token ***toks,
                        int *n)
{
    *n = hsm_select_tokens(mod, ctx->uri, single(ctx), toks);
    return *n > 0;
}

static bool search_class(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, struct store_ctx *ctx,
                         CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE **objs, size_t *n)
{
    CK_ATTRIBUTE tmpl[4];
    size_t nt = hsm_uri_object_template(ctx->uri, &cls, tmpl);

    /* -subject: the token compares the certificate's CKA_SUBJECT. */
    if (cls == CKO_CERTIFICATE && ctx->subject != NULL)
        tmpl[nt++] = (CK_ATTRIBUTE){CKA_SUBJECT, ctx->subject, ctx->subject_len};
    CK_RV rv = hsm_find_objects(fns, s, tmpl, nt, objs, n);

    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_FindObjects", rv, "searching %s", ctx->uri->redacted);
        return false;
    }
    return true;
}

static const char *data_type_of(const struct hsm_key *key)
{
    if (key->key_type == CKK_RSA)
        return "RSA";
    if (key->key_type == CKK_EC)
        return "EC";
    return EVP_PKEY_is_a(key->pub, "ED448") ? "ED448" : "ED25519";
}

static char *label_of(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE obj)
{
    unsigned char *v = NULL;
    size_t len = 0;
    char *label;

    (void)hsm_attr_alloc(fns, s, obj, CKA_LABEL, &v, &len);
    label = malloc(len + 1);
    if (label != NULL) {
        memcpy(label, v != NULL ? (char *)v : "", len);
        label[len] = '\0';
    }
    free(v);
    return label;
}

static bool add_certificates(struct store_ctx *ctx, struct hsm_token *tok,
                             CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE *objs = NULL;
    size_t n = 0;
    bool ok = search_class(fns, s, ctx, CKO_CERTIFICATE, &objs, &n);

    for (size_t i = 0; ok && i < n; i++) {
        struct store_result r = {.object_type = OSSL_OBJECT_CERT, .structure = "Certificate"};
        unsigned char *id = NULL;
        size_t id_len = 0;
        char *label = label_of(fns, s, objs[i]);

        if (hsm_attr_alloc(fns, s, objs[i], CKA_VALUE, &r.der, &r.der_len) != CKR_OK ||
            r.der == NULL) {
            free(label);
            continue;
        }
        (void)hsm_attr_alloc(fns, s, objs[i], CKA_ID, &id, &id_len);
        r.desc = hsm_key_canonical_uri(&tok->id, id, id_len, label, "cert");
        free(id);
        free(label);
        ok = add_result(ctx, &r);
    }
    free(objs);
    return ok;
}

static bool add_public_keys(struct store_ctx *ctx, struct hsm_token *tok,
                            CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s)
{
    CK_OBJECT_HANDLE *objs = NULL;
    size_t n = 0;
    bool ok = search_class(fns, s, ctx, CKO_PUBLIC_KEY, &objs, &n);

    for (size_t i = 0; ok && i < n; i++) {
        struct store_result r = {.object_type = OSSL_OBJECT_PKEY,
                                 .structure = "SubjectPublicKeyInfo"};
        struct hsm_views views = {0};
        unsigned char *id = NULL, *der = NULL;
        size_t id_len = 0;
        CK_ULONG type;
        char *label = label_of(fns, s, objs[i]);
        int len;

        if (hsm_attr_ulong(fns, s, objs[i], CKA_KEY_TYPE, &type) != CKR_OK ||
            (type != CKK_RSA && type != CKK_EC && type != CKK_EC_EDWARDS)) {
            free(label);
            continue;
        }
        (void)hsm_attr_alloc(fns, s, objs[i], CKA_ID, &id, &id_len);
        r.desc = hsm_key_canonical_uri(&tok->id, id, id_len, label, "public");
        free(id);
        free(label);
        ok = hsm_views_of_key_object(fns, s, objs[i], type, "public key", ctx->prov->libctx,
                                     &views);
        if (ok && views.n > 0 && (len = i2d_PUBKEY(views.v[0].pkey, &der)) > 0) {
            r.der = malloc((size_t)len);
            if (r.der != NULL) {
                memcpy(r.der, der, (size_t)len);
                r.der_len = (size_t)len;
            }
        }
        OPENSSL_free(der);
        hsm_views_clear(&views);
        if (ok && r.der != NULL)
            ok = add_result(ctx, &r);
        else
            result_clear(&r);
    }
    free(objs);
    return ok;
}

static bool collect_private(struct store_ctx *ctx, struct hsm_token *tok,
                            CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, struct candidate **cands,
                            size_t *n_cands)
{
    CK_OBJECT_HANDLE *objs = NULL;
    size_t n = 0;

    if (!search_class(fns, s, ctx, CKO_PRIVATE_KEY, &objs, &n))
        return false;
    for (size_t i = 0; i < n; i++) {
        struct candidate *more = realloc(*cands, (*n_cands + 1) * sizeof(*more));

        if (more == NULL) {
            free(objs);
            hsm_error(HSM_R_INTERNAL, "out of memory");
            return false;
        }
        *cands = more;
        struct candidate *c = &more[(*n_cands)++];
        memset(c, 0, sizeof(*c));
        c->tok = tok;
        c->handle = objs[i];
        (void)hsm_attr_alloc(fns, s, objs[i], CKA_ID, &c->id, &c->id_len);
        c->label = label_of(fns, s, objs[i]);
    }
    free(objs);
    return true;
}

static void ambiguity_error(struct store_ctx *ctx, struct candidate *c, size_t n)
{
    char list[900], id[100];
    size_t used = 0;

    list[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        hsm_id_to_text(c[i].id, c[i].id_len, id, sizeof(id));
        used += (size_t)snprintf(list + used, sizeof(list) - used,
                                 "%s[token '%s' serial %s, id=%s, object='%s']", i ? " " : "",
                                 c[i].tok->id.label, c[i].tok->id.serial, id,
                                 c[i].label != NULL ? c[i].label : "");
    }
    hsm_error(HSM_R_AMBIGUOUS_OBJECT,
              "%s matches %zu private keys: %s; add id=... (or serial=... for the token) to "
              "the URI to name one",
              ctx->uri->redacted, n, list);
}

static bool search(struct store_ctx *ctx, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct hsm_module *mod;
    struct hsm_token **toks = NULL;
    struct candidate *cands = NULL;
    size_t n_cands = 0;
    struct hsm_pin_request pinreq = {ctx->uri, ctx->prov->config.token_pin,
                                     ctx->prov->config.pin_file_allow_shared, pw_cb, pw_cbarg,
                                     false};
    bool ok = false;
    int n_toks = 0;

    if (!hsm_uri_module_allowed(ctx->prov->config.module_path, ctx->uri) ||
        (mod = hsm_provctx_module(ctx->prov)) == NULL)
        return false;
    if (!find_tokens(ctx, mod, &toks, &n_toks))
        goto done;
    for (int i = 0; i < n_toks; i++) {
        CK_FUNCTION_LIST *fns = hsm_module_enter(mod, NULL);
        CK_SESSION_HANDLE s;
        CK_RV rv;
        bool tok_ok = true;

        if (fns == NULL)
            goto done;
        rv = hsm_session_acquire(toks[i], fns, &s);
        if (rv != CKR_OK) {
            char desc[160];
            hsm_token_describe(toks[i], desc, sizeof(desc));
            hsm_error_rv(HSM_R_PKCS11, "C_OpenSession", rv, "opening %s for %s", desc,
                         ctx->uri->redacted);
            hsm_module_leave(mod);
            goto done;
        }
        if (wants(ctx, CKO_PRIVATE_KEY) && (ctx->uri->has_class || ctx->expect != 0))
            tok_ok = hsm_token_login(toks[i], fns, s, hsm_pin_for_login, &pinreq) &&
                     collect_private(ctx, toks[i], fns, s, &cands, &n_cands);
        else if (wants(ctx, CKO_PRIVATE_KEY))
            tok_ok = collect_private(ctx, toks[i], fns, s, &cands, &n_cands);
        if (tok_ok && wants(ctx, CKO_PUBLIC_KEY))
            tok_ok = add_public_keys(ctx, toks[i], fns, s);
        if (tok_ok && wants(ctx, CKO_CERTIFICATE))
            tok_ok = add_certificates(ctx, toks[i], fns, s);
        hsm_session_release(toks[i], fns, s, false);
        hsm_module_leave(mod);
        if (!tok_ok)
            goto done;
    }
    /* Several keys, even on one token, are never resolved by picking one. */
    if (single(ctx) && n_cands > 1) {
        ambiguity_error(ctx, cands, n_cands);
        goto done;
    }
    if (single(ctx) && ctx->n > 1) {
        char list[900];
        size_t used = 0;

        list[0] = '\0';
        for (size_t i = 0; i < ctx->n && used < sizeof(list); i++)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s[%s]", i ? " " : "",
                                     ctx->results[i].desc != NULL ? ctx->results[i].desc : "?");
        hsm_error(HSM_R_AMBIGUOUS_OBJECT,
                  "%s matches %zu objects: %s; add id=... or object=... to the URI to name one",
                  ctx->uri->redacted, ctx->n, list);
        goto done;
    }
    for (size_t i = 0; i < n_cands; i++) {
        CK_FUNCTION_LIST *fns = hsm_module_enter(mod, NULL);
        struct store_result r = {.object_type = OSSL_OBJECT_PKEY};
        CK_SESSION_HANDLE s;

        if (fns == NULL)
            goto done;
        if (hsm_session_acquire(cands[i].tok, fns, &s) != CKR_OK) {
            hsm_module_leave(mod);
            hsm_error(HSM_R_TOKEN_GONE, "%s: token went away during the search",
                      ctx->uri->redacted);
            goto done;
        }
        r.key = hsm_key_from_object(cands[i].tok, fns, s, cands[i].handle, ctx->prov->libctx,
                                    NULL);
        hsm_session_release(cands[i].tok, fns, s, false);
        hsm_module_leave(mod);
        if (r.key == NULL)
            goto done;
        if (!hsm_key_arm_possession_proof(ctx->prov, r.key)) {
            result_clear(&r);
            goto done;
        }
        r.data_type = data_type_of(r.key);
        r.desc = strdup(r.key->uri);
        if (!add_result(ctx, &r))
            goto done;
    }
    if (single(ctx) && ctx->n == 0) {
        char list[600];

        hsm_describe_tokens(toks, n_toks, list, sizeof(list));
        hsm_error(HSM_R_NO_OBJECT, "%s: no %s matches on token %s", ctx->uri->redacted,
                  ctx->expect == OSSL_STORE_INFO_CERT     ? "certificate"
                  : ctx->expect == OSSL_STORE_INFO_PUBKEY ? "public key"
                                                           : "private key",
                  list);
        goto done;
    }
    ok = true;
done:
    for (size_t i = 0; i < n_cands; i++) {
        free(cands[i].id);
        free(cands[i].label);
    }
    free(cands);
    hsm_tokens_put_all(toks, n_toks);
    return ok;
}

static int store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct store_ctx *ctx = loaderctx;
    struct store_result *r;
    OSSL_PARAM params[6], *p = params;

    if (!ctx->searched) {
        bool found;

        ctx->searched = true;
        hsm_operation_begin();
        found = search(ctx, pw_cb, pw_cbarg);
        hsm_operation_end();
        if (!found) {
            ctx->next = ctx->n; /* nothing from a failed search is handed out */
            return 0;
        }
    }
    if (ctx->next >= ctx->n)
        return 0;
    r = &ctx->results[ctx->next];
    if (ctx->expect == 0 && !ctx->name_given && r->desc != NULL) {
        static const int name_type = OSSL_OBJECT_NAME;

        ctx->name_given = true;
        *p++ = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, (int *)&name_type);
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA, r->desc, 0);
        *p = OSSL_PARAM_construct_end();
        return object_cb(params, object_cbarg);
    }
    ctx->name_given = false;
    ctx->next++;
    *p++ = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &r->object_type);
    if (r->key != NULL) {
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE,
                                                (char *)r->data_type, 0);
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &r->key,
                                                 sizeof(r->key));
    } else {
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, r->der, r->der_len);
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE,
                                                (char *)r->structure, 0);
    }
    if (r->desc != NULL)
        *p++ = OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, r->desc, 0);
    *p = OSSL_PARAM_construct_end();
    return object_cb(params, object_cbarg);
}

static int store_eof(void *loaderctx)
{
    struct store_ctx *ctx = loaderctx;

    return ctx->searched && ctx->next >= ctx->n;
}

static int store_close(void *loaderctx)
{
    struct store_ctx *ctx = loaderctx;

    for (size_t i = 0; i < ctx->n; i++)
        result_clear(&ctx->results[i]);
    free(ctx->results);
    hsm_uri_free(ctx->uri);
    OPENSSL_free(ctx->subject);
    OPENSSL_free(ctx);
    return 1;
}

/* Private keys never leave the token: a reference cannot be exported. */
static int store_export_object(void *loaderctx, const void *reference, size_t reference_sz,
                               OSSL_CALLBACK *export_cb, void *export_cbarg)
{
    (void)loaderctx;
    (void)reference;
    (void)reference_sz;
    (void)export_cb;
    (void)export_cbarg;
    return 0;
}

int hsm_store_load_private_key(struct hsm_provctx *prov, const char *uri, OSSL_CALLBACK *object_cb,
                               void *object_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb,
                               void *pw_cbarg)
{
    struct store_ctx *ctx = store_open(prov, uri);
    int ok;

    if (ctx == NULL)
        return 0;
    ctx->expect = OSSL_STORE_INFO_PKEY;
    ok = store_load(ctx, object_cb, object_cbarg, pw_cb, pw_cbarg);
    store_close(ctx);
    return ok;
}

const OSSL_DISPATCH hsm_store_functions[] = {
    {OSSL_FUNC_STORE_OPEN, (void (*)(void))store_open},
    {OSSL_FUNC_STORE_SETTABLE_CTX_PARAMS, (void (*)(void))store_settable_ctx_params},
    {OSSL_FUNC_STORE_SET_CTX_PARAMS, (void (*)(void))store_set_ctx_params},
    {OSSL_FUNC_STORE_LOAD, (void (*)(void))store_load},
    {OSSL_FUNC_STORE_EOF, (void (*)(void))store_eof},
    {OSSL_FUNC_STORE_CLOSE, (void (*)(void))store_close},
    {OSSL_FUNC_STORE_EXPORT_OBJECT, (void (*)(void))store_export_object},
    {0, NULL},
};
