#!/bin/bash
# hsm-audit verify: a log written by the provider's code verifies; a line
# edited, removed, moved or cut short, or a header taken away, is reported
# at that line and the exit status is 1.
. "$(dirname "$0")/audit_lib.sh"

notes 6
expect_success hsm_audit verify "$LOG"
assert_output_contains "a header and 6 records"
cp "$LOG" "$TMP/orig.log"

# line N of the original log, and the log with a change applied
line() { sed -n "${1}p" "$TMP/orig.log"; }

sed '3s/step 2/step 9/' "$TMP/orig.log" >"$LOG"
expect_broken_at 3
assert_output_contains "the line was changed after it was written"

sed '4d' "$TMP/orig.log" >"$LOG"
expect_broken_at 4
assert_output_contains "removed, inserted or moved"

{ sed -n '1,4p' "$TMP/orig.log"; line 6; line 5; line 7; } >"$LOG"
expect_broken_at 5

sed '1d' "$TMP/orig.log" >"$LOG"
expect_broken_at 1

head -c -20 "$TMP/orig.log" >"$LOG"
expect_broken_at 7
assert_output_contains "incomplete"

# The verifier refuses to extend a broken log rather than bless it.
expect_failure_with --any-file "incomplete line" hsm_audit note "$LOG" "after the cut"

: >"$LOG"
expect_broken_at 1
assert_output_contains "no header"

cp "$TMP/orig.log" "$LOG"
expect_success hsm_audit verify "$LOG"

expect_failure_with --any-file "cannot read the log" hsm_audit verify "$TMP/missing.log"
check "a missing log is exit status 2" test "$LAST_RC" -eq 2
expect_failure_with --any-file "usage" hsm_audit verify
finish
