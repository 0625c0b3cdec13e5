/*
 * The text form of a token key (`openssl pkey -text`, `storeutl -text`):
 * where the key lives, by its canonical URI, and its public half as OpenSSL
 * prints it. A URI that names one object hands out that object alone, so
 * this is where a key's name shows.
 */
#include "provider/key_text.h"

#include "provider/core_bio.h"

#include <openssl/bio.h>
#include <openssl/evp.h>

static void *text_newctx(void *provctx)
{
    return provctx;
}

static void text_freectx(void *ctx)
{
    (void)ctx;
}

static int text_does_selection(void *provctx, int selection)
{
    (void)provctx;
    return (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0;
}

static int text_encode(void *ctx, OSSL_CORE_BIO *out, const void *obj_raw,
                       const OSSL_PARAM obj_abstract[], int selection, OSSL_PASSPHRASE_CALLBACK *cb,
                       void *cbarg)
{
    const struct hsm_key *key = obj_raw;
    BIO *mem = BIO_new(BIO_s_mem());
    char *text = NULL;
    long len;
    int ok = 0;

    (void)ctx;
    (void)obj_abstract;
    (void)cb;
    (void)cbarg;
    if (mem == NULL || key == NULL || key->pub == NULL)
        goto done;
    if (hsm_key_on_token(key) && (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
        BIO_printf(mem,
                   "Private-Key: held on a PKCS#11 token, never exported\n"
                   "URI: %s\nToken: '%s' (serial %s, %s %s)\n",
                   key->uri, key->token_id.label, key->token_id.serial, key->token_id.manufacturer,
                   key->token_id.model) <= 0)
        goto done;
    if (key->fingerprint[0] != '\0' &&
        BIO_printf(mem, "Public key SHA-256: %s\n", key->fingerprint) <= 0)
        goto done;
    if (EVP_PKEY_print_public(mem, key->pub, 0, NULL) <= 0)
        goto done;
    len = BIO_get_mem_data(mem, &text);
    ok = len > 0 && hsm_core_bio_write_all(out, text, (size_t)len);
done:
    BIO_free(mem);
    return ok;
}

const OSSL_DISPATCH hsm_key_text_encoder_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))text_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))text_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))text_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))text_encode},
    {0, NULL},
};
