#!/usr/bin/env bash
# Story: a user generates keys on their token through the provider
# (`genpkey` with pkcs11_uri). Where the module can, the key is made,
# the reference file it writes signs a root that verifies under the
# token's public key. Where the module cannot (no EC key generation in
# Debian's openCryptoki; tpm2-pkcs11 cannot make an RSA key that may only
# sign), the provider refuses clearly: the error names the token, the
# function and the CKR_ name, no file is written, and the other usage
# (sign,decrypt) works on tpm2-pkcs11.
# shellcheck source=modules_lib.sh disable=SC2317
. "$(dirname "$0")/modules_lib.sh"

printf '%s' "$USER_PIN" >"$TMP/pin"
chmod 600 "$TMP/pin"
mod_cnf pin.cnf "pkcs11-module-token-pin=file:$TMP/pin"
gen_uri() {
    printf 'pkcs11:token=%s;object=%s;id=%%%s?pin-source=file:%s' "$TOKEN_URI" "$1" "$2" "$TMP/pin"
}
genpkey() {
    cnf_openssl "$MOD_CNF" genpkey -propquery '?provider=hsm' "$@"
}
# made ID NAME : the generated key's reference signs a verified root.
made() {
    save_token_pubkey "$TOKEN" "$1" "tok-$1.pem"
    expect_success cnf_openssl pin.cnf req -new -x509 -key "$2.pem" -subj "/CN=$2" -days 1 \
        -out "root-$2.pem" && verify_root "root-$2.pem" "tok-$1.pem"
}

if cannot ec-keygen; then
    echo "expected refusal: ${WHY[ec-keygen]}"
    # The token's mechanism list has no CKM_EC_KEY_PAIR_GEN: the provider
    # refuses before asking the module, and names the token and mechanism.
    expect_failure_with --any-file "cannot generate key pairs with CKM_EC_KEY_PAIR_GEN" \
        genpkey -algorithm EC -pkeyopt group:P-256 \
        -pkeyopt "pkcs11_uri:$(gen_uri gen-ec 11)" -out gen-ec.pem &&
        assert_output_contains "token '$TOKEN'"
    no_key_on_token "$TOKEN" 11
else
    expect_success genpkey -algorithm EC -pkeyopt group:P-256 \
        -pkeyopt "pkcs11_uri:$(gen_uri gen-ec 11)" -out gen-ec.pem && made 11 gen-ec
fi

if cannot rsa-keygen-sign-only; then
    echo "expected refusal: ${WHY[rsa-keygen-sign-only]}"
    expect_failure_with --any-file "C_GenerateKeyPair" genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -pkeyopt "pkcs11_uri:$(gen_uri gen-rsa 12)" -out gen-rsa.pem &&
        assert_output_matches "CKR_[A-Z_]+" "the refusal names the CKR_ code" &&
        assert_output_contains "pkcs11_key_usage:sign,decrypt" &&
        assert_output_contains "$MOD_PATH" &&
        assert_output_contains "$TOKEN"
    no_key_on_token "$TOKEN" 12
    expect_success genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -pkeyopt pkcs11_key_usage:sign,decrypt \
        -pkeyopt "pkcs11_uri:$(gen_uri gen-rsa2 13)" -out gen-rsa2.pem && made 13 gen-rsa2
else
    expect_success genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
        -pkeyopt "pkcs11_uri:$(gen_uri gen-rsa 12)" -out gen-rsa.pem && made 12 gen-rsa
fi
finish
