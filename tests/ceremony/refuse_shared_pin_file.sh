#!/usr/bin/env bash
# Story (issue 6, PINs): a PIN file that other users can read is refused,
# saying so ("cannot read the PIN source": "can be read by other users"),
# before any PIN is sent, unless the provider option pin-file-allow-shared =
# yes says the operator accepts it. The ceremony never accepts one: step 1
# refuses it before it starts, and a file made readable later stops the
# step that meets it. Nothing is written, no object made, no C_Login sent.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"
need_shim

make_token ca
require
ceremony_env ca "$HSM_FAULT_SHIM"
printf '%s\n' "$USER_PIN" >shared.pin

for mode in 644 640 604 660; do
    chmod "$mode" shared.pin
    D="$TMP/c-$mode"
    count=$(object_count ca)
    : >"$SHIM_LOG"
    CEREMONY_PIN_FILE="$TMP/shared.pin" step_fails 1 "$D" "can be used by other users"
    check "mode $mode: no C_Login" test "$(shim_calls C_Login)" = 0
    nothing_changed "PIN file mode $mode at step 1" "$D" "" ca "$count"
done

echo "--- a PIN file made readable after step 1"
D="$TMP/ceremony"
steps "$D" 1 2
require
chmod 644 "$PIN_FILE"
before=$(dir_state "$D")
count=$(object_count ca)
: >"$SHIM_LOG"
step_fails 3 "$D" "chmod 600"
check "no C_Login" test "$(shim_calls C_Login)" = 0
nothing_changed "PIN file readable at step 3" "$D" "$before" ca "$count"
chmod 600 "$PIN_FILE"
steps "$D" 3

echo "--- the provider itself, named in the URI or in the configuration"
uri=$(sed -n 's/.*\] the root key: //p' "$D/transcript.log" | head -1)
save_token_pubkey ca 01 token.pub.pem
write_provider_cnf plain.cnf "pkcs11-module-path=$HSM_FAULT_SHIM"
write_provider_cnf shared-cnf.cnf "pkcs11-module-path=$HSM_FAULT_SHIM" \
    "pkcs11-module-token-pin=file:$TMP/shared.pin"
write_provider_cnf allow.cnf "pkcs11-module-path=$HSM_FAULT_SHIM" "pin-file-allow-shared=yes"
write_provider_cnf allow-cnf.cnf "pkcs11-module-path=$HSM_FAULT_SHIM" \
    "pkcs11-module-token-pin=file:$TMP/shared.pin" "pin-file-allow-shared=yes"
for mode in 644 640 604; do
    chmod "$mode" shared.pin
    : >"$SHIM_LOG"
    expect_failure_with "cannot read the PIN source" cnf_openssl plain.cnf req -new -x509 \
        -key "$uri?pin-source=file:$TMP/shared.pin" -subj /CN=Root -days 30 -out "uri-$mode.pem" &&
        assert_output_contains "can be read by other users (mode $mode)"
    expect_failure_with "cannot read the PIN source" cnf_openssl shared-cnf.cnf req -new -x509 \
        -key "$uri" -subj /CN=Root -days 30 -out "cnf-$mode.pem"
    check "mode $mode: no C_Login" test "$(shim_calls C_Login)" = 0
done
chmod 644 shared.pin
expect_success cnf_openssl allow.cnf req -new -x509 -key "$uri?pin-source=file:$TMP/shared.pin" \
    -subj /CN=Root -days 30 -out allowed-uri.pem && verify_root allowed-uri.pem token.pub.pem
expect_success cnf_openssl allow-cnf.cnf req -new -x509 -key "$uri" \
    -subj /CN=Root -days 30 -out allowed-cnf.pem && verify_root allowed-cnf.pem token.pub.pem

finish
