/*
 * Possession proof on load: the token signs a fresh challenge and the
 * signature must verify under the public key that will be handed out.
 * Comparing attributes cannot catch a middleware cache that serves an old
 * but self-consistent view; only a real signature can.
 */
#include "cache/key_sizes.h"
#include "cache/provider_property.h"
#include "provider/sign_on_token.h"

#include <openssl/rand.h>
#include <openssl/rsa.h>

/* A hash of this context and random bytes: never a certificate or CRL. */
static const char challenge_context[] = "hsm provider possession proof v1";

bool hsm_prove_possession(struct hsm_provctx *prov, struct hsm_key *key)
{
    unsigned char nonce[32], challenge[32], sig[HSM_SIGNATURE_MAX];
    struct hsm_sign_params p = {.rsa_padding = RSA_PKCS1_PADDING};
    EVP_MD *sha256 = NULL;
    EVP_MD_CTX *md = NULL;
    size_t siglen = 0;
    bool ok = false, asked = false;

    /* A login for every signature would make the proof itself ask the
     * operator for a PIN; verify-after-sign still checks each signature. */
    if (key->always_authenticate || !key->can_sign)
        return true;
    /* Never true for a key that passed the public key check. */
    if (hsm_signature_max(key) > sizeof(sig)) {
        hsm_error(HSM_R_UNSUPPORTED,
                  "%s: its signatures of %zu bytes are larger than any key the provider "
                  "accepts makes (%zu)",
                  key->uri, hsm_signature_max(key), sizeof(sig));
        return false;
    }
    sha256 = EVP_MD_fetch(prov->libctx, "SHA2-256", HSM_SOFTWARE_PROPQ);
    md = EVP_MD_CTX_new();
    if (sha256 == NULL || md == NULL || RAND_bytes_ex(prov->libctx, nonce, sizeof(nonce), 0) <= 0 ||
        !EVP_DigestInit_ex(md, sha256, NULL) ||
        !EVP_DigestUpdate(md, challenge_context, sizeof(challenge_context)) ||
        !EVP_DigestUpdate(md, nonce, sizeof(nonce)) || !EVP_DigestFinal_ex(md, challenge, NULL)) {
        hsm_error(HSM_R_INTERNAL, "cannot make a possession challenge for %s", key->uri);
        goto done;
    }
    p.md = key->key_type == CKK_RSA ? sha256 : NULL;
    if (key->pss_only) {
        p.rsa_padding = RSA_PKCS1_PSS_PADDING;
        p.pss_saltlen = RSA_PSS_SALTLEN_DIGEST;
    }
    /* Signed without the after-sign check, to say precisely what failed. */
    asked = true;
    if (!hsm_sign_unchecked(key, true, &p, challenge, sizeof(challenge), sig, &siglen, sizeof(sig)))
        goto done;
    if (!hsm_verify_in_software(prov, key, &p, challenge, sizeof(challenge), sig, siglen)) {
        hsm_error(HSM_R_POSSESSION_FAILED,
                  "%s: token '%s' (serial %s) signed a fresh challenge with a key that is not "
                  "the public key it publishes (SHA-256 %s). A middleware cache is stale or "
                  "the key was replaced; the key was not loaded",
                  key->uri, key->token_id.label, key->token_id.serial, key->fingerprint);
        goto done;
    }
    ok = true;
done:
    /* The proof is a use of the key: recorded, and a key whose proof cannot
     * be recorded is not loaded. */
    if (!hsm_sign_audit(prov, HSM_AUDIT_PROVE_POSSESSION, key, &p, asked ? challenge : NULL,
                        sizeof(challenge), ok ? sig : NULL, siglen))
        ok = false;
    EVP_MD_CTX_free(md);
    EVP_MD_free(sha256);
    return ok;
}

bool hsm_prove_possession_hook(void *provctx, struct hsm_key *key)
{
    return hsm_prove_possession(provctx, key);
}

bool hsm_key_arm_possession_proof(struct hsm_provctx *prov, struct hsm_key *key)
{
    if (!prov->config.check_possession)
        return true;
    key->prove = hsm_prove_possession_hook;
    key->prove_arg = prov;
    return hsm_prove_possession(prov, key);
}
