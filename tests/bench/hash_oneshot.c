/*
 * hash_oneshot IN OUT
 *
 * What `openssl dgst -sha256 -binary -out OUT IN` does, as a one-shot C
 * program: libcrypto with the configuration loaded, one SHA-256 of IN
 * written to OUT. Against the openssl command doing the same, it measures
 * what the openssl binary itself costs a process (libssl, its start-up),
 * which the whole-process comparison charges to the provider.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    static unsigned char data[65536];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    size_t len;
    FILE *f;

    if (argc != 3) {
        fprintf(stderr, "usage: hash_oneshot IN OUT\n");
        return 2;
    }
    if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL) || (f = fopen(argv[1], "rb")) == NULL)
        return 1;
    len = fread(data, 1, sizeof(data), f);
    fclose(f);
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) ||
        (f = fopen(argv[2], "wb")) == NULL)
        return 1;
    if (fwrite(md, 1, mdlen, f) != mdlen || fclose(f) != 0)
        return 1;
    return 0;
}
