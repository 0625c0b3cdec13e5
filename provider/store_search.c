/*
 * The search behind each OSSL_STORE open of a pkcs11: URI. Every open asks
 * the token afresh: no handle or result from an earlier open decides what
 * this one returns. Where one kind of object is expected and several
 * match, none of them is handed out: only their names, then an error that
 * lists them (store.c says why).
 */
#include "provider/pin_prompt.h"
#include "provider/store_ctx.h"
#include "provider/token_select.h"

#include "cache/objects.h"
#include "cache/public_views.h"
#include "cache/spki_pkey.h"
#include "cache/uri_history.h"

#include <openssl/core_object.h>
#include <openssl/store.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A private key the search found, before it is built into a key. */
struct candidate {
    struct hsm_token *tok;
    CK_OBJECT_HANDLE handle;
    /* Read once here and handed to the key built from it (same load):
     * its own set, or one in |same_id| when the search was by id. */
    struct hsm_attr_set attrs;
    const struct hsm_attr_set *known;
    const struct hsm_id_objects *same_id;
};

static const struct hsm_attr_set *candidate_attrs(const struct candidate *c)
{
    return c->known != NULL ? c->known : &c->attrs;
}

void hsm_store_result_clear(struct store_result *r)
{
    hsm_key_put(r->key);
    free(r->der);
    free(r->desc);
}

static bool add_result(struct store_ctx *ctx, struct store_result *r)
{
    struct store_result *more = realloc(ctx->results, (ctx->n + 1) * sizeof(*more));

    if (more == NULL) {
        hsm_store_result_clear(r);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return false;
    }
    ctx->results = more;
    ctx->results[ctx->n++] = *r;
    return true;
}

bool hsm_store_one_kind(const struct store_ctx *ctx)
{
    return ctx->expect == OSSL_STORE_INFO_PKEY || ctx->expect == OSSL_STORE_INFO_PUBKEY ||
           ctx->expect == OSSL_STORE_INFO_CERT;
}

/* A URI with neither id nor label lists what it matches (of a type, if it
 * has one); one with either names objects, handed out alone. */
bool hsm_store_gives_names(const struct store_ctx *ctx)
{
    return ctx->expect == 0 && !ctx->uri->has_id && !ctx->uri->has_label;
}

/*
 * The search template: the URI's class, id and label, and the alias of
 * OSSL_STORE_SEARCH_by_alias as the label. False when the alias and the
 * URI's label differ: then nothing can match.
 */
static bool object_template(const struct store_ctx *ctx, const CK_OBJECT_CLASS *cls,
                            CK_ATTRIBUTE tmpl[4], size_t *n)
{
    size_t len = ctx->alias != NULL ? strlen(ctx->alias) : 0;

    *n = hsm_uri_object_template(ctx->uri, cls, tmpl);
    if (ctx->alias == NULL)
        return true;
    for (size_t i = 0; i < *n; i++)
        if (tmpl[i].type == CKA_LABEL)
            return tmpl[i].ulValueLen == len && memcmp(tmpl[i].pValue, ctx->alias, len) == 0;
    tmpl[(*n)++] = (CK_ATTRIBUTE){CKA_LABEL, ctx->alias, len};
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

static bool search_class(CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s, struct store_ctx *ctx,
                         CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE **objs, size_t *n)
{
    CK_ATTRIBUTE tmpl[5];
    size_t nt;
    CK_RV rv;

    *objs = NULL;
    *n = 0;
    if (!object_template(ctx, &cls, tmpl, &nt))
        return true;
    /* -subject: the token compares the certificate's CKA_SUBJECT. */
    if (cls == CKO_CERTIFICATE && ctx->subject != NULL)
        tmpl[nt++] = (CK_ATTRIBUTE){CKA_SUBJECT, ctx->subject, ctx->subject_len};
    rv = hsm_find_objects(fns, s, tmpl, nt, objs, n);

    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, "C_FindObjects", rv, "searching %s", ctx->uri->redacted);
        return false;
    }
    return true;
}

/* The canonical URI of an object from its CKA_ID and CKA_LABEL in |set|. */
static char *name_of(const struct hsm_token *tok, const struct hsm_attr_set *set, const char *type)
{
    const struct hsm_attr *id = hsm_attr_set_get(set, CKA_ID);
    char *text = hsm_attr_text(hsm_attr_set_get(set, CKA_LABEL));
    char *uri = text == NULL ? NULL
                             : hsm_key_canonical_uri(&tok->id, id != NULL ? id->value : NULL,
                                                     id != NULL ? id->len : 0, text, type);

    free(text);
    return uri;
}

static bool add_certificates(struct store_ctx *ctx, struct hsm_token *tok, CK_FUNCTION_LIST *fns,
                             CK_SESSION_HANDLE s)
{
    static const CK_ATTRIBUTE_TYPE wanted[] = {CKA_ID, CKA_LABEL, CKA_VALUE};
    CK_OBJECT_HANDLE *objs = NULL;
    size_t n = 0;
    bool ok = search_class(fns, s, ctx, CKO_CERTIFICATE, &objs, &n);

    for (size_t i = 0; ok && i < n; i++) {
        struct store_result r = {.object_type = OSSL_OBJECT_CERT, .structure = "Certificate"};
        struct hsm_attr_set set;
        const struct hsm_attr *value;

        if (hsm_attr_set_read(fns, s, objs[i], wanted, sizeof(wanted) / sizeof(wanted[0]), &set) !=
            CKR_OK)
            continue;
        value = hsm_attr_set_get(&set, CKA_VALUE);
        if (value != NULL && value->value != NULL && (r.der = malloc(value->len)) != NULL) {
            memcpy(r.der, value->value, value->len);
            r.der_len = value->len;
            r.desc = name_of(tok, &set, "cert");
            ok = add_result(ctx, &r);
        }
        hsm_attr_set_clear(&set);
    }
    free(objs);
    return ok;
}

static bool add_public_keys(struct store_ctx *ctx, struct hsm_token *tok, CK_FUNCTION_LIST *fns,
                            CK_SESSION_HANDLE s)
{
    /* Its name and its public key, in one set. */
    static const CK_ATTRIBUTE_TYPE wanted[] = {
        CKA_ID,        CKA_LABEL,    CKA_KEY_TYPE,        CKA_MODULUS, CKA_PUBLIC_EXPONENT,
        CKA_EC_PARAMS, CKA_EC_POINT, CKA_PUBLIC_KEY_INFO,
    };
    CK_OBJECT_HANDLE *objs = NULL;
    size_t n = 0;
    bool ok = search_class(fns, s, ctx, CKO_PUBLIC_KEY, &objs, &n);

    for (size_t i = 0; ok && i < n; i++) {
        struct store_result r = {.object_type = OSSL_OBJECT_PKEY,
                                 .structure = "SubjectPublicKeyInfo"};
        struct hsm_views views = {0};
        struct hsm_attr_set set;
        CK_ULONG type = (CK_ULONG)-1;

        if (hsm_attr_set_read(fns, s, objs[i], wanted, sizeof(wanted) / sizeof(wanted[0]), &set) !=
            CKR_OK)
            continue;
        (void)hsm_attr_set_ulong(&set, CKA_KEY_TYPE, &type);
        if (type == CKK_RSA || type == CKK_EC || type == CKK_EC_EDWARDS) {
            r.desc = name_of(tok, &set, "public");
            ok = hsm_views_of_key_attrs(&set, type, "public key", ctx->prov->libctx, &views);
            if (ok && views.n > 0)
                (void)hsm_spki_of_pkey(views.v[0].pkey, &r.der, &r.der_len);
            hsm_views_clear(&views);
        }
        hsm_attr_set_clear(&set);
        if (ok && r.der != NULL)
            ok = add_result(ctx, &r);
        else
            hsm_store_result_clear(&r);
    }
    free(objs);
    return ok;
}

/* A new candidate for private key |handle|; its attributes are read here
 * unless |known| holds them. */
static struct candidate *add_candidate(struct store_ctx *ctx, struct hsm_token *tok,
                                       CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                                       CK_OBJECT_HANDLE handle, const struct hsm_attr_set *known,
                                       struct candidate **cands, size_t *n_cands)
{
    struct candidate *more = realloc(*cands, (*n_cands + 1) * sizeof(*more)), *c;
    CK_RV rv;

    if (more == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return NULL;
    }
    *cands = more;
    c = &more[(*n_cands)++];
    memset(c, 0, sizeof(*c));
    c->tok = tok;
    c->handle = handle;
    c->known = known;
    if (known == NULL) {
        rv = hsm_attr_set_read(fns, s, handle, hsm_private_key_attrs, HSM_PRIVATE_KEY_ATTRS,
                               &c->attrs);
        if (rv != CKR_OK) {
            hsm_error_rv(HSM_R_PKCS11, "C_GetAttributeValue", rv, "reading a key %s matches",
                         ctx->uri->redacted);
            return NULL;
        }
    }
    return c;
}

static const CK_ATTRIBUTE *template_attr(const CK_ATTRIBUTE *tmpl, size_t n, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < n; i++)
        if (tmpl[i].type == type)
            return &tmpl[i];
    return NULL;
}

static bool same_bytes(const struct hsm_attr *a, const CK_ATTRIBUTE *want)
{
    size_t len = a != NULL ? a->len : 0;

    return len == want->ulValueLen && (len == 0 || memcmp(a->value, want->pValue, len) == 0);
}

/*
 * A URI with an id: one search by CKA_ID finds the key and every other
 * object with its id, which the key's cross-check needs next; the private
 * keys among them whose label matches the URI's are the candidates. On a
 * token with many objects that saves a whole second scan.
 */
static bool collect_private_by_id(struct store_ctx *ctx, struct hsm_token *tok,
                                  CK_FUNCTION_LIST *fns, CK_SESSION_HANDLE s,
                                  const CK_ATTRIBUTE *id, const CK_ATTRIBUTE *label,
                                  struct candidate **cands, size_t *n_cands)
{
    struct hsm_id_objects **more = realloc(ctx->same_id, (ctx->n_same_id + 1) * sizeof(*more));
    struct hsm_id_objects *found = calloc(1, sizeof(*found));
    const char *call;
    CK_RV rv;

    if (more != NULL)
        ctx->same_id = more;
    if (more == NULL || found == NULL) {
        free(found);
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return false;
    }
    ctx->same_id[ctx->n_same_id++] = found;
    rv = hsm_id_objects_find(fns, s, id->pValue, id->ulValueLen, CK_INVALID_HANDLE, found, &call);
    if (rv != CKR_OK) {
        hsm_error_rv(HSM_R_PKCS11, call, rv, "searching %s", ctx->uri->redacted);
        return false;
    }
    for (size_t i = 0; i < found->n; i++) {
        CK_ULONG cls = (CK_ULONG)-1;
        struct candidate *c;

        (void)hsm_attr_set_ulong(&found->sets[i], CKA_CLASS, &cls);
        if (cls != CKO_PRIVATE_KEY ||
            (label != NULL && !same_bytes(hsm_attr_set_get(&found->sets[i], CKA_LABEL), label)))
            continue;
        c = add_candidate(ctx, tok, fns, s, found->handles[i], &found->sets[i], cands, n_cands);
        if (c == NULL)
            return false;
        c->same_id = found;
    }
    return true;
}

static bool collect_private(struct store_ctx *ctx, struct hsm_token *tok, CK_FUNCTION_LIST *fns,
                            CK_SESSION_HANDLE s, struct candidate **cands, size_t *n_cands)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE tmpl[5];
    size_t nt;
    const CK_ATTRIBUTE *id;
    CK_OBJECT_HANDLE *objs = NULL;
    size_t n = 0;
    bool ok = true;

    if (!object_template(ctx, &cls, tmpl, &nt))
        return true;
    id = template_attr(tmpl, nt, CKA_ID);
    if (id != NULL)
        return collect_private_by_id(ctx, tok, fns, s, id, template_attr(tmpl, nt, CKA_LABEL),
                                     cands, n_cands);
    if (!search_class(fns, s, ctx, CKO_PRIVATE_KEY, &objs, &n))
        return false;
    for (size_t i = 0; i < n && ok; i++)
        ok = add_candidate(ctx, tok, fns, s, objs[i], NULL, cands, n_cands) != NULL;
    free(objs);
    return ok;
}

/* A PIN that needs no prompt: in the URI or the configuration. */
static bool pin_at_hand(const struct store_ctx *ctx)
{
    return hsm_uri_pin_value(ctx->uri) != NULL || hsm_uri_pin_source(ctx->uri) != NULL ||
           ctx->prov->config.token_pin != NULL;
}

/* Searches one token for every class the request wants. */
static bool search_token(struct store_ctx *ctx, struct hsm_module *mod, struct hsm_token *tok,
                         struct hsm_pin_request *pinreq, struct candidate **cands, size_t *n_cands)
{
    CK_FUNCTION_LIST *fns;
    CK_SESSION_HANDLE s;
    CK_RV rv;
    bool ok = true;

    /* Private keys are looked for with a login when they were asked for,
     * or when a PIN is at hand without asking anyone (in the URI or the
     * configuration: a listing never prompts); otherwise a listing shows
     * the ones the token shows without one. The login comes first, outside
     * the module call: its PIN may come from the application's callback. */
    if (wants(ctx, CKO_PRIVATE_KEY) &&
        (ctx->uri->has_class || ctx->expect != 0 || pin_at_hand(ctx)) &&
        !hsm_token_login(tok, hsm_pin_for_login, pinreq))
        return false;
    fns = hsm_module_enter(mod, NULL);
    if (fns == NULL)
        return false;
    rv = hsm_session_acquire(tok, fns, &s);
    if (rv != CKR_OK) {
        char desc[160];

        hsm_token_describe(tok, desc, sizeof(desc));
        hsm_error_rv(HSM_R_PKCS11, "C_OpenSession", rv, "opening %s for %s", desc,
                     ctx->uri->redacted);
        hsm_module_leave(mod);
        return false;
    }
    if (wants(ctx, CKO_PRIVATE_KEY))
        ok = collect_private(ctx, tok, fns, s, cands, n_cands);
    if (ok && wants(ctx, CKO_PUBLIC_KEY))
        ok = add_public_keys(ctx, tok, fns, s);
    if (ok && wants(ctx, CKO_CERTIFICATE))
        ok = add_certificates(ctx, tok, fns, s);
    hsm_session_release(tok, fns, s, false);
    hsm_module_leave(mod);
    return ok;
}

static char *format_text(const char *fmt, ...)
{
    char *text = malloc(1200);
    va_list ap;

    if (text == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(text, 1200, fmt, ap);
    va_end(ap);
    return text;
}

/* Why several matches name no object: the candidates and what tells them
 * apart. */
static char *ambiguity_text(const struct store_ctx *ctx, const struct candidate *c, size_t n_cands)
{
    char list[900], id[100];
    size_t used = 0;

    list[0] = '\0';
    if (n_cands > 0 && ctx->n == 0) {
        for (size_t i = 0; i < n_cands && used < sizeof(list); i++) {
            const struct hsm_attr *a = hsm_attr_set_get(candidate_attrs(&c[i]), CKA_ID);
            const struct hsm_attr *l = hsm_attr_set_get(candidate_attrs(&c[i]), CKA_LABEL);

            hsm_id_to_text(a != NULL ? a->value : NULL, a != NULL ? a->len : 0, id, sizeof(id));
            used += (size_t)snprintf(list + used, sizeof(list) - used,
                                     "%s[token '%s' serial %s, id=%s, object='%.*s']", i ? " " : "",
                                     c[i].tok->id.label, c[i].tok->id.serial, id,
                                     l != NULL && l->value != NULL ? (int)l->len : 0,
                                     l != NULL && l->value != NULL ? (char *)l->value : "");
        }
        return format_text("%s matches %zu private keys: %s; add id=... (or serial=... for the "
                           "token) to the URI to name one",
                           ctx->uri->redacted, n_cands, list);
    }
    for (size_t i = 0; i < ctx->n && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s[%s]", i ? " " : "",
                                 ctx->results[i].desc != NULL ? ctx->results[i].desc : "?");
    return format_text("%s matches %zu objects: %s; add id=... or object=... to the URI to name "
                       "one",
                       ctx->uri->redacted, ctx->n + n_cands, list);
}

/* The candidates by name only: nothing is built, nothing proves
 * possession, no key is handed out. */
static bool add_candidate_names(struct store_ctx *ctx, const struct candidate *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct store_result r = {.object_type = OSSL_OBJECT_PKEY};

        r.desc = name_of(c[i].tok, candidate_attrs(&c[i]), "private");
        if (r.desc == NULL) {
            hsm_error(HSM_R_INTERNAL, "out of memory");
            return false;
        }
        if (!add_result(ctx, &r))
            return false;
    }
    return true;
}

/* Each private key found, cross-checked and proving possession like any
 * loaded key. */
static bool add_private_keys(struct store_ctx *ctx, struct hsm_module *mod,
                             const struct candidate *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        CK_FUNCTION_LIST *fns = hsm_module_enter(mod, NULL);
        struct store_result r = {.object_type = OSSL_OBJECT_PKEY};
        CK_SESSION_HANDLE s;

        if (fns == NULL)
            return false;
        if (hsm_session_acquire(c[i].tok, fns, &s) != CKR_OK) {
            hsm_module_leave(mod);
            hsm_error(HSM_R_TOKEN_GONE, "%s: token went away during the search",
                      ctx->uri->redacted);
            return false;
        }
        r.key = hsm_key_from_object(c[i].tok, fns, s, c[i].handle, candidate_attrs(&c[i]),
                                    c[i].same_id, ctx->prov->libctx, NULL);
        hsm_session_release(c[i].tok, fns, s, false);
        hsm_module_leave(mod);
        if (r.key == NULL)
            return false;
        if (!hsm_key_arm_possession_proof(ctx->prov, r.key)) {
            hsm_store_result_clear(&r);
            return false;
        }
        r.data_type = hsm_key_type_name(r.key);
        r.desc = strdup(r.key->uri);
        hsm_uri_history_note(ctx->uri->redacted, r.key->fingerprint, r.key->uri);
        if (!add_result(ctx, &r))
            return false;
    }
    return true;
}

/* Several matches where one kind was expected. */
static bool handle_ambiguity(struct store_ctx *ctx, const struct candidate *cands, size_t n_cands)
{
    char *why = ambiguity_text(ctx, cands, n_cands);

    if (why == NULL)
        return false;
    if (ctx->strict || !add_candidate_names(ctx, cands, n_cands)) {
        hsm_error(HSM_R_AMBIGUOUS_OBJECT, "%s", why);
        free(why);
        return false;
    }
    ctx->ambiguity = why;
    return true;
}

/* Private keys first, the rest in the order found: a program that takes
 * the first key it gets from a URI that names a key pair gets the key. */
static void private_keys_first(struct store_ctx *ctx)
{
    size_t keys = 0;

    for (size_t i = 0; i < ctx->n; i++) {
        if (ctx->results[i].key != NULL) {
            struct store_result r = ctx->results[i];

            memmove(&ctx->results[keys + 1], &ctx->results[keys],
                    (i - keys) * sizeof(ctx->results[0]));
            ctx->results[keys++] = r;
        }
    }
}

bool hsm_store_search(struct store_ctx *ctx, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct candidate *cands = NULL;
    size_t n_cands = 0;
    struct hsm_pin_request pinreq = {ctx->uri,
                                     ctx->prov->config.token_pin,
                                     ctx->prov->config.pin_file_allow_shared,
                                     pw_cb,
                                     pw_cbarg,
                                     false};
    bool ok = false;

    /* One kind expected: the URI must name one token, as for any single
     * object. */
    if (hsm_store_one_kind(ctx) && ctx->n_toks > 1) {
        hsm_refuse_several_tokens(ctx->uri, ctx->toks, ctx->n_toks);
        goto done;
    }
    for (int i = 0; i < ctx->n_toks; i++) {
        if (!search_token(ctx, ctx->module, ctx->toks[i], &pinreq, &cands, &n_cands))
            goto done;
    }
    /* Several keys, even on one token, are never resolved by picking one. */
    if (hsm_store_one_kind(ctx) && n_cands + ctx->n > 1) {
        ok = handle_ambiguity(ctx, cands, n_cands);
        goto done;
    }
    if (!add_private_keys(ctx, ctx->module, cands, n_cands))
        goto done;
    private_keys_first(ctx);
    if (hsm_store_one_kind(ctx) && ctx->n == 0) {
        char list[600];

        hsm_describe_tokens(ctx->toks, ctx->n_toks, list, sizeof(list));
        hsm_error(HSM_R_NO_OBJECT, "%s: no %s%s%s matches on token %s", ctx->uri->redacted,
                  ctx->expect == OSSL_STORE_INFO_CERT     ? "certificate"
                  : ctx->expect == OSSL_STORE_INFO_PUBKEY ? "public key"
                                                          : "private key",
                  ctx->alias != NULL ? " with the label " : "",
                  ctx->alias != NULL ? ctx->alias : "", list);
        goto done;
    }
    ok = true;
done:
    /* A refused load is recorded with what is known: the URI as asked (no
     * PIN) and the token, when one was chosen. Several candidates for one
     * object are a refusal too, though their names are still handed out. */
    if (ctx->prov->config.audit != NULL && (!ok || ctx->ambiguity != NULL))
        (void)hsm_audit_operation(
            ctx->prov->config.audit,
            &(struct hsm_audit_event){.op = HSM_AUDIT_LOAD,
                                      .uri = ctx->uri->redacted,
                                      .token = ctx->n_toks == 1 ? &ctx->toks[0]->id : NULL,
                                      .reason = ok ? HSM_R_AMBIGUOUS_OBJECT : 0,
                                      .detail = ok ? ctx->ambiguity : NULL});
    for (size_t i = 0; i < n_cands; i++) {
        hsm_attr_set_clear(&cands[i].attrs);
    }
    free(cands);
    for (size_t i = 0; i < ctx->n_same_id; i++) {
        hsm_id_objects_clear(ctx->same_id[i]);
        free(ctx->same_id[i]);
    }
    free(ctx->same_id);
    ctx->same_id = NULL;
    ctx->n_same_id = 0;
    return ok;
}
