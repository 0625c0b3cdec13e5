#!/usr/bin/env bash
# Story: the cross-check covers every public view of a key, however many
# there are and whether or not the token lets them be read. A key with 20
# certificates of its own under its id loads; one more certificate, of
# another key, makes every load fail with "public key views of the key
# disagree", naming that certificate, wherever the token lists it: also
# last, after the 20 (a middleware cache that lists the objects in that
# order, the shim's snapshot-serve of a reordered snapshot), where the
# provider once compared the first 12 views only. A certificate under the
# key's id whose value the token will not give (the shim's attr-error: a
# failing read, or a value kept sensitive) cannot be checked, so the key is
# not loaded and the error names the certificate; without the fault it
# loads again.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"
need_shim

make_token ca
make_key ca EC:prime256v1 01 k
require
save_token_pubkey ca 01 k.pem
policy_cnf direct.cnf "$SOFTHSM_MODULE"
policy_cnf shim.cnf "$HSM_FAULT_SHIM"
uri="pkcs11:token=ca;id=%01;type=private?pin-value=$USER_PIN"
# The error names two views: the first with its fingerprint, then a
# certificate with its own, "are different keys".
CERT_DIFFERS="and the certificate \(handle [0-9]+\) \(SHA-256 [0-9a-f]{64}\) are different keys"

# The key's own certificate, issued through the provider, stored 20 times.
expect_success cnf_openssl direct.cnf req -new -x509 -key "$uri" -subj /CN=k -days 30 \
    -outform DER -out k.crt.der
require
for i in $(seq 1 20); do
    p11 ca --write-object k.crt.der --type cert --id 01 --label "k-$i" >/dev/null
done
require
check "the token holds 20 certificates with id 01" \
    test "$(key_ids_on_token ca | grep -c '^cert 01$')" -eq 20
expect_success cnf_openssl direct.cnf req -new -x509 -key "$uri" -subj /CN=twenty -days 30 \
    -out twenty.pem && verify_root twenty.pem k.pem

# A 21st certificate under the same id, for another key.
plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key \
    -subj /CN=other -days 30 -outform DER -out other.crt.der 2>/dev/null
p11 ca --write-object other.crt.der --type cert --id 01 --label other
expect_failure_with "$R_VIEWS" cnf_openssl direct.cnf req -new -x509 -key "$uri" \
    -subj /CN=Root -days 30 -out root-21.pem &&
    assert_output_matches "$CERT_DIFFERS" "the error names the other certificate"
expect_failure_with --any-file "$R_VIEWS" cnf_openssl direct.cnf pkey -in "$uri" -pubout \
    -out pub-21.pem
# The same objects, listed with the other certificate last: a snapshot of
# the token (through the shim) whose object records are put in that order
# and served.
shim_control "snapshot-save $TMP/snap"
_run cnf_openssl shim.cnf pkey -in "$uri" -pubout -out snap-trigger.pem # a search, logged in
other_label=$(printf other | od -An -tx1 | tr -d ' \n')
awk -v other="attr 0x3 $other_label" '
    /^object$/ { block = $0 "\n"; inblock = 1; odd = 0; next }
    inblock { block = block $0 "\n"; if ($0 == other) odd = 1 }
    inblock && /^end$/ { inblock = 0; if (odd) held = held block; else printf "%s", block; next }
    !inblock { print }
    END { printf "%s", held }' "$TMP/snap" >"$TMP/snap.last"
check "the reordered snapshot lists the key, its public key and 21 certificates, the other last" \
    test "$(grep -c '^object$' "$TMP/snap.last")" -eq 23 -a \
    "$(grep '^attr 0x3 ' "$TMP/snap.last" | tail -1)" = "attr 0x3 $other_label"
shim_control "snapshot-serve $TMP/snap.last"
expect_failure_with "$R_VIEWS" cnf_openssl shim.cnf req -new -x509 -key "$uri" \
    -subj /CN=Root -days 30 -out root-last.pem &&
    assert_output_matches "$CERT_DIFFERS" "the error names the certificate listed last"
shim_control
p11 ca --delete-object --type cert --label other
expect_success cnf_openssl direct.cnf pkey -in "$uri" -pubout -out pub-20.pem &&
    same_pubkey "without it the key loads again" pub-20.pem k.pem

# A certificate the token will not read out.
for code in CKR_DEVICE_ERROR CKR_ATTRIBUTE_SENSITIVE; do
    shim_control "attr-error 01 CKA_VALUE $code"
    expect_failure_with "certificate (handle" cnf_openssl shim.cnf req -new -x509 -key "$uri" \
        -subj /CN=Root -days 30 -out "root-$code.pem" &&
        case $code in
        CKR_DEVICE_ERROR) assert_output_contains "C_GetAttributeValue: CKR_DEVICE_ERROR" ;;
        *) assert_output_contains "cannot be checked against the key" ;;
        esac
done
shim_control
expect_success cnf_openssl shim.cnf req -new -x509 -key "$uri" -subj /CN=again -days 30 \
    -out again.pem && verify_root again.pem k.pem

policy_finish
