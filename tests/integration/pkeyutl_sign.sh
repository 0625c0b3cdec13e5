#!/usr/bin/env bash
# Story: a program hashes on its own and asks for a signature of the digest
# (`openssl pkeyutl -sign`, EVP_PKEY_sign). ECDSA signs a 32/48-byte digest;
# RSA wraps the digest in a DigestInfo when told `-pkeyopt digest:sha256`.
# Plain `openssl pkeyutl -verify` with the token's public key accepts them.
# shellcheck source=lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/lib.sh"

make_token ca
make_key ca EC:prime256v1 01 p256
make_key ca EC:secp384r1 02 p384
make_key ca rsa:2048 03 rsa2048
require
for k in 01:p256 02:p384 03:rsa2048; do
    save_token_pubkey ca "${k%%:*}" "${k#*:}.pub.pem"
done

plain_openssl rand -out data 5000
for md in sha256 sha384 sha512; do
    plain_openssl dgst "-$md" -binary -out "data.$md" data
    plain_openssl dgst "-$md" -binary -out "other.$md" "$(command -v bash)"
done
check "a SHA-256 digest is 32 bytes" test "$(stat -c %s data.sha256)" -eq 32

# ECDSA on a bare digest.
for c in p256:sha256 p384:sha384; do
    key=${c%%:*} md=${c#*:}
    sig="$key-$md.sig"
    expect_success hsm_openssl pkeyutl -sign -inkey "$(key_uri ca "$key")" \
        -in "data.$md" -out "$sig" || continue
    expect_success plain_openssl pkeyutl -verify -pubin -inkey "$key.pub.pem" \
        -in "data.$md" -sigfile "$sig" &&
        assert_output_contains "Signature Verified Successfully"
    # the same signature, checked as a signature of the data itself
    expect_success plain_openssl dgst "-$md" -verify "$key.pub.pem" -signature "$sig" data
    expect_failure_with "Signature Verification Failure" \
        plain_openssl pkeyutl -verify -pubin -inkey "$key.pub.pem" -in "other.$md" -sigfile "$sig"
done

# RSA PKCS#1 v1.5 of a digest, DigestInfo built by the provider.
for md in sha256 sha512; do
    sig="rsa2048-$md.sig"
    expect_success hsm_openssl pkeyutl -sign -inkey "$(key_uri ca rsa2048)" \
        -pkeyopt "digest:$md" -in "data.$md" -out "$sig" || continue
    check "$sig is 256 bytes" test "$(stat -c %s "$sig")" -eq 256
    expect_success plain_openssl pkeyutl -verify -pubin -inkey rsa2048.pub.pem \
        -pkeyopt "digest:$md" -in "data.$md" -sigfile "$sig" &&
        assert_output_contains "Signature Verified Successfully"
    expect_success plain_openssl dgst "-$md" -verify rsa2048.pub.pem -signature "$sig" data
    expect_failure_with "Signature Verification Failure" \
        plain_openssl pkeyutl -verify -pubin -inkey rsa2048.pub.pem \
        -pkeyopt "digest:$md" -in "other.$md" -sigfile "$sig"
done

finish
