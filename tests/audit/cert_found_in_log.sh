#!/bin/bash
# hsm-audit verify --cert: a certificate's signature is found in the log by
# its TBS digest (with the certificate's own signature digest; the TBS
# itself for Ed25519) and its signature, for ECDSA, RSA-PSS and Ed25519
# certificates and ECDSA and RSA-PSS CRLs signed by plain OpenSSL, and the
# record's seq and hash are named; one that was never recorded is not.
. "$(dirname "$0")/audit_lib.sh"

notes 2
make_cert() { # NAME DIGEST KEYOPTS...
    local name=$1 md=$2
    shift 2
    plain_openssl req -x509 -new -nodes -keyout "$TMP/$name.key" "$@" ${md:+-$md} \
        -subj "/CN=$name" -days 1 -out "$TMP/$name.pem" >/dev/null 2>&1 ||
        fail "cannot make the $name certificate"
}
make_cert ec sha384 -newkey ec -pkeyopt ec_paramgen_curve:P-256
make_cert pss sha256 -newkey rsa:2048 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
make_cert ed "" -newkey ed25519
make_cert other sha256 -newkey ec -pkeyopt ec_paramgen_curve:P-256
require

record_cert() { # NAME DIGEST(empty: the TBS itself)
    cert_parts "$TMP/$1.pem" || fail "cannot take $1.pem apart"
    if [ -n "$2" ]; then
        plain_openssl dgst -"$2" -binary -out "$TMP/$1.data" "$TMP/tbs.der"
    else
        cp "$TMP/tbs.der" "$TMP/$1.data"
    fi
    cp "$TMP/sig.bin" "$TMP/$1.sig"
    expect_success write_record sign "pkcs11:token=ca;object=$1;type=private" \
        "$TMP/$1.data" "$TMP/$1.sig"
}
record_cert ec sha384
record_cert pss sha256
record_cert ed ""
# The other certificate's data, but not its signature.
cert_parts "$TMP/other.pem"
plain_openssl dgst -sha256 -binary -out "$TMP/other.data" "$TMP/tbs.der"
expect_success write_record sign "pkcs11:token=ca;object=other;type=private" \
    "$TMP/other.data" "$TMP/ec.sig"
notes 1

expect_success hsm_audit verify --cert "$TMP/ec.pem" "$LOG"
assert_output_contains "is record seq 3 hash"
assert_output_contains "object=ec;"
expect_success hsm_audit verify --cert "$TMP/pss.pem" "$LOG"
assert_output_contains "is record seq 4 hash"
expect_success hsm_audit verify --cert "$TMP/ed.pem" "$LOG"
assert_output_contains "is record seq 5 hash"
plain_openssl x509 -in "$TMP/ed.pem" -outform DER -out "$TMP/ed.der"
expect_success hsm_audit verify --cert "$TMP/ed.der" "$LOG"
assert_output_contains "is record seq 5 hash"

expect_failure_with --any-file "no record of the signature" \
    hsm_audit verify --cert "$TMP/other.pem" "$LOG"
check "a certificate not recorded is exit status 1" test "$LAST_RC" -eq 1
expect_failure_with --any-file "not a certificate" hsm_audit verify --cert "$TMP/ec.key" "$LOG"

# CRLs: ECDSA with SHA-256, and RSA-PSS with SHA-384 (a digest only the
# signature algorithm's parameters name), in PEM and DER.
make_crl() { # NAME CA OPTIONS...
    local name=$1 ca=$2 db="$TMP/ca-$1"
    shift 2
    mkdir -p "$db" && : >"$db/index.txt" && echo 01 >"$db/crlnumber"
    printf '[ca]\ndefault_ca = c\n[c]\ndatabase = %s/index.txt\ncrlnumber = %s/crlnumber\n' \
        "$db" "$db" >"$db.cnf"
    plain_openssl ca -gencrl -config "$db.cnf" -cert "$TMP/$ca.pem" -keyfile "$TMP/$ca.key" \
        -crldays 1 "$@" -out "$TMP/$name.pem" >/dev/null 2>&1 || fail "cannot make the $name CRL"
}
make_crl crl-ec ec -md sha256
make_crl crl-pss pss -md sha384 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
record_cert crl-ec sha256
record_cert crl-pss sha384
expect_success hsm_audit verify --cert "$TMP/crl-ec.pem" "$LOG"
assert_output_contains "is record seq 8 hash"
expect_success hsm_audit verify --cert "$TMP/crl-pss.pem" "$LOG"
assert_output_contains "is record seq 9 hash"
plain_openssl crl -in "$TMP/crl-pss.pem" -outform DER -out "$TMP/crl-pss.der"
expect_success hsm_audit verify --cert "$TMP/crl-pss.der" "$LOG"
assert_output_contains "is record seq 9 hash"

# Found, but the chain is broken before it: not confirmed.
sed -i '2s/step 1/step 7/' "$LOG"
expect_failure_with --any-file "chain does not hold" \
    hsm_audit verify --cert "$TMP/ec.pem" "$LOG"
finish
