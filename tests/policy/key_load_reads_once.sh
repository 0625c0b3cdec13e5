#!/usr/bin/env bash
# Story: a key load on a token with many objects must cost no more PKCS#11
# calls than the policy needs. Each object's attributes are read in one
# C_GetAttributeValue: an answer that cannot change when asked again (an EC
# key's CKA_MODULUS, a public key's CKA_SIGN, an EC point that does not fit
# in a buffer larger than any supported curve's) is not asked again. Every
# check of the load stays: the key is found afresh, its public key object
# is searched by CKA_ID and cross-checked, and the possession proof signs.
# Counted from the fault-injection shim's call log (no directive).
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"
need_shim

make_token ca
make_key ca EC:prime256v1 01 ec
make_key ca rsa:2048 02 rsa
require
save_token_pubkey ca 01 ec.pem
save_token_pubkey ca 02 rsa.pem
policy_cnf shim.cnf "$HSM_FAULT_SHIM"

calls() { grep -c "^$1 " "$HSM_SHIM_LOG" || true; }

for key in ec rsa; do
    : >"$HSM_SHIM_LOG"
    uri="pkcs11:token=ca;object=$key;type=private?pin-value=$USER_PIN"
    expect_success cnf_openssl shim.cnf pkey -in "$uri" -pubout -out "loaded-$key.pem"
    same_pubkey "$key: the loaded key is the token's" "loaded-$key.pem" "$key.pem"
    n=$(calls C_GetAttributeValue)
    check "$key: two attribute reads, the key and its public key object (got $n)" \
        test "$n" -eq 2
    check "$key: the key and its public views searched afresh (two searches)" \
        test "$(calls C_FindObjectsInit)" -eq 2
    check "$key: the possession proof signed on the token" test "$(calls C_Sign)" -eq 1
done
finish
