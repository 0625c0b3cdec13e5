#!/usr/bin/env bash
# Story: RSA without padding. A whole block of the key's length is signed
# on the token (`openssl rsautl -sign -raw`) and plain OpenSSL's public-key
# operation gives the same block back. Asked with a digest (`openssl
# pkeyutl -rawin -digest sha256 -pkeyopt rsa_padding_mode:none`), the
# provider refuses as OpenSSL does, saying so, instead of signing a
# DigestInfo without padding and reporting the result as a signature that
# does not verify ("token signed with a key that does not match...", as it
# once did).
# shellcheck source=keys_lib.sh disable=SC2317
. "$(dirname "$0")/keys_lib.sh"

make_token raw
make_key raw rsa:2048 01 r
require
save_token_pubkey raw 01 r.pub.pem
KEY=$(key_uri raw r)

{ printf '\000'; head -c 255 /dev/urandom; } >block
expect_success hsm_openssl rsautl -sign -raw -inkey "$KEY" -in block -out block.sig &&
    expect_success plain_openssl pkeyutl -verifyrecover -pubin -inkey r.pub.pem \
        -pkeyopt rsa_padding_mode:none -in block.sig -out block.back &&
    check "the raw signature gives the block back" cmp -s block block.back

expect_failure_with --any-file "RSA without padding" \
    hsm_openssl pkeyutl -sign -inkey "$KEY" -rawin -digest sha256 \
    -pkeyopt rsa_padding_mode:none -in block -out digest-none.sig &&
    assert_output_lacks "does not match its published public key" \
        "no false alarm about the token's key"

finish
