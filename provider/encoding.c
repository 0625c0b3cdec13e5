#include "provider/encoding.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <string.h>
#include <strings.h>

struct prefix {
    const char *names[4];
    size_t dlen;
    unsigned char der[19];
    size_t der_len;
};

/* DER of DigestInfo up to the digest itself (RFC 8017, section 9.2). */
static const struct prefix prefixes[] = {
    {{"SHA1", "SHA-1", "SHA-1", NULL},
     20,
     {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
     15},
    {{"SHA224", "SHA2-224", "SHA-224", NULL},
     28,
     {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04,
      0x05, 0x00, 0x04, 0x1c},
     19},
    {{"SHA256", "SHA2-256", "SHA-256", NULL},
     32,
     {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
      0x05, 0x00, 0x04, 0x20},
     19},
    {{"SHA384", "SHA2-384", "SHA-384", NULL},
     48,
     {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02,
      0x05, 0x00, 0x04, 0x30},
     19},
    {{"SHA512", "SHA2-512", "SHA-512", NULL},
     64,
     {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03,
      0x05, 0x00, 0x04, 0x40},
     19},
};

bool hsm_digestinfo(const char *mdname, const unsigned char *digest, size_t dlen,
                    unsigned char *out, size_t outsize, size_t *outlen)
{
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        const struct prefix *p = &prefixes[i];
        bool named = false;

        for (size_t j = 0; j < 4 && p->names[j] != NULL; j++)
            named = named || strcasecmp(p->names[j], mdname) == 0;
        if (!named)
            continue;
        if (dlen != p->dlen || outsize < p->der_len + dlen)
            return false;
        memcpy(out, p->der, p->der_len);
        memcpy(out + p->der_len, digest, dlen);
        *outlen = p->der_len + dlen;
        return true;
    }
    return false;
}

bool hsm_ecdsa_raw_to_der(const unsigned char *raw, size_t rawlen, unsigned char *der,
                          size_t dersize, size_t *derlen)
{
    ECDSA_SIG *sig;
    BIGNUM *r, *s;
    unsigned char *p = der;
    int len;

    if (rawlen == 0 || rawlen % 2 != 0)
        return false;
    sig = ECDSA_SIG_new();
    r = BN_bin2bn(raw, (int)(rawlen / 2), NULL);
    s = BN_bin2bn(raw + rawlen / 2, (int)(rawlen / 2), NULL);
    if (sig == NULL || r == NULL || s == NULL || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return false;
    }
    len = i2d_ECDSA_SIG(sig, NULL);
    if (len <= 0 || (size_t)len > dersize) {
        ECDSA_SIG_free(sig);
        return false;
    }
    len = i2d_ECDSA_SIG(sig, &p);
    ECDSA_SIG_free(sig);
    *derlen = (size_t)len;
    return len > 0;
}
