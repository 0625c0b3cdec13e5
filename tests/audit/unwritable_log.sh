#!/usr/bin/env bash
# shellcheck disable=SC2016 # the checks run bash -c with single-quoted scripts
# Story: a CA must not sign unrecorded. The audit log sits on a file system
# that is full, or read-only (small tmpfs mounts in a mount namespace of
# this script's own, gone when it ends). Signing commands fail with the
# provider's reason "cannot write the audit log" and write no certificate:
# with check-possession on the key is not even loaded (its proof cannot be
# recorded); with it off the token signs but the signature is withheld. A
# long-lived process is refused its next signature while the log cannot be
# written and signs again once it can. Nothing half-written stays: the
# chain still verifies. With audit-log-on-failure = continue the command
# succeeds, saying once that key uses are not being recorded.

# A mount namespace of our own, so the mounts need no clean-up and no other
# process sees them.
if [ "${HSM_AUDIT_IN_NAMESPACE:-}" != 1 ]; then
    if ! unshare --mount --propagation private true 2>/dev/null; then
        echo "SKIP: cannot make a mount namespace (unshare --mount needs root)"
        exit 77
    fi
    exec env HSM_AUDIT_IN_NAMESPACE=1 unshare --mount --propagation private bash "$0" "$@"
fi
# shellcheck source-path=SCRIPTDIR source=audit_lib.sh disable=SC2317,SC2016 # run through _run
. "$(dirname "$0")/audit_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 root
require
save_pubkey_by_id ca 01 root.pub
require
uri="pkcs11:token=ca;object=root;type=private?pin-value=$USER_PIN"
R_AUDIT="cannot write the audit log"
MNT="$TMP/mnt"
mkdir -p "$MNT"
LOG="$MNT/audit.log"

# mount_tmpfs SIZE : a fresh, empty tmpfs of SIZE on MNT.
mount_tmpfs() {
    umount "$MNT" 2>/dev/null
    mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$MNT"
}

# refused DESC CNF : `openssl req -x509` with the key fails with the
# provider's reason and writes no certificate.
refused() {
    expect_failure_with "$R_AUDIT" cnf_openssl "$2" req -new -x509 -key "$uri" -subj /CN=Root \
        -days 30 -out "$TMP/root.pem" && pass "$1"
}

audit_cnf "$TMP/audit.cnf"
audit_cnf "$TMP/noproof.cnf" check-possession=no
audit_cnf "$TMP/continue.cnf" audit-log-on-failure=continue

echo "--- a file system that fills up"
require_mount=0
mount_tmpfs 64k || require_mount=1
check "a 64 KiB tmpfs is mounted for the log" test "$require_mount" = 0
require
expect_success cnf_openssl "$TMP/audit.cnf" req -new -x509 -key "$uri" -subj /CN=Root \
    -days 30 -out "$TMP/first.pem"
# Fill what is left (dd stops at ENOSPC): only the room left in the log's
# own last page remains, and signatures go on until a record does not fit.
dd if=/dev/zero of="$MNT/filler" bs=1k 2>/dev/null
check "the file system is full" bash -c '! printf x >>"$1"' _ "$MNT/probe"
refusal=0
for n in $(seq 20); do
    cp "$LOG" "$TMP/before.log"
    _run cnf_openssl "$TMP/noproof.cnf" req -new -x509 -key "$uri" -subj /CN=Root -days 30 \
        -out "$TMP/cert-$n.pem"
    if [ "$LAST_RC" -eq 0 ]; then
        # Signed while its record still fitted: it is in the log.
        if ! cert_parts "$TMP/cert-$n.pem" || ! grep -qF "$(sha256_file "$TMP/sig.bin")" "$LOG"; then
            fail "certificate $n was returned but is not in the log"
        fi
        continue
    fi
    refusal=$n
    break
done
check "signatures went on until a record did not fit (refused at $refusal)" test "$refusal" -gt 0
require
if grep -qF "$R_AUDIT" "$LAST_ERR" && grep -qF "the signature was not returned" "$LAST_ERR"; then
    pass "the refusal names the reason: $R_AUDIT; the signature was not returned"
else
    fail "the refusal does not name the reason"
    _show_last
fi
check "no certificate was written" test ! -e "$TMP/cert-$refusal.pem"
check "nothing was added to the log" cmp -s "$LOG" "$TMP/before.log"
assert_output_contains "free space on its file system"
expect_chain_holds

echo "--- continue: the command goes on"
expect_success cnf_openssl "$TMP/continue.cnf" req -new -x509 -key "$uri" -subj /CN=Root \
    -days 30 -out "$TMP/continued.pem" &&
    assert_output_contains "key uses are not being recorded"
check "... said once" test "$(grep -c 'key uses are not being recorded' "$LAST_ERR")" -eq 1
verify_root "$TMP/continued.pem" root.pub
rm -f "$MNT/filler"

echo "--- a read-only file system"
holder_start "$TMP/noproof.cnf" || finish
plain_openssl rand -out data 200
holder_send "load k $uri"
check "the holder loads the key" grep -q '^ok' <<<"$HOLDER_REPLY"
holder_send "sign k $TMP/data $TMP/before.sig"
check "the holder signs while the log can be written" grep -q '^ok' <<<"$HOLDER_REPLY"
mount -o remount,ro "$MNT"
check "the file system is read-only" bash -c '! printf x >>"$1"' _ "$MNT/probe"
refused "read-only: the key is not loaded" "$TMP/audit.cnf" &&
    assert_output_contains "the key was not loaded"
refused "read-only, check-possession off: the signature is withheld" "$TMP/noproof.cnf" &&
    assert_output_contains "the signature was not returned"
holder_send "sign k $TMP/data $TMP/ro.sig"
check "the holder's signature is refused: $R_AUDIT" grep -q "^err.*$R_AUDIT" <<<"$HOLDER_REPLY"
check "... and none was written" test ! -e "$TMP/ro.sig"
mount -o remount,rw "$MNT"
holder_send "sign k $TMP/data $TMP/after.sig"
check "the holder signs again once the log can be written" grep -q '^ok' <<<"$HOLDER_REPLY"
expect_success plain_openssl dgst -sha256 -verify root.pub -signature "$TMP/after.sig" data
holder_stop
record_where ".signature_sha256 == \"$(sha256_file "$TMP/after.sig")\"" "the signature after"
expect_chain_holds

echo "--- a read-only file system and no log yet"
mount_tmpfs 64k && mount -o remount,ro "$MNT"
refused "no log can be created: the key is not loaded" "$TMP/audit.cnf"
check "no log was created" test ! -e "$LOG"
umount "$MNT"
finish
