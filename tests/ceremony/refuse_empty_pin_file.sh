#!/usr/bin/env bash
# Story (issue 6, PINs): an empty PIN file (or one holding only a newline)
# is an error, never an empty PIN sent to the token: the ceremony refuses it
# at step 1, the provider refuses it named in a URI or in its configuration
# ("cannot read the PIN source"). No C_Login, nothing written, no object.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"
need_shim

make_token ca
require
ceremony_env ca "$HSM_FAULT_SHIM"
: >empty.pin
printf '\n' >newline.pin
printf '\r\n' >crlf.pin
chmod 600 empty.pin newline.pin crlf.pin

for f in empty newline crlf; do
    D="$TMP/c-$f"
    count=$(object_count ca)
    : >"$SHIM_LOG"
    CEREMONY_PIN_FILE="$TMP/$f.pin" step_fails 1 "$D" "the PIN file $TMP/$f.pin"
    check "$f: no C_Login" test "$(shim_calls C_Login)" = 0
    nothing_changed "$f PIN file at step 1" "$D" "" ca "$count"
done

echo "--- emptied after step 2"
D="$TMP/ceremony"
steps "$D" 1 2
require
cp empty.pin "$PIN_FILE"
before=$(dir_state "$D")
count=$(object_count ca)
: >"$SHIM_LOG"
step_fails 3 "$D" "is empty"
check "no C_Login" test "$(shim_calls C_Login)" = 0
nothing_changed "PIN file emptied before step 3" "$D" "$before" ca "$count"

echo "--- the provider itself"
uri=$(sed -n 's/.*\] the root key: //p' "$D/transcript.log" | head -1)
[ -n "$uri" ] || uri="pkcs11:token=ca;object=root;type=private"
write_provider_cnf plain.cnf "pkcs11-module-path=$HSM_FAULT_SHIM"
for f in empty newline; do
    write_provider_cnf "cnf-$f.cnf" "pkcs11-module-path=$HSM_FAULT_SHIM" \
        "pkcs11-module-token-pin=file:$TMP/$f.pin"
    : >"$SHIM_LOG"
    expect_failure_with "cannot read the PIN source" cnf_openssl plain.cnf req -new -x509 \
        -key "$uri?pin-source=file:$TMP/$f.pin" -subj /CN=Root -days 30 -out "uri-$f.pem" &&
        assert_output_contains "is empty"
    expect_failure_with "cannot read the PIN source" cnf_openssl "cnf-$f.cnf" req -new -x509 \
        -key "$uri" -subj /CN=Root -days 30 -out "cnf-$f.pem"
    check "$f: no C_Login" test "$(shim_calls C_Login)" = 0
done

finish
