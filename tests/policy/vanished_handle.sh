#!/usr/bin/env bash
# Story: between a server's load and its signature the key's handle, its
# session or the token goes away (or the device errs) once: the fault shim
# makes the next C_Sign (or C_SignInit, or the handle check) return
# CKR_OBJECT_HANDLE_INVALID, CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_REMOVED,
# CKR_TOKEN_NOT_PRESENT or CKR_DEVICE_ERROR. The signature either succeeds
# after the provider finds the key again (and verifies under the key the
# server was given) or is refused with a clear error; never an invalid
# signature. When every C_Sign fails with CKR_DEVICE_ERROR the error names
# C_Sign, CKR_DEVICE_ERROR and the token. Faults in C_FindObjectsInit and
# C_GetAttributeValue during a load give a clean error (or a correct key).
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"
need_shim

make_token ca
make_key ca EC:prime256v1 01 k
make_key ca rsa:2048 02 r
require
save_token_pubkey ca 01 k.pem
save_token_pubkey ca 02 r.pem
policy_cnf shim.cnf "$HSM_FAULT_SHIM"
uri_k="pkcs11:token=ca;id=%01;object=k;type=private?pin-value=$USER_PIN"
uri_r="pkcs11:token=ca;id=%02;object=r;type=private?pin-value=$USER_PIN"

holder_start shim.cnf || finish
holder_load_ok "loads k" k "$uri_k"
holder_load_ok "loads r" r "$uri_r"

# fault_once DIRECTIVE KEY : with no directive the key signs (so the holder
# has read the empty control file), then DIRECTIVE is installed and the key
# signs: valid or clearly refused; then the directive goes and it signs.
fault_once() {
    local directive=$1 key=$2
    shim_control
    holder_sign_ok "$key signs with no fault" "$key" "$DATA"
    shim_control "$directive"
    holder_sign_valid_or_clear "$key under \"$directive\"" "$key" "$DATA"
    OUTCOMES+=("$directive ($key): $([ "$SIGN_OK" = 1 ] && echo "signed, verified" || echo "refused: $REFUSAL")")
    shim_control
    holder_sign_ok "$key signs after \"$directive\" is gone" "$key" "$DATA"
}
OUTCOMES=()
REFUSAL=""

CODES=(CKR_OBJECT_HANDLE_INVALID CKR_SESSION_HANDLE_INVALID CKR_DEVICE_REMOVED
    CKR_TOKEN_NOT_PRESENT CKR_DEVICE_ERROR)

# 1. One fault on the next call, in each place a signature goes through.
for code in "${CODES[@]}"; do
    for key in k r; do
        fault_once "fail C_Sign 1 $code" "$key"
    done
    fault_once "fail C_SignInit 1 $code" k
    fault_once "fail C_GetAttributeValue 1 $code" r
done
fault_once "fail C_SignInit 1 CKR_KEY_HANDLE_INVALID" r

# 2. Every call fails: a clear refusal, never a signature.
for code in "${CODES[@]}"; do
    shim_control "fail C_Sign * $code"
    holder_sign_fails_clearly "k when every C_Sign fails with $code" k "$DATA" &&
        check "... the error names C_Sign and $code" grep -qE "C_Sign(Init)?: $code" <<<"$HOLDER_REPLY"
    holder_sign_fails_clearly "r when every C_Sign fails with $code" r "$DATA"
done
shim_control "fail C_Sign * CKR_DEVICE_ERROR"
holder_sign_fails_with "$R_PKCS11" "k when every C_Sign fails with CKR_DEVICE_ERROR" k "$DATA" &&
    {
        check "the error names C_Sign: CKR_DEVICE_ERROR" grep -qF "C_Sign: CKR_DEVICE_ERROR" <<<"$HOLDER_REPLY"
        check "the error names the token" grep -qE "token=ca[;?]" <<<"$HOLDER_REPLY"
    }
expect_failure_with --any-file "C_Sign: CKR_DEVICE_ERROR" cnf_openssl shim.cnf dgst -sha256 \
    -sign "$uri_k" -out dgst.sig "$DATA"
expect_failure_with "C_Sign: CKR_DEVICE_ERROR" cnf_openssl shim.cnf req -new -x509 -key "$uri_r" \
    -subj /CN=Root -days 30 -out root-device-error.pem
shim_control
holder_sign_ok "k signs once the device works again" k "$DATA"
holder_sign_ok "r signs once the device works again" r "$DATA"

# 3. Faults during a load: a clean error or a correct key.
# load_valid_or_clear DESC NAME URI PUB
load_valid_or_clear() {
    local r
    if holder_load "$2" "$3"; then
        pass "holder: $1: loaded"
        holder_pub_is "$1: ... the token's key" "$2" "$4"
        holder_sign_ok "$1: ... and it signs" "$2" "$DATA"
        OUTCOMES+=("$1: loaded")
        return
    fi
    for r in "${HSM_REASONS[@]}"; do
        case "$HOLDER_REPLY" in
        err*"$r"*)
            pass "holder: $1: refused with \"$r\""
            OUTCOMES+=("$1: refused: $r")
            return
            ;;
        esac
    done
    fail "holder: $1: no clean error"
    _show_reply
}

for fn in C_FindObjectsInit C_FindObjects C_GetAttributeValue; do
    for n in 1 2 3 5; do
        shim_control
        holder_sign_ok "k signs with no fault" k "$DATA"
        shim_control "fail $fn $n CKR_DEVICE_ERROR"
        load_valid_or_clear "load of k with call $n of $fn failing" k-fresh "$uri_k" k.pem
        shim_control
        holder_sign_ok "r signs with no fault" r "$DATA"
        shim_control "fail $fn $n CKR_OBJECT_HANDLE_INVALID"
        load_valid_or_clear "load of r with call $n of $fn failing (handle invalid)" r-fresh \
            "$uri_r" r.pem
    done
    shim_control "fail $fn * CKR_DEVICE_ERROR"
    # (A failing C_FindObjectsInit is reported as part of its search,
    # "C_FindObjects: ...".)
    holder_load_fails_with "CKR_DEVICE_ERROR" "load of k with every $fn failing" k-fresh \
        "$uri_k" &&
        check "... the error names ${fn%Init}" grep -qF "(${fn%Init}: CKR_DEVICE_ERROR)" <<<"$HOLDER_REPLY"
    restart_equivalence "every $fn failing" k-fresh "$uri_k" ca 01 "$R_PKCS11"
done
shim_control
restart_equivalence "no fault" k-fresh "$uri_k" ca 01
holder_sign_ok "the fresh k signs" k-fresh "$DATA"

echo "--- outcomes:"
printf '  %s\n' "${OUTCOMES[@]}"
policy_finish
