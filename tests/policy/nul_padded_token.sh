#!/usr/bin/env bash
# Story: a module pads its token and slot fields with NUL bytes instead of
# spaces (tpm2-pkcs11 reports its model as "SW   TPM" and NULs). Every
# canonical URI the provider prints (storeutl's names, the reference that
# `pkey -in URI -out file` writes) must open exactly its object again, and
# a URI written by hand with the trimmed field must match the token. The
# fault-injection shim's `nul-pad` makes SoftHSMv2 answer that way.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"
need_shim

make_token ca
make_key ca EC:prime256v1 01 k
require
save_token_pubkey ca 01 k.pem
policy_cnf shim.cnf "$HSM_FAULT_SHIM" "pkcs11-module-token-pin=$USER_PIN"
shim_control "nul-pad"

# Every name the listing prints reopens its object.
expect_success cnf_openssl shim.cnf storeutl 'pkcs11:token=ca'
names=$(sed -n 's/^[0-9]*: Name: //p' "$LAST_OUT")
check "the listing names objects" test -n "$names"
while IFS= read -r name; do
    [ -n "$name" ] || continue
    expect_success cnf_openssl shim.cnf storeutl "$name"
    check "$name reopens exactly one object" \
        test "$(grep -E '^[0-9]+: ' "$LAST_OUT" | grep -vc ': Name: ')" -eq 1
done <<<"$names"

# The model is written trimmed in the canonical URI, and that URI loads.
expect_success cnf_openssl shim.cnf pkey -in 'pkcs11:token=ca;id=%01;type=private' -pubout \
    -out given.pem
same_pubkey "the key by a hand-written URI is the token's" given.pem k.pem
expect_success cnf_openssl shim.cnf pkey -in 'pkcs11:token=ca;id=%01;type=private' -out ref.pem
expect_success cnf_openssl shim.cnf pkey -in ref.pem -pubout -out via-ref.pem
same_pubkey "the reference file reopens the token's key" via-ref.pem k.pem
expect_success cnf_openssl shim.cnf pkey -in "pkcs11:model=SoftHSM%20v2;token=ca;id=%01;type=private" \
    -pubout -out by-model.pem
same_pubkey "a URI naming the NUL-padded model matches" by-model.pem k.pem
check "the shim was asked for token info (the directive applied)" \
    grep -q C_GetTokenInfo "$HSM_SHIM_LOG"
finish
