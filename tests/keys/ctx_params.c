/*
 * Context parameters in every form an application (or libcrypto's own
 * EVP_PKEY_CTX_set_ and _get_ helpers) uses, asked of a token key through the
 * provider and of a software key of the same kind through OpenSSL's default
 * provider: both must give the same answers. Covers RSA signatures
 * (padding mode and PSS salt length as integers and as names, digest, MGF1
 * digest), RSA decryption (padding, OAEP digest, MGF1 digest, OAEP label)
 * and ECDH (cofactor mode, KDF type, digest, length, UKM). A PSS signature
 * (SoftHSMv2 wants the MGF1 digest to be the signature's) made with the
 * names is verified with the token's public key in software.
 * Every refusal must leave a reason on the error queue.
 *
 *   ctx_params RSA-URI RSA-PUB.pem EC-URI
 *
 * OPENSSL_MODULES names the directory of hsm.so.
 */
#include "token_key.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int failures;

/* What one key's context answered, one line per question. */
struct transcript {
    char text[8192];
    size_t len;
};

static void say(struct transcript *t, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(t->text + t->len, sizeof(t->text) - t->len, fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(t->text) - t->len)
        t->len += (size_t)n;
}

static void expect(int ok, const char *what)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok)
        failures++;
}

/* Set while the token key's context is asked; the default provider's
 * refusals are not under test. */
static int asking_token;

/* A refused set must explain itself: something on the error queue. */
static void refused_with_reason(int rc, const char *what)
{
    char desc[200];

    if (!asking_token) {
        ERR_clear_error();
        return;
    }
    snprintf(desc, sizeof(desc), "%s is refused with a reason on the error queue", what);
    expect(rc <= 0 && ERR_peek_error() != 0, desc);
    ERR_clear_error();
}

static const char *md_sn(const EVP_MD *md)
{
    return md != NULL ? OBJ_nid2sn(EVP_MD_get_type(md)) : "(none)";
}

static int set_utf8(EVP_PKEY_CTX *ctx, const char *key, const char *value)
{
    OSSL_PARAM p[2] = {OSSL_PARAM_construct_utf8_string(key, (char *)value, 0), OSSL_PARAM_END};

    return EVP_PKEY_CTX_set_params(ctx, p);
}

static int set_int(EVP_PKEY_CTX *ctx, const char *key, int value)
{
    OSSL_PARAM p[2] = {OSSL_PARAM_int(key, &value), OSSL_PARAM_END};

    return EVP_PKEY_CTX_set_params(ctx, p);
}

/* "name=text int=N" as the context gives |key| in both forms. */
static void get_both(struct transcript *t, EVP_PKEY_CTX *ctx, const char *key)
{
    char text[64] = "";
    int value = -999;
    OSSL_PARAM ps[2] = {OSSL_PARAM_utf8_string(key, text, sizeof(text)), OSSL_PARAM_END};
    OSSL_PARAM pi[2] = {OSSL_PARAM_int(key, &value), OSSL_PARAM_END};
    int ok_s = EVP_PKEY_CTX_get_params(ctx, ps), ok_i = EVP_PKEY_CTX_get_params(ctx, pi);

    say(t, "  %s: name %s \"%s\", integer %s %d\n", key, ok_s ? "ok" : "refused", text,
        ok_i ? "ok" : "refused", value);
    ERR_clear_error();
}

static int listed(const OSSL_PARAM *list, const char *key)
{
    return list != NULL && OSSL_PARAM_locate_const(list, key) != NULL;
}

static void signature_forms(struct transcript *t, EVP_PKEY *key, OSSL_LIB_CTX *lib)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(lib, key, NULL);
    const EVP_MD *md = NULL;
    int pad = 0, salt = 0;
    static const char *const pad_names[] = {"pss", "pkcs1"};
    static const char *const salt_names[] = {"digest", "max", "auto", "20", "0"};
    static const int salt_ints[] = {RSA_PSS_SALTLEN_DIGEST, RSA_PSS_SALTLEN_MAX,
                                    RSA_PSS_SALTLEN_AUTO, 32};

    say(t, "signature:\n");
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) <= 0) {
        say(t, "  sign_init refused\n");
        EVP_PKEY_CTX_free(ctx);
        return;
    }
    /* The helpers every application uses; OpenSSL 3.0 sends and asks names. */
    say(t, "  set_rsa_padding(PSS) %d", EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING));
    say(t, " get_rsa_padding %d", EVP_PKEY_CTX_get_rsa_padding(ctx, &pad) > 0);
    say(t, " = %d\n", pad);
    say(t, "  set_signature_md(SHA256) %d", EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()));
    say(t, " get_signature_md %d", EVP_PKEY_CTX_get_signature_md(ctx, &md) > 0);
    say(t, " = %s\n", md_sn(md));
    say(t, "  set_rsa_mgf1_md(SHA384) %d", EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha384()));
    md = NULL;
    say(t, " get_rsa_mgf1_md %d", EVP_PKEY_CTX_get_rsa_mgf1_md(ctx, &md) > 0);
    say(t, " = %s\n", md_sn(md));
    for (size_t i = 0; i < sizeof(salt_ints) / sizeof(salt_ints[0]); i++) {
        say(t, "  set_rsa_pss_saltlen(%d) %d", salt_ints[i],
            EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt_ints[i]));
        say(t, " get_rsa_pss_saltlen %d", EVP_PKEY_CTX_get_rsa_pss_saltlen(ctx, &salt) > 0);
        say(t, " = %d\n", salt);
        get_both(t, ctx, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
    }
    /* Names and integers set directly, each read back in both forms. */
    for (size_t i = 0; i < sizeof(salt_names) / sizeof(salt_names[0]); i++) {
        say(t, "  saltlen name %s: %d\n", salt_names[i],
            set_utf8(ctx, OSSL_SIGNATURE_PARAM_PSS_SALTLEN, salt_names[i]));
        get_both(t, ctx, OSSL_SIGNATURE_PARAM_PSS_SALTLEN);
    }
    for (size_t i = 0; i < sizeof(pad_names) / sizeof(pad_names[0]); i++) {
        say(t, "  pad-mode name %s: %d\n", pad_names[i],
            set_utf8(ctx, OSSL_SIGNATURE_PARAM_PAD_MODE, pad_names[i]));
        get_both(t, ctx, OSSL_SIGNATURE_PARAM_PAD_MODE);
    }
    say(t, "  pad-mode integer PSS: %d\n",
        set_int(ctx, OSSL_SIGNATURE_PARAM_PAD_MODE, RSA_PKCS1_PSS_PADDING));
    get_both(t, ctx, OSSL_SIGNATURE_PARAM_PAD_MODE);
    ERR_clear_error();
    refused_with_reason(set_utf8(ctx, OSSL_SIGNATURE_PARAM_PAD_MODE, "oaep"),
                        "signature padding oaep");
    refused_with_reason(set_utf8(ctx, OSSL_SIGNATURE_PARAM_PAD_MODE, "no-such-padding"),
                        "signature padding no-such-padding");
    refused_with_reason(set_utf8(ctx, OSSL_SIGNATURE_PARAM_DIGEST, "no-such-digest"),
                        "digest no-such-digest");
    for (const char *const *k =
             (const char *const[]){OSSL_SIGNATURE_PARAM_PAD_MODE, OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
                                   OSSL_SIGNATURE_PARAM_DIGEST, OSSL_SIGNATURE_PARAM_MGF1_DIGEST,
                                   NULL};
         *k != NULL; k++)
        say(t, "  %s gettable %d settable %d\n", *k, listed(EVP_PKEY_CTX_gettable_params(ctx), *k),
            listed(EVP_PKEY_CTX_settable_params(ctx), *k));
    /* Raw RSA takes no digest: "none" on a context that has none yet. */
    EVP_PKEY_CTX_free(ctx);
    ctx = EVP_PKEY_CTX_new_from_pkey(lib, key, NULL);
    if (ctx != NULL && EVP_PKEY_sign_init(ctx) > 0) {
        say(t, "  fresh context, pad-mode name none: %d\n",
            set_utf8(ctx, OSSL_SIGNATURE_PARAM_PAD_MODE, "none"));
        get_both(t, ctx, OSSL_SIGNATURE_PARAM_PAD_MODE);
    }
    EVP_PKEY_CTX_free(ctx);
}

static void decryption_forms(struct transcript *t, EVP_PKEY *key, OSSL_LIB_CTX *lib)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(lib, key, NULL);
    static const char *const pad_names[] = {"oaep", "pkcs1", "none", "oaep"};
    const EVP_MD *md = NULL;
    unsigned char *label = NULL, *got = NULL;
    int pad = 0, got_len;

    say(t, "decryption:\n");
    if (ctx == NULL || EVP_PKEY_decrypt_init(ctx) <= 0) {
        say(t, "  decrypt_init refused\n");
        EVP_PKEY_CTX_free(ctx);
        return;
    }
    get_both(t, ctx, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);
    for (size_t i = 0; i < sizeof(pad_names) / sizeof(pad_names[0]); i++) {
        say(t, "  pad-mode name %s: %d\n", pad_names[i],
            set_utf8(ctx, OSSL_ASYM_CIPHER_PARAM_PAD_MODE, pad_names[i]));
        get_both(t, ctx, OSSL_ASYM_CIPHER_PARAM_PAD_MODE);
    }
    say(t, "  set_rsa_padding(PKCS1) %d", EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING));
    say(t, " get_rsa_padding %d", EVP_PKEY_CTX_get_rsa_padding(ctx, &pad) > 0);
    say(t, " = %d\n", pad);
    say(t, "  set_rsa_padding(OAEP) %d", EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING));
    say(t, " get_rsa_padding %d", EVP_PKEY_CTX_get_rsa_padding(ctx, &pad) > 0);
    say(t, " = %d\n", pad);
    say(t, "  set_rsa_oaep_md(SHA256) %d", EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()));
    say(t, " get_rsa_oaep_md %d", EVP_PKEY_CTX_get_rsa_oaep_md(ctx, &md) > 0);
    say(t, " = %s\n", md_sn(md));
    md = NULL;
    say(t, "  get_rsa_mgf1_md before set %d", EVP_PKEY_CTX_get_rsa_mgf1_md(ctx, &md) > 0);
    say(t, " = %s\n", md_sn(md));
    md = NULL;
    say(t, "  set_rsa_mgf1_md(SHA1) %d", EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()));
    say(t, " get_rsa_mgf1_md %d", EVP_PKEY_CTX_get_rsa_mgf1_md(ctx, &md) > 0);
    say(t, " = %s\n", md_sn(md));
    label = (unsigned char *)OPENSSL_strdup("a label");
    say(t, "  set0_rsa_oaep_label %d", EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, 7));
    got_len = EVP_PKEY_CTX_get0_rsa_oaep_label(ctx, &got);
    say(t, " get0_rsa_oaep_label %d \"%.*s\"\n", got_len, got_len > 0 ? got_len : 0,
        got != NULL ? (const char *)got : "");
    ERR_clear_error();
    refused_with_reason(set_utf8(ctx, OSSL_ASYM_CIPHER_PARAM_PAD_MODE, "pss"),
                        "decryption padding pss");
    refused_with_reason(set_utf8(ctx, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, "no-such-digest"),
                        "OAEP digest no-such-digest");
    for (const char *const *k =
             (const char *const[]){
                 OSSL_ASYM_CIPHER_PARAM_PAD_MODE, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST,
                 OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL,
                 OSSL_ASYM_CIPHER_PARAM_TLS_CLIENT_VERSION, NULL};
         *k != NULL; k++)
        say(t, "  %s gettable %d settable %d\n", *k, listed(EVP_PKEY_CTX_gettable_params(ctx), *k),
            listed(EVP_PKEY_CTX_settable_params(ctx), *k));
    EVP_PKEY_CTX_free(ctx);
}

static void ecdh_forms(struct transcript *t, EVP_PKEY *key, OSSL_LIB_CTX *lib)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(lib, key, NULL);
    const EVP_MD *md = NULL;
    unsigned char *ukm = NULL;
    int mode = -5, outlen = 0, ukm_len;

    say(t, "ecdh:\n");
    if (ctx == NULL || EVP_PKEY_derive_init(ctx) <= 0) {
        say(t, "  derive_init refused\n");
        EVP_PKEY_CTX_free(ctx);
        return;
    }
    say(t, "  get_ecdh_cofactor_mode %d", EVP_PKEY_CTX_get_ecdh_cofactor_mode(ctx) >= 0);
    for (int m = 1; m >= -1; m--) {
        say(t, " set(%d) %d", m, EVP_PKEY_CTX_set_ecdh_cofactor_mode(ctx, m) > 0);
        mode = EVP_PKEY_CTX_get_ecdh_cofactor_mode(ctx);
        say(t, " get %d", mode);
    }
    say(t, "\n  set_ecdh_kdf_type(NONE) %d",
        EVP_PKEY_CTX_set_ecdh_kdf_type(ctx, EVP_PKEY_ECDH_KDF_NONE) > 0);
    say(t, " get_ecdh_kdf_type %d\n", EVP_PKEY_CTX_get_ecdh_kdf_type(ctx));
    say(t, "  set_ecdh_kdf_md(SHA256) %d", EVP_PKEY_CTX_set_ecdh_kdf_md(ctx, EVP_sha256()) > 0);
    say(t, " get %d", EVP_PKEY_CTX_get_ecdh_kdf_md(ctx, &md) > 0);
    say(t, " = %s\n", md_sn(md));
    say(t, "  set_ecdh_kdf_outlen(24) %d", EVP_PKEY_CTX_set_ecdh_kdf_outlen(ctx, 24) > 0);
    say(t, " get %d", EVP_PKEY_CTX_get_ecdh_kdf_outlen(ctx, &outlen) > 0);
    say(t, " = %d\n", outlen);
    ukm = OPENSSL_memdup("ukm", 3);
    say(t, "  set0_ecdh_kdf_ukm %d", EVP_PKEY_CTX_set0_ecdh_kdf_ukm(ctx, ukm, 3) > 0);
    {
        /* What EVP_PKEY_CTX_get0_ecdh_kdf_ukm (deprecated) asks. */
        void *got = NULL;
        OSSL_PARAM p[2] = {OSSL_PARAM_octet_ptr(OSSL_EXCHANGE_PARAM_KDF_UKM, &got, 0),
                           OSSL_PARAM_END};
        int ok = EVP_PKEY_CTX_get_params(ctx, p);

        ukm_len = ok ? (int)p[0].return_size : -1;
        say(t, " get ukm %d %d \"%.*s\"\n", ok, ukm_len, ukm_len > 0 ? ukm_len : 0,
            got != NULL ? (const char *)got : "");
    }
    for (const char *const *k =
             (const char *const[]){OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE,
                                   OSSL_EXCHANGE_PARAM_KDF_TYPE, OSSL_EXCHANGE_PARAM_KDF_DIGEST,
                                   OSSL_EXCHANGE_PARAM_KDF_OUTLEN, OSSL_EXCHANGE_PARAM_KDF_UKM,
                                   NULL};
         *k != NULL; k++)
        say(t, "  %s gettable %d settable %d\n", *k, listed(EVP_PKEY_CTX_gettable_params(ctx), *k),
            listed(EVP_PKEY_CTX_settable_params(ctx), *k));
    ERR_clear_error();
    EVP_PKEY_CTX_free(ctx);
}

/* The X9.63 KDF would have to run on the token: refused, with a reason. */
static void ecdh_kdf_refused(EVP_PKEY *key)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    unsigned long err;
    const char *data = "";
    int flags = 0;

    ERR_clear_error();
    expect(ctx != NULL && EVP_PKEY_derive_init(ctx) > 0, "ECDH derive_init on the token key");
    expect(EVP_PKEY_CTX_set_ecdh_kdf_type(ctx, EVP_PKEY_ECDH_KDF_X9_63) <= 0,
           "the X9.63 KDF on the token key is refused");
    err = ERR_peek_last_error_data(&data, &flags);
    expect(err != 0 && (flags & ERR_TXT_STRING) && strstr(data, "KDF") != NULL &&
               strstr(data, "plain shared secret") != NULL,
           "the refusal names the KDF and says only the plain secret is derived");
    expect(EVP_PKEY_CTX_get_ecdh_kdf_type(ctx) == EVP_PKEY_ECDH_KDF_NONE,
           "the context still derives the plain secret");
    ERR_clear_error();
    EVP_PKEY_CTX_free(ctx);
}

/* PSS with every parameter given as a name, verified in software. */
static void pss_by_names(EVP_PKEY *key, EVP_PKEY *pub, OSSL_LIB_CTX *sw)
{
    unsigned char digest[32], sig[1024];
    size_t siglen = sizeof(sig);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    EVP_PKEY_CTX *vctx = EVP_PKEY_CTX_new_from_pkey(sw, pub, NULL);
    OSSL_PARAM p[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, "pss", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, "SHA2-256", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, "SHA2-256", 0),
        OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, "digest", 0),
        OSSL_PARAM_END,
    };

    memset(digest, 0x5a, sizeof(digest));
    expect(ctx != NULL && EVP_PKEY_sign_init_ex(ctx, p) > 0 &&
               EVP_PKEY_sign(ctx, sig, &siglen, digest, sizeof(digest)) > 0,
           "token key signs with pad-mode, digest, mgf1-digest and saltlen given as names");
    expect(vctx != NULL && EVP_PKEY_verify_init(vctx) > 0 &&
               EVP_PKEY_CTX_set_rsa_padding(vctx, RSA_PKCS1_PSS_PADDING) > 0 &&
               EVP_PKEY_CTX_set_signature_md(vctx, EVP_sha256()) > 0 &&
               EVP_PKEY_CTX_set_rsa_mgf1_md(vctx, EVP_sha256()) > 0 &&
               EVP_PKEY_CTX_set_rsa_pss_saltlen(vctx, 32) > 0 &&
               EVP_PKEY_verify(vctx, sig, siglen, digest, sizeof(digest)) == 1,
           "plain OpenSSL verifies it as PSS, SHA-256, MGF1-SHA-256, a 32-byte salt");
    ERR_print_errors_fp(stderr);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_CTX_free(vctx);
}

static void compare(const char *what, const struct transcript *token, const struct transcript *sw)
{
    char desc[160];

    snprintf(desc, sizeof(desc), "%s: the token key answers as OpenSSL's default provider", what);
    expect(strcmp(token->text, sw->text) == 0, desc);
    if (strcmp(token->text, sw->text) != 0)
        printf("--- token key:\n%s--- default provider:\n%s", token->text, sw->text);
}

int main(int argc, char **argv)
{
    OSSL_LIB_CTX *sw = OSSL_LIB_CTX_new();
    OSSL_PROVIDER *hsm = OSSL_PROVIDER_load(NULL, "hsm");
    OSSL_PROVIDER *dflt = OSSL_PROVIDER_load(NULL, "default");
    OSSL_PROVIDER *sw_dflt = sw != NULL ? OSSL_PROVIDER_load(sw, "default") : NULL;
    EVP_PKEY *rsa = NULL, *ec = NULL, *rsa_pub = NULL, *sw_rsa = NULL, *sw_ec = NULL;
    struct transcript a, b;

    if (argc != 4) {
        fprintf(stderr, "usage: %s RSA-URI RSA-PUB.pem EC-URI\n", argv[0]);
        return 2;
    }
    if (hsm == NULL || dflt == NULL || sw_dflt == NULL ||
        (rsa = test_load_private_key(argv[1], NULL)) == NULL ||
        (rsa_pub = test_read_public_key(argv[2], sw)) == NULL ||
        (ec = test_load_private_key(argv[3], NULL)) == NULL ||
        (sw_rsa = EVP_PKEY_Q_keygen(sw, NULL, "RSA", (size_t)2048)) == NULL ||
        (sw_ec = EVP_PKEY_Q_keygen(sw, NULL, "EC", "P-256")) == NULL) {
        ERR_print_errors_fp(stderr);
        fprintf(stderr, "FAIL: set-up (providers, token keys, software keys)\n");
        return 1;
    }

    a.len = b.len = 0;
    a.text[0] = b.text[0] = '\0';
    asking_token = 1;
    signature_forms(&a, rsa, NULL);
    asking_token = 0;
    signature_forms(&b, sw_rsa, sw);
    compare("RSA signature parameters", &a, &b);

    a.len = b.len = 0;
    a.text[0] = b.text[0] = '\0';
    asking_token = 1;
    decryption_forms(&a, rsa, NULL);
    asking_token = 0;
    decryption_forms(&b, sw_rsa, sw);
    compare("RSA decryption parameters", &a, &b);

    a.len = b.len = 0;
    a.text[0] = b.text[0] = '\0';
    asking_token = 1;
    ecdh_forms(&a, ec, NULL);
    asking_token = 0;
    ecdh_forms(&b, sw_ec, sw);
    compare("ECDH parameters", &a, &b);

    ecdh_kdf_refused(ec);
    pss_by_names(rsa, rsa_pub, sw);

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa_pub);
    EVP_PKEY_free(ec);
    EVP_PKEY_free(sw_rsa);
    EVP_PKEY_free(sw_ec);
    OSSL_PROVIDER_unload(sw_dflt);
    OSSL_LIB_CTX_free(sw);
    OSSL_PROVIDER_unload(dflt);
    OSSL_PROVIDER_unload(hsm);
    printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
