#!/usr/bin/env bash
# Story (issue 6): the same ceremony with an RSA-4096 root key (what a
# FreeIPA/Dogtag CA on an HSM uses), run step by step, the PIN given to the
# scripts in the environment (HSM_CEREMONY_PIN; the operator accepted that),
# no key id chosen (the provider picks one). The outputs are checked with
# plain OpenSSL against the token's public key.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"

make_token ca
require
ceremony_env ca
unset CEREMONY_PIN_FILE CEREMONY_KEY_ID
export CEREMONY_KEY_TYPE=rsa-4096 CEREMONY_DIGEST=sha256
export HSM_CEREMONY_PIN="$USER_PIN"
D="$TMP/ceremony"

steps "$D" 1 2 3 4 5 6
require
check "openssl-hsm.cnf takes the PIN from the environment, holds none" \
    grep -qx 'pkcs11-module-token-pin = env:HSM_CEREMONY_PIN' "$D/openssl-hsm.cnf"
transcript_says "$D" "PIN: taken from the environment variable HSM_CEREMONY_PIN"

id=$(pkcs11-tool --module "$SOFTHSM_MODULE" --token-label ca --login \
    --pin "$USER_PIN" --list-objects 2>/dev/null | awk '/^Private Key Object/ { p = 1 } p && $1 == "ID:" { print $2; exit }')
check "the provider chose a key id ($id)" test -n "$id"
check "the token holds an RSA private key" grep -q 'RSA' \
    <(pkcs11-tool --module "$SOFTHSM_MODULE" --token-label ca --login --pin "$USER_PIN" \
        --list-objects --type privkey 2>/dev/null)
save_token_pubkey ca "$id" token.pub.pem
check "the token's key is RSA 4096" grep -q 'Public-Key: (4096 bit)' \
    <(plain_openssl pkey -pubin -in token.pub.pem -noout -text)
verify_root "$D/root.pem" token.pub.pem
check "root signed with sha256WithRSAEncryption" grep -q 'Signature Algorithm: sha256WithRSAEncryption' \
    <(plain_openssl x509 -in "$D/root.pem" -noout -text)
check "step 4 checked the root" test -s "$D/root-check.txt"
expect_success plain_openssl verify -x509_strict -CAfile "$D/root.pem" "$D/intermediate.pem"
expect_success plain_openssl verify -crl_check -CAfile "$D/root.pem" -CRLfile "$D/crl-01.pem" \
    "$D/intermediate.pem"
check "the PIN appears in no file of the ceremony" bash -c '! grep -rqF -- "$1" "$2"' _ "$USER_PIN" "$D"

finish
