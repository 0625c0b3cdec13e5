#!/bin/bash
# hsm-audit show: every record readably, and filtered by key (pkcs11: URI
# matching), operation and time; what it prints is text, never the log's
# control characters.
. "$(dirname "$0")/audit_lib.sh"

printf 'digest' >"$TMP/d"
printf 'signature' >"$TMP/s"
KEY_A="pkcs11:model=SoftHSM%20v2;serial=11;token=ca;id=%01;object=root;type=private"
KEY_B="pkcs11:model=SoftHSM%20v2;serial=22;token=tls;id=%02;object=web;type=private"
expect_success write_record sign "$KEY_A" "$TMP/d" "$TMP/s"
expect_success write_record decrypt "$KEY_B" "$TMP/d" -
UNTIL=$(date -u +%Y-%m-%dT%H:%M:%S)
sleep 1.1
SINCE=$(date -u +%Y-%m-%dT%H:%M:%S)
expect_success hsm_audit note "$LOG" $'witness: Alice\n\x1b[31mred'
expect_success write_record sign "$KEY_B" "$TMP/d" "$TMP/s"

expect_success hsm_audit show "$LOG"
assert_output_contains "5 of 5 lines shown"
assert_output_contains "\\x1b[31mred"
assert_output_lacks $'\x1b' "no escape character reaches the terminal"

expect_success hsm_audit show "$LOG" --key "pkcs11:token=tls"
assert_output_contains "2 of 5 lines shown"
expect_success hsm_audit show "$LOG" --key "pkcs11:token=ca;object=root"
assert_output_contains "1 of 5 lines shown"
assert_output_contains "serial=11"
expect_success hsm_audit show "$LOG" --op sign
assert_output_contains "2 of 5 lines shown"
expect_success hsm_audit show "$LOG" --op note
assert_output_contains "witness: Alice"
expect_success hsm_audit show "$LOG" --since "$SINCE"
assert_output_contains "2 of 5 lines shown"
expect_success hsm_audit show "$LOG" --until "$UNTIL"
assert_output_contains "2 of 5 lines shown"
expect_success hsm_audit show "$LOG" --since "${SINCE%%T*}" --op decrypt --key "pkcs11:serial=22"
assert_output_contains "1 of 5 lines shown"

expect_failure_with --any-file "give a UTC time" hsm_audit show "$LOG" --since yesterday
expect_failure_with --any-file "not an operation" hsm_audit show "$LOG" --op delete
expect_failure_with --any-file "pkcs11: URI" hsm_audit show "$LOG" --key "pkcs11:tokn=ca"

sed -i '3s/"decrypt"/"sign"/' "$LOG"
expect_failure_with --any-file "broken at line 3" hsm_audit show "$LOG"
assert_output_contains "NOT LINKED"
finish
