#!/usr/bin/env bash
# Story: the largest key the provider offers works end to end. An RSA-16384
# pair is generated on a SoftHSMv2 token through the provider (`openssl
# genpkey`, signing and decrypting), which checks its public views and
# proves possession with a 2048-byte signature; the key reference it writes
# then signs with PKCS#1 v1.5 and PSS (`openssl dgst`) and without padding
# on a whole 2048-byte block (`openssl rsautl -raw`), and plain OpenSSL
# verifies each signature with the public key read from the token by
# pkcs11-tool; a message plain OpenSSL encrypts to that key with OAEP
# decrypts on the token. A 16385-bit key is
# refused before the token is asked. Generating the key takes minutes on
# SoftHSMv2, so this story is in the `slow` suite, which `meson test` runs
# only when asked (`meson test -C build --suite slow`); the generation time
# is printed.
# shellcheck source=keys_lib.sh disable=SC2317
. "$(dirname "$0")/keys_lib.sh"

# Generation alone may take many minutes on a busy machine.
CMD_TIMEOUT=${HSM_SLOW_TIMEOUT:-3000}

make_token big
require
plain_openssl rand -out data 5000

# Refused before the token is asked: nothing is made.
expect_failure_with "RSA keys of 16385 bits are not generated (2048 to 16384)" \
    genkey too-big.pem "$(gen_uri big too-big %02)" RSA rsa_keygen_bits:16385
check "the refused key left nothing on the token" test "$(count_objects big)" -eq 0

started=$SECONDS
expect_success genkey big.pem "$(gen_uri big rsa16384 %01)" RSA rsa_keygen_bits:16384 \
    pkcs11_key_usage:sign,decrypt
echo "RSA-16384 generation through the provider, possession proof included:" \
    "$((SECONDS - started)) s"
require
save_pubkey_by_id big 01 big.pub.pem
modulus=$(plain_openssl rsa -pubin -in big.pub.pem -noout -modulus | sed 's/^Modulus=//')
check "the token's key has a 16384-bit modulus (${#modulus} hex digits)" \
    test "${#modulus}" -eq 4096 -a "${modulus:0:1}" != 0

# PKCS#1 v1.5 and PSS, through the key reference the generation wrote (it
# names the key; the PIN comes from -passin).
PASSIN=(-passin "file:$PIN_FILE")
expect_success dflt_openssl dgst -sha256 -sign big.pem "${PASSIN[@]}" -out pkcs1.sig data &&
    check "the PKCS#1 v1.5 signature is 2048 bytes" test "$(stat -c %s pkcs1.sig)" -eq 2048 &&
    expect_success plain_openssl dgst -sha256 -verify big.pub.pem -signature pkcs1.sig data &&
    assert_output_contains "Verified OK"
expect_success dflt_openssl dgst -sha512 -sign big.pem "${PASSIN[@]}" \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -out pss.sig data &&
    expect_success plain_openssl dgst -sha512 -verify big.pub.pem -sigopt rsa_padding_mode:pss \
        -sigopt rsa_pss_saltlen:digest -signature pss.sig data &&
    assert_output_contains "Verified OK"
expect_failure_with "Verification failure" plain_openssl dgst -sha256 -verify big.pub.pem \
    -signature pkcs1.sig big.pub.pem

# Without padding: a whole 2048-byte block in, the same block back out of
# plain OpenSSL's public-key operation.
{ printf '\000'; head -c 2047 /dev/urandom; } >block
expect_success dflt_openssl rsautl -sign -raw -inkey big.pem "${PASSIN[@]}" -in block \
    -out raw.sig &&
    expect_success plain_openssl pkeyutl -verifyrecover -pubin -inkey big.pub.pem \
        -pkeyopt rsa_padding_mode:none -in raw.sig -out block.back &&
    check "the raw signature recovers the block" cmp -s block block.back

# OAEP decryption on the token.
plain_openssl rand -out message 190
expect_success plain_openssl pkeyutl -encrypt -pubin -inkey big.pub.pem \
    -pkeyopt rsa_padding_mode:oaep -in message -out message.enc &&
    expect_success dflt_openssl pkeyutl -decrypt -inkey big.pem "${PASSIN[@]}" \
        -pkeyopt rsa_padding_mode:oaep -in message.enc -out message.dec &&
    check "the token decrypts what plain OpenSSL encrypted" cmp -s message message.dec

finish
