#!/usr/bin/env bash
# Story: an auditor is handed a certificate and asks whether the CA's log
# accounts for it. A root made with `openssl req -x509 -key pkcs11:...` and
# leaf certificates issued with `openssl x509 -req -CAkey pkcs11:...`
# (ECDSA, and RSA-PSS) through the provider with audit-log set are each
# found by `hsm-audit verify --cert`, in the record of the key whose public
# key the issuer certificate carries; a certificate with the same subject
# and issuer name but signed elsewhere is not found (exit status 1).
# shellcheck source-path=SCRIPTDIR source=audit_lib.sh disable=SC2317,SC2016 # run through _run
. "$(dirname "$0")/audit_lib.sh"

make_token ca
make_key ca EC:prime256v1 01 root
make_key ca rsa:2048 02 pss
require
audit_cnf "$TMP/audit.cnf"
uri() { printf 'pkcs11:token=ca;object=%s;type=private?pin-value=%s' "$1" "$USER_PIN"; }

# CA extensions given: the test's configuration has no v3_ca section, and
# OpenSSL 3.5's verify refuses an issuer without basicConstraints CA:TRUE.
ca_ext=(-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign")
expect_success audit_openssl req -new -x509 -key "$(uri root)" -subj /CN=Root -days 30 \
    "${ca_ext[@]}" -out root.pem
expect_success audit_openssl req -new -x509 -key "$(uri pss)" -subj "/CN=PSS Root" -days 30 \
    "${ca_ext[@]}" -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -out pss-root.pem
plain_openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
    -subj /CN=leaf -out leaf.csr 2>/dev/null
expect_success audit_openssl x509 -req -in leaf.csr -CA root.pem -CAkey "$(uri root)" \
    -CAcreateserial -days 10 -sha384 -out leaf.pem
expect_success audit_openssl x509 -req -in leaf.csr -CA pss-root.pem -CAkey "$(uri pss)" \
    -CAcreateserial -days 10 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest \
    -out pss-leaf.pem
require
expect_success plain_openssl verify -CAfile root.pem leaf.pem
expect_success plain_openssl verify -CAfile pss-root.pem pss-leaf.pem
expect_chain_holds

# found CERT ISSUER-CERT LABEL : the certificate's signature is in the log,
# made by the key the issuer certificate carries.
found() {
    local fp
    expect_success hsm_audit verify --cert "$1" "$LOG" || return 1
    assert_output_contains "object=$3;type=private"
    fp=$(plain_openssl x509 -in "$2" -noout -pubkey | plain_openssl pkey -pubin -outform DER |
        sha256sum | cut -d' ' -f1)
    assert_output_contains "$fp"
    cert_parts "$1" || { fail "cannot take $1 apart"; return 1; }
    record_where ".operation == \"sign\" and .signature_sha256 == \"$(sha256_file sig.bin)\"" &&
        expect_field key_sha256 "$fp"
}
found root.pem root.pem root
found pss-root.pem pss-root.pem pss
found leaf.pem root.pem root
found pss-leaf.pem pss-root.pem pss

# The same names, signed by a key the log never saw.
plain_openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout rogue.key -subj /CN=Root -days 30 "${ca_ext[@]}" -out rogue-root.pem 2>/dev/null
plain_openssl x509 -req -in leaf.csr -CA rogue-root.pem -CAkey rogue.key -CAcreateserial \
    -days 10 -sha384 -out rogue-leaf.pem 2>/dev/null
expect_failure_with --any-file "no record of the signature" \
    hsm_audit verify --cert rogue-leaf.pem "$LOG"
check "a certificate the log does not account for is exit status 1" test "$LAST_RC" -eq 1
finish
