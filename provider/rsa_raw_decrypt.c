#include "provider/rsa_raw_decrypt.h"
#include "cache/error.h"
#include "cache/fork_gate.h"
#include "cache/lock.h"
#include "cache/provider_property.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum hsm_raw_result hsm_rsa_raw_decrypt(struct hsm_key *key, const unsigned char *in, size_t inlen,
                                        unsigned char *em, size_t k)
{
    CK_MECHANISM mech = {CKM_RSA_X_509, NULL, 0};
    unsigned char *c;
    size_t len = k;
    bool ok;

    /* The ciphertext is public: its length may decide. */
    if (inlen > k || inlen == 0) {
        hsm_error(HSM_R_BAD_INPUT, "a %zu-byte ciphertext does not fit %s (%zu-byte modulus)",
                  inlen, key->uri, k);
        return HSM_RAW_FAILED;
    }
    if ((c = OPENSSL_zalloc(k)) == NULL) {
        hsm_error(HSM_R_INTERNAL, "out of memory");
        return HSM_RAW_FAILED;
    }
    memcpy(c + (k - inlen), in, inlen);
    ok = hsm_key_operate(key, HSM_OP_DECRYPT, &mech, c, k, em, &len);
    OPENSSL_free(c);
    if (!ok)
        return hsm_error_last_reason() == HSM_R_UNSUPPORTED ? HSM_RAW_NOT_OFFERED : HSM_RAW_FAILED;
    if (len > k) {
        OPENSSL_cleanse(em, k);
        hsm_error(HSM_R_PKCS11,
                  "raw RSA decryption with %s returned %zu bytes for a %zu-byte modulus; nothing "
                  "was used",
                  key->uri, len, k);
        return HSM_RAW_FAILED;
    }
    hsm_rsa_left_pad(em, len, k);
    return HSM_RAW_OK;
}

/*
 * The fixed value is 00 00 followed by a SHA-256 expansion of a label: below
 * any modulus, and never a block a PKCS#1 v1.5 or X9.31 signature produces
 * (those start 00 01 and 6x), so signing for someone cannot hand it out.
 */
static bool fixed_value(OSSL_LIB_CTX *libctx, unsigned char *m, size_t k)
{
    static const char label[] = "hsm provider: implicit rejection fixed value";
    unsigned char block[32], counter[4];
    bool ok = true;

    memset(m, 0, k);
    for (size_t pos = 2, i = 0; ok && pos < k; pos += sizeof(block), i++) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_MD *sha256 = EVP_MD_fetch(libctx, "SHA256", HSM_SOFTWARE_PROPQ);

        counter[0] = (unsigned char)(i >> 24);
        counter[1] = (unsigned char)(i >> 16);
        counter[2] = (unsigned char)(i >> 8);
        counter[3] = (unsigned char)i;
        ok = md != NULL && sha256 != NULL && EVP_DigestInit_ex2(md, sha256, NULL) &&
             EVP_DigestUpdate(md, label, sizeof(label) - 1) &&
             EVP_DigestUpdate(md, counter, sizeof(counter)) && EVP_DigestFinal_ex(md, block, NULL);
        if (ok)
            memcpy(m + pos, block, k - pos < sizeof(block) ? k - pos : sizeof(block));
        EVP_MD_CTX_free(md);
        EVP_MD_free(sha256);
    }
    return ok;
}

/* Secrets by public key fingerprint; a handful of decryption keys per process. */
#define KEPT_MAX 16

static struct {
    char fingerprint[65];
    unsigned char secret[HSM_REJECTION_SECRET_LEN];
} kept[KEPT_MAX];
static size_t kept_next;
/* Taken inside the fork gate (cache/fork_gate.h), for a few instructions. */
static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;

static bool kept_find(const char *fingerprint, unsigned char out[HSM_REJECTION_SECRET_LEN])
{
    bool found = false;

    hsm_fork_gate_enter();
    if (hsm_lock(&kept_lock)) {
        for (size_t i = 0; i < KEPT_MAX && !found; i++) {
            if (strcmp(kept[i].fingerprint, fingerprint) == 0) {
                memcpy(out, kept[i].secret, HSM_REJECTION_SECRET_LEN);
                found = true;
            }
        }
        hsm_unlock(&kept_lock);
    }
    hsm_fork_gate_leave();
    return found;
}

static void kept_add(const char *fingerprint, const unsigned char secret[HSM_REJECTION_SECRET_LEN])
{
    hsm_fork_gate_enter();
    if (hsm_lock(&kept_lock)) {
        OPENSSL_cleanse(&kept[kept_next], sizeof(kept[kept_next]));
        snprintf(kept[kept_next].fingerprint, sizeof(kept[kept_next].fingerprint), "%s",
                 fingerprint);
        memcpy(kept[kept_next].secret, secret, HSM_REJECTION_SECRET_LEN);
        kept_next = (kept_next + 1) % KEPT_MAX;
        hsm_unlock(&kept_lock);
    }
    hsm_fork_gate_leave();
}

__attribute__((destructor)) void hsm_rsa_rejection_forget_all(void)
{
    /* At exit another thread may still hold the lock: never wait for it. */
    bool locked = pthread_mutex_trylock(&kept_lock) == 0;

    OPENSSL_cleanse(kept, sizeof(kept));
    kept_next = 0;
    if (locked)
        pthread_mutex_unlock(&kept_lock);
}

enum hsm_raw_result hsm_rsa_rejection_secret(OSSL_LIB_CTX *libctx, struct hsm_key *key,
                                             unsigned char out[HSM_REJECTION_SECRET_LEN])
{
    static const char label[] = "hsm provider: implicit rejection secret";
    size_t k = (size_t)EVP_PKEY_get_size(key->pub);
    unsigned char *m = NULL, *raw = NULL;
    enum hsm_raw_result result = HSM_RAW_FAILED;
    EVP_MD_CTX *md = NULL;
    EVP_MD *sha256 = NULL;

    /* The fingerprint is of the public key the handle was checked against
     * before the operation: a secret kept for it is that key's. */
    if (key->fingerprint[0] != '\0' && kept_find(key->fingerprint, out))
        return HSM_RAW_OK;
    if (k < 16 || (m = OPENSSL_malloc(k)) == NULL || (raw = OPENSSL_secure_malloc(k)) == NULL ||
        !fixed_value(libctx, m, k)) {
        hsm_error(HSM_R_INTERNAL, "the implicit-rejection secret of %s could not be prepared",
                  key->uri);
        goto done;
    }
    result = hsm_rsa_raw_decrypt(key, m, k, raw, k);
    if (result != HSM_RAW_OK)
        goto done;
    md = EVP_MD_CTX_new();
    sha256 = EVP_MD_fetch(libctx, "SHA256", HSM_SOFTWARE_PROPQ);
    if (md == NULL || sha256 == NULL || !EVP_DigestInit_ex2(md, sha256, NULL) ||
        !EVP_DigestUpdate(md, label, sizeof(label) - 1) || !EVP_DigestUpdate(md, raw, k) ||
        !EVP_DigestFinal_ex(md, out, NULL)) {
        hsm_error(HSM_R_INTERNAL, "SHA-256 is not available from a software provider");
        result = HSM_RAW_FAILED;
        goto done;
    }
    if (key->fingerprint[0] != '\0')
        kept_add(key->fingerprint, out);
done:
    EVP_MD_CTX_free(md);
    EVP_MD_free(sha256);
    OPENSSL_free(m);
    if (raw != NULL)
        OPENSSL_secure_clear_free(raw, k);
    return result;
}
