#!/usr/bin/env bash
# Story: data encrypted to a token's RSA key (plain OpenSSL with the public
# key read from the token by pkcs11-tool) is decrypted on the token with
# `openssl pkeyutl -decrypt -inkey pkcs11:...`: PKCS#1 v1.5 and OAEP with
# SHA-1, the only OAEP digest SoftHSMv2 has, for messages up to the largest
# each padding allows, with a key made by pkcs11-tool and one generated
# through the provider. What the token cannot do fails with a clear error:
# OAEP with SHA-256 (the mechanism is named), a key whose CKA_DECRYPT is
# false. A ciphertext made for other padding decrypts, by implicit
# rejection, to a synthetic plaintext.
# shellcheck source=keys_lib.sh disable=SC2317,SC2016 # functions are run through _run
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca rsa:2048 01 dec
# Generated keys sign and nothing else unless asked: this one may decrypt.
expect_success genkey dec-gen.pem "$(gen_uri ca dec-gen %03)" RSA rsa_keygen_bits:2048 \
    pkcs11_key_usage:sign,decrypt
# pkcs11-tool's --usage-sign leaves CKA_DECRYPT to the token's default,
# which is true on SoftHSMv2: a small helper makes the signing-only key.
make_sign_only_key ca 02 sign-only
require
save_token_pubkey ca 01 dec.pub.pem
save_token_pubkey ca 03 dec-gen.pub.pem
save_token_pubkey ca 02 sign-only.pub.pem
check "sign-only: pkcs11-tool shows no decrypt usage on the private key" \
    bash -c '! grep -q decrypt <<<"$1" && grep -q sign <<<"$1"' _ \
    "$(object_block ca "Private Key" sign-only --login --pin "$USER_PIN" | grep Usage)"

plain_openssl rand -out m1 1
plain_openssl rand -out m100 100
plain_openssl rand -out m214 214 # the largest OAEP-SHA-1 message for 2048 bits
plain_openssl rand -out m245 245 # the largest PKCS#1 v1.5 message for 2048 bits

# round_trip KEY-URI PUB NAME MSG [PKEYOPT...] : encrypt in plain OpenSSL,
# decrypt through the provider, compare.
round_trip() {
    local key=$1 pub=$2 name=$3 msg=$4 o
    local -a opts=()
    shift 4
    for o in "$@"; do
        opts+=(-pkeyopt "$o")
    done
    plain_openssl pkeyutl -encrypt -pubin -inkey "$pub" "${opts[@]}" -in "$msg" -out "$name.enc" ||
        { fail "plain openssl could not encrypt $msg for $name"; return 1; }
    expect_success hsm_openssl pkeyutl -decrypt -inkey "$key" "${opts[@]}" -in "$name.enc" \
        -out "$name.dec" &&
        check "$name: the token's plaintext is the message ($(stat -c %s "$msg") bytes)" \
            cmp -s "$msg" "$name.dec"
}

for msg in m1 m100 m245; do
    round_trip "$(key_uri ca dec)" dec.pub.pem "pkcs1-$msg" "$msg"
done
round_trip "$(key_uri ca dec)" dec.pub.pem pkcs1-explicit m100 rsa_padding_mode:pkcs1
for msg in m1 m100 m214; do
    round_trip "$(key_uri ca dec)" dec.pub.pem "oaep-$msg" "$msg" rsa_padding_mode:oaep
done
round_trip "$(key_uri ca dec)" dec.pub.pem oaep-sha1-explicit m100 rsa_padding_mode:oaep \
    rsa_oaep_md:sha1 rsa_mgf1_md:sha1
# the generated key, by URI and by its reference PEM
round_trip "$(key_uri ca dec-gen)" dec-gen.pub.pem gen-pkcs1 m245
round_trip "$(key_uri ca dec-gen)" dec-gen.pub.pem gen-oaep m214 rsa_padding_mode:oaep
plain_openssl pkeyutl -encrypt -pubin -inkey dec-gen.pub.pem -in m100 -out ref.enc
expect_success hsm_openssl pkeyutl -decrypt -inkey dec-gen.pem -passin "file:$PIN_FILE" \
    -in ref.enc -out ref.dec && check "the reference PEM decrypts too" cmp -s m100 ref.dec

# ------------------------------------------------------------- errors
plain_openssl pkeyutl -encrypt -pubin -inkey dec.pub.pem -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -in m100 -out oaep256.enc
expect_failure_with --any-file "CKM_RSA_PKCS_OAEP" \
    hsm_openssl pkeyutl -decrypt -inkey "$(key_uri ca dec)" -pkeyopt rsa_padding_mode:oaep \
    -pkeyopt rsa_oaep_md:sha256 -in oaep256.enc -out x.dec &&
    assert_output_contains "the token does not offer this mechanism"
check "nothing was decrypted with OAEP-SHA-256" test ! -s x.dec

plain_openssl pkeyutl -encrypt -pubin -inkey sign-only.pub.pem -in m100 -out sign-only.enc
expect_failure_with --any-file "CKA_DECRYPT false" \
    hsm_openssl pkeyutl -decrypt -inkey "$(key_uri ca sign-only)" -in sign-only.enc -out x.dec &&
    assert_output_contains "object=sign-only"
check "nothing was decrypted with the signing-only key" test ! -s x.dec
# ... and the same key still signs (it is a signing key, not a broken one)
plain_openssl dgst -sha256 -binary -out m100.sha256 m100
expect_success hsm_openssl pkeyutl -sign -inkey "$(key_uri ca sign-only)" -pkeyopt digest:sha256 \
    -in m100.sha256 -out sign-only.sig &&
    expect_success plain_openssl dgst -sha256 -verify sign-only.pub.pem -signature sign-only.sig m100

# A ciphertext whose block is padded for a signature (00 01 ff ... 00 m),
# not for encryption, given to PKCS#1 v1.5 decryption: implicit rejection,
# as OpenSSL 3.2 and later do. The decryption succeeds like any other, with
# a synthetic plaintext that is not the block's message, no longer than a
# v1.5 message can be, and the same again in another process. (A random
# OAEP ciphertext would not do: about one in 400 happens to unpad as valid
# v1.5.) rsa_implicit_rejection.sh holds the rest of that story.
{ printf '\000\001'; head -c 221 /dev/zero | tr '\000' '\377'; printf '\000'; head -c 32 m100; } \
    >type1.block
plain_openssl pkeyutl -encrypt -pubin -inkey dec.pub.pem -pkeyopt rsa_padding_mode:none \
    -in type1.block -out type1.enc
check "the signature-padded block is one 2048-bit RSA block" test "$(wc -c <type1.block)" = 256
for run in 1 2; do
    expect_success hsm_openssl pkeyutl -decrypt -inkey "$(key_uri ca dec)" -in type1.enc \
        -out "type1.$run.dec"
done
check "the synthetic plaintext is at most 245 bytes" test "$(stat -c %s type1.1.dec)" -le 245
check "the synthetic plaintext is not the block's message" \
    bash -c '! cmp -s <(head -c 32 m100) type1.1.dec'
check "a second process gives the same synthetic plaintext" cmp -s type1.1.dec type1.2.dec

finish
