#!/usr/bin/env bash
# Story (issue 6, diagnostics): an operator switches on the provider's debug
# log with HSM_DEBUG_LOG=FILE and HSM_DEBUG_LEVEL=1|2 for a ceremony. The
# log has a UTC time on every line and lists the PKCS#11 calls with their
# CKR_ results and the token and key involved (level 2 adds the successful
# signatures), and it never holds the PIN, whichever source gave it: a PIN
# file, the URI's pin-value, the environment, -passin, or a wrong PIN.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"
need_shim

make_token ca
require
ceremony_env ca "$HSM_FAULT_SHIM"
D="$TMP/ceremony"
LOG2="$TMP/debug-2.log"

echo "--- a ceremony at level 2"
HSM_DEBUG_LOG=$LOG2 HSM_DEBUG_LEVEL=2 steps "$D" 1 2 3 4 5 6
require
check "the log was written" test -s "$LOG2"
check "every line starts with a UTC time" \
    bash -c '! grep -vE "^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\.[0-9]{6}Z hsm\[" "$1"' \
    _ "$LOG2"
serial=$(sed -n 's/^token serial: //p' "$D/token.txt")
check "C_Initialize is listed with the module" grep -qF "C_Initialize -> CKR_OK ($HSM_FAULT_SHIM)" "$LOG2"
check "the slot search is listed" grep -q 'C_GetSlotList: .* match pkcs11:' "$LOG2"
check "C_Login is listed with its result and the token" \
    grep -qE "C_Login\(CKU_USER\) -> CKR_OK \(token 'ca' \(serial $serial" "$LOG2"
check "C_Sign is listed with the key's URI (token serial and id)" \
    grep -qE "C_Sign -> CKR_OK \(pkcs11:.*serial=$serial;token=ca;id=%01;object=root;type=private[,)]" \
    "$LOG2"
signs=$(grep -c 'C_Sign -> CKR_OK' "$LOG2")
check "the signatures of steps 2 (possession proofs), 3, 5 and 6 are listed ($signs)" \
    test "$signs" -ge 4
check "the PIN appears nowhere in the log" bash -c '! grep -qF -- "$1" "$2"' _ "$USER_PIN" "$LOG2"

echo "--- level 1: no successful signatures, errors with their reasons"
LOG1="$TMP/debug-1.log"
write_provider_cnf shim.cnf "pkcs11-module-path=$HSM_FAULT_SHIM"
uri=$(sed -n 's/.*\] the root key: //p' "$D/transcript.log" | head -1)
save_token_pubkey ca 01 token.pub.pem
HSM_DEBUG_LOG=$LOG1 HSM_DEBUG_LEVEL=1 expect_success cnf_openssl shim.cnf req -new -x509 \
    -key "$uri?pin-value=$USER_PIN" -subj /CN=Root -days 30 -out level1.pem &&
    verify_root level1.pem token.pub.pem
check "level 1 lists the login" grep -q 'C_Login(CKU_USER) -> CKR_OK' "$LOG1"
check "level 1 does not list successful signatures" bash -c '! grep -q "C_Sign -> CKR_OK" "$1"' _ "$LOG1"
check "the URI in the log carries no pin-value" bash -c '! grep -q "pin-value" "$1"' _ "$LOG1"

echo "--- a wrong PIN, a token on its final try, other sources"
HSM_DEBUG_LOG=$LOG1 expect_failure_with "wrong PIN" cnf_openssl shim.cnf req -new -x509 \
    -key "$uri?pin-value=Wr0ng-$USER_PIN" -subj /CN=Root -days 30 -out wrong.pem
check "the refused login is listed with CKR_PIN_INCORRECT" \
    grep -q 'C_Login(CKU_USER) -> CKR_PIN_INCORRECT' "$LOG1"
check "... and the error, with its reason" grep -q 'error: .*refused the PIN' "$LOG1"
shim_control "token-flags +CKF_USER_PIN_FINAL_TRY"
HSM_DEBUG_LOG=$LOG1 expect_failure_with "token PIN is locked or on its final try" \
    cnf_openssl shim.cnf req -new -x509 -key "$uri?pin-value=$USER_PIN" -subj /CN=Root -days 30 \
    -out final.pem
check "the log says why no PIN was sent (the token's flags)" grep -q 'not logging in to .*token flags' "$LOG1"
shim_control
write_provider_cnf env.cnf "pkcs11-module-path=$HSM_FAULT_SHIM" "pkcs11-module-token-pin=env:CA_PIN"
CA_PIN=$USER_PIN HSM_DEBUG_LOG=$LOG1 expect_success cnf_openssl env.cnf req -new -x509 -key "$uri" \
    -subj /CN=Root -days 30 -out env.pem
HSM_DEBUG_LOG=$LOG1 expect_success cnf_openssl shim.cnf req -new -x509 -key "$D/root-key.pem" \
    -passin "pass:$USER_PIN" -subj /CN=Root -days 30 -out passin.pem
check "neither the PIN nor the wrong PIN appears in the log" \
    bash -c '! grep -qF -e "$1" "$2"' _ "$USER_PIN" "$LOG1"

echo "--- the log file: created owner-only, never through a symlink, one process per line"
rm -f "$TMP/fresh.log"
HSM_DEBUG_LOG=$TMP/fresh.log expect_success cnf_openssl shim.cnf pkey \
    -in "$uri?pin-value=$USER_PIN" -pubout -out fresh.pub
check "a new log file is created with mode 600" test "$(stat -c %a "$TMP/fresh.log")" = 600
pid_ids=$(sed -n 's/^[^ ]* hsm\[\([0-9]*\)\/[0-9]*\] .*/\1/p' "$TMP/fresh.log" | sort -u)
check "each line names the process and the thread (hsm[PID/TID])" \
    test -n "$pid_ids" -a "$(grep -vc '^[^ ]* hsm\[[0-9]*/[0-9]*\] ' "$TMP/fresh.log")" -eq 0
ln -s "$TMP/victim.txt" "$TMP/link.log"
printf 'keep me\n' >"$TMP/victim.txt"
HSM_DEBUG_LOG=$TMP/link.log expect_success cnf_openssl shim.cnf pkey \
    -in "$uri?pin-value=$USER_PIN" -pubout -out link.pub
check "a log path that is a symlink is not followed (its target is untouched)" \
    test "$(cat "$TMP/victim.txt")" = "keep me"
# Two processes appending to one log: each line carries its own process id.
HSM_DEBUG_LOG=$TMP/two.log expect_success cnf_openssl shim.cnf pkey \
    -in "$uri?pin-value=$USER_PIN" -pubout -out two-a.pub
HSM_DEBUG_LOG=$TMP/two.log expect_success cnf_openssl shim.cnf pkey \
    -in "$uri?pin-value=$USER_PIN" -pubout -out two-b.pub
check "two processes' lines carry two process ids" \
    test "$(sed -n 's/^[^ ]* hsm\[\([0-9]*\)\/.*/\1/p' "$TMP/two.log" | sort -u | wc -l)" -eq 2

echo "--- no log unless asked"
before=$(find "$TMP" -maxdepth 1 ! -name nolog.pem | sort)
expect_success cnf_openssl shim.cnf req -new -x509 -key "$uri?pin-value=$USER_PIN" \
    -subj /CN=Root -days 30 -out nolog.pem
check "without HSM_DEBUG_LOG no file appears" \
    test "$(find "$TMP" -maxdepth 1 ! -name nolog.pem | sort)" = "$before"

finish
