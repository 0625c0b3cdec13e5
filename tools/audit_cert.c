/*
 * hsm-audit verify --cert: what the record of a certificate's or a CRL's
 * signature holds. The provider records the SHA-256 of the digest it
 * signed (of the message itself for EdDSA) and of the signature it
 * returned; a certificate gives both: its TBSCertificate hashed with its
 * signature algorithm's digest, and its signatureValue (a CRL: its
 * TBSCertList and signature).
 */
#include "tools/audit_tool.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
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

/* A certificate or a CRL, PEM or DER: whichever |file| holds. */
struct signed_object {
    X509 *cert;
    X509_CRL *crl;
};

static bool read_signed(const char *file, struct signed_object *o)
{
    BIO *bio = BIO_new_file(file, "rb");

    o->cert = NULL;
    o->crl = NULL;
    if (bio == NULL)
        return false;
    if ((o->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL && BIO_reset(bio) == 0 &&
        (o->crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL)) == NULL && BIO_reset(bio) == 0 &&
        (o->cert = d2i_X509_bio(bio, NULL)) == NULL && BIO_reset(bio) == 0)
        o->crl = d2i_X509_CRL_bio(bio, NULL);
    ERR_clear_error();
    BIO_free(bio);
    return o->cert != NULL || o->crl != NULL;
}

/* The digest a CRL's signature algorithm hashes with; NID_undef for EdDSA,
 * which signs the message itself. False when it cannot be told. */
static bool crl_digest(const X509_CRL *crl, int *mdnid)
{
    const X509_ALGOR *alg = NULL;
    int pknid = NID_undef;

    X509_CRL_get0_signature(crl, NULL, &alg);
    if (!OBJ_find_sigid_algs(X509_CRL_get_signature_nid(crl), mdnid, &pknid))
        return false;
    if (pknid == NID_rsassaPss) {
        /* The digest is a parameter: RFC 4055's default is SHA-1. */
        RSA_PSS_PARAMS *pss =
            alg->parameter != NULL && alg->parameter->type == V_ASN1_SEQUENCE
                ? ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(RSA_PSS_PARAMS), alg->parameter)
                : NULL;

        if (pss == NULL)
            return false;
        *mdnid = pss->hashAlgorithm != NULL ? OBJ_obj2nid(pss->hashAlgorithm->algorithm) : NID_sha1;
        RSA_PSS_PARAMS_free(pss);
    }
    return *mdnid != NID_undef || pknid == NID_ED25519 || pknid == NID_ED448;
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
    struct signed_object o;
    bool ok = false;

    if (!read_signed(file, &o)) {
        fprintf(stderr, "hsm-audit: %s is not a certificate or CRL in PEM or DER\n", file);
        return false;
    }
    derlen = o.cert != NULL ? i2d_X509(o.cert, &der) : i2d_X509_CRL(o.crl, &der);
    if (derlen <= 0 || !tbs_of(der, derlen, &tbs, &tbslen) ||
        !(o.cert != NULL ? X509_get_signature_info(o.cert, &mdnid, NULL, NULL, NULL)
                         : crl_digest(o.crl, &mdnid))) {
        fprintf(stderr, "hsm-audit: cannot read the signed part of %s\n", file);
        goto done;
    }
    if (o.cert != NULL)
        X509_get0_signature(&sig, NULL, o.cert);
    else
        X509_CRL_get0_signature(o.crl, &sig, NULL);
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
    X509_free(o.cert);
    X509_CRL_free(o.crl);
    return ok;
}
