/*
 * Just enough DER to walk a SubjectPublicKeyInfo or an X.509 certificate
 * to the public key inside it. The shim never re-encodes: wrong-pubkey only
 * makes same-length substitutions, so every length around them stays valid.
 */
#include "shim.h"

bool der_read(unsigned char *p, size_t avail, struct der *out)
{
    if (avail < 2 || (p[0] & 0x1f) == 0x1f) /* multi-byte tags: not in SPKI/X.509 */
        return false;
    size_t hdr = 2, len = p[1];
    if (len & 0x80) {
        size_t nbytes = len & 0x7f;
        if (nbytes == 0 || nbytes > 4 || avail < 2 + nbytes)
            return false;
        len = 0;
        for (size_t i = 0; i < nbytes; i++)
            len = len << 8 | p[2 + i];
        hdr += nbytes;
    }
    if (len > avail - hdr)
        return false;
    out->tag = p[0];
    out->hdr = hdr;
    out->len = len;
    out->content = p + hdr;
    return true;
}
