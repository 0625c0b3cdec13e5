#ifndef HSM_PROVIDER_KEY_REFERENCE_PEM_H
#define HSM_PROVIDER_KEY_REFERENCE_PEM_H

#include "provider/provider.h"

/* The longest URI a reference holds. */
#define HSM_REFERENCE_MAX 4096

/*
 * The key type a reference declares: the last arc of its algorithm OID,
 * HSM_REF_OID.1 to .4. OpenSSL 3.5 looks a PKCS#8 decoder up by the
 * algorithm's OID, and OpenSSL 3.0 with the base provider beside default
 * hands a PrivateKeyInfo on by its OID: each OID is an alias of its key
 * type's names (HSM_NAMES_*), so both find the provider's decoder, with
 * the application's passphrase callback, and a keymgmt of the provider for
 * the key. References written before (the bare OID, HSM_REF_ANY) are still
 * read, by whichever of the provider's decoders sees them first.
 */
enum { HSM_REF_ANY, HSM_REF_RSA, HSM_REF_EC, HSM_REF_ED25519, HSM_REF_ED448 };

#define HSM_REF_OID "2.25.66901314653364937060485567949883125691"
#define HSM_NAMES_RSA "RSA:rsaEncryption:1.2.840.113549.1.1.1:" HSM_REF_OID ".1"
/* An RSA key its certificate restricts to PSS: written as an RSA reference. */
#define HSM_NAMES_RSA_PSS "RSA-PSS:RSASSA-PSS:1.2.840.113549.1.1.10"
#define HSM_NAMES_EC "EC:id-ecPublicKey:1.2.840.10045.2.1:" HSM_REF_OID ".2"
#define HSM_NAMES_ED25519 "ED25519:1.3.101.112:" HSM_REF_OID ".3"
#define HSM_NAMES_ED448 "ED448:1.3.101.113:" HSM_REF_OID ".4"

/* The kind for OpenSSL's key type name ("RSA", "EC", ...), HSM_REF_ANY for
 * another; and back (NULL for HSM_REF_ANY). */
int hsm_key_reference_kind(const char *type_name);
const char *hsm_key_reference_type(int kind);

/* The PrivateKeyInfo that stands for a token key; exposed for unit tests.
 * parse accepts either OID form and says which kind it declares. */
size_t hsm_key_reference_der(const char *uri, int kind, unsigned char *out, size_t outsize);
bool hsm_key_reference_parse(const unsigned char *der, size_t len, char *uri, size_t urisize,
                             int *kind);

extern const OSSL_DISPATCH hsm_key_reference_encoder_functions[];
/* One decoder per key type (key_reference_decoder.c). */
extern const OSSL_DISPATCH hsm_key_reference_rsa_decoder_functions[];
extern const OSSL_DISPATCH hsm_key_reference_ec_decoder_functions[];
extern const OSSL_DISPATCH hsm_key_reference_ed25519_decoder_functions[];
extern const OSSL_DISPATCH hsm_key_reference_ed448_decoder_functions[];
/* And one named "DER", for OpenSSL 3.0's file store (see there). */
extern const OSSL_DISPATCH hsm_key_reference_der_decoder_functions[];

#endif
