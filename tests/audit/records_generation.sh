#!/usr/bin/env bash
# Story: a CA generates its keys on the token through the provider
# (openssl genpkey) with audit-log set. Each generation leaves a record
# naming the new key (its canonical URI and the SHA-256 of the public key
# pkcs11-tool reads from the token) and the mechanism, after the new key's
# possession proof. Each refusal (a label already in use, no such token, a
# wrong PIN) leaves a record with what is known: the URI as asked without
# its PIN (a PIN file's path is kept), the token when one was chosen, the provider's reason; the key
# members are absent.
# shellcheck source-path=SCRIPTDIR source=audit_lib.sh disable=SC2317,SC2016 # run through _run
. "$(dirname "$0")/audit_lib.sh"

make_token audit
require
audit_cnf "$TMP/audit.cnf"

# gen OUT ALGORITHM URI [PKEYOPT...] : genpkey through the provider.
gen() {
    local out=$1 alg=$2 uri=$3 o
    local -a opts=()
    shift 3
    for o in "$@"; do
        opts+=(-pkeyopt "$o")
    done
    audit_openssl genpkey -propquery '?provider=hsm' -algorithm "$alg" "${opts[@]}" \
        -pkeyopt "pkcs11_uri:$uri" -out "$out"
}

# generated IDHEX LABEL MECHANISM : the last generate record is this key's.
generated() {
    echo "--- generated $2"
    save_pubkey_by_id audit "$1" "$2.pub"
    record_where '.operation == "generate"' "$2" || return 1
    expect_field key "$(canonical_uri audit "$TOKEN_SERIAL" "$1" "$2")"
    expect_field key_sha256 "$(spki_sha256 "$2.pub")"
    expect_token_fields audit
    expect_field mechanism "$3"
    expect_field result ok
    expect_absent uri data_sha256 data_len signature_sha256 reason detail
    record_where ".operation == \"prove-possession\" and .pid == $(field pid) and
        .key == \"$(field key)\" and .result == \"ok\"" "the new key's proof"
}

expect_success gen ec.pem EC "$(gen_uri audit gen-ec %10)" group:P-256 &&
    generated 10 gen-ec CKM_EC_KEY_PAIR_GEN
expect_success gen rsa.pem RSA "$(gen_uri audit gen-rsa %11)" rsa_keygen_bits:2048 &&
    generated 11 gen-rsa CKM_RSA_PKCS_KEY_PAIR_GEN
expect_success gen ed.pem ED25519 "$(gen_uri audit gen-ed %12)" &&
    generated 12 gen-ed CKM_EC_EDWARDS_KEY_PAIR_GEN

# refused WHAT URI-AS-ASKED REASON [token] : the last generate record is a
# refusal of URI-AS-ASKED (its path, no PIN) for REASON.
refused() {
    echo "--- refused: $1"
    record_where '.operation == "generate" and .result == "refused"' "$1" || return 1
    expect_field uri "$2"
    expect_field reason "$3"
    expect_field_matches detail '.'
    expect_field mechanism CKM_EC_KEY_PAIR_GEN
    expect_absent key key_sha256 data_sha256 data_len signature_sha256
    if [ "${4:-}" = token ]; then
        expect_token_fields audit
    else
        expect_absent token_label token_serial token_model token_manufacturer
    fi
}

before=$(records)
count=$(count_objects audit)
expect_failure_with --any-file "already exists" \
    gen again.pem EC "$(gen_uri audit gen-ec %20)" group:P-256 &&
    refused "label in use" "pkcs11:token=audit;object=gen-ec;id=%20?pin-source=file:$PIN_FILE" \
        "an object with this label or id already exists on the token" token
check "nothing was made on the token" test "$(count_objects audit)" = "$count"
expect_failure_with --any-file "no token matches" \
    gen none.pem EC "pkcs11:token=nosuch;object=k?pin-value=$USER_PIN" group:P-256 &&
    refused "no such token" "pkcs11:token=nosuch;object=k" "no token matches the URI"
expect_failure_with --any-file "wrong PIN" \
    gen wrong.pem EC "pkcs11:token=audit;object=k2?pin-value=Wr0ngPin" group:P-256 &&
    refused "wrong PIN" "pkcs11:token=audit;object=k2" "wrong PIN" token
check "one record per refusal" test "$(records)" -eq $((before + 3))
check "the wrong PIN is nowhere in the log" bash -c '! grep -q Wr0ngPin "$1"' _ "$LOG"
expect_chain_holds 9
finish
