#!/usr/bin/env bash
# Story: with audit-log set, every refusal of the policy is recorded. A load
# refused before any key exists (a wrong PIN, no such object, two keys for
# one URI, two tokens with one label, no token with the label, public views
# of the key that disagree) leaves a "load" record with the URI as asked without its PIN,
# the token when one was chosen, and the provider's reason, and no key
# members. A long-lived process whose key was replaced on the token under
# it is refused the next signature, and that refusal is recorded with the
# key it had loaded (its old fingerprint), the digest it was asked to sign
# and no signature.
# shellcheck source-path=SCRIPTDIR source=audit_lib.sh disable=SC2317,SC2016 # run through _run
. "$(dirname "$0")/audit_lib.sh"

make_token audit
audit_serial=$TOKEN_SERIAL
make_key audit EC:prime256v1 01 ec
make_key audit EC:prime256v1 02 twin
make_key audit EC:prime256v1 03 twin
make_key audit EC:prime256v1 05 viewed
make_token dup
make_token dup
require
TOKEN_SERIAL=$audit_serial
# A certificate of another key under the id of "viewed": its views disagree.
plain_openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout other.key -subj /CN=other -days 1 -outform DER -out other.der 2>/dev/null
expect_success p11 audit --login --pin "$USER_PIN" --write-object other.der --type cert \
    --id 05 --label viewed
require
audit_cnf "$TMP/audit.cnf"

# load_refused URI-PATH REASON [token] : a load of URI-PATH (with the PIN in
# its query) is refused with REASON, and recorded.
load_refused() {
    local path=$1 reason=$2 pin=${PIN:-$USER_PIN} before n
    echo "--- refused: $path"
    before=$(records)
    expect_failure_with --any-file "$reason" \
        audit_openssl pkey -in "$path?pin-value=$pin" -pubout -out "$TMP/pub.out" || return 1
    n=$(tail -n +$((before + 1)) "$LOG" | jq -c 'select(.operation == "load")' | wc -l)
    check "one load record for the refused load (found $n)" test "$n" = 1
    record_where '.operation == "load"' "$path" || return 1
    expect_field uri "$path"
    expect_field result refused
    expect_field reason "$reason"
    expect_field_matches detail '.'
    expect_absent key key_sha256 mechanism digest data_sha256 data_len signature_sha256
    if [ "${3:-}" = token ]; then
        expect_token_fields audit
    else
        expect_absent token_label token_serial token_model token_manufacturer
    fi
}

PIN=Wr0ngPin load_refused "pkcs11:token=audit;object=ec;type=private" "wrong PIN" token
load_refused "pkcs11:token=audit;object=nosuch;type=private" "no object matches the URI" token
load_refused "pkcs11:token=audit;object=twin;type=private" "several objects match the URI" token
load_refused "pkcs11:token=dup;object=k;type=private" "several tokens match the URI"
load_refused "pkcs11:token=nosuch;object=ec;type=private" "no token matches the URI"
load_refused "pkcs11:token=audit;object=viewed;type=private" \
    "public key views of the key disagree" token
check "the wrong PIN is nowhere in the log" bash -c '! grep -q Wr0ngPin "$1"' _ "$LOG"

echo "--- a held key replaced on the token"
plain_openssl rand -out data 500
save_pubkey_by_id audit 01 old.pub
holder_start "$TMP/audit.cnf" || finish
holder_send "load ec pkcs11:token=audit;id=%01;object=ec;type=private?pin-value=$USER_PIN"
check "the holder loads the key" grep -q '^ok' <<<"$HOLDER_REPLY"
holder_send "sign ec $TMP/data $TMP/before.sig"
check "the holder signs" grep -q '^ok' <<<"$HOLDER_REPLY"
expect_success p11 audit --login --pin "$USER_PIN" --delete-object --type privkey --id 01
expect_success p11 audit --login --pin "$USER_PIN" --delete-object --type pubkey --id 01
make_key audit EC:prime256v1 01 ec
holder_send "sign ec $TMP/data $TMP/after.sig"
check "the next signature is refused: key changed" \
    grep -q "^err.*key changed on token since it was loaded" <<<"$HOLDER_REPLY"
check "... and no signature was written" test ! -e after.sig
holder_stop
if record_where '.operation == "sign" and .result == "refused"' "the refused signature"; then
    expect_field key "$(canonical_uri audit "$TOKEN_SERIAL" 01 ec)"
    expect_field key_sha256 "$(spki_sha256 old.pub)"
    expect_field reason "key changed on token since it was loaded"
    expect_field_matches detail '.'
    expect_field mechanism CKM_ECDSA
    expect_field data_sha256 "$(digest_sha256 sha256 data)"
    expect_absent signature_sha256
    expect_field program "$HSM_KEY_HOLDER"
fi
record_where ".operation == \"sign\" and .result == \"ok\" and
    .signature_sha256 == \"$(sha256_file before.sig)\"" "the signature before the swap"
expect_chain_holds
finish
