#!/usr/bin/env bash
# Story (issue 6, lockout safety): the token says its user PIN is on its
# final try (or locked). One more wrong PIN would lock it, so no PIN is sent
# at all: steps 1 and 2 (whose pkcs11-tool does not look) refuse from the
# token's flags, steps 3, 5 and 6 are refused by the provider ("token PIN is
# locked or on its final try"), each telling the operator to unlock with the
# SO PIN. The shim reports the flags and logs every call: no C_Login, no
# output, no object made.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"
need_shim

make_token ca
require
ceremony_env ca "$HSM_FAULT_SHIM"
D="$TMP/ceremony"

# refused_at N FLAG TEXT : with FLAG reported, step N fails with TEXT and
# sends no PIN; nothing changes.
refused_at() {
    local n=$1 flag=$2 text=$3 before count
    before=$(dir_state "$D")
    count=$(object_count ca)
    shim_control "token-flags +$flag"
    : >"$SHIM_LOG"
    step_fails "$n" "$D" "$text"
    assert_output_contains "SO PIN"
    check "step $n, $flag: no C_Login (the shim saw $(shim_calls C_Login))" \
        test "$(shim_calls C_Login)" = 0
    check "step $n, $flag: the token's flags were read" test "$(shim_calls C_GetTokenInfo)" -gt 0
    shim_control
    nothing_changed "step $n, $flag" "$D" "$before" ca "$count"
}

for flag in CKF_USER_PIN_FINAL_TRY CKF_USER_PIN_LOCKED; do
    refused_at 1 "$flag" "reports its user PIN locked or on its final try"
done
steps "$D" 1
require
for flag in CKF_USER_PIN_FINAL_TRY CKF_USER_PIN_LOCKED; do
    refused_at 2 "$flag" "reports its user PIN locked or on its final try"
done
check "no key was generated" test "$(object_count ca)" = 0
steps "$D" 2
require
for flag in CKF_USER_PIN_FINAL_TRY CKF_USER_PIN_LOCKED; do
    refused_at 3 "$flag" "token PIN is locked or on its final try"
done
check "no root.pem" test ! -e "$D/root.pem"
steps "$D" 3 4
require
refused_at 5 CKF_USER_PIN_FINAL_TRY "token PIN is locked or on its final try"
check "no intermediate.pem" test ! -e "$D/intermediate.pem"
refused_at 6 CKF_USER_PIN_FINAL_TRY "token PIN is locked or on its final try"
check "no CRL" test ! -e "$D/crl-01.pem"

echo "--- openssl req by itself, the PIN in the URI"
write_provider_cnf shim.cnf "pkcs11-module-path=$HSM_FAULT_SHIM"
shim_control "token-flags +CKF_USER_PIN_FINAL_TRY"
: >"$SHIM_LOG"
expect_failure_with "token PIN is locked or on its final try" cnf_openssl shim.cnf req -new -x509 \
    -key "pkcs11:token=ca;object=root;type=private?pin-value=$USER_PIN" -subj /CN=Root -days 30 \
    -out final-try.pem
check "no C_Login (the shim saw $(shim_calls C_Login))" test "$(shim_calls C_Login)" = 0

echo "--- the flags cleared: the ceremony finishes"
shim_control
steps "$D" 5 6
expect_success plain_openssl verify -crl_check -CAfile "$D/root.pem" -CRLfile "$D/crl-01.pem" \
    "$D/intermediate.pem"

finish
