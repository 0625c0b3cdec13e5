#include "cache/key_sizes.h"

#include "cache/der.h"

size_t hsm_ecdsa_der_max(size_t order_bits)
{
    size_t order_bytes = (order_bits + 7) / 8;
    /* An INTEGER needs a leading zero byte only when its top bit can be set,
     * which a 521-bit value never reaches. */
    size_t value = order_bytes + (order_bits % 8 == 0 ? 1 : 0);
    size_t integer = hsm_der_header_size(value) + value;
    size_t body = 2 * integer;

    return hsm_der_header_size(body) + body;
}

size_t hsm_key_output_size(const EVP_PKEY *pub)
{
    int bits = EVP_PKEY_get_bits(pub);

    if (bits <= 0)
        return 0;
    if (EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_is_a(pub, "RSA-PSS"))
        return ((size_t)bits + 7) / 8;
    if (EVP_PKEY_is_a(pub, "EC"))
        return 2 * (((size_t)bits + 7) / 8); /* bits: the order's */
    if (EVP_PKEY_is_a(pub, "ED25519"))
        return 64;
    if (EVP_PKEY_is_a(pub, "ED448"))
        return 114;
    return 0;
}

size_t hsm_key_signature_size(const EVP_PKEY *pub)
{
    if (EVP_PKEY_is_a(pub, "EC")) {
        int bits = EVP_PKEY_get_bits(pub);

        return bits > 0 ? hsm_ecdsa_der_max((size_t)bits) : 0;
    }
    return hsm_key_output_size(pub);
}
