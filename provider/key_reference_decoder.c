/*
 * Reading a key reference (key_reference_pem.h) back: the PrivateKeyInfo
 * is decoded into the token key it names, loaded afresh from the token by
 * its URI with every check a URI load gets.
 */
#include "provider/key_reference_pem.h"

#include "provider/store_load.h"

#include <openssl/core_names.h>
#include <stdio.h>
#include <string.h>

static void *decoder_newctx(void *provctx)
{
    return provctx;
}

static void decoder_freectx(void *ctx)
{
    (void)ctx;
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

static int decode(void *ctx, OSSL_CORE_BIO *in, int selection, OSSL_CALLBACK *data_cb,
                  void *data_cbarg, OSSL_PASSPHRASE_CALLBACK *pw_cb, void *pw_cbarg)
{
    unsigned char der[HSM_REFERENCE_MAX + 64];
    char uri[HSM_REFERENCE_MAX + 1];
    size_t len = hsm_key_reference_read(in, der, sizeof(der));

    (void)selection;
    /* Not a reference: no object, no error, and the next decoder tries. */
    if (!hsm_key_reference_parse(der, len, uri, sizeof(uri)))
        return 1;
    if (!names_a_key_only(uri))
        return 0;
    return hsm_store_load_private_key(ctx, uri, data_cb, data_cbarg, pw_cb, pw_cbarg);
}

const OSSL_DISPATCH hsm_key_reference_decoder_functions[] = {
    {OSSL_FUNC_DECODER_NEWCTX, (void (*)(void))decoder_newctx},
    {OSSL_FUNC_DECODER_FREECTX, (void (*)(void))decoder_freectx},
    {OSSL_FUNC_DECODER_DOES_SELECTION, (void (*)(void))decoder_does_selection},
    {OSSL_FUNC_DECODER_DECODE, (void (*)(void))decode},
    {0, NULL},
};
