#!/usr/bin/env bash
# Story (issues 4 and 6): the root key is replaced on the token in the
# middle of a ceremony (the token re-initialised, a new key made under the
# same label and id), once with a middleware cache that still serves the
# old key's public view (the shim's snapshot-serve, as OpenSC's file cache
# did in the Nitrokey story) and once without. Whichever step meets the
# replaced key stops there, names itself, and writes no certificate or CRL:
#   - stale cache at step 3: the provider's possession proof fails;
#   - replaced key, no cache, at step 3: the new key signs a consistent
#     certificate, but it is not the key the witnesses saw at step 2, and
#     the script refuses to write it;
#   - after the root exists, at steps 5 and 6: stale cache, the possession
#     proof; no cache, openssl ca's own check that the key matches root.pem.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"
need_shim

SNAP="$TMP/opensc-cache.snap"

# replace_key TOKEN SLOT : the operator re-initialises the token and makes a
# new P-384 key with the ceremony's label and id, while the shim records
# (snapshot-save) what the token held before.
replace_key() {
    local token=$1 slot=$2 dir=$3
    shim_control "snapshot-save $SNAP"
    rm -f "$SNAP"
    expect_success cnf_openssl "$dir/openssl-hsm.cnf" pkey -in "$dir/root-key.pem" -pubout \
        -out "$token.A.pem"
    check "the cache recorded the token with key A" test -s "$SNAP"
    shim_control
    expect_success softhsm2-util --init-token --slot "$slot" --label "$token" \
        --so-pin "$SO_PIN" --pin "$USER_PIN"
    make_key "$token" EC:secp384r1 01 root
    save_token_pubkey "$token" 01 "$token.B.pem"
    check "key B is not key A" test "$(spki_sha256 "$token.A.pem")" != "$(spki_sha256 "$token.B.pem")"
}

# no_file DIR NAME... : the step left none of these.
no_file() {
    local dir=$1 f
    shift
    for f in "$@"; do
        check "no $f was written" test ! -e "$dir/$f"
    done
    check "no partial output or lock left" \
        test -z "$(find "$dir" -maxdepth 1 \( -name '.partial-*' -o -name .lock \))"
}

echo "=== the key replaced between steps 2 and 3"
make_token ca
require
ca_slot=$TOKEN_SLOT
ceremony_env ca "$HSM_FAULT_SHIM"
D="$TMP/ceremony-a"
steps "$D" 1 2
require
replace_key ca "$ca_slot" "$D"
require

echo "--- with a stale cache"
shim_control "snapshot-serve $SNAP"
step_fails 3 "$D" "token key failed the possession proof"
no_file "$D" root.pem root.cnf root-request.txt
transcript_says "$D" "FAILED at step 3 (self-sign)"
transcript_says "$D" "[step 3 (self-sign)] no output of this step was written"
# Naming the key by its reference file instead of its URI stops as well,
# with the provider's reason.
expect_failure_with "token key failed the possession proof" cnf_openssl "$D/openssl-hsm.cnf" \
    req -new -x509 -key "$D/root-key.pem" -subj /CN=Root -days 30 -out by-reference.pem

echo "--- without a cache: the new key would sign, but it is not the witnessed key"
shim_control
step_fails 3 "$D" "not the key generated at step 2"
assert_output_contains "the key on the token was replaced; no certificate was written"
no_file "$D" root.pem root.cnf root-request.txt
step_fails 4 "$D" "root.pem is missing"

echo "=== the key replaced after the root was made"
make_token ca2
require
ca2_slot=$TOKEN_SLOT
ceremony_env ca2 "$HSM_FAULT_SHIM"
D="$TMP/ceremony-b"
steps "$D" 1 2 3 4
require
save_token_pubkey ca2 01 ca2.A.token.pem
verify_root "$D/root.pem" ca2.A.token.pem
replace_key ca2 "$ca2_slot" "$D"
require

echo "--- with a stale cache"
shim_control "snapshot-serve $SNAP"
step_fails 5 "$D" "token key failed the possession proof"
no_file "$D" intermediate.pem intermediate.csr
check "no CA database was made (ca/ is absent)" test ! -e "$D/ca"
step_fails 6 "$D" "token key failed the possession proof"
no_file "$D" crl-01.pem
check "... still none: no CRL number was used" test ! -e "$D/ca"

echo "--- without a cache: the new key is not root.pem's key"
shim_control
step_fails 5 "$D" "CA certificate and CA private key do not match"
no_file "$D" intermediate.pem intermediate.csr
check "no CA database was made (ca/ is absent)" test ! -e "$D/ca"
step_fails 6 "$D" "CA certificate and CA private key do not match"
no_file "$D" crl-01.pem
check "... still none: no CRL number was used" test ! -e "$D/ca"
check "no ca.cnf or intermediate.cnf was written" test ! -e "$D/ca.cnf" -a ! -e "$D/intermediate.cnf"

finish
