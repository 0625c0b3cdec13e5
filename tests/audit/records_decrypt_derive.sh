#!/usr/bin/env bash
# Story: a server decrypts and agrees keys with token keys while audit-log
# is set. Each RSA decryption (PKCS#1 v1.5 over raw RSA, OAEP) and each
# ECDH derivation leaves one record: the key, the mechanism, the OAEP
# digest, and the SHA-256 and length of what the key was applied to (the
# ciphertext; the peer's public point, as plain OpenSSL encodes it), never
# the plaintext or the secret. A ciphertext whose padding is bad decrypts
# (implicit rejection) and leaves a record with the same members as a good
# one: the log is no padding oracle.
# shellcheck source-path=SCRIPTDIR source=audit_lib.sh disable=SC2317,SC2016 # run through _run
. "$(dirname "$0")/audit_lib.sh"

make_token audit
make_key audit rsa:2048 01 dec
make_key audit EC:prime256v1 02 ecdh
require
save_pubkey_by_id audit 01 dec.pub
save_pubkey_by_id audit 02 ecdh.pub
require
audit_cnf "$TMP/audit.cnf"

DEC_URI="pkcs11:token=audit;object=dec;type=private?pin-value=$USER_PIN"
ECDH_URI="pkcs11:token=audit;object=ecdh;type=private?pin-value=$USER_PIN"

# decrypted NAME CIPHERTEXT MECHANISM [DIGEST] : the last decrypt record is
# this decryption's.
decrypted() {
    echo "--- $1"
    record_where '.operation == "decrypt"' "$1" || return 1
    expect_field key "$(canonical_uri audit "$TOKEN_SERIAL" 01 dec)"
    expect_field key_sha256 "$(spki_sha256 dec.pub)"
    expect_token_fields audit
    expect_field mechanism "$3"
    if [ -n "${4:-}" ]; then expect_field digest "$4"; else expect_absent digest; fi
    expect_field data_sha256 "$(sha256_file "$2")"
    expect_field data_len "$(stat -c %s "$2")"
    expect_field result ok
    expect_absent signature_sha256 reason detail
}

plain_openssl rand -out m100 100
plain_openssl pkeyutl -encrypt -pubin -inkey dec.pub -in m100 -out good.enc
expect_success audit_openssl pkeyutl -decrypt -inkey "$DEC_URI" -in good.enc -out good.dec &&
    check "PKCS#1 v1.5: the plaintext is the message" cmp -s m100 good.dec &&
    decrypted "PKCS#1 v1.5, good padding" good.enc CKM_RSA_X_509
good_members=$(jq -r 'keys_unsorted | join(" ")' <<<"$REC")

# Signature padding (00 01 ff .. 00 m) under encryption: a bad v1.5 padding.
{ printf '\000\001'; head -c 221 /dev/zero | tr '\000' '\377'; printf '\000'; head -c 32 m100; } \
    >bad.block
plain_openssl pkeyutl -encrypt -pubin -inkey dec.pub -pkeyopt rsa_padding_mode:none \
    -in bad.block -out bad.enc
expect_success audit_openssl pkeyutl -decrypt -inkey "$DEC_URI" -in bad.enc -out bad.dec &&
    decrypted "PKCS#1 v1.5, bad padding (implicit rejection)" bad.enc CKM_RSA_X_509 &&
    expect_members "$good_members"

plain_openssl pkeyutl -encrypt -pubin -inkey dec.pub -pkeyopt rsa_padding_mode:oaep \
    -in m100 -out oaep.enc
expect_success audit_openssl pkeyutl -decrypt -inkey "$DEC_URI" -pkeyopt rsa_padding_mode:oaep \
    -in oaep.enc -out oaep.dec &&
    check "OAEP: the plaintext is the message" cmp -s m100 oaep.dec &&
    decrypted "OAEP (SHA-1, the token's only OAEP digest)" oaep.enc CKM_RSA_PKCS_OAEP SHA1

echo "--- ECDH"
plain_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out peer.key 2>/dev/null
plain_openssl pkey -in peer.key -pubout -out peer.pub
expect_success audit_openssl pkeyutl -derive -inkey "$ECDH_URI" -peerkey peer.pub \
    -out token.secret &&
    expect_success plain_openssl pkeyutl -derive -inkey peer.key -peerkey ecdh.pub \
        -out peer.secret &&
    check "the token's secret is the peer's" cmp -s token.secret peer.secret
# The peer's point: the last 65 bytes of its SubjectPublicKeyInfo.
plain_openssl pkey -pubin -in peer.pub -outform DER | tail -c 65 >peer.point
if record_where '.operation == "derive"'; then
    expect_field key "$(canonical_uri audit "$TOKEN_SERIAL" 02 ecdh)"
    expect_field key_sha256 "$(spki_sha256 ecdh.pub)"
    expect_field mechanism CKM_ECDH1_DERIVE
    expect_field data_sha256 "$(sha256_file peer.point)"
    expect_field data_len 65
    expect_field result ok
    expect_absent digest signature_sha256
fi

echo "--- the log"
for secret in m100 good.dec bad.dec token.secret; do
    check "neither $secret nor its SHA-256 is in the log" bash -c \
        '! grep -qiF -e "$(sha256sum "$1" | cut -d" " -f1)" -e "$(od -An -tx1 "$1" | tr -d " \n")" "$2"' \
        _ "$secret" "$LOG"
done
check "3 decryptions and 1 derivation, each after its load's proof" \
    test "$(jq -r .operation "$LOG" | sort | uniq -c | tr -s ' ' | paste -sd,)" = \
    " 3 decrypt, 1 derive, 1 null, 4 prove-possession"
expect_chain_holds 8
finish
