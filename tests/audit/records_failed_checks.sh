#!/usr/bin/env bash
# Story: a token that signs with another key than the one it publishes (the
# shim answers each C_Sign of key 01 with a forged ECDSA signature). With
# audit-log set, both checks that catch it leave their refusal in the log:
# at the load, the possession proof fails and is recorded as a refused
# "prove-possession" of that key (the challenge's digest, no signature),
# followed by the refused "load" of the URI; with check-possession = no,
# the signature fails verification after signing and is recorded as a
# refused "sign" with the digest asked for and no signature. Nothing signed
# reaches the program.
# shellcheck source-path=SCRIPTDIR source=audit_lib.sh disable=SC2317 # run through _run
. "$(dirname "$0")/audit_lib.sh"
# shellcheck source=../shim/shim_lib.sh
. "$HSM_SOURCE_ROOT/tests/shim/shim_lib.sh"
need_shim

make_token audit
make_key audit EC:prime256v1 01 ec
require
save_pubkey_by_id audit 01 pub.pem
write_provider_cnf "$TMP/audit.cnf" "pkcs11-module-path=$HSM_FAULT_SHIM" "audit-log=$LOG"
write_provider_cnf "$TMP/nocheck.cnf" "pkcs11-module-path=$HSM_FAULT_SHIM" "audit-log=$LOG" \
    check-possession=no
shim_control "forge-ecdsa 01"
plain_openssl rand -out "$TMP/data" 300
path="pkcs11:token=audit;object=ec;type=private"
key=$(canonical_uri audit "$TOKEN_SERIAL" 01 ec)
R_PROOF="token key failed the possession proof"
R_VERIFY="token signed with a key that does not match its published public key"

echo "--- the load's possession proof"
expect_failure_with --any-file "$R_PROOF" audit_openssl dgst -sha256 \
    -sign "$path?pin-value=$USER_PIN" -out "$TMP/proof.sig" "$TMP/data"
check "no signature was written" test ! -s "$TMP/proof.sig"
if record_where '.operation == "prove-possession"' "the failed proof"; then
    expect_field result refused
    expect_field reason "$R_PROOF"
    expect_field_matches detail '.'
    expect_field key "$key"
    expect_field key_sha256 "$(spki_sha256 pub.pem)"
    expect_token_fields audit
    expect_field mechanism CKM_ECDSA
    expect_field_matches data_sha256 '^[0-9a-f]{64}$'
    expect_absent signature_sha256 uri
    proof_seq=$(field seq)
fi
if record_where '.operation == "load"' "the refused load"; then
    expect_field uri "$path"
    expect_field result refused
    expect_field reason "$R_PROOF"
    expect_absent key key_sha256 signature_sha256
    check "the load's refusal follows the proof's" test "$(field seq)" -gt "${proof_seq:-0}"
fi

echo "--- verification after signing, without the proof"
expect_failure_with --any-file "$R_VERIFY" cnf_openssl "$TMP/nocheck.cnf" dgst -sha256 \
    -sign "$path?pin-value=$USER_PIN" -out "$TMP/verify.sig" "$TMP/data"
check "no signature was written" test ! -s "$TMP/verify.sig"
if record_where '.operation == "sign"' "the refused signature"; then
    expect_field result refused
    expect_field reason "$R_VERIFY"
    expect_field_matches detail '.'
    expect_field key "$key"
    expect_field key_sha256 "$(spki_sha256 pub.pem)"
    expect_field mechanism CKM_ECDSA
    expect_field digest SHA2-256
    expect_field data_sha256 "$(digest_sha256 sha256 "$TMP/data")"
    expect_field data_len 32
    expect_absent signature_sha256
fi
check "no signature was recorded as returned" \
    test "$(jq -c 'select(.result == "ok")' "$LOG" | wc -l)" = 0
expect_chain_holds
finish
