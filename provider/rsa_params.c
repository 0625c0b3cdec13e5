#include "provider/rsa_params.h"
#include "cache/error.h"
#include "cache/provider_property.h"

#include <errno.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    int mode;
    const char *name;
} pad_names[] = {
    {RSA_PKCS1_PADDING, OSSL_PKEY_RSA_PAD_MODE_PKCSV15},
    {RSA_NO_PADDING, OSSL_PKEY_RSA_PAD_MODE_NONE},
    {RSA_PKCS1_OAEP_PADDING, OSSL_PKEY_RSA_PAD_MODE_OAEP},
    {RSA_PKCS1_OAEP_PADDING, "oeap"}, /* OpenSSL's old misspelling, still accepted */
    {RSA_X931_PADDING, OSSL_PKEY_RSA_PAD_MODE_X931},
    {RSA_PKCS1_PSS_PADDING, OSSL_PKEY_RSA_PAD_MODE_PSS},
};

static const struct {
    int saltlen;
    const char *name;
} salt_names[] = {
    {RSA_PSS_SALTLEN_DIGEST, OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST},
    {RSA_PSS_SALTLEN_MAX, OSSL_PKEY_RSA_PSS_SALT_LEN_MAX},
    {RSA_PSS_SALTLEN_AUTO, OSSL_PKEY_RSA_PSS_SALT_LEN_AUTO},
    {RSA_PSS_SALTLEN_AUTO_DIGEST_MAX, HSM_PSS_SALTLEN_AUTO_DIGEST_MAX_NAME},
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The utf8 value of |p| into |buf|; false (with a reason) for another type
 * or a value that does not fit. */
static bool text_of(const OSSL_PARAM *p, char *buf, size_t len)
{
    if (p->data_type != OSSL_PARAM_UTF8_STRING || !OSSL_PARAM_get_utf8_string(p, &buf, len)) {
        hsm_error(HSM_R_BAD_INPUT, "parameter %s must be an integer or a name of at most %zu bytes",
                  p->key, len - 1);
        return false;
    }
    return true;
}

bool hsm_rsa_pad_mode_get(const OSSL_PARAM *p, int *mode)
{
    char text[32];

    if (p->data_type == OSSL_PARAM_INTEGER) {
        if (!OSSL_PARAM_get_int(p, mode)) {
            hsm_error(HSM_R_BAD_INPUT, "parameter %s: the integer is not an RSA padding mode",
                      p->key);
            return false;
        }
        return true;
    }
    if (!text_of(p, text, sizeof(text)))
        return false;
    for (size_t i = 0; i < N_OF(pad_names); i++) {
        if (strcmp(text, pad_names[i].name) == 0) {
            *mode = pad_names[i].mode;
            return true;
        }
    }
    hsm_error(HSM_R_BAD_INPUT, "RSA padding mode \"%s\" is unknown (pkcs1, pss, oaep, none)", text);
    return false;
}

const char *hsm_rsa_pad_mode_name(int mode)
{
    for (size_t i = 0; i < N_OF(pad_names); i++)
        if (pad_names[i].mode == mode)
            return pad_names[i].name;
    return "unknown";
}

bool hsm_rsa_pad_mode_set(OSSL_PARAM *p, int mode)
{
    bool ok;

    if (p->data_type == OSSL_PARAM_INTEGER)
        ok = OSSL_PARAM_set_int(p, mode);
    else if (p->data_type == OSSL_PARAM_UTF8_STRING)
        ok = OSSL_PARAM_set_utf8_string(p, hsm_rsa_pad_mode_name(mode));
    else
        ok = false;
    if (!ok)
        hsm_error(HSM_R_BAD_INPUT,
                  "parameter %s: the padding mode (%s) does not fit the %zu bytes given", p->key,
                  hsm_rsa_pad_mode_name(mode), p->data_size);
    return ok;
}

bool hsm_rsa_saltlen_get(const OSSL_PARAM *p, int *saltlen)
{
    char text[32], *end;
    long v;

    if (p->data_type == OSSL_PARAM_INTEGER) {
        if (!OSSL_PARAM_get_int(p, saltlen)) {
            hsm_error(HSM_R_BAD_INPUT, "parameter %s: the integer is not a PSS salt length",
                      p->key);
            return false;
        }
    } else {
        if (!text_of(p, text, sizeof(text)))
            return false;
        for (size_t i = 0; i < N_OF(salt_names); i++) {
            if (strcmp(text, salt_names[i].name) == 0) {
                *saltlen = salt_names[i].saltlen;
                return true;
            }
        }
        errno = 0;
        v = strtol(text, &end, 10);
        if (end == text || *end != '\0' || errno != 0 || v < INT_MIN || v > INT_MAX) {
            hsm_error(HSM_R_BAD_INPUT,
                      "PSS salt length \"%s\" is not digest, max, auto, auto-digestmax or a number",
                      text);
            return false;
        }
        *saltlen = (int)v;
    }
    if (*saltlen < RSA_PSS_SALTLEN_AUTO_DIGEST_MAX) {
        hsm_error(HSM_R_BAD_INPUT, "PSS salt length %d is not valid", *saltlen);
        return false;
    }
    return true;
}

bool hsm_rsa_saltlen_set(OSSL_PARAM *p, int saltlen)
{
    char number[16];
    const char *text = NULL;
    bool ok;

    if (p->data_type == OSSL_PARAM_INTEGER) {
        ok = OSSL_PARAM_set_int(p, saltlen);
    } else if (p->data_type == OSSL_PARAM_UTF8_STRING) {
        for (size_t i = 0; i < N_OF(salt_names) && text == NULL; i++)
            if (salt_names[i].saltlen == saltlen)
                text = salt_names[i].name;
        if (text == NULL) {
            snprintf(number, sizeof(number), "%d", saltlen);
            text = number;
        }
        ok = OSSL_PARAM_set_utf8_string(p, text);
    } else {
        ok = false;
    }
    if (!ok)
        hsm_error(HSM_R_BAD_INPUT, "parameter %s: the PSS salt length %d cannot be given as asked",
                  p->key, saltlen);
    return ok;
}

bool hsm_md_param_get(OSSL_LIB_CTX *libctx, const OSSL_PARAM *p, const char *what, EVP_MD **md)
{
    char name[64];
    EVP_MD *fetched;

    if (!text_of(p, name, sizeof(name)))
        return false;
    /* Hashing stays in software, and never in this provider. */
    fetched = EVP_MD_fetch(libctx, name, HSM_SOFTWARE_PROPQ);
    if (fetched == NULL) {
        hsm_error(HSM_R_UNSUPPORTED, "%s %s is not available from a software provider", what, name);
        return false;
    }
    EVP_MD_free(*md);
    *md = fetched;
    return true;
}

bool hsm_md_param_set(OSSL_PARAM *p, const EVP_MD *md, const char *what)
{
    const char *name = md != NULL ? EVP_MD_get0_name(md) : "";

    if (!OSSL_PARAM_set_utf8_string(p, name)) {
        hsm_error(HSM_R_BAD_INPUT, "parameter %s: the %s name %s cannot be given as asked", p->key,
                  what, name);
        return false;
    }
    return true;
}
