#!/usr/bin/env bash
# Story (issue 6, lockout safety): the PIN source holds a wrong PIN. The
# ceremony stops at the first step that logs in, saying the token refused
# the PIN; the PIN is sent exactly once (pkcs11-spy counts C_Login), the
# token reports one failed try at most (SoftHSMv2: "user PIN count low", not
# "final try" or "locked"), nothing is written and no object is made.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"

make_token ca
require
ceremony_env ca "$PKCS11_SPY"
export PKCS11SPY="$SOFTHSM_MODULE" PKCS11SPY_OUTPUT="$TMP/spy.log"
printf 'wrong-%s\n' "$USER_PIN" >wrong.pin
chmod 600 wrong.pin
WRONG="$TMP/wrong.pin"

# token_flags : the token's flags as pkcs11-tool -L shows them (no login).
token_flags() {
    pkcs11-tool --module "$SOFTHSM_MODULE" --token-label ca -L 2>/dev/null |
        awk -v l=ca '/token label/ { m = ($NF == l) } m && /token flags/' | head -1
}

# wrong_pin_at N DIR TEXT : step N fails with TEXT after one C_Login, and
# nothing changed.
wrong_pin_at() {
    local n=$1 dir=$2 text=$3 before count logins flags
    before=$(dir_state "$dir")
    count=$(object_count ca)
    : >"$TMP/spy.log"
    step_fails "$n" "$dir" "$text"
    logins=$(spy_logins "$TMP/spy.log")
    check "step $n: the wrong PIN was sent exactly once (C_Login x $logins)" test "$logins" = 1
    flags=$(token_flags)
    echo "token flags after: $flags"
    check "step $n: the token counts the failed try" grep -q 'user PIN count low' <<<"$flags"
    check "step $n: ... and is neither locked nor on its final try" \
        bash -c '! grep -qE "locked|final" <<<"$1"' _ "$flags"
    nothing_changed "wrong PIN at step $n" "$dir" "$before" ca "$count"
}

echo "--- step 1 (pkcs11-tool lists the objects)"
D="$TMP/c1"
CEREMONY_PIN_FILE=$WRONG wrong_pin_at 1 "$D" "the token refused the PIN; it is not tried again"

echo "--- step 2 (the provider generates the key)"
D="$TMP/c2"
steps "$D" 1
cp wrong.pin "$PIN_FILE"
wrong_pin_at 2 "$D" "wrong PIN"
assert_output_contains "refused the PIN; it was not retried"
printf '%s\n' "$USER_PIN" >"$PIN_FILE"

echo "--- step 3 (the provider signs the root)"
steps "$D" 2
cp wrong.pin "$PIN_FILE"
wrong_pin_at 3 "$D" "wrong PIN"
check "no root.pem" test ! -e "$D/root.pem"

echo "--- step 3 again, the PIN from the environment"
sed -i 's/^pkcs11-module-token-pin = .*/pkcs11-module-token-pin = env:HSM_CEREMONY_PIN/' \
    "$D/openssl-hsm.cnf"
HSM_CEREMONY_PIN="wrong-$USER_PIN" wrong_pin_at 3 "$D" "wrong PIN"

echo "--- with the right PIN the ceremony goes on"
printf '%s\n' "$USER_PIN" >"$PIN_FILE"
HSM_CEREMONY_PIN="$USER_PIN" steps "$D" 3 4
check "the token no longer reports failed tries" bash -c '! grep -q "count low" <<<"$1"' _ "$(token_flags)"

echo "--- openssl req by itself: one C_Login for a wrong PIN"
write_provider_cnf spy.cnf "pkcs11-module-path=$PKCS11_SPY"
: >"$TMP/spy.log"
expect_failure_with "wrong PIN" cnf_openssl spy.cnf req -new -x509 -subj /CN=Root -days 30 \
    -key "$(sed -n 's/.*\] the root key: //p' "$D/transcript.log" | head -1)?pin-source=file:$WRONG" \
    -out req-wrong.pem
check "one C_Login (saw $(spy_logins "$TMP/spy.log"))" test "$(spy_logins "$TMP/spy.log")" = 1

finish
