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

static size_t put_header(unsigned char *p, unsigned char tag, size_t len)
{
    size_t n = 0;

    p[n++] = tag;
    if (len < 0x80) {
        p[n++] = (unsigned char)len;
    } else if (len < 0x100) {
        p[n++] = 0x81;
        p[n++] = (unsigned char)len;
    } else {
        p[n++] = 0x82;
        p[n++] = (unsigned char)(len >> 8);
        p[n++] = (unsigned char)len;
    }
    return n;
}

static size_t header_size(size_t len)
{
    return len < 0x80 ? 2 : len < 0x100 ? 3 : 4;
}

/* SEQUENCE { INTEGER 0, SEQUENCE { OID }, OCTET STRING { UTF8String uri } } */
size_t hsm_key_reference_der(const char *uri, int kind, unsigned char *out, size_t outsize)
{
    unsigned char oid[sizeof(reference_oid) + 1];
    size_t oid_len = kind_oid(kind, oid);
    size_t ulen = strlen(uri), n = 0;
    size_t utf8 = header_size(ulen) + ulen;
    size_t octet = header_size(utf8) + utf8;
    size_t alg = 2 + oid_len;
    size_t body = 3 + alg + octet;

    if (ulen > HSM_REFERENCE_MAX || outsize < header_size(body) + body)
        return 0;
    n += put_header(out + n, 0x30, body);
    out[n++] = 0x02, out[n++] = 0x01, out[n++] = 0x00;
    n += put_header(out + n, 0x30, oid_len);
    memcpy(out + n, oid, oid_len);
    n += oid_len;
    n += put_header(out + n, 0x04, utf8);
    n += put_header(out + n, 0x0c, ulen);
    memcpy(out + n, uri, ulen);
    return n + ulen;
}

/* Reads one header at |*p|; the value's length, or -1. */
static long get_header(const unsigned char **p, const unsigned char *end, unsigned char tag)
{
    size_t len;

    if (end - *p < 2 || (*p)[0] != tag)
        return -1;
    if ((*p)[1] < 0x80) {
        len = (*p)[1];
        *p += 2;
    } else if ((*p)[1] == 0x81 && end - *p >= 3) {
        len = (*p)[2];
        *p += 3;
    } else if ((*p)[1] == 0x82 && end - *p >= 4) {
        len = ((size_t)(*p)[2] << 8) | (*p)[3];
        *p += 4;
    } else {
        return -1;
    }
    return (size_t)(end - *p) >= len ? (long)len : -1;
}

bool hsm_key_reference_parse(const unsigned char *der, size_t len, char *uri, size_t urisize,
                             int *kind)
{
    const unsigned char *p = der, *end = der + len;
    unsigned char oid[sizeof(reference_oid) + 1];
    long l;

    if (get_header(&p, end, 0x30) < 0 || end - p < 3 || memcmp(p, "\x02\x01\x00", 3) != 0)
        return false;
    p += 3;
    if ((l = get_header(&p, end, 0x30)) < 0)
        return false;
    for (*kind = HSM_REF_ANY; *kind <= HSM_REF_ED448; (*kind)++)
        if ((size_t)l == kind_oid(*kind, oid) && memcmp(p, oid, (size_t)l) == 0)
            break;
    if (*kind > HSM_REF_ED448)
        return false;
    p += l;
    if (get_header(&p, end, 0x04) < 0 || (l = get_header(&p, end, 0x0c)) < 8 ||
        (size_t)l >= urisize || memchr(p, '\0', (size_t)l) != NULL)
        return false;
    memcpy(uri, p, (size_t)l);
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
    kind = key->key_type == CKK_RSA           ? HSM_REF_RSA
           : key->key_type == CKK_EC          ? HSM_REF_EC
           : EVP_PKEY_is_a(key->pub, "ED448") ? HSM_REF_ED448
                                              : HSM_REF_ED25519;
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
