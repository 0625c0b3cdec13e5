/*
 * The provider as an application reaches it: a library context configured
 * from an openssl.cnf, a key loaded once through OSSL_STORE, EVP_DigestSign.
 * One library context per configuration, so verify-after-sign on and off
 * are measured side by side in one process.
 */
#include "tests/bench/bench.h"
#include "token_key.h"

#include <openssl/err.h>
#include <openssl/provider.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bench_md_for(CK_KEY_TYPE type)
{
    return type == CKK_EC_EDWARDS ? NULL : "SHA256";
}

static const char *md_for_pkey(const EVP_PKEY *pk)
{
    return EVP_PKEY_is_a(pk, "ED25519") || EVP_PKEY_is_a(pk, "ED448") ? NULL : "SHA256";
}

void bench_ssl_errors(char *buf, size_t len)
{
    const char *data, *func;
    unsigned long e;
    int flags;
    size_t used = 0;

    buf[0] = '\0';
    while ((e = ERR_get_error_all(NULL, NULL, &func, &data, &flags)) != 0) {
        char one[256];

        ERR_error_string_n(e, one, sizeof(one));
        if (used + 4 < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%s%s%s", used ? " | " : "", one,
                                     (flags & ERR_TXT_STRING) && data ? ": " : "",
                                     (flags & ERR_TXT_STRING) && data ? data : "");
        if (used >= len)
            used = len - 1;
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "no OpenSSL error recorded");
}

bool prov_write_cnf(const char *file, const char *provider_so, const char *module_path, bool verify,
                    bool possession, const char *audit_log)
{
    FILE *f = fopen(file, "w");

    if (f == NULL)
        return false;
    fprintf(f,
            "openssl_conf = openssl_init\n"
            "[openssl_init]\nproviders = provider_sect\n"
            "[provider_sect]\nhsm = hsm_sect\ndefault = default_sect\n"
            "[default_sect]\nactivate = 1\n"
            "[hsm_sect]\nmodule = %s\npkcs11-module-path = %s\n"
            "verify-signatures = %s\ncheck-possession = %s\n%s%s%sactivate = 1\n",
            provider_so, module_path, verify ? "yes" : "no", possession ? "yes" : "no",
            audit_log != NULL ? "audit-log = " : "", audit_log != NULL ? audit_log : "",
            audit_log != NULL ? "\n" : "");
    return fclose(f) == 0;
}

OSSL_LIB_CTX *prov_libctx(const char *workdir, const char *name, const char *provider_so,
                          const char *module_path, bool verify, bool possession,
                          const char *audit_log, char *why, size_t len)
{
    char file[1024];
    OSSL_LIB_CTX *ctx;

    snprintf(file, sizeof(file), "%s/%s.cnf", workdir, name);
    if (!prov_write_cnf(file, provider_so, module_path, verify, possession, audit_log)) {
        snprintf(why, len, "cannot write %s", file);
        return NULL;
    }
    /* SoftHSMv2 leaves its failed search for the rdrand engine on the
     * queue when it initialises: not this provider's reason. */
    ERR_clear_error();
    ctx = OSSL_LIB_CTX_new();
    if (ctx == NULL || !OSSL_LIB_CTX_load_config(ctx, file) ||
        !OSSL_PROVIDER_available(ctx, "hsm")) {
        bench_ssl_errors(why, len);
        OSSL_LIB_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

EVP_PKEY *prov_load_key(OSSL_LIB_CTX *ctx, const char *uri, char *why, size_t len)
{
    EVP_PKEY *pk = test_load_private_key(uri, ctx);

    if (pk == NULL)
        bench_ssl_errors(why, len);
    else
        ERR_clear_error();
    return pk;
}

/* ------------------------------------------------------------- signing */

struct prov_sign {
    OSSL_LIB_CTX *ctx;
    EVP_PKEY *key, *pub;
    const char *md;
    EVP_MD_CTX *mdctx;
    unsigned char sig[1024];
    size_t siglen;
};

void *prov_sign_state(OSSL_LIB_CTX *ctx, EVP_PKEY *key, EVP_PKEY *pub, char *why, size_t len)
{
    struct prov_sign *st = calloc(1, sizeof(*st));

    if (st == NULL || (st->mdctx = EVP_MD_CTX_new()) == NULL) {
        snprintf(why, len, "out of memory");
        free(st);
        return NULL;
    }
    st->ctx = ctx;
    st->key = key;
    st->pub = pub;
    st->md = md_for_pkey(pub);
    return st;
}

void prov_sign_free(void *state)
{
    struct prov_sign *st = state;

    EVP_MD_CTX_free(st->mdctx);
    free(st);
}

bool prov_sign_op(void *state, char *why, size_t len)
{
    struct prov_sign *st = state;

    st->siglen = sizeof(st->sig);
    if (EVP_DigestSignInit_ex(st->mdctx, NULL, st->md, st->ctx, NULL, st->key, NULL) > 0 &&
        EVP_DigestSign(st->mdctx, st->sig, &st->siglen, bench_msg, BENCH_MSG_LEN) > 0)
        return true;
    bench_ssl_errors(why, len);
    return false;
}

bool prov_sign_check(void *state, char *why, size_t len)
{
    struct prov_sign *st = state;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL &&
              EVP_DigestVerifyInit_ex(md, NULL, st->md, NULL, NULL, st->pub, NULL) > 0 &&
              EVP_DigestVerify(md, st->sig, st->siglen, bench_msg, BENCH_MSG_LEN) == 1;

    EVP_MD_CTX_free(md);
    if (!ok)
        snprintf(why, len, "provider signature does not verify with the token's public key");
    return ok;
}

/* ------------------------------------------------ software verification */

struct sw_verify {
    EVP_PKEY *pub;
    const char *md;
    EVP_MD_CTX *mdctx;
    unsigned char sig[1024];
    size_t siglen;
};

void *sw_verify_state(EVP_PKEY *pub, const unsigned char *sig, size_t siglen, char *why, size_t len)
{
    struct sw_verify *st = calloc(1, sizeof(*st));

    if (st == NULL || siglen > sizeof(st->sig) || (st->mdctx = EVP_MD_CTX_new()) == NULL) {
        snprintf(why, len, "out of memory");
        free(st);
        return NULL;
    }
    st->pub = pub;
    st->md = md_for_pkey(pub);
    memcpy(st->sig, sig, siglen);
    st->siglen = siglen;
    return st;
}

void sw_verify_free(void *state)
{
    struct sw_verify *st = state;

    EVP_MD_CTX_free(st->mdctx);
    free(st);
}

bool sw_verify_op(void *state, char *why, size_t len)
{
    struct sw_verify *st = state;

    if (EVP_DigestVerifyInit_ex(st->mdctx, NULL, st->md, NULL, NULL, st->pub, NULL) > 0 &&
        EVP_DigestVerify(st->mdctx, st->sig, st->siglen, bench_msg, BENCH_MSG_LEN) == 1)
        return true;
    bench_ssl_errors(why, len);
    return false;
}

/* ------------------------------------------------------------ key load */

struct prov_load {
    OSSL_LIB_CTX *ctx;
    char uri[512];
};

void *prov_load_state(OSSL_LIB_CTX *ctx, const char *uri)
{
    struct prov_load *st = calloc(1, sizeof(*st));

    if (st != NULL) {
        st->ctx = ctx;
        snprintf(st->uri, sizeof(st->uri), "%s", uri);
    }
    return st;
}

bool prov_load_op(void *state, char *why, size_t len)
{
    struct prov_load *st = state;
    EVP_PKEY *pk = prov_load_key(st->ctx, st->uri, why, len);

    EVP_PKEY_free(pk);
    return pk != NULL;
}
