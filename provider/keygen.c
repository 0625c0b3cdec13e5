/*
 * Key generation: the pair is made inside the token named by the
 * pkcs11_uri parameter, checked like any loaded key (public views, and the
 * possession proof), and removed again if a check fails.
 */
#include "provider/keygen.h"

#include "cache/key_generate.h"
#include "cache/key_sizes.h"
#include "provider/pin_prompt.h"
#include "provider/token_select.h"
#include "uri/uri.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The smallest RSA key generated: loading accepts 1024 bits (old cards
 * hold such keys), a new key is made no smaller than 2048. */
#define RSA_GENERATE_MIN_BITS 2048

struct hsm_genctx {
    struct hsm_provctx *prov;
    CK_KEY_TYPE type;
    const char *algorithm;
    char *uri;
    size_t bits;
    unsigned char e[16];
    size_t e_len;
    char group[32];
    char usage[64]; /* "sign", "sign,decrypt", "sign,derive" */
};

void *hsm_gen_init_for(void *provctx, int selection, const OSSL_PARAM params[], CK_KEY_TYPE type,
                       const char *algorithm)
{
    struct hsm_genctx *g;

    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return NULL;
    g = OPENSSL_zalloc(sizeof(*g));
    if (g == NULL)
        return NULL;
    g->prov = provctx;
    g->type = type;
    g->algorithm = algorithm;
    g->bits = 2048;
    g->e[0] = 0x01, g->e[1] = 0x00, g->e[2] = 0x01; /* 65537 */
    g->e_len = 3;
    if (!hsm_gen_set_params(g, params)) {
        hsm_gen_cleanup(g);
        return NULL;
    }
    return g;
}

void hsm_gen_cleanup(void *genctx)
{
    struct hsm_genctx *g = genctx;

    if (g == NULL)
        return;
    OPENSSL_free(g->uri);
    OPENSSL_free(g);
}

int hsm_gen_set_params(void *genctx, const OSSL_PARAM params[])
{
    struct hsm_genctx *g = genctx;
    const OSSL_PARAM *p;

    if (params == NULL)
        return 1;
    if ((p = OSSL_PARAM_locate_const(params, HSM_PKEY_PARAM_URI)) != NULL) {
        char *uri = NULL;

        if (!OSSL_PARAM_get_utf8_string(p, &uri, 0))
            return 0;
        OPENSSL_free(g->uri);
        g->uri = uri;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_BITS)) != NULL &&
        !OSSL_PARAM_get_size_t(p, &g->bits))
        return 0;
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_E)) != NULL) {
        BIGNUM *e = NULL;
        int len;

        if (!OSSL_PARAM_get_BN(p, &e))
            return 0;
        len = BN_num_bytes(e);
        if (BN_is_odd(e) == 0 || len < 1 || BN_num_bits(e) > HSM_RSA_E_MAX_BITS || BN_is_one(e)) {
            BN_free(e);
            hsm_error(HSM_R_BAD_INPUT,
                      "the RSA public exponent must be odd, at least 3 and of at most %d bits",
                      HSM_RSA_E_MAX_BITS);
            return 0;
        }
        g->e_len = (size_t)BN_bn2bin(e, g->e);
        BN_free(e);
    }
    if ((p = OSSL_PARAM_locate_const(params, HSM_PKEY_PARAM_USAGE)) != NULL) {
        char *usage = g->usage;

        if (!OSSL_PARAM_get_utf8_string(p, &usage, sizeof(g->usage)))
            return 0;
    }
    if ((p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME)) != NULL) {
        char *group = g->group;

        if (!OSSL_PARAM_get_utf8_string(p, &group, sizeof(g->group)))
            return 0;
    }
    return 1;
}

#define URI_PARAM                                                                                  \
    OSSL_PARAM_utf8_string(HSM_PKEY_PARAM_URI, NULL, 0),                                           \
        OSSL_PARAM_utf8_string(HSM_PKEY_PARAM_USAGE, NULL, 0)

const OSSL_PARAM *hsm_gen_settable_rsa(void *genctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        URI_PARAM,
        OSSL_PARAM_size_t(OSSL_PKEY_PARAM_RSA_BITS, NULL),
        OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)genctx;
    (void)provctx;
    return params;
}

const OSSL_PARAM *hsm_gen_settable_ec(void *genctx, void *provctx)
{
    static const OSSL_PARAM params[] = {
        URI_PARAM,
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)genctx;
    (void)provctx;
    return params;
}

const OSSL_PARAM *hsm_gen_settable_eddsa(void *genctx, void *provctx)
{
    static const OSSL_PARAM params[] = {URI_PARAM, OSSL_PARAM_END};
    (void)genctx;
    (void)provctx;
    return params;
}

/* CKA_EC_PARAMS of the curves the provider generates on. */
static bool curve_for(struct hsm_keygen_request *req, const char *group)
{
    static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};
    static const unsigned char p384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
    static const unsigned char p521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
    static const struct {
        const char *names[3];
        const unsigned char *oid;
        size_t len;
    } curves[] = {
        {{"P-256", "prime256v1", "secp256r1"}, p256, sizeof(p256)},
        {{"P-384", "secp384r1", NULL}, p384, sizeof(p384)},
        {{"P-521", "secp521r1", NULL}, p521, sizeof(p521)},
    };

    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 3 && curves[i].names[j] != NULL; j++) {
            if (strcasecmp(group, curves[i].names[j]) == 0) {
                req->curve = curves[i].oid;
                req->curve_len = curves[i].len;
                return true;
            }
        }
    }
    return false;
}

/* pkcs11_key_usage: comma-separated sign, decrypt (RSA), derive (EC). */
static bool parse_usage(const struct hsm_genctx *g, struct hsm_keygen_request *req)
{
    char copy[64], *tok, *save = NULL;

    snprintf(copy, sizeof(copy), "%s", g->usage[0] != '\0' ? g->usage : "sign");
    for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "sign") == 0)
            continue;
        if (strcmp(tok, "decrypt") == 0 && g->type == CKK_RSA)
            req->allow_decrypt = true;
        else if (strcmp(tok, "derive") == 0 && g->type == CKK_EC)
            req->allow_derive = true;
        else {
            hsm_error(HSM_R_BAD_INPUT,
                      "pkcs11_key_usage \"%s\": use sign, plus decrypt for RSA or derive for EC",
                      tok);
            return false;
        }
    }
    return true;
}

static bool fill_request(const struct hsm_genctx *g, const struct hsm_uri *uri,
                         struct hsm_keygen_request *req, char *label_buf, size_t label_size)
{
    /* Ed25519 and Ed448 by OID (RFC 8410), and by name for tokens that
     * predate PKCS#11 3.0's OIDs (SoftHSMv2 2.6 takes both). */
    static const unsigned char ed25519[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
    static const unsigned char ed448[] = {0x06, 0x03, 0x2b, 0x65, 0x71};
    static const unsigned char ed25519_name[] = "\x13\x0c"
                                                "edwards25519";
    static const unsigned char ed448_name[] = "\x13\x0a"
                                              "edwards448";
    CK_ATTRIBUTE *a;

    memset(req, 0, sizeof(*req));
    req->type = g->type;
    if ((a = p11_kit_uri_get_attribute(uri->p11, CKA_LABEL)) != NULL) {
        if (a->ulValueLen == 0 || a->ulValueLen >= label_size) {
            hsm_error(HSM_R_BAD_INPUT, "%s: the object label must be 1 to %zu bytes", uri->redacted,
                      label_size - 1);
            return false;
        }
        memcpy(label_buf, a->pValue, a->ulValueLen);
        label_buf[a->ulValueLen] = '\0';
        req->label = label_buf;
    }
    if ((a = p11_kit_uri_get_attribute(uri->p11, CKA_ID)) != NULL) {
        if (a->ulValueLen == 0 || a->ulValueLen > sizeof(req->id)) {
            hsm_error(HSM_R_BAD_INPUT, "%s: the id must be 1 to %zu bytes", uri->redacted,
                      sizeof(req->id));
            return false;
        }
        memcpy(req->id, a->pValue, a->ulValueLen);
        req->id_len = a->ulValueLen;
    }
    if (!parse_usage(g, req))
        return false;
    if (uri->has_class && uri->klass != CKO_PRIVATE_KEY) {
        hsm_error(HSM_R_BAD_INPUT, "%s: a generated key is type=private", uri->redacted);
        return false;
    }
    switch (g->type) {
    case CKK_RSA:
        if (g->bits < RSA_GENERATE_MIN_BITS || g->bits > HSM_RSA_MAX_BITS) {
            hsm_error(HSM_R_BAD_INPUT, "RSA keys of %zu bits are not generated (%d to %d)", g->bits,
                      RSA_GENERATE_MIN_BITS, HSM_RSA_MAX_BITS);
            return false;
        }
        req->rsa_bits = g->bits;
        memcpy(req->rsa_e, g->e, g->e_len);
        req->rsa_e_len = g->e_len;
        return true;
    case CKK_EC:
        if (g->group[0] == '\0' || !curve_for(req, g->group)) {
            hsm_error(HSM_R_UNSUPPORTED,
                      "curve \"%s\" is not supported; use group:P-256, P-384 or P-521", g->group);
            return false;
        }
        return true;
    default:
        if (strcmp(g->algorithm, "ED448") == 0) {
            req->curve = ed448, req->curve_len = sizeof(ed448);
            req->curve_alt = ed448_name, req->curve_alt_len = sizeof(ed448_name) - 1;
        } else {
            req->curve = ed25519, req->curve_len = sizeof(ed25519);
            req->curve_alt = ed25519_name, req->curve_alt_len = sizeof(ed25519_name) - 1;
        }
        return true;
    }
}

/*
 * The audit record of a generation: the new key, or for a refusal the URI
 * asked for and the token, if one was chosen. False: the new key's record
 * could not be written, and the key must not be handed out.
 */
static bool audit_generation(const struct hsm_genctx *g, const struct hsm_uri *uri,
                             const struct hsm_key *key, const struct hsm_token *tok)
{
    CK_MECHANISM_TYPE mech = g->type == CKK_RSA  ? CKM_RSA_PKCS_KEY_PAIR_GEN
                             : g->type == CKK_EC ? CKM_EC_KEY_PAIR_GEN
                                                 : CKM_EC_EDWARDS_KEY_PAIR_GEN;

    if (g->prov->config.audit == NULL)
        return true;
    return hsm_audit_operation(
        g->prov->config.audit,
        &(struct hsm_audit_event){.op = HSM_AUDIT_GENERATE,
                                  .key = key,
                                  .uri = key == NULL ? uri->redacted : NULL,
                                  .token = key == NULL && tok != NULL ? &tok->id : NULL,
                                  .mechanism = &mech,
                                  .ok = key != NULL});
}

void *hsm_gen(void *genctx, OSSL_CALLBACK *cb, void *cbarg)
{
    struct hsm_genctx *g = genctx;

    struct hsm_keygen_request req;
    struct hsm_token **toks = NULL;
    struct hsm_key *key = NULL;
    struct hsm_module *mod;
    struct hsm_uri *uri;
    char label[256];
    int n = -1;

    (void)cb;
    (void)cbarg;
    if (g->uri == NULL && hsm_error_inside_module()) {
        hsm_error(HSM_R_BAD_INPUT,
                  "a PKCS#11 module generating a %s key in software inside its own call "
                  "reached the hsm provider; activate the default provider before hsm "
                  "(-provider default -provider hsm, or in that order in openssl.cnf)",
                  g->algorithm);
        return NULL;
    }
    if (g->uri == NULL) {
        hsm_error(HSM_R_BAD_INPUT,
                  "no token named: give -pkeyopt pkcs11_uri:'pkcs11:token=...;object=...' "
                  "(and -propquery '?provider=hsm' so that the key is made on the token)");
        return NULL;
    }
    if ((uri = hsm_uri_parse(g->uri)) == NULL)
        return NULL;
    struct hsm_pin_request pinreq = {
        uri, g->prov->config.token_pin, g->prov->config.pin_file_allow_shared, NULL, NULL, true};
    if (!fill_request(g, uri, &req, label, sizeof(label)) ||
        !hsm_uri_module_allowed(g->prov->config.module_path, uri) ||
        (mod = hsm_provctx_module(g->prov)) == NULL ||
        (n = hsm_select_tokens(mod, uri, true, &toks)) != 1)
        goto done;
    key = hsm_key_generate(toks[0], &req, hsm_pin_for_login, &pinreq, g->prov->libctx);
    if (key != NULL && !hsm_key_arm_possession_proof(g->prov, key)) {
        hsm_key_destroy_generated(key);
        hsm_key_put(key);
        key = NULL;
    }
    if (key != NULL)
        key->algorithm = g->algorithm;
done:
    if (!audit_generation(g, uri, key, n == 1 ? toks[0] : NULL) && key != NULL) {
        hsm_key_destroy_generated(key);
        hsm_key_put(key);
        key = NULL;
    }
    hsm_tokens_put_all(toks, n < 0 ? 0 : n);
    hsm_uri_free(uri);
    return key;
}
