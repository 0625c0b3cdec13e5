#!/usr/bin/env bash
# Story: a CA whose keys live on a token signs certificate requests. A CSR is
# made with a token key (`openssl req -new`), a root signs leaves with
# `openssl x509 -req -CA root.pem -CAkey 'pkcs11:...'`, and plain OpenSSL
# accepts every request and the chain leaf -> root.
# shellcheck source=lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/lib.sh"

make_token ca
make_key ca EC:prime256v1 01 root-ec
make_key ca rsa:2048 02 root-rsa
make_key ca EC:prime256v1 03 other-ec
make_token leaf
make_key leaf rsa:2048 11 leaf-rsa
make_key leaf EC:secp384r1 12 leaf-p384
require

for k in ca:01:root-ec ca:02:root-rsa leaf:11:leaf-rsa leaf:12:leaf-p384; do
    IFS=: read -r token id label <<<"$k"
    save_token_pubkey "$token" "$id" "$label.pub.pem"
done

# Roots.
expect_success hsm_openssl req -new -x509 -key "$(key_uri ca root-ec)" \
    -subj "/CN=Root EC" -days 30 -out root-ec.pem && verify_root root-ec.pem root-ec.pub.pem
expect_success hsm_openssl req -new -x509 -key "$(key_uri ca root-rsa)" \
    -subj "/CN=Root RSA" -days 30 -sha384 -out root-rsa.pem &&
    verify_root root-rsa.pem root-rsa.pub.pem

# issue ROOT ROOTKEY ROOTCN LEAFKEY MD : CSR signed by the leaf's token key, then a
# certificate for it signed by the root's token key.
issue() {
    local root=$1 rootkey=$2 rootcn=$3 leafkey=$4 md=$5
    local csr="$leafkey.csr" cert="$leafkey-by-$rootkey.pem"

    expect_success hsm_openssl req -new -key "$(key_uri leaf "$leafkey")" \
        -subj "/CN=$leafkey" "-$md" -out "$csr" || return
    # `openssl req -verify` exits 0 even when the signature is bad (3.0):
    # the verdict is in its message.
    expect_success plain_openssl req -verify -in "$csr" -noout &&
        assert_output_contains "self-signature verify OK"
    plain_openssl req -in "$csr" -noout -pubkey >"$csr.pub.pem" 2>/dev/null
    same_pubkey "$csr carries the token's public key" "$csr.pub.pem" "$leafkey.pub.pem"
    if tamper_pem "$csr" "bad-$csr" req; then
        _run plain_openssl req -verify -in "bad-$csr" -noout
        assert_output_contains "self-signature verify failure"
    else
        fail "could not make a damaged copy of $csr"
    fi

    expect_success hsm_openssl x509 -req -in "$csr" -CA "$root.pem" \
        -CAkey "$(key_uri ca "$rootkey")" -set_serial 2 -days 10 "-$md" -out "$cert" || return
    expect_success plain_openssl verify -check_ss_sig -CAfile "$root.pem" "$cert" &&
        assert_output_contains "$cert: OK"
    plain_openssl x509 -in "$cert" -noout -pubkey >"$cert.pub.pem" 2>/dev/null
    same_pubkey "$cert carries the leaf's token public key" "$cert.pub.pem" "$leafkey.pub.pem"
    expect_success plain_openssl x509 -in "$cert" -noout -issuer -subject &&
        assert_output_matches "issuer=.*CN *= *$rootcn" "$cert names $rootcn as issuer"
}

issue root-ec root-ec "Root EC" leaf-rsa sha256
issue root-rsa root-rsa "Root RSA" leaf-p384 sha384

# A request made in software, signed by the token root: the everyday CA case.
expect_success plain_openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout soft.key -subj /CN=soft -out soft.csr
expect_success hsm_openssl x509 -req -in soft.csr -CA root-ec.pem \
    -CAkey "$(key_uri ca root-ec)" -set_serial 3 -days 10 -sha512 -out soft.pem &&
    expect_success plain_openssl verify -check_ss_sig -CAfile root-ec.pem soft.pem

# The chain check can fail: an impostor root with the same name but another
# key does not verify a leaf the token root signed.
expect_success plain_openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout impostor.key -subj "/CN=Root EC" -days 30 -out impostor.pem
expect_failure_with "verification failed" \
    plain_openssl verify -check_ss_sig -CAfile impostor.pem leaf-rsa-by-root-ec.pem

# The CA key must match the CA certificate: another P-256 key on the same
# token is not the one in root-ec.pem, and `openssl x509` (comparing the
# token key's public half with the certificate) refuses it.
expect_failure_with --any-file "CA certificate and CA private key do not match" \
    hsm_openssl x509 -req -in soft.csr -CA root-ec.pem -CAkey "$(key_uri ca other-ec)" \
    -set_serial 4 -days 10 -out mismatch.pem

finish
