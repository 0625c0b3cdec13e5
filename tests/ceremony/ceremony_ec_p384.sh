#!/usr/bin/env bash
# Story (issue 6): a root CA's key ceremony, run from start to finish with
# run-ceremony.sh and a parameter file, as examples/ceremony/README.md
# tells an operator to:
# an EC P-384 root key generated on the token, the self-signed root, its
# check without the HSM, an intermediate signed from a CSR, the first CRL,
# and a transcript. Every output is checked again here with plain OpenSSL
# and against the token itself (pkcs11-tool); running the ceremony a second
# time into the same directory is refused and changes nothing.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"

make_token ca
require
make_csr intermediate
D="$TMP/ceremony"
cat >params <<EOF
# test ceremony
CEREMONY_MODULE=$SOFTHSM_MODULE
CEREMONY_TOKEN=ca
CEREMONY_PROVIDER=$HSM_PROVIDER_DIR/hsm.so
CEREMONY_KEY_LABEL=root-2026
CEREMONY_KEY_ID=a1b2
CEREMONY_KEY_TYPE=ec-p384
CEREMONY_PIN_FILE=token.pin
CEREMONY_ROOT_SUBJECT=/C=XX/O=Ceremony Test/CN=Test Root CA 2026
CEREMONY_ROOT_DAYS=7300
CEREMONY_DIGEST=sha384
CEREMONY_CSR=intermediate.csr
CEREMONY_INTERMEDIATE_DAYS=1825
CEREMONY_PATHLEN=1
CEREMONY_INTERMEDIATE_KEY_USAGE=digitalSignature,keyCertSign,cRLSign
CEREMONY_CRL_URL=http://pki.example.test/root-2026.crl
CEREMONY_CRL_DAYS=7
EOF

# A misspelt parameter stops the ceremony before it starts.
{ cat params; echo "CEREMONY_TOKN=ca"; } >bad.params
expect_failure_with --any-file "unknown parameter CEREMONY_TOKN" /bin/sh \
    "$CEREMONY_HOME/run-ceremony.sh" bad.params "$TMP/not-started"
check "... and makes no ceremony directory" test ! -e "$TMP/not-started"

# Parameters from the environment are ignored: the file alone decides.
CEREMONY_KEY_LABEL=from-env expect_success timeout -k 10 300 /bin/sh \
    "$CEREMONY_HOME/run-ceremony.sh" params "$D"
require
run_out=$LAST_OUT
assert_output_contains "The ceremony is complete"

for f in openssl-hsm.cnf token.txt key.uri root-key.pem root-key.pub.pem root-key.spki.sha256 \
    root.cnf root-request.txt root.pem root-check.txt ca.cnf intermediate.cnf \
    intermediate.csr intermediate.pem crl-01.pem transcript.log; do
    check "the ceremony wrote $f" test -s "$D/$f"
done
check "no partial output or lock is left" \
    test -z "$(find "$D" -maxdepth 1 \( -name '.partial-*' -o -name .lock \))"

echo "--- the key, on the token (pkcs11-tool)"
save_token_pubkey ca a1b2 token.pub.pem
fpr=$(spki_sha256 token.pub.pem)
check "the fingerprint shown to the witnesses is the token key's ($fpr)" \
    grep -qF "$(printf '%s\n' "$fpr" | sed 's/..../& /g; s/ $//')" "$run_out"
check "root-key.spki.sha256 holds it" grep -qx "SHA256:$fpr" "$D/root-key.spki.sha256"
same_pubkey "root-key.pub.pem is the token's public key" "$D/root-key.pub.pem" token.pub.pem
pkcs11-tool --module "$SOFTHSM_MODULE" --token-label ca --login --pin "$USER_PIN" \
    --list-objects >objects.txt 2>&1
awk '/^Private Key Object/ { p = 1; next } /^[A-Za-z]/ { p = 0 } p' objects.txt >priv.txt
check "the private key has the label root-2026 (not the environment's)" \
    grep -qE '^ +label: +root-2026$' priv.txt
check "the private key is EC on the token" grep -q '^Private Key Object; EC' objects.txt
check "the token reports it sensitive and never extractable" \
    grep -qE 'Access: +sensitive, always sensitive, never extractable' priv.txt
check "root-key.pem names the key by URI (the provider's reference OID)" \
    grep -q '2.25.66901314653364937060485567949883125691' <(plain_openssl asn1parse -in "$D/root-key.pem")
check "root-key.pem holds no key plain OpenSSL could use" \
    bash -c '! env OPENSSL_CONF=/dev/null openssl pkey -in "$1" -noout' _ "$D/root-key.pem"

echo "--- the root, with plain OpenSSL"
verify_root "$D/root.pem" token.pub.pem
plain_openssl x509 -in "$D/root.pem" -noout -ext basicConstraints,keyUsage >root-ext.txt
check "root: basicConstraints critical CA:TRUE" \
    grep -qzP 'Basic Constraints: critical\n +CA:TRUE\n' root-ext.txt
check "root: keyUsage critical Certificate Sign, CRL Sign" \
    grep -qzP 'Key Usage: critical\n +Certificate Sign, CRL Sign\n' root-ext.txt
# (RFC 2253 form: OpenSSL 3.0 and 3.5 print it alike; their default forms differ)
check "root: subject as asked" grep -qx 'subject=CN=Test Root CA 2026,O=Ceremony Test,C=XX' \
    <(plain_openssl x509 -in "$D/root.pem" -noout -subject -nameopt RFC2253)
check "root: signed with ecdsa-with-SHA384" \
    grep -q 'Signature Algorithm: ecdsa-with-SHA384' <(plain_openssl x509 -in "$D/root.pem" -noout -text)
check "root: valid for 7300 days" plain_openssl x509 -in "$D/root.pem" -noout -checkend $((7299 * 86400))
check_not_valid=$(plain_openssl x509 -in "$D/root.pem" -noout -checkend $((7301 * 86400)) >/dev/null; echo $?)
check "root: ... and not longer" test "$check_not_valid" = 1
check "root-check.txt has only passed checks" bash -c '! grep -qv -e "^PASS " -e "^#" "$1"' _ \
    "$D/root-check.txt"

echo "--- the intermediate, with plain OpenSSL"
expect_success plain_openssl verify -x509_strict -CAfile "$D/root.pem" "$D/intermediate.pem" &&
    assert_output_contains ": OK"
plain_openssl req -in "$TMP/intermediate.csr" -noout -pubkey >csr.pub.pem
plain_openssl x509 -in "$D/intermediate.pem" -noout -pubkey >int.pub.pem
same_pubkey "the intermediate carries the CSR's key" int.pub.pem csr.pub.pem
plain_openssl x509 -in "$D/intermediate.pem" -noout \
    -ext basicConstraints,keyUsage,crlDistributionPoints >int-ext.txt
check "intermediate: CA:TRUE, pathlen:1, critical" \
    grep -qzP 'Basic Constraints: critical\n +CA:TRUE, pathlen:1\n' int-ext.txt
check "intermediate: keyUsage as asked, critical" \
    grep -qzP 'Key Usage: critical\n +Digital Signature, Certificate Sign, CRL Sign\n' int-ext.txt
check "intermediate: the CRL distribution point" \
    grep -q 'URI:http://pki.example.test/root-2026.crl' int-ext.txt

echo "--- the CRL, with plain OpenSSL"
expect_success plain_openssl crl -in "$D/crl-01.pem" -CAfile "$D/root.pem" -noout &&
    assert_output_contains "verify OK"
expect_success plain_openssl verify -crl_check -CAfile "$D/root.pem" -CRLfile "$D/crl-01.pem" \
    "$D/intermediate.pem"
check "the CRL's number is 1" grep -qx 'crlNumber=0x01' \
    <(plain_openssl crl -in "$D/crl-01.pem" -noout -crlnumber)

echo "--- the transcript"
T="$D/transcript.log"
check "every transcript line starts with a UTC time or is indented output" \
    bash -c '! grep -vE "^(20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z \[|        \| )" "$1"' _ "$T"
for n in 1 2 3 4 5 6; do
    check "step $n began and completed" grep -qE "\[step $n \([a-z-]+\)\] completed$" "$T"
done
check "the transcript shows genpkey as run" grep -qE 'run: env OPENSSL_CONF=.* genpkey -propquery provider=hsm -algorithm EC -pkeyopt group:P-384' "$T"
check "the transcript shows req as run" grep -qE 'run: env OPENSSL_CONF=.*openssl-hsm.cnf .* req -new -x509' "$T"
check "the transcript shows openssl ca as run" grep -qE 'run: env OPENSSL_CONF=.*openssl-hsm.cnf .* ca -batch' "$T"
check "the checks ran without the provider" grep -qE 'run: env OPENSSL_CONF=/dev/null .* verify -x509_strict -check_ss_sig' "$T"
bad=0
while read -r name hash; do
    [ "$(sha256sum "$D/$name" | cut -d' ' -f1)" = "$hash" ] || { bad=1; echo "  | $name: $hash"; }
done < <(sed -n 's/.* wrote \([^ ]*\) sha256 \([0-9a-f]*\)$/\1 \2/p' "$T")
check "every output's SHA-256 in the transcript is the file's" test "$bad" = 0
check "the transcript names 15 outputs with their SHA-256" \
    test "$(grep -c ' wrote [^ ]* sha256 [0-9a-f]\{64\}$' "$T")" -eq 15
shown=$(sed -n 's/^transcript.log sha256 //p' "$run_out")
check "the transcript hash shown at the end is the file's" \
    test "$shown" = "$(sha256sum "$T" | cut -d' ' -f1)"
check "the PIN appears in no file of the ceremony" bash -c '! grep -rqF -- "$1" "$2"' _ "$USER_PIN" "$D"
check "... nor on the terminal" bash -c '! grep -qF -- "$1" "$2"' _ "$USER_PIN" "$run_out"

echo "--- later: the intermediate is revoked, and the next CRL lists it"
serial=$(plain_openssl x509 -in "$D/intermediate.pem" -noout -serial | sed 's/^serial=//')
uri=$(sed -n 's/.*\] the root key: //p' "$D/transcript.log" | head -1)
CEREMONY_CA_DIR="$D/ca" expect_success cnf_openssl "$D/openssl-hsm.cnf" ca -config "$D/ca.cnf" \
    -cert "$D/root.pem" -keyfile "$uri" -revoke "$D/ca/newcerts/$serial.pem" -crl_reason superseded
expect_success step 6 "$D"
check "crl-02.pem was made" test -s "$D/crl-02.pem"
expect_failure_with --any-file "certificate revoked" plain_openssl verify -crl_check \
    -CAfile "$D/root.pem" -CRLfile "$D/crl-02.pem" "$D/intermediate.pem"
check "crl-02.pem lists the intermediate's serial" grep -q "Serial Number: $serial" \
    <(plain_openssl crl -in "$D/crl-02.pem" -noout -text)

echo "--- a second run into the same directory"
before=$(dir_state "$D")
count=$(object_count ca)
expect_failure_with --any-file "openssl-hsm.cnf already exists" timeout -k 10 120 /bin/sh \
    "$CEREMONY_HOME/run-ceremony.sh" params "$D" &&
    assert_output_contains "FAILED at step 1 (prepare)" &&
    assert_output_contains "the ceremony stopped at step 1-prepare"
nothing_changed "second run" "$D" "$before" ca "$count"

finish
