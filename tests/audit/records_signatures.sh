#!/usr/bin/env bash
# Story: a CA signs through the provider with audit-log set. Each signature
# (ECDSA with SHA-256 and SHA-384, RSA PKCS#1 v1.5, RSA-PSS, Ed25519 over
# the message itself) leaves one record, and each load one possession
# proof, checked field by field against what plain OpenSSL and the token
# give independently: the key's canonical URI and the SHA-256 of the public
# key pkcs11-tool reads, the token's fields, the mechanism and digest, the
# SHA-256 of the digest given to the token (plain OpenSSL's digest of the
# file) and of the signature the application got (the file it wrote, which
# plain OpenSSL verifies), the process, user and command line (the PIN
# masked). Absent facts are absent, not empty; the chain verifies.
# shellcheck source-path=SCRIPTDIR source=audit_lib.sh disable=SC2317,SC2016 # run through _run
. "$(dirname "$0")/audit_lib.sh"

make_token audit
make_key audit EC:prime256v1 01 ec
make_key audit rsa:2048 02 rsa
expect_success p11 audit --login --pin "$USER_PIN" --keypairgen --key-type EC:edwards25519 \
    --id 03 --label ed
require
save_pubkey_by_id audit 01 ec.pub
save_pubkey_by_id audit 02 rsa.pub
save_pubkey_by_id audit 03 ed.pub
require
audit_cnf "$TMP/audit.cnf"
plain_openssl rand -out data 1000

SIGN_MEMBERS="v seq type time host pid program cmdline uid user operation key key_sha256"
SIGN_MEMBERS="$SIGN_MEMBERS token_label token_serial token_model token_manufacturer mechanism"

# signed NAME IDHEX LABEL MECHANISM DIGEST(openssl name, or "" for EdDSA)
#   SIGFILE CMDLINE : the last sign record and the possession proof before
# it (same process) are the ones this signature made.
signed() {
    local name=$1 id=$2 label=$3 mech=$4 md=$5 sig=$6 cmdline=$7 pid
    echo "--- $name"
    record_where '.operation == "sign"' "$name" || return 1
    expect_process_facts "$cmdline"
    expect_field program "$OPENSSL_BIN"
    expect_field type operation
    expect_field key "$(canonical_uri audit "$TOKEN_SERIAL" "$id" "$label")"
    expect_field key_sha256 "$(spki_sha256 "$label.pub")"
    expect_token_fields audit
    expect_field mechanism "$mech"
    if [ -n "$md" ]; then
        # OpenSSL's own name of the digest (EVP_MD_get0_name).
        expect_field digest "${md/sha/SHA2-}"
        expect_field data_sha256 "$(digest_sha256 "$md" data)"
        expect_field data_len "$(plain_openssl dgst "-$md" -binary data | wc -c)"
        expect_members "$SIGN_MEMBERS digest data_sha256 data_len signature_sha256 result prev hash"
    else
        expect_absent digest
        expect_field data_sha256 "$(sha256_file data)"
        expect_field data_len 1000
        expect_members "$SIGN_MEMBERS data_sha256 data_len signature_sha256 result prev hash"
    fi
    expect_field signature_sha256 "$(sha256_file "$sig")"
    expect_field result ok
    expect_absent reason detail uri
    pid=$(field pid)
    record_where ".operation == \"prove-possession\" and .pid == $pid" "$name: the load's proof" ||
        return 1
    expect_field key "$(canonical_uri audit "$TOKEN_SERIAL" "$id" "$label")"
    # The proof signs with PKCS#1 v1.5 unless the key is restricted to PSS.
    expect_field mechanism "${mech%_PSS}"
    expect_field data_len 32
    expect_field_matches signature_sha256 '^[0-9a-f]{64}$'
    expect_field result ok
}

uri() { printf 'pkcs11:token=audit;object=%s;type=private?pin-value=%s' "$1" "$USER_PIN"; }
masked() { printf 'pkcs11:token=audit;object=%s;type=private?pin-value=****' "$1"; }

for md in sha256 sha384; do
    expect_success audit_openssl dgst "-$md" -sign "$(uri ec)" -out "ec-$md.sig" data &&
        expect_success plain_openssl dgst "-$md" -verify ec.pub -signature "ec-$md.sig" data &&
        signed "ECDSA $md" 01 ec CKM_ECDSA "$md" "ec-$md.sig" \
            "$OPENSSL_BIN dgst -$md -sign $(masked ec) -out ec-$md.sig data"
done

expect_success audit_openssl dgst -sha256 -sign "$(uri rsa)" -out rsa.sig data &&
    expect_success plain_openssl dgst -sha256 -verify rsa.pub -signature rsa.sig data &&
    signed "RSA PKCS#1 v1.5" 02 rsa CKM_RSA_PKCS sha256 rsa.sig \
        "$OPENSSL_BIN dgst -sha256 -sign $(masked rsa) -out rsa.sig data"

expect_success audit_openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sign "$(uri rsa)" \
    -out pss.sig data &&
    expect_success plain_openssl dgst -sha256 -sigopt rsa_padding_mode:pss -verify rsa.pub \
        -signature pss.sig data &&
    signed "RSA-PSS" 02 rsa CKM_RSA_PKCS_PSS sha256 pss.sig \
        "$OPENSSL_BIN dgst -sha256 -sigopt rsa_padding_mode:pss -sign $(masked rsa) -out pss.sig data"

expect_success audit_openssl pkeyutl -sign -rawin -inkey "$(uri ed)" -in data -out ed.sig &&
    expect_success plain_openssl pkeyutl -verify -rawin -pubin -inkey ed.pub -in data \
        -sigfile ed.sig &&
    signed "Ed25519" 03 ed CKM_EDDSA "" ed.sig \
        "$OPENSSL_BIN pkeyutl -sign -rawin -inkey $(masked ed) -in data -out ed.sig"

echo "--- the log"
check "no PIN in the log" bash -c '! grep -qF -- "$1" "$2"' _ "pin-value=$USER_PIN" "$LOG"
check "the log is mode 0600" test "$(stat -c %a "$LOG")" = 600
# 5 signatures, each after a load that proved possession.
check "10 records: 5 proofs and 5 signatures" test "$(records)" -eq 11
expect_chain_holds 10
finish
