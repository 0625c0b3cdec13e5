#!/usr/bin/env bash
# Story: a script signs a file with `openssl dgst -sign 'pkcs11:...'`. The
# signature (ECDSA in DER, RSA PKCS#1 v1.5, with SHA-1 for RSA where asked)
# verifies with plain `openssl dgst -verify` and the token's public key, and
# fails for changed data or another key.
# shellcheck source=lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/lib.sh"

make_token ca
make_key ca EC:prime256v1 01 p256
make_key ca EC:secp384r1 02 p384
make_key ca EC:secp521r1 04 p521
make_key ca rsa:2048 03 rsa2048
require
for k in 01:p256 02:p384 04:p521 03:rsa2048; do
    save_token_pubkey ca "${k%%:*}" "${k#*:}.pub.pem"
done

plain_openssl rand -out data 10000
cp data changed
printf 'x' >>changed

for c in p256:sha256 p256:sha384 p384:sha384 p384:sha512 p521:sha512 \
    rsa2048:sha1 rsa2048:sha256 rsa2048:sha384 rsa2048:sha512; do
    key=${c%%:*} md=${c#*:}
    sig="$key-$md.sig"
    expect_success hsm_openssl dgst "-$md" -sign "$(key_uri ca "$key")" -out "$sig" data || continue
    check "$sig is not empty" test -s "$sig"
    expect_success plain_openssl dgst "-$md" -verify "$key.pub.pem" -signature "$sig" data &&
        assert_output_contains "Verified OK"
    expect_failure_with "Verification failure" \
        plain_openssl dgst "-$md" -verify "$key.pub.pem" -signature "$sig" changed
done

# RSA signatures are exactly the modulus size; ECDSA ones are DER
# SEQUENCE { r, s } as OpenSSL expects, not the raw r|s PKCS#11 returns.
check "RSA-2048 signature is 256 bytes" test "$(stat -c %s rsa2048-sha256.sig)" -eq 256
for sig in p256-sha256.sig p384-sha384.sig p521-sha512.sig; do
    expect_success plain_openssl asn1parse -inform DER -in "$sig" &&
        assert_output_matches "^ *0:d=0 .*cons: SEQUENCE" "$sig is a DER SEQUENCE" &&
        check "$sig holds two INTEGERs" test "$(grep -c 'prim: INTEGER' "$LAST_OUT")" -eq 2
done

# Another key's public half does not verify the token's signature.
expect_failure_with "Verification failure" \
    plain_openssl dgst -sha384 -verify p384.pub.pem -signature p256-sha384.sig data

# The URI forms of the design document: without type=, and by id.
expect_success hsm_openssl dgst -sha256 -sign "pkcs11:token=ca;object=p256?pin-value=$USER_PIN" \
    -out notype.sig data &&
    expect_success plain_openssl dgst -sha256 -verify p256.pub.pem -signature notype.sig data
expect_success hsm_openssl dgst -sha256 \
    -sign "pkcs11:token=ca;id=%03;type=private?pin-value=$USER_PIN" -out byid.sig data &&
    expect_success plain_openssl dgst -sha256 -verify rsa2048.pub.pem -signature byid.sig data

# A label longer than the provider's first read buffer (512 bytes): the
# attribute is asked for its size and read again, never cut or taken as
# absent.
long_label=$(head -c 700 /dev/zero | tr '\0' 'L')
make_key ca EC:prime256v1 05 "$long_label"
save_token_pubkey ca 05 long.pub.pem
expect_success hsm_openssl dgst -sha256 \
    -sign "pkcs11:token=ca;id=%05;type=private?pin-value=$USER_PIN" -out long.sig data &&
    expect_success plain_openssl dgst -sha256 -verify long.pub.pem -signature long.sig data
expect_success hsm_openssl storeutl -noout -text \
    "pkcs11:token=ca;id=%05;type=private?pin-value=$USER_PIN"
assert_output_contains "object=$long_label;"

finish
