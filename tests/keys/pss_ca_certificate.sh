#!/usr/bin/env bash
# Story: a PSS CA (its certificate's SubjectPublicKeyInfo is tagged
# rsassaPss) keeps its key on the token as an ordinary RSA key, beside its
# public key and certificate under the same id, and another key sits on the
# same token. The views are compared by key material (n and e), not by
# their algorithm identifier, so the key loads, equal to the certificate's
# key (it failed with "public key views of the key disagree"); a listing of
# the token's private keys shows both keys (it showed none); the key signs
# with PSS, verified by plain OpenSSL with the certificate's key; and, the
# certificate restricting the key to PSS, a PKCS#1 v1.5 signature is
# refused before the token is asked.
# shellcheck source=keys_lib.sh disable=SC2317
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca EC:prime256v1 02 other
require

# The CA, made in software, then moved onto the token: its private key as
# a plain RSA key (the PKCS#1 key inside the RSA-PSS PKCS#8).
plain_openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out ca-pss.key \
    2>/dev/null
expect_success plain_openssl req -new -x509 -key ca-pss.key -subj /CN=PSS-CA -days 30 \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out ca.pem
expect_success plain_openssl x509 -in ca.pem -noout -text &&
    assert_output_contains "Public Key Algorithm: rsassaPss"
off=$(plain_openssl asn1parse -in ca-pss.key |
    awk '/OCTET STRING/ { sub(/:.*/, "", $1); print $1; exit }')
plain_openssl asn1parse -in ca-pss.key -strparse "$off" -noout -out ca-rsa.der &&
    plain_openssl pkey -inform DER -in ca-rsa.der -out ca-rsa.pem &&
    plain_openssl pkey -in ca-rsa.pem -pubout -out ca-rsa.pub.pem &&
    plain_openssl x509 -in ca.pem -outform DER -out ca.der
check "the CA key is an rsaEncryption key again" \
    grep -q rsaEncryption <(plain_openssl asn1parse -in ca-rsa.pem)
p11 ca --login --pin "$USER_PIN" --write-object ca-rsa.pem --type privkey --id 01 --label ca \
    --usage-sign >/dev/null
p11 ca --login --pin "$USER_PIN" --write-object ca-rsa.pub.pem --type pubkey --id 01 \
    --label ca >/dev/null
p11 ca --login --pin "$USER_PIN" --write-object ca.der --type cert --id 01 --label ca >/dev/null
check "the token holds the CA's key, public key and certificate under id 01" \
    test "$(p11 ca --login --pin "$USER_PIN" --list-objects 2>/dev/null | grep -c 'ID: *01')" -eq 3
require
CA_KEY="pkcs11:token=ca;id=%01;type=private?pin-value=$USER_PIN"

# The key loads, and it is the certificate's key.
expect_success hsm_openssl pkey -in "$CA_KEY" -pubout -out ca.loaded.pem &&
    check "the key loaded has the certificate's modulus" cmp -s \
        <(plain_openssl rsa -pubin -in ca.loaded.pem -noout -modulus) \
        <(plain_openssl x509 -in ca.pem -noout -modulus)

# A listing shows both keys.
expect_success hsm_openssl storeutl "pkcs11:token=ca;type=private?pin-value=$USER_PIN" &&
    assert_output_matches "Name: pkcs11:.*id=%01;object=ca;type=private" "the CA key is listed" &&
    assert_output_matches "Name: pkcs11:.*id=%02;object=other;type=private" \
        "the other key is listed" &&
    assert_output_contains "Total found: 4"

# A PSS signature, verified with the certificate's key.
plain_openssl rand -out data 3000
plain_openssl x509 -in ca.pem -noout -pubkey >ca.cert.pub.pem
expect_success hsm_openssl dgst -sha256 -sign "$CA_KEY" -sigopt rsa_padding_mode:pss \
    -sigopt rsa_pss_saltlen:digest -out data.sig data &&
    expect_success plain_openssl dgst -sha256 -verify ca.cert.pub.pem \
        -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -signature data.sig data &&
    assert_output_contains "Verified OK"
expect_failure_with "Verification failure" plain_openssl dgst -sha256 -verify ca.cert.pub.pem \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -signature data.sig ca.pem

# The certificate restricts the key to PSS: PKCS#1 v1.5 is refused.
expect_failure_with --any-file "restricted to RSA-PSS" hsm_openssl dgst -sha256 \
    -sign "$CA_KEY" -sigopt rsa_padding_mode:pkcs1 -out data-pkcs1.sig data

finish
