#!/usr/bin/env bash
# Story: a token (or the middleware in front of it) serves a degenerate
# public key, one with which "signatures" that anyone can compute verify:
# the EC point at infinity, a point off its curve, the Ed25519 identity, an
# RSA exponent of 1 or an even one, a 512-bit modulus (the shim's
# degenerate-pubkey). Every load of such a key is refused with "the token's
# public key fails the public key check", naming the view and what is
# wrong, before anything is signed: the shim's log shows no C_Sign. The
# forgery itself: with the point at infinity and a shim that answers each
# C_Sign with r = x(G), s = e (forge-ecdsa), OpenSSL would accept the
# possession proof and every signature; the load is refused instead and no
# certificate is written. A key generated while the shim serves a
# degenerate view of it is refused and removed again. With the directives
# gone, every key loads and signs.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"
need_shim

make_token ca
make_key ca EC:prime256v1 01 ec
make_key ca rsa:2048 02 rsa
make_key ca EC:edwards25519 03 ed
require
policy_cnf shim.cnf "$HSM_FAULT_SHIM"
policy_cnf shim-nocheck.cnf "$HSM_FAULT_SHIM" check-possession=no
R_INVALID="the token's public key fails the public key check"
uri() {
    printf 'pkcs11:token=ca;id=%%%s;type=private?pin-value=%s' "$1" "$USER_PIN"
}

# c_signs : C_Sign calls the shim has logged so far.
c_signs() {
    cat "$HSM_SHIM_LOG" 2>/dev/null | grep -c '^C_Sign '
}

# refused_unsigned DESC ID WHY VIEW CNF : with the directive in place, a load
# (openssl pkey) and a signing command (openssl req -x509) are refused with
# the provider's reason, WHY and VIEW in the message, and no C_Sign reaches
# the token.
refused_unsigned() {
    local desc=$1 id=$2 why=$3 view=$4 cnf=${5:-shim.cnf} before
    before=$(c_signs)
    expect_failure_with --any-file "$R_INVALID" cnf_openssl "$cnf" pkey -in "$(uri "$id")" \
        -pubout -out "$id.pub.pem" &&
        assert_output_contains "$why" && assert_output_contains "$view" &&
        assert_output_contains "nothing was signed"
    expect_failure_with "$R_INVALID" cnf_openssl "$cnf" req -new -x509 -key "$(uri "$id")" \
        -subj "/CN=$desc" -days 1 -out "$id.root.pem"
    check "$desc: no C_Sign reached the token ($(c_signs) in the shim's log, $before before)" \
        test "$(c_signs)" = "$before"
}

# 1. Each degenerate kind.
shim_control "degenerate-pubkey 01 ec-infinity"
refused_unsigned "EC point at infinity" 01 "the EC point is the point at infinity" \
    "public key object"
refused_unsigned "EC point at infinity, possession check off" 01 \
    "the EC point is the point at infinity" "public key object" shim-nocheck.cnf
shim_control "degenerate-pubkey 01 ec-off-curve"
refused_unsigned "EC point off its curve" 01 "not a point on curve prime256v1" "public key object"
shim_control "degenerate-pubkey 03 eddsa-identity"
refused_unsigned "Ed25519 identity" 03 "the Ed25519 public key is a point of small order" \
    "public key object"
shim_control "degenerate-pubkey 02 rsa-e-1"
refused_unsigned "RSA e = 1" 02 "the RSA public exponent is 1" "private key's own attributes"
shim_control "degenerate-pubkey 02 rsa-e-even"
refused_unsigned "RSA even e" 02 "the RSA public exponent is even" "private key's own attributes"
shim_control "degenerate-pubkey 02 rsa-small-modulus"
refused_unsigned "RSA-512 modulus" 02 "the RSA modulus has 512 bits" \
    "private key's own attributes"

# 2. The forgery: the point at infinity, and a token (or middleware) whose
# every C_Sign is the "signature" r = x(G), s = e that verifies under it.
shim_control "degenerate-pubkey 01 ec-infinity" "forge-ecdsa 01"
expect_failure_with "$R_INVALID" cnf_openssl shim.cnf req -new -x509 -key "$(uri 01)" \
    -subj /CN=Forged -days 1 -out forged-root.pem &&
    assert_output_contains "the EC point is the point at infinity"
expect_failure_with --any-file "$R_INVALID" cnf_openssl shim-nocheck.cnf dgst -sha256 \
    -sign "$(uri 01)" -out forged.sig "$DATA"
check "no forged signature was written" test ! -s forged.sig

# 3. A generated key whose public half the token serves degenerate is
# refused, and removed again.
shim_control "degenerate-pubkey 09 ec-infinity"
expect_failure_with --any-file "$R_INVALID" cnf_openssl shim.cnf genpkey \
    -propquery '?provider=hsm' -algorithm EC -pkeyopt group:P-256 \
    -pkeyopt "pkcs11_uri:pkcs11:token=ca;object=gen;id=%09?pin-value=$USER_PIN" -out gen.pem &&
    assert_output_contains "the EC point is the point at infinity"
no_key_on_token ca 09

# 4. Without the directives, every key loads and signs (checked by plain
# OpenSSL against the key the token holds, read without the shim), and the
# shim's log counts those signatures: the zero counts above mean something.
shim_control
before=$(c_signs)
for id in 01 02; do
    save_token_pubkey ca "$id" "$id.token.pem"
    expect_success cnf_openssl shim.cnf req -new -x509 -key "$(uri "$id")" -subj "/CN=$id" \
        -days 1 -out "$id.root.pem" && verify_root "$id.root.pem" "$id.token.pem"
done
expect_success cnf_openssl shim.cnf req -new -x509 -key "$(uri 03)" -subj /CN=03 -days 1 \
    -out 03.root.pem &&
    expect_success plain_openssl verify -check_ss_sig -CAfile 03.root.pem 03.root.pem
check "the shim's log counts C_Sign ($before, then $(c_signs))" test "$(c_signs)" -gt "$before"

policy_finish
