#!/usr/bin/env bash
# Story: `openssl cms -sign` and `openssl smime -sign` with token keys. CMS
# reads the RSA padding mode and PSS salt length back from the signing
# context (OpenSSL 3.0 asks for them as names), so `-keyopt
# rsa_padding_mode:pss` and `:pkcs1` must work with an RSA token key; an EC
# token key signs too. Every message is verified by plain OpenSSL with the
# signer's certificate, and a PSS SignerInfo really carries RSASSA-PSS.
# shellcheck source=keys_lib.sh
. "$(dirname "$0")/keys_lib.sh"

make_token ca
make_key ca rsa:2048 01 rsa
make_key ca EC:prime256v1 02 ec
require
for k in rsa ec; do
    self_signed_root "$(key_uri ca $k)" $k.crt
done
printf 'a message signed on the token\n' >data

# verify_cms DESC FILE CERT [FORMAT] : plain OpenSSL checks the signature
# over |data| with CERT as the only trust anchor.
verify_cms() {
    local desc=$1 file=$2 cert=$3 form=${4:-DER}
    expect_success plain_openssl cms -verify -binary -inform "$form" -in "$file" \
        -content data -CAfile "$cert" -out "$file.content" &&
        check "$desc: the verified content is the message" cmp -s data "$file.content"
}

# has_pss_oid FILE : the DER holds the RSASSA-PSS OID (1.2.840.113549.1.1.10).
has_pss_oid() {
    od -An -v -tx1 "$1" | tr -d ' \n' | grep -q 06092a864886f70d01010a
}

for mode in pss pkcs1; do
    expect_success hsm_openssl cms -sign -binary -md sha256 -in data -signer rsa.crt \
        -inkey "$(key_uri ca rsa)" -keyopt "rsa_padding_mode:$mode" -outform DER \
        -out "rsa-$mode.p7s" &&
        verify_cms "cms, RSA key, $mode" "rsa-$mode.p7s" rsa.crt
done
check "the pss message's SignerInfo is RSASSA-PSS" has_pss_oid rsa-pss.p7s
check "the pkcs1 message has no RSASSA-PSS in it" \
    bash -c '! od -An -v -tx1 rsa-pkcs1.p7s | tr -d " \n" | grep -q 06092a864886f70d01010a'
# PSS with a salt length given by name and by number
for salt in digest max 20; do
    expect_success hsm_openssl cms -sign -binary -md sha256 -in data -signer rsa.crt \
        -inkey "$(key_uri ca rsa)" -keyopt rsa_padding_mode:pss -keyopt "rsa_pss_saltlen:$salt" \
        -outform DER -out "rsa-pss-$salt.p7s" &&
        verify_cms "cms, RSA key, pss, salt $salt" "rsa-pss-$salt.p7s" rsa.crt
done
expect_success hsm_openssl cms -sign -binary -in data -signer ec.crt -inkey "$(key_uri ca ec)" \
    -outform DER -out ec.p7s && verify_cms "cms, EC key" ec.p7s ec.crt

for k in rsa ec; do
    expect_success hsm_openssl smime -sign -binary -in data -signer $k.crt \
        -inkey "$(key_uri ca $k)" -out "smime-$k.eml" &&
        expect_success plain_openssl smime -verify -binary -in "smime-$k.eml" -content data \
            -CAfile $k.crt -out "smime-$k.content" &&
        check "smime, $k key: the verified content is the message" cmp -s data "smime-$k.content"
done
finish
