#!/usr/bin/env bash
# Story: inside a busy server the token misbehaves, and the provider
# recovers by itself without storming it (issue 16):
# 1. the module instance gets stuck in a state only initialising it again
#    clears (the fault-injection shim's `stuck`: C_Login answering
#    CKR_USER_PIN_NOT_INITIALIZED while the token's flags say the PIN is
#    initialised, as one p11-kit client process did behind p11-kit server;
#    or C_Sign answering CKR_GENERAL_ERROR every time): the provider
#    initialises the module again and the same process signs again;
# 2. while the token is gone and the module cannot be initialised, a
#    process signing as fast as it can makes a handful of attempts a second
#    at most, and signs again within about a second of the token's return;
# 3. after the key is replaced on the token, a process signing as fast as
#    it can never signs with the new key and searches the token a handful
#    of times a second at most.
# Module calls are counted in the shim's call log.
# shellcheck source=rel_lib.sh
. "$(dirname "$0")/rel_lib.sh"

# shellcheck source=../shim/shim_lib.sh
. "$HSM_SOURCE_ROOT/tests/shim/shim_lib.sh"
need_shim
# calls_since MARK FUNCTION : calls of FUNCTION logged after line MARK.
calls_since() {
    tail -n "+$(($1 + 1))" "$SHIM_LOG" | grep -c "^$2 "
}
log_mark() {
    wc -l <"$SHIM_LOG"
}

make_token busy
make_key busy EC:prime256v1 01 ec
make_key busy rsa:2048 02 rsa
save_token_pubkey busy 01 ec.pem
save_token_pubkey busy 02 rsa.pem
require
write_provider_cnf shim.cnf "pkcs11-module-path=$HSM_FAULT_SHIM"
ec_uri="pkcs11:token=busy;id=%01;type=private?pin-value=$USER_PIN"
rsa_uri="pkcs11:token=busy;id=%02;type=private?pin-value=$USER_PIN"

holder_start shim.cnf || finish
holder_ok "loads the P-256 key" "load ec $ec_uri"
holder_ok "loads the RSA key" "load rsa $rsa_uri"
holder_sign_verifies "signs with ec" ec ec.pem

# 1a. A login state the token cannot be in: only a new instance clears it.
mark=$(log_mark)
shim_control "stuck C_Login CKR_USER_PIN_NOT_INITIALIZED" "fail C_Sign 1 CKR_USER_NOT_LOGGED_IN"
holder_sign_fails_with "ec while the module's login is stuck" ec "CKR_USER_PIN_NOT_INITIALIZED"
holder_sign_recovers "ec signs again: the module was initialised again" ec ec.pem
check "the module was initialised again (C_Initialize after the stuck login)" \
    test "$(calls_since "$mark" C_Initialize)" -ge 1
shim_control

# 1b. A run of CKR_GENERAL_ERROR from one instance.
mark=$(log_mark)
shim_control "stuck C_Sign CKR_GENERAL_ERROR"
for n in 1 2 3; do
    holder_sign_fails_with "rsa while C_Sign answers CKR_GENERAL_ERROR ($n)" rsa CKR_GENERAL_ERROR
done
holder_sign_recovers "rsa signs again: the module was initialised again" rsa rsa.pem
check "one initialisation cleared the run of CKR_GENERAL_ERROR" \
    test "$(calls_since "$mark" C_Initialize)" -eq 1
shim_control

# 2. The token is gone and the module cannot be initialised for 3 s.
mark=$(log_mark)
shim_control "token-flags -CKF_TOKEN_INITIALIZED" "fail C_Initialize * CKR_DEVICE_ERROR" \
    "fail C_Sign * CKR_DEVICE_REMOVED"
holder_ok "signs as fast as it can for 3 s while the token is gone" \
    "hammer ec 3000 $DATA $TMP/hammer-outage.sig"
read -r _ _ outage_ok outage_refused <<<"$HOLDER_REPLY"
inits=$(calls_since "$mark" C_Initialize)
echo "outage: $outage_ok signed, $outage_refused refused, $inits C_Initialize, $(calls_since "$mark" C_GetSlotList) C_GetSlotList"
check "no signature while the token is gone" test "$outage_ok" -eq 0
check "the refusals came fast (at least 100 in 3 s)" test "$outage_refused" -ge 100
check "at most 10 attempts to initialise the module in 3 s (was one per request)" \
    test "$inits" -le 10
shim_control
holder_sign_recovers "ec signs again once the token is back" ec ec.pem
check "recovery took at most 1.5 s ($HOLDER_WITHIN_MS ms)" test "$HOLDER_WITHIN_MS" -le 1500

# 3. The key is replaced on the token (same id and label, a new key).
p11_busy() {
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label busy --login --pin "$USER_PIN" "$@"
}
expect_success p11_busy --delete-object --type privkey --id 01
expect_success p11_busy --delete-object --type pubkey --id 01
expect_success p11_busy --keypairgen --key-type EC:prime256v1 --id 01 --label ec
mark=$(log_mark)
holder_ok "signs as fast as it can for 3 s after the key was replaced" \
    "hammer ec 3000 $DATA $TMP/hammer-swap.sig"
read -r _ _ swap_ok swap_refused <<<"$HOLDER_REPLY"
finds=$(calls_since "$mark" C_FindObjectsInit)
logins=$(calls_since "$mark" C_Login)
echo "key swap: $swap_ok signed, $swap_refused refused, $finds C_FindObjectsInit, $logins C_Login"
check "never signed with the replaced key's successor" test "$swap_ok" -eq 0
check "the refusals came fast (at least 100 in 3 s)" test "$swap_refused" -ge 100
check "at most 40 searches of the token in 3 s (was several per request)" test "$finds" -le 40
check "at most 10 logins in 3 s" test "$logins" -le 10
holder_sign_fails_with "ec after the swap" ec "key changed on token since it was loaded"
holder_stop
finish
