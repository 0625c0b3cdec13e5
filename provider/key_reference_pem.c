/*
 * What a token key looks like in a file: a PKCS#8 PrivateKeyInfo whose
 * algorithm is the provider's own OID with the key type as its last arc,
 * and whose "private key" is the key's canonical pkcs11: URI (never a
 * PIN). Writing a token private key (openssl
 * genpkey, openssl pkey) produces it as a PEM "PRIVATE KEY" block; reading
 * it (openssl req -key file.pem) loads the key afresh from the token by
 * that URI, with every check a URI load gets. OpenSSL's own PEM reader
 * unwraps the block; software key decoders do not know the OID and pass.
 */
#include "provider/key_reference_pem.h"

#include "provider/core_bio.h"

#include "cache/der.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>

/* 2.25.66901314653364937060485567949883125691: a UUID-based OID (X.667)
 * that names "a reference to a key held on a PKCS#11 token, by URI". */
static const unsigned char reference_oid[] = {
    0x06, 0x13, 0x69, 0xe4, 0xd4, 0xdc, 0xde, 0xc6, 0xcf, 0xaa, 0x85,
    0x8d, 0xbc, 0xf3, 0xea, 0xf6, 0xa9, 0xb1, 0xa4, 0xdf, 0x3b,
};

/* The algorithm OID for |kind|: the reference OID itself (HSM_REF_ANY, the
 * form written before key types had their own arc), or it with one more
 * arc, the key type (key_reference_pem.h says why). Its length. */
static size_t kind_oid(int kind, unsigned char out[sizeof(reference_oid) + 1])
{
    memcpy(out, reference_oid, sizeof(reference_oid));
    if (kind == HSM_REF_ANY)
        return sizeof(reference_oid);
    out[1]++;
    out[sizeof(reference_oid)] = (unsigned char)kind;
    return sizeof(reference_oid) + 1;
}

/* OpenSSL's name of each kind, in the order of the arcs. */
static const char *const kind_names[] = {"RSA", "EC", "ED25519", "ED448"};

int hsm_key_reference_kind(const char *type_name)
{
    for (int kind = HSM_REF_RSA; type_name != NULL && kind <= HSM_REF_ED448; kind++)
        if (strcmp(type_name, kind_names[kind - 1]) == 0)
            return kind;
    return HSM_REF_ANY;
}

const char *hsm_key_reference_type(int kind)
{
    return kind >= HSM_REF_RSA && kind <= HSM_REF_ED448 ? kind_names[kind - 1] : NULL;
}

static void *coder_newctx(void *provctx)
{
    return provctx;
}

static void coder_freectx(void *ctx)
{
    (void)ctx;
}

/* SEQUENCE { INTEGER 0, SEQUENCE { OID }, OCTET STRING { UTF8String uri } } */
size_t hsm_key_reference_der(const char *uri, int kind, unsigned char *out, size_t outsize)
{
    static const unsigned char version[] = {0x02, 0x01, 0x00};
    struct hsm_der_out body = {0}, alg = {0}, utf8 = {0}, der = {0};
    unsigned char oid[sizeof(reference_oid) + 1];
    size_t oid_len = kind_oid(kind, oid), ulen = strlen(uri), len = 0;

    if (ulen > HSM_REFERENCE_MAX)
        return 0;
    hsm_der_put_raw(&body, version, sizeof(version));
    hsm_der_put_raw(&alg, oid, oid_len);
    hsm_der_put_out(&body, 0x30, &alg);
    hsm_der_put(&utf8, 0x0c, uri, ulen);
    hsm_der_put_out(&body, 0x04, &utf8);
    hsm_der_put_out(&der, 0x30, &body);
    if (der.failed || der.len > outsize) {
        hsm_der_out_free(&der);
        return 0;
    }
    memcpy(out, der.p, der.len);
    len = der.len;
    hsm_der_out_free(&der);
    return len;
}

bool hsm_key_reference_parse(const unsigned char *der, size_t len, char *uri, size_t urisize,
                             int *kind)
{
    static const unsigned char version[] = {0x02, 0x01, 0x00};
    struct hsm_der d = hsm_der_reader(der, len), info, alg, octets, text;
    unsigned char oid[sizeof(reference_oid) + 1];
    size_t l;

    if (!hsm_der_read(&d, 0x30, &info) || hsm_der_left(&info) < sizeof(version) ||
        memcmp(info.p, version, sizeof(version)) != 0)
        return false;
    info.p += sizeof(version);
    if (!hsm_der_read(&info, 0x30, &alg))
        return false;
    for (*kind = HSM_REF_ANY; *kind <= HSM_REF_ED448; (*kind)++)
        if (hsm_der_left(&alg) == kind_oid(*kind, oid) &&
            memcmp(alg.p, oid, hsm_der_left(&alg)) == 0)
            break;
    if (*kind > HSM_REF_ED448 || !hsm_der_read(&info, 0x04, &octets) ||
        !hsm_der_read(&octets, 0x0c, &text))
        return false;
    l = hsm_der_left(&text);
    if (l < 8 || l >= urisize || memchr(text.p, '\0', l) != NULL)
        return false;
    memcpy(uri, text.p, l);
    uri[l] = '\0';
    return strncmp(uri, "pkcs11:", 7) == 0;
}

static int encoder_does_selection(void *provctx, int selection)
{
    (void)provctx;
    return (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0;
}

static int encode(void *ctx, OSSL_CORE_BIO *out, const void *obj_raw,
                  const OSSL_PARAM obj_abstract[], int selection, OSSL_PASSPHRASE_CALLBACK *cb,
                  void *cbarg)
{
    static const char begin[] = "-----BEGIN PRIVATE KEY-----\n";
    static const char end[] = "-----END PRIVATE KEY-----\n";
    const struct hsm_key *key = obj_raw;
    unsigned char der[HSM_REFERENCE_MAX + 64];
    char b64[((HSM_REFERENCE_MAX + 64) / 3 + 1) * 4 + 1];
    size_t len, total;
    int kind;
    bool ok;

    (void)ctx;
    (void)obj_abstract;
    (void)cb;
    (void)cbarg;
    if (key == NULL || !hsm_key_on_token(key) || (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) == 0)
        return 0;
    /* An RSA key restricted to PSS is an RSA key in its reference. */
    kind = hsm_key_reference_kind(key->key_type == CKK_RSA ? "RSA" : hsm_key_type_name(key));
    if ((len = hsm_key_reference_der(key->uri, kind, der, sizeof(der))) == 0)
        return 0;
    total = (size_t)EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
    ok = hsm_core_bio_write_all(out, begin, sizeof(begin) - 1);
    for (size_t off = 0; ok && off < total; off += 64) {
        size_t n = total - off < 64 ? total - off : 64;
        ok = hsm_core_bio_write_all(out, b64 + off, n) && hsm_core_bio_write_all(out, "\n", 1);
    }
    return ok && hsm_core_bio_write_all(out, end, sizeof(end) - 1);
}

const OSSL_DISPATCH hsm_key_reference_encoder_functions[] = {
    {OSSL_FUNC_ENCODER_NEWCTX, (void (*)(void))coder_newctx},
    {OSSL_FUNC_ENCODER_FREECTX, (void (*)(void))coder_freectx},
    {OSSL_FUNC_ENCODER_DOES_SELECTION, (void (*)(void))encoder_does_selection},
    {OSSL_FUNC_ENCODER_ENCODE, (void (*)(void))encode},
    {0, NULL},
};
