#!/usr/bin/env bash
# Story: a forking server's workers and a multi-threaded CA tool share one
# audit log. 8 threads of one process (one shared key) and 4 processes
# (each loading the key, one after the other, before anyone signs) sign
# 1,000 times each through the provider, all at once (audit_signers.c;
# every signature verified there with plain OpenSSL). The log then holds exactly 12,000 signature records and the 5
# loads' proofs, no line broken or interleaved, one chain that verifies;
# the records are exactly the signatures the signers were given (the
# SHA-256 of each digest and signature), each once. HSM_AUDIT_SIGNATURES
# changes the 1,000.
# shellcheck source-path=SCRIPTDIR source=audit_lib.sh disable=SC2317,SC2016 # run through _run
. "$(dirname "$0")/audit_lib.sh"

THREADS=8
PROCESSES=4
EACH=${HSM_AUDIT_SIGNATURES:-1000}
TOTAL=$(((THREADS + PROCESSES) * EACH))

make_token audit
make_key audit EC:prime256v1 01 ec
require
save_pubkey_by_id audit 01 ec.pub
require
audit_cnf "$TMP/audit.cnf"
mkdir -p out

CMD_TIMEOUT=500 expect_success cnf_program "$TMP/audit.cnf" "$HSM_AUDIT_SIGNERS" \
    "pkcs11:token=audit;object=ec;type=private?pin-value=$USER_PIN" ec.pub \
    "$THREADS" "$PROCESSES" "$EACH" out
cat "$LAST_OUT"
head -c 3000 "$LAST_ERR"
require

echo "--- the log"
expect_chain_holds $((TOTAL + 1 + PROCESSES))
jq -r 'select(.operation == "sign" and .result == "ok") | .data_sha256 + " " + .signature_sha256' \
    "$LOG" | sort >logged.txt
cat out/signer-*.txt | sort >given.txt
check "$TOTAL signatures were given to the signers" test "$(wc -l <given.txt)" -eq "$TOTAL"
check "the log has exactly $TOTAL signature records" test "$(wc -l <logged.txt)" -eq "$TOTAL"
check "... each the record of a signature a signer was given, each once" cmp -s given.txt logged.txt
check "no record of a refusal" test "$(jq -c 'select(.result == "refused")' "$LOG" | wc -l)" -eq 0
check "5 possession proofs, one per load" \
    test "$(jq -c 'select(.operation == "prove-possession")' "$LOG" | wc -l)" -eq 5
check "the signatures came from 5 processes" \
    test "$(jq -r 'select(.operation == "sign") | .pid' "$LOG" | sort -u | wc -l)" -eq 5
check "seq counts the lines: the last is $((TOTAL + 5))" \
    test "$(tail -n 1 "$LOG" | jq -r .seq)" -eq $((TOTAL + 5))
finish
