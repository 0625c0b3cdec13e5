#!/usr/bin/env bash
# Story: an OCSP responder whose signing key is on the token (`openssl ocsp
# -index ... -rkey pkcs11:...`), RSA with PKCS#1 v1.5 and with PSS
# (-rsigopt), and EC. Each response is checked by plain OpenSSL: the
# response signature against the responder certificate, and the leaf's
# status.
# shellcheck source=keys_lib.sh
. "$(dirname "$0")/keys_lib.sh"

make_token ocsp
make_key ocsp rsa:2048 01 rsa
make_key ocsp EC:prime256v1 02 ec
require
plain_openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -subj /CN=leaf -out leaf.csr \
    2>/dev/null

# respond KEY NAME [OCSP-ARGS...] : a response to a fresh request for the
# leaf issued by KEY's certificate, checked with plain OpenSSL.
respond() {
    local k=$1 name=$2
    shift 2
    expect_success hsm_openssl ocsp -index index.txt -rsigner $k.crt -rkey "$(key_uri ocsp $k)" \
        -CA $k.crt -reqin req-$k.der -respout "$name.der" "$@" &&
        expect_success plain_openssl ocsp -respin "$name.der" -CAfile $k.crt -issuer $k.crt \
            -cert leaf-$k.crt -no_nonce &&
        assert_output_contains "leaf-$k.crt: good"
}

for k in rsa ec; do
    self_signed_root "$(key_uri ocsp $k)" $k.crt
    expect_success hsm_openssl x509 -req -in leaf.csr -CA $k.crt -CAkey "$(key_uri ocsp $k)" \
        -set_serial 7 -days 3 -out leaf-$k.crt
    printf 'V\t300101000000Z\t\t07\tunknown\t/CN=leaf\n' >index.txt
    plain_openssl ocsp -issuer $k.crt -cert leaf-$k.crt -no_nonce -reqout req-$k.der
    respond $k resp-$k
done
respond rsa resp-rsa-pss -rsigopt rsa_padding_mode:pss -rsigopt rsa_pss_saltlen:digest
check "the PSS response is signed with RSASSA-PSS (its OID is in the DER)" \
    bash -c 'od -An -v -tx1 resp-rsa-pss.der | tr -d " \n" | grep -q 06092a864886f70d01010a'
check "the PKCS#1 response is not" \
    bash -c '! od -An -v -tx1 resp-rsa.der | tr -d " \n" | grep -q 06092a864886f70d01010a'
finish
