/*
 * hsm-audit verify --cert: what the record of a certificate's signature
 * holds. The provider records the SHA-256 of the digest it signed (of the
 * message itself for EdDSA) and of the signature it returned; a
 * certificate gives both: its TBSCertificate hashed with its signature
 * algorithm's digest, and its signatureValue.
 */
#include "tools/audit_tool.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>

static void sha256_hex(const unsigned char *data, size_t len, char hex[65])
{
    unsigned char md[32];

    hex[0] = '\0';
    if (!EVP_Q_digest(NULL, "SHA256", NULL, data, len, md, NULL))
        return;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static X509 *read_cert(const char *file)
{
    BIO *bio = BIO_new_file(file, "rb");
    X509 *x = NULL;

    if (bio == NULL)
        return NULL;
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (x == NULL) {
        ERR_clear_error();
        (void)BIO_reset(bio);
        x = d2i_X509_bio(bio, NULL);
    }
    BIO_free(bio);
    return x;
}

/* The TBSCertificate as it is encoded in the certificate: the first
 * element of the outer SEQUENCE. */
static bool tbs_of(const unsigned char *der, long len, const unsigned char **tbs, long *tbslen)
{
    const unsigned char *p = der, *start;
    long content;
    int tag, cls;

    if (ASN1_get_object(&p, &content, &tag, &cls, len) & 0x80 || tag != V_ASN1_SEQUENCE)
        return false;
    start = p;
    if (ASN1_get_object(&p, &content, &tag, &cls, len - (p - der)) & 0x80 || tag != V_ASN1_SEQUENCE)
        return false;
    *tbs = start;
    *tbslen = (long)(p - start) + content;
    return true;
}

bool audit_cert_expect(const char *file, char data_sha256[65], char signature_sha256[65])
{
    const ASN1_BIT_STRING *sig = NULL;
    const unsigned char *tbs;
    unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    long tbslen;
    int derlen, mdnid = NID_undef;
    X509 *x = read_cert(file);
    bool ok = false;

    if (x == NULL) {
        fprintf(stderr, "hsm-audit: %s is not a certificate in PEM or DER\n", file);
        return false;
    }
    if ((derlen = i2d_X509(x, &der)) <= 0 || !tbs_of(der, derlen, &tbs, &tbslen) ||
        !X509_get_signature_info(x, &mdnid, NULL, NULL, NULL)) {
        fprintf(stderr, "hsm-audit: cannot read the signed part of %s\n", file);
        goto done;
    }
    X509_get0_signature(&sig, NULL, x);
    if (mdnid == NID_undef) {
        /* EdDSA signs the message itself. */
        sha256_hex(tbs, (size_t)tbslen, data_sha256);
    } else {
        EVP_MD *mdalg = EVP_MD_fetch(NULL, OBJ_nid2sn(mdnid), NULL);

        if (mdalg == NULL || !EVP_Digest(tbs, (size_t)tbslen, md, &mdlen, mdalg, NULL)) {
            EVP_MD_free(mdalg);
            fprintf(stderr, "hsm-audit: %s is signed with a digest (%s) this OpenSSL lacks\n", file,
                    OBJ_nid2sn(mdnid));
            goto done;
        }
        EVP_MD_free(mdalg);
        sha256_hex(md, mdlen, data_sha256);
    }
    sha256_hex(sig->data, (size_t)sig->length, signature_sha256);
    ok = data_sha256[0] != '\0' && signature_sha256[0] != '\0';
done:
    OPENSSL_free(der);
    X509_free(x);
    return ok;
}
