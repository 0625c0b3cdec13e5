#!/usr/bin/env bash
# Story: an auditor checks a log the provider wrote while a CA worked
# (loads, signatures, decryptions, a refusal, notes between them). The
# chain verifies. Then every line in turn is edited, deleted, or swapped
# with the next, and `hsm-audit verify` names that line (exit status 1);
# an edited line whose hash was recomputed is named at the next line, whose
# prev no longer matches. Removing the last line leaves a shorter chain
# that holds: what docs/audit-log.md says the chain cannot show.
# shellcheck source-path=SCRIPTDIR source=audit_lib.sh disable=SC2317,SC2016 # run through _run
. "$(dirname "$0")/audit_lib.sh"

make_token audit
make_key audit EC:prime256v1 01 ec
make_key audit rsa:2048 02 rsa
require
save_pubkey_by_id audit 02 rsa.pub
audit_cnf "$TMP/audit.cnf"
plain_openssl rand -out data 100
uri() { printf 'pkcs11:token=audit;object=%s;type=private?pin-value=%s' "$1" "$USER_PIN"; }

expect_success hsm_audit note "$LOG" "ceremony begins; witness: A. Auditor"
expect_success audit_openssl dgst -sha256 -sign "$(uri ec)" -out ec.sig data
expect_success audit_openssl dgst -sha384 -sign "$(uri rsa)" -out rsa.sig data
plain_openssl pkeyutl -encrypt -pubin -inkey rsa.pub -in data -out data.enc
expect_success audit_openssl pkeyutl -decrypt -inkey "$(uri rsa)" -in data.enc -out data.dec
expect_failure_with --any-file "no object matches" \
    audit_openssl pkey -in "$(uri nosuch)" -pubout -out "$TMP/x.pub"
expect_success hsm_audit note "$LOG" "ceremony ends"
require
N=$(records)
check "a header and 9 records: 2 notes, 3 proofs, 2 signatures, 1 decryption, 1 refusal" \
    test "$N" -eq 10
expect_chain_holds 9
require
cp "$LOG" orig.log

# rehash LINE : LINE with its hash recomputed over its body, as a forger
# who knows the format would write it.
rehash() {
    local body=${1%,\"hash\":*}
    printf '%s,"hash":"%s"}\n' "$body" "$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)"
}

for n in $(seq "$N"); do
    echo "--- line $n"
    # Edited: the year of its time (every line has one), hash left as it was.
    sed "${n}s/\"time\":\"2/\"time\":\"1/" orig.log >"$LOG"
    expect_broken_at "$n"
    assert_output_contains "does not match its hash"
    # Edited and re-hashed: the next line's prev gives it away.
    { sed -n "1,$((n - 1))p" orig.log; rehash "$(sed -n "${n}p" orig.log | sed 's/"time":"2/"time":"1/')"
        sed -n "$((n + 1)),\$p" orig.log; } >"$LOG"
    if [ "$n" -lt "$N" ]; then
        expect_broken_at $((n + 1))
    elif [ "$n" -gt 1 ]; then
        expect_chain_holds # the last line re-hashed: nothing after it to tell
    fi
    if [ "$n" -lt "$N" ]; then
        sed "${n}d" orig.log >"$LOG"
        expect_broken_at "$n"
        sed -n "${n}p" orig.log >line.txt
        sed "${n}d" orig.log | sed "${n}r line.txt" >"$LOG"
        check "line $n swapped with line $((n + 1))" \
            test "$(sed -n "$((n + 1))p" "$LOG")" = "$(sed -n "${n}p" orig.log)"
        expect_broken_at "$n"
    fi
done

echo "--- what the chain cannot show"
sed '$d' orig.log >"$LOG"
expect_chain_holds $((N - 2))
cp orig.log "$LOG"
expect_chain_holds $((N - 1))
finish
