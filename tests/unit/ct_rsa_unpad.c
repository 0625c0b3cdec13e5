/*
 * The constant-time check of provider/rsa_pkcs1_unpad.c, run under
 * valgrind memcheck (the "ctgrind" technique): the decrypted block, and the
 * length a module returned, are marked undefined, so memcheck reports any
 * branch or memory index that depends on them. The code is built with
 * HSM_CT_CHECK, which marks defined only the returned message's length
 * (the caller sees it anyway). Good and bad blocks of each kind are run.
 *
 * With --branchy-reference it also runs one branch on the block, as the
 * TLS path's old "if (len < k)" did: memcheck must then report it, which
 * shows the check can fail (meson expects that run to fail).
 */
#include "provider/rsa_pkcs1_unpad.h"

#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

#define K 256

static volatile size_t sink;

static void secret(void *p, size_t len)
{
    VALGRIND_MAKE_MEM_UNDEFINED(p, len);
}

int main(int argc, char **argv)
{
    static const unsigned char key[HSM_REJECTION_SECRET_LEN] = {7};
    unsigned char em[K], c[K], out[K], fallback[48], premaster[48], buf[K];
    size_t len = 0, good = 0, returned = K - 1;

    if (!RUNNING_ON_VALGRIND) {
        fprintf(stderr, "ct_rsa_unpad: run me under valgrind\n");
        return 1;
    }
    memset(c, 0x5c, sizeof(c));
    memset(fallback, 0xfb, sizeof(fallback));
    for (int kind = 0; kind < 3; kind++) {
        /* a good block, one with no separator, one with a short padding */
        em[0] = 0;
        em[1] = 2;
        memset(em + 2, 0x11, K - 2);
        if (kind != 1)
            em[kind == 0 ? K - 49 : 6] = 0;
        secret(em, sizeof(em));
        if (argc > 1 && strcmp(argv[1], "--branchy-reference") == 0 && em[1] == 2)
            sink++;
        if (!hsm_rsa_pkcs1_unpad(NULL, key, c, em, K, out, &len, &good))
            return 1;
        hsm_rsa_tls_premaster_unpad(em, K, 0x0303, 0, fallback, premaster);
        /* The caller only copies the result out; it never looks at |good|. */
        sink += len;
    }
    memset(buf, 0x22, sizeof(buf));
    secret(buf, sizeof(buf));
    secret(&returned, sizeof(returned));
    hsm_rsa_left_pad(buf, returned, K);
    printf("ct_rsa_unpad: no branch on the block was reported by memcheck if it says so\n");
    return 0;
}
