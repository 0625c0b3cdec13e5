#!/usr/bin/env bash
# Story (user story 001, FreeIPA/Dogtag on an HSM): an installer is given a
# token name, the PKCS#11 library's path and a PIN file, and nothing else.
# With an openssl.cnf holding just pkcs11-module-path and
# pkcs11-module-token-pin = file:PATH, `pkcs11:token=NAME;object=LABEL` is
# enough to generate the CA's RSA key on the token, self-sign it, or make a
# CSR for an external CA, with no prompt (stdin closed). A second token with
# the same name makes every one of those fail with "several tokens match the
# URI", listing both serials, and never picks one: nothing is generated on
# either token, no file is written. serial= in the URI (or
# CEREMONY_TOKEN_SERIAL for the ceremony) tells them apart.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"

make_token ipa
require
serial1=$TOKEN_SERIAL
write_provider_cnf install.cnf "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=file:$PIN_FILE"
check "the installer's configuration names a library and a PIN file, no PIN" \
    bash -c '! grep -qF -- "$1" install.cnf' _ "$USER_PIN"
key="pkcs11:token=ipa;object=caSigningCert%20cert-pki-ca"

echo "--- one token: the name is enough"
expect_success cnf_openssl install.cnf genpkey -propquery provider=hsm -algorithm RSA \
    -pkeyopt rsa_keygen_bits:2048 -pkeyopt "pkcs11_uri:$key" -out ca-key.pem
require
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label ipa --login --pin "$USER_PIN" \
    --list-objects >objects.txt 2>&1
check "the key is on the token, labelled 'caSigningCert cert-pki-ca'" \
    grep -qE '^ +label: +caSigningCert cert-pki-ca$' objects.txt
id=$(awk '/^Private Key Object/ { p = 1 } p && $1 == "ID:" { print $2; exit }' objects.txt)
save_token_pubkey ipa "$id" ca.pub.pem
expect_success cnf_openssl install.cnf req -new -x509 -key "$key" -sha256 \
    -subj "/O=IPA.TEST/CN=Certificate Authority" -days 7300 -out ca.pem &&
    verify_root ca.pem ca.pub.pem
expect_success cnf_openssl install.cnf req -new -key "$key;type=private" -sha256 \
    -subj "/O=IPA.TEST/CN=Certificate Authority" -out ca.csr &&
    expect_success plain_openssl req -in ca.csr -verify -noout
plain_openssl req -in ca.csr -noout -pubkey >csr.pub.pem 2>/dev/null
same_pubkey "the CSR for an external CA carries the token's key" csr.pub.pem ca.pub.pem

echo "--- a second token with the same name"
make_token ipa
require
serial2=$TOKEN_SERIAL
count1=$(object_count "slot:$(softhsm2-util --show-slots | awk -v s="$serial1" '
    /^Slot [0-9]+ *$/ { cur = $2 } $1 == "Serial" && $3 == s { print cur; exit }')")
count2=$(object_count "slot:$TOKEN_SLOT")
# ambiguous CMD... : fails with the ambiguity error naming both serials.
ambiguous() {
    expect_failure_with --any-file "several tokens match the URI" "$@" &&
        assert_output_contains "$serial1" && assert_output_contains "$serial2"
}
ambiguous cnf_openssl install.cnf genpkey -propquery provider=hsm -algorithm RSA \
    -pkeyopt rsa_keygen_bits:2048 -pkeyopt "pkcs11_uri:pkcs11:token=ipa;object=subsystemCert" \
    -out subsystem-key.pem
check "the failed genpkey left no key reference" test ! -s subsystem-key.pem
ambiguous cnf_openssl install.cnf req -new -x509 -key "$key" \
    -subj "/CN=Certificate Authority" -days 30 -out ambiguous.pem
ambiguous cnf_openssl install.cnf req -new -key "$key" \
    -subj "/CN=Certificate Authority" -out ambiguous.csr
check "no certificate or CSR was written" test ! -e ambiguous.pem -a ! -e ambiguous.csr
check "the first token still holds $count1 objects" \
    test "$(object_count "slot:$(softhsm2-util --show-slots | awk -v s="$serial1" '
        /^Slot [0-9]+ *$/ { cur = $2 } $1 == "Serial" && $3 == s { print cur; exit }')")" = "$count1"
check "the second token still holds $count2 objects" test "$(object_count "slot:$TOKEN_SLOT")" = "$count2"
expect_success cnf_openssl install.cnf req -new -x509 -key "pkcs11:token=ipa;serial=$serial1;object=caSigningCert%20cert-pki-ca" \
    -subj "/CN=Certificate Authority" -days 30 -out by-serial.pem &&
    verify_root by-serial.pem ca.pub.pem

echo "--- the ceremony: the same refusal, and the serial to choose"
ceremony_env ipa
export CEREMONY_KEY_LABEL=auditSigningCert
step_fails 1 "$TMP/c1" "several tokens match the label 'ipa'"
assert_output_contains "$serial1"
nothing_changed "two tokens named ipa" "$TMP/c1" "" "slot:$TOKEN_SLOT" "$count2"
CEREMONY_TOKEN_SERIAL=$serial2 steps "$TMP/c2" 1 2 3 4
check "the key was made on the second token" grep -q "serial=$serial2" "$TMP/c2/key.uri"
save_token_pubkey "slot:$TOKEN_SLOT" 01 audit.pub.pem
verify_root "$TMP/c2/root.pem" audit.pub.pem

finish
