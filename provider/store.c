/*
 * OSSL_STORE for the pkcs11: scheme: what each open hands out, and in
 * which form (the search is store_search.c).
 *
 * A listing of a token (nothing expected, and a URI that names no object:
 * no id, object or type) hands out every object, each preceded by its
 * canonical URI as a name. A URI that names objects hands out the objects
 * alone, private keys first, so that a program that takes the first key it
 * gets finds it. Where one kind is expected
 * (OSSL_STORE_expect: `storeutl -keys` or `-certs`, and every single-object
 * load: `req -key`, `x509 -in`, `s_server -key`, load_key_certs_crls() in
 * general) and exactly one object matches, that object is handed out.
 * Where several match, OpenSSL 3.0's API gives no sound way to tell a
 * listing from a load: both call OSSL_STORE_expect() and then
 * OSSL_STORE_load() until they are satisfied, and the applications' loader
 * stops at the first object without ever learning that there were others.
 * So no object is handed out then, only each candidate's name (the way a
 * directory lists its files): storeutl prints every name, each of which
 * opens exactly one object, and a caller that wants one object skips names
 * and, after the last one, gets the error that lists the candidates.
 */
#include "provider/param_trace.h"
#include "provider/provider.h"
#include "provider/store_ctx.h"
#include "provider/store_load.h"
#include "provider/token_select.h"

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/store.h>
#include <stdlib.h>

static int store_close(void *loaderctx);

/*
 * The URI is parsed and its tokens found here: a module that cannot be
 * loaded, or no token that matches, fails the open, so that a caller that
 * loads until the end (storeutl) learns that it failed. The search itself
 * waits for the first load, which brings the expected kind and the
 * passphrase callback. A refused open of a URI that parses is recorded in
 * the audit log (the URI without its PIN and the reason raised); a URI
 * that does not parse names nothing to record.
 */
static void *store_open(void *provctx, const char *uri)
{
    struct store_ctx *ctx = OPENSSL_zalloc(sizeof(*ctx));

    if (ctx == NULL)
        return NULL;
    ctx->prov = provctx;
    ctx->uri = hsm_uri_parse(uri);
    if (ctx->uri == NULL || !hsm_uri_module_allowed(ctx->prov->config.module_path, ctx->uri) ||
        (ctx->module = hsm_provctx_module(ctx->prov)) == NULL ||
        (ctx->n_toks = hsm_select_tokens(ctx->module, ctx->uri, false, &ctx->toks)) <= 0) {
        if (ctx->uri != NULL)
            (void)hsm_audit_operation(
                ctx->prov->config.audit,
                &(struct hsm_audit_event){.op = HSM_AUDIT_LOAD, .uri = ctx->uri->redacted});
        store_close(ctx);
        return NULL;
    }
    return ctx;
}

static const OSSL_PARAM *store_settable_ctx_params(void *provctx)
{
    static const OSSL_PARAM params[] = {
        OSSL_PARAM_int(OSSL_STORE_PARAM_EXPECT, NULL),
        OSSL_PARAM_octet_string(OSSL_STORE_PARAM_SUBJECT, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_STORE_PARAM_ALIAS, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return params;
}

static int store_set_ctx_params(void *loaderctx, const OSSL_PARAM params[])
{
    struct store_ctx *ctx = loaderctx;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_EXPECT);

    hsm_params_trace_set("store set_ctx_params", params, store_settable_ctx_params(NULL));
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
    p = OSSL_PARAM_locate_const(params, OSSL_STORE_PARAM_ALIAS);
    if (p != NULL) {
        char *alias = NULL;

        if (!OSSL_PARAM_get_utf8_string(p, &alias, 0)) {
            hsm_error(HSM_R_BAD_INPUT, "the store's alias is not a string");
            return 0;
        }
        OPENSSL_free(ctx->alias);
        ctx->alias = alias;
    }
    return 1;
}

static int give_name(const char *uri, OSSL_CALLBACK *object_cb, void *object_cbarg)
{
    static const int name_type = OSSL_OBJECT_NAME;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, (int *)&name_type),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA, (char *)uri, 0),
        OSSL_PARAM_construct_end(),
    };

    return object_cb(params, object_cbarg);
}

static int give_object(struct store_result *r, OSSL_CALLBACK *object_cb, void *object_cbarg)
{
    OSSL_PARAM params[6], *p = params;

    *p++ = OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &r->object_type);
    if (r->key != NULL) {
        *p++ =
            OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, (char *)r->data_type, 0);
        *p++ =
            OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &r->key, sizeof(r->key));
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

static int store_load(void *loaderctx, OSSL_CALLBACK *object_cb, void *object_cbarg,
                      OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct store_ctx *ctx = loaderctx;
    struct store_result *r;

    if (!ctx->searched) {
        bool found;

        ctx->searched = true;
        found = hsm_store_search(ctx, pw_cb, pw_cbarg);
        if (!found) {
            ctx->next = ctx->n; /* nothing from a failed search is handed out */
            return 0;
        }
    }
    if (ctx->next >= ctx->n) {
        /* After the last name of several candidates: the reason no object
         * came, once, for a caller that wanted one. */
        if (ctx->ambiguity != NULL) {
            hsm_error(HSM_R_AMBIGUOUS_OBJECT, "%s", ctx->ambiguity);
            free(ctx->ambiguity);
            ctx->ambiguity = NULL;
        }
        return 0;
    }
    r = &ctx->results[ctx->next];
    if (ctx->ambiguity != NULL) {
        ctx->next++;
        return r->desc != NULL && give_name(r->desc, object_cb, object_cbarg);
    }
    if (hsm_store_gives_names(ctx) && !ctx->name_given && r->desc != NULL) {
        ctx->name_given = true;
        return give_name(r->desc, object_cb, object_cbarg);
    }
    ctx->name_given = false;
    ctx->next++;
    return give_object(r, object_cb, object_cbarg);
}

static int store_eof(void *loaderctx)
{
    struct store_ctx *ctx = loaderctx;

    return ctx->searched && ctx->next >= ctx->n && ctx->ambiguity == NULL;
}

static int store_close(void *loaderctx)
{
    struct store_ctx *ctx = loaderctx;

    for (size_t i = 0; i < ctx->n; i++)
        hsm_store_result_clear(&ctx->results[i]);
    free(ctx->results);
    free(ctx->ambiguity);
    hsm_tokens_put_all(ctx->toks, ctx->n_toks < 0 ? 0 : ctx->n_toks);
    hsm_uri_free(ctx->uri);
    OPENSSL_free(ctx->subject);
    OPENSSL_free(ctx->alias);
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
                               void *object_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct store_ctx *ctx = store_open(prov, uri);
    int ok;

    if (ctx == NULL)
        return 0;
    ctx->expect = OSSL_STORE_INFO_PKEY;
    ctx->strict = true;
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
