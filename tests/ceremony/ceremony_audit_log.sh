#!/usr/bin/env bash
# Story (issue 20): the root-CA ceremony keeps its steps and the provider's
# records of every use of the root key in one audit log. After a full run
# (run-ceremony.sh): the log's chain holds; every step's beginning and end
# is a note in it; the transcript names, for the root certificate, the
# intermediate and the CRL, the record (seq and hash) of its signature, and
# that record is in the log with the root key's URI and fingerprint, the
# digest of the signed part (plain OpenSSL) and the signature's SHA-256;
# every note the transcript names is in the log under that seq and hash;
# run-ceremony.sh ends with the log's last link. A step refused later
# leaves a note saying so; a log whose chain was broken stops the next step
# before the token is used (the failure is noted after the broken line). A CA's existing log (CEREMONY_AUDIT_LOG) is
# checked and extended by a second ceremony.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"

make_token ca
require
make_csr intermediate
D="$TMP/ceremony"
LOG="$D/audit.log"
cat >params <<EOF
CEREMONY_MODULE=$SOFTHSM_MODULE
CEREMONY_TOKEN=ca
CEREMONY_PROVIDER=$HSM_PROVIDER_DIR/hsm.so
CEREMONY_KEY_LABEL=root-2026
CEREMONY_KEY_ID=a1
CEREMONY_KEY_TYPE=ec-p384
CEREMONY_PIN_FILE=token.pin
CEREMONY_ROOT_SUBJECT=/C=XX/O=Ceremony Test/CN=Audited Root CA
CEREMONY_DIGEST=sha384
CEREMONY_CSR=intermediate.csr
CEREMONY_CRL_URL=http://pki.example.test/root.crl
EOF
expect_success timeout -k 10 300 /bin/sh "$CEREMONY_HOME/run-ceremony.sh" params "$D"
require
run_out=$LAST_OUT
T="$D/transcript.log"

echo "--- the log"
check "the ceremony's audit log exists, mode 0600" test "$(stat -c %a "$LOG" 2>/dev/null)" = 600
expect_success "$HSM_AUDIT_TOOL" verify "$LOG"
last=$(tail -n 1 "$LOG")
last_link="seq $(jq -r .seq <<<"$last") hash $(jq -r .hash <<<"$last")"
check "run-ceremony.sh ends with the log's last link ($last_link)" grep -qF "last link $last_link" \
    "$run_out"
check "the PIN is nowhere in the log" bash -c '! grep -qF -- "$1" "$2"' _ "$USER_PIN" "$LOG"
for n in 1 2 3 4 5 6; do
    check "step $n's end is a note in the log" \
        test "$(jq -c "select(.type == \"note\" and (.text | test(\"step $n \\\\([a-z-]+\\\\) completed\")))" \
            "$LOG" | wc -l)" -eq 1
done
for n in 2 3 4 5 6; do
    check "step $n's beginning is a note in the log" \
        test "$(jq -c "select(.type == \"note\" and (.text | test(\"step $n \\\\([a-z-]+\\\\) begins\")))" \
            "$LOG" | wc -l)" -eq 1
done

# in_log SEQ HASH : line SEQ+1 of the log is the record SEQ with that hash.
in_log() {
    [ "$(sed -n "$(($1 + 1))p" "$LOG" | jq -r '(.seq | tostring) + " " + .hash')" = "$1 $2" ]
}
bad=0
notes=0
while read -r seq hash; do
    notes=$((notes + 1))
    in_log "$seq" "$hash" || { bad=1; echo "  | note seq $seq hash $hash is not in the log"; }
done < <(sed -n 's/.*: note recorded as seq \([0-9]*\) hash \([0-9a-f]*\)$/\1 \2/p' "$T")
check "the transcript names $notes notes, each in the log under its seq and hash" \
    test "$bad" = 0 -a "$notes" -ge 11

echo "--- each signature's record"
key_uri=$(sed -n 's/.*\] the root key: //p' "$T" | head -1)
fingerprint=$(sed -n 's/^SHA256://p' "$D/root-key.spki.sha256")
# signed FILE KIND : the transcript names FILE's signature record, which is
# in the log with the root key and the digest and signature plain OpenSSL
# reads out of FILE.
signed() {
    local file=$1 kind=$2 link seq hash first last off hl len
    link=$(sed -n "s/.*\] audit log record of the signature of $file: //p" "$T" | tail -1)
    read -r _ seq _ hash <<<"$link"
    check "the transcript names the record of $file's signature ($link)" test -n "$hash"
    [ -n "$hash" ] || return 1
    check "... which is in the log under that seq and hash" in_log "$seq" "$hash"
    plain_openssl "$kind" -in "$D/$file" -outform DER -out "$file.der"
    first=$(plain_openssl asn1parse -inform DER -in "$file.der" | grep 'd=1' | head -1)
    last=$(plain_openssl asn1parse -inform DER -in "$file.der" | grep 'd=1' | tail -1)
    read -r off hl len < <(sed -E 's/^ *([0-9]+):.*hl= *([0-9]+) +l= *([0-9]+).*/\1 \2 \3/' <<<"$first")
    tail -c +$((off + 1)) "$file.der" | head -c $((hl + len)) >"$file.tbs"
    read -r off hl len < <(sed -E 's/^ *([0-9]+):.*hl= *([0-9]+) +l= *([0-9]+).*/\1 \2 \3/' <<<"$last")
    tail -c +$((off + hl + 2)) "$file.der" | head -c $((len - 1)) >"$file.sig"
    rec=$(sed -n "$((seq + 1))p" "$LOG")
    check "$file: a sign record, result ok" \
        test "$(jq -r '.operation + " " + .result' <<<"$rec")" = "sign ok"
    check "$file: by the root key ($key_uri)" test "$(jq -r .key <<<"$rec")" = "$key_uri"
    check "$file: whose fingerprint step 2 showed" test "$(jq -r .key_sha256 <<<"$rec")" = "$fingerprint"
    check "$file: over the SHA-384 of its signed part" test "$(jq -r .data_sha256 <<<"$rec")" = \
        "$(plain_openssl dgst -sha384 -binary "$file.tbs" | sha256sum | cut -d' ' -f1)"
    check "$file: with its signature" test "$(jq -r .signature_sha256 <<<"$rec")" = \
        "$(sha256sum "$file.sig" | cut -d' ' -f1)"
}
signed root.pem x509
signed intermediate.pem x509
signed crl-01.pem crl
check "the key's generation is in the log" test "$(jq -c "select(.operation == \"generate\" and
    .key_sha256 == \"$fingerprint\" and .result == \"ok\")" "$LOG" | wc -l)" -eq 1

echo "--- a refused step, and a broken chain"
CEREMONY_ROOT_SUBJECT=/CN=again expect_failure_with --any-file "already exists" step 3 "$D"
check "the refusal is a note in the log" \
    test "$(jq -c 'select(.type == "note" and (.text | test("step 3 \\(self-sign\\) FAILED: root.cnf already exists")))' \
        "$LOG" | wc -l)" -eq 1
check "... and the transcript names it" grep -qE '\[step 3 \(self-sign\)\] audit log: .*note recorded as seq [0-9]+ hash [0-9a-f]{64}$' "$T"
expect_success "$HSM_AUDIT_TOOL" verify "$LOG"
sed -i '2s/operator/0perator/' "$LOG"
records_before=$(wc -l <"$LOG")
step_fails 6 "$D" "the audit log $LOG is broken"
check "no CRL was made" test ! -e "$D/crl-02.pem"
check "nothing was signed: the log grew by the note of the failure alone" \
    test "$(tail -n +$((records_before + 1)) "$LOG" | jq -r '.type + ": " + .text')" = \
    "note: ceremony $D: step 6 (issue-crl) FAILED: the audit log $LOG is broken (see above); check it before going on"

echo "--- a CA's existing log, extended by a second ceremony"
CA_LOG="$TMP/ca-audit.log"
expect_success "$HSM_AUDIT_TOOL" note "$CA_LOG" "the CA's log, before the second ceremony"
D2="$TMP/ceremony2"
ceremony_env ca
export CEREMONY_KEY_LABEL=root-2 CEREMONY_KEY_ID=b2 CEREMONY_AUDIT_LOG="$CA_LOG"
steps "$D2" 1 2 3
check "openssl-hsm.cnf names the CA's log" grep -qx "audit-log = $CA_LOG" "$D2/openssl-hsm.cnf"
expect_success "$HSM_AUDIT_TOOL" verify --cert "$D2/root.pem" "$CA_LOG"
expect_success "$HSM_AUDIT_TOOL" verify "$CA_LOG"
check "the CA's note is still the first record" \
    test "$(sed -n 2p "$CA_LOG" | jq -r .text)" = "the CA's log, before the second ceremony"
check "no log was made in the ceremony directory" test ! -e "$D2/audit.log"
finish
