#!/usr/bin/env bash
# Story: a user exports the public half of a token key with
# `openssl pkey -in 'pkcs11:...' -pubout`. It is the same
# SubjectPublicKeyInfo as the token's public key object, and EC keys name
# their curve (never explicit parameters).
# shellcheck source=lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/lib.sh"

make_token ca
make_key ca EC:prime256v1 01 p256
make_key ca EC:secp384r1 02 p384
make_key ca EC:secp521r1 04 p521
make_key ca rsa:2048 03 rsa2048
require

for k in 01:p256:prime256v1:P-256 02:p384:secp384r1:P-384 04:p521:secp521r1:P-521 \
    03:rsa2048::; do
    IFS=: read -r id key oid nist <<<"$k"
    save_token_pubkey ca "$id" "$key.token.pem"
    expect_success hsm_openssl pkey -in "$(key_uri ca "$key")" -pubout -out "$key.pub.pem" ||
        continue
    check "$key.pub.pem is a PEM public key" grep -q -- "-----BEGIN PUBLIC KEY-----" "$key.pub.pem"
    same_pubkey "$key: pkey -pubout equals the token's public key" "$key.pub.pem" "$key.token.pem"
    expect_success plain_openssl pkey -pubin -in "$key.pub.pem" -noout -text || continue
    if [ -n "$oid" ]; then
        assert_output_contains "ASN1 OID: $oid"
        assert_output_contains "NIST CURVE: $nist"
        assert_output_lacks "Field Type|Prime:|Generator" "$key: no explicit curve parameters"
    else
        assert_output_contains "Public-Key: (2048 bit)"
        assert_output_contains "Exponent: 65537"
    fi
done

# The public half printed as text straight from the URI (-text_pub).
expect_success hsm_openssl pkey -in "$(key_uri ca p256)" -text_pub -noout &&
    assert_output_contains "NIST CURVE: P-256"

finish
