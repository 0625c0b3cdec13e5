/*
 * Reading a key reference (key_reference_pem.h) back: the PrivateKeyInfo
 * is decoded into the token key it names, loaded afresh from the token by
 * its URI with every check a URI load gets.
 *
 * There is one decoder per key type, named like the provider's keymgmt for
 * that type plus the reference OID of that type. Whatever chain OpenSSL
 * builds, the PrivateKeyInfo reaches one of them: handed on by its
 * algorithm OID (OpenSSL 3.0's EncryptedPrivateKeyInfo unwrapper does so,
 * and 3.5 asks for a decoder by that OID, with the application's
 * passphrase callback), or directly as any key decoder's input. The key is
 * then built by the provider's own keymgmt for its type, which OpenSSL
 * finds among the keymgmts it collected for the same name.
 */
#include "provider/key_reference_pem.h"

#include "provider/core_bio.h"
#include "provider/store_load.h"

#include <openssl/core_names.h>
#include <openssl/core_object.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

struct ref_decoder {
    struct hsm_provctx *prov;
    int kind; /* the key type this decoder's names say */
};

static void *new_decoder(void *provctx, int kind)
{
    struct ref_decoder *rd = OPENSSL_zalloc(sizeof(*rd));

    if (rd != NULL) {
        rd->prov = provctx;
        rd->kind = kind;
    }
    return rd;
}

static void decoder_freectx(void *ctx)
{
    OPENSSL_free(ctx);
}

static int decoder_does_selection(void *provctx, int selection)
{
    (void)provctx;
    return selection == 0 || (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0;
}

/*
 * A reference names a key by its path attributes and nothing else. A file
 * may come from anyone: a query in it would choose the PIN (pin-value: a
 * PIN try per load), read a file and send it to the token as a PIN
 * (pin-source), or choose a module. The file is refused, naming the query
 * attributes and never their values.
 */
static bool names_a_key_only(const char *uri)
{
    static const char *const known[] = {"pin-value", "pin-source", "module-path", "module-name"};
    const char *query = strchr(uri, '?');
    char names[80] = "";

    if (query == NULL)
        return true;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        size_t len = strlen(known[i]);

        for (const char *p = query; p != NULL; p = strchr(p + 1, '&')) {
            if (strncmp(p + 1, known[i], len) == 0 &&
                (p[1 + len] == '=' || p[1 + len] == '&' || p[1 + len] == '\0')) {
                snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
                         names[0] != '\0' ? ", " : "", known[i]);
                break;
            }
        }
    }
    hsm_error(HSM_R_BAD_INPUT,
              "key reference file naming %.*s carries a query (%s): a key file names a key and "
              "never a PIN, a PIN source or a module. The PIN comes from pkcs11-module-token-pin "
              "or the application (-passin, its prompt); write the file again with openssl pkey "
              "-in 'pkcs11:...' -out FILE",
              (int)(query - uri), uri, names[0] != '\0' ? names : "unknown attributes");
    return false;
}

/* The key one load found, and its OpenSSL type name. */
struct found {
    struct hsm_key *key;
    char type[16];
};

static int keep_found(const OSSL_PARAM params[], void *arg)
{
    struct found *f = arg;
    const OSSL_PARAM *ref = OSSL_PARAM_locate_const(params, OSSL_OBJECT_PARAM_REFERENCE);
    const OSSL_PARAM *type = OSSL_PARAM_locate_const(params, OSSL_OBJECT_PARAM_DATA_TYPE);
    const char *name = NULL;

    if (ref == NULL || ref->data_type != OSSL_PARAM_OCTET_STRING ||
        ref->data_size != sizeof(f->key) || type == NULL ||
        !OSSL_PARAM_get_utf8_string_ptr(type, &name) || strlen(name) >= sizeof(f->type))
        return 0;
    memcpy(&f->key, ref->data, sizeof(f->key));
    hsm_key_ref(f->key);
    strcpy(f->type, name);
    return 1;
}

/* Hands |f|'s key on by reference, to be built by the provider's keymgmt. */
static int give_key(struct found *f, OSSL_CALLBACK *data_cb, void *data_cbarg)
{
    int object_type = OSSL_OBJECT_PKEY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, f->type, 0),
        OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &f->key, sizeof(f->key)),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DESC, f->key->uri, 0),
        OSSL_PARAM_construct_end(),
    };

    return data_cb(params, data_cbarg);
}

/* Loads the key |uri| names; false after raising. A reference that
 * declares a key type must name a key of that type. */
static bool load(struct ref_decoder *rd, const char *uri, int kind, struct found *f,
                 OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    memset(f, 0, sizeof(*f));
    if (!hsm_store_load_private_key(rd->prov, uri, keep_found, f, pw_cb, pw_cbarg) ||
        f->key == NULL)
        return false;
    if (kind != HSM_REF_ANY && hsm_key_reference_kind(f->type) != kind) {
        hsm_error(HSM_R_KEY_CHANGED,
                  "the key reference file names an %s key, but %s is an %s key on the token; "
                  "write the file again with openssl pkey -in 'pkcs11:...' -out FILE",
                  hsm_key_reference_type(kind), f->key->uri, f->type);
        hsm_key_put(f->key);
        f->key = NULL;
        return false;
    }
    return true;
}

/*
 * A failed load's reason, raised by then, must reach the application, but
 * libcrypto runs each attempt inside an error mark that it pops when no key
 * came out (ossl_store_handle_load_result). What it keeps is a key that a
 * decoder handed on and no keymgmt could load: OpenSSL 3.5 records that as
 * a hard error and keeps the queue (try_key_value's harderr), and 3.0's
 * file store does the same for a reference it cannot load (try_key_ref).
 * So a failure hands on a reference that no keymgmt takes: one byte, where
 * every keymgmt load (the provider's and OpenSSL's) wants a pointer's size.
 */
static int report_failure(const char *type, OSSL_CALLBACK *data_cb, void *data_cbarg)
{
    static unsigned char nothing;
    int object_type = OSSL_OBJECT_PKEY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, (char *)type, 0),
        OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_REFERENCE, &nothing, sizeof(nothing)),
        OSSL_PARAM_construct_end(),
    };

    (void)data_cb(params, data_cbarg);
    return 0;
}

/*
 * A key the DER decoder loaded, on its way to its key type's decoder: set
 * only while the DER decoder's data callback runs, in which the next
 * decoder, in the same thread, takes it. |der| is that decoder's input.
 */
struct handoff {
    const unsigned char *der;
    size_t len;
    struct found found;
};
static _Thread_local struct handoff handoff;

static bool handed_off(const unsigned char *der, size_t len)
{
    return handoff.der != NULL && handoff.len == len && memcmp(handoff.der, der, len) == 0;
}

/* The decoder of each key type's names. */
static int decode(void *ctx, OSSL_CORE_BIO *in, int selection, OSSL_CALLBACK *data_cb,
                  void *data_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct ref_decoder *rd = ctx;
    unsigned char der[HSM_REFERENCE_MAX + 64];
    char uri[HSM_REFERENCE_MAX + 1];
    size_t len = 0;
    struct found f;
    int kind, ok;

    (void)selection;
    /* Not a reference, or one of another key type: no object, no error,
     * and the next decoder tries. */
    if (!hsm_core_bio_read_all(in, der, sizeof(der), &len) ||
        !hsm_key_reference_parse(der, len, uri, sizeof(uri), &kind) ||
        (kind != HSM_REF_ANY && kind != rd->kind))
        return 1;
    if (handed_off(der, len)) {
        /* Loaded a moment ago by the DER decoder: taken, not loaded again. */
        if (handoff.found.key == NULL || hsm_key_reference_kind(handoff.found.type) != rd->kind)
            return 1;
        f = handoff.found;
        handoff.found.key = NULL;
    } else if (!names_a_key_only(uri) || !load(rd, uri, kind, &f, pw_cb, pw_cbarg)) {
        return report_failure(hsm_key_reference_type(rd->kind), data_cb, data_cbarg);
    }
    ok = give_key(&f, data_cb, data_cbarg);
    hsm_key_put(f.key);
    return ok;
}

/*
 * The decoder named "DER", for OpenSSL 3.0's file store. A reference that
 * fails to load there has its reason popped inside the store's result
 * handler, and the file store then offers the PrivateKeyInfo to the
 * decoders named like their input ("DER"), with the application's
 * callback: this one loads the key again, outside that mark, and a failure
 * reaches the application (report_failure). A key it loads never goes to
 * the file store's handler as a reference (that handler would give it to
 * another provider's keymgmt): it hands the PrivateKeyInfo on as data of
 * the key's type, with the key kept for the decoder of that type, which
 * takes it instead of loading again. Elsewhere (it also sits among the
 * extra decoders of any key decoding) it does the same.
 */
static int decode_der(void *ctx, OSSL_CORE_BIO *in, int selection, OSSL_CALLBACK *data_cb,
                      void *data_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    struct ref_decoder *rd = ctx;
    unsigned char der[HSM_REFERENCE_MAX + 64];
    char uri[HSM_REFERENCE_MAX + 1];
    size_t len = 0;
    struct handoff outer = handoff;
    struct found f;
    int kind, ok, object_type = OSSL_OBJECT_PKEY;

    (void)selection;
    /* Not a reference, or one on its way from here to its type's decoder. */
    if (!hsm_core_bio_read_all(in, der, sizeof(der), &len) ||
        !hsm_key_reference_parse(der, len, uri, sizeof(uri), &kind) || handed_off(der, len))
        return 1;
    /* For a failure any key type will do: no keymgmt takes its reference. */
    if (!names_a_key_only(uri) || !load(rd, uri, kind, &f, pw_cb, pw_cbarg))
        return report_failure(kind != HSM_REF_ANY ? hsm_key_reference_type(kind) : "EC", data_cb,
                              data_cbarg);
    handoff = (struct handoff){der, len, f};
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_OBJECT_PARAM_TYPE, &object_type),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_TYPE, handoff.found.type, 0),
        OSSL_PARAM_construct_utf8_string(OSSL_OBJECT_PARAM_DATA_STRUCTURE, "PrivateKeyInfo", 0),
        OSSL_PARAM_construct_octet_string(OSSL_OBJECT_PARAM_DATA, der, len),
        OSSL_PARAM_construct_end(),
    };
    ok = data_cb(params, data_cbarg);
    hsm_key_put(handoff.found.key); /* not taken */
    handoff = outer;
    return ok;
}

/* Private keys never leave the token: a reference cannot be exported. */
static int export_object(void *ctx, const void *reference, size_t reference_sz,
                         OSSL_CALLBACK *export_cb, void *export_cbarg)
{
    (void)ctx;
    (void)reference;
    (void)reference_sz;
    (void)export_cb;
    (void)export_cbarg;
    return 0;
}

#define REFERENCE_DECODER(kind_name, KIND)                                                         \
    static void *kind_name##_newctx(void *provctx)                                                 \
    {                                                                                              \
        return new_decoder(provctx, KIND);                                                         \
    }                                                                                              \
    const OSSL_DISPATCH hsm_key_reference_##kind_name##_decoder_functions[] = {                    \
        {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))kind_name##_newctx},                            \
        {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))decoder_freectx},                              \
        {OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))decoder_does_selection},                \
        {OSSL_FUNC_DECODER_DECODE, (void (*)(void))decode},                                        \
        {OSSL_FUNC_DECODER_EXPORT_OBJECT, (void (*)(void))export_object},                          \
        {0, NULL},                                                                                 \
    };

REFERENCE_DECODER(rsa, HSM_REF_RSA)
REFERENCE_DECODER(ec, HSM_REF_EC)
REFERENCE_DECODER(ed25519, HSM_REF_ED25519)
REFERENCE_DECODER(ed448, HSM_REF_ED448)

static void *der_newctx(void *provctx)
{
    return new_decoder(provctx, HSM_REF_ANY);
}

const OSSL_DISPATCH hsm_key_reference_der_decoder_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))der_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))decoder_freectx},
    {OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))decoder_does_selection},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))decode_der},
    {OSSL_FUNC_DECODER_EXPORT_OBJECT, (void (*)(void))export_object},
    {0, NULL},
};
