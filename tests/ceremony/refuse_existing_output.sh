#!/usr/bin/env bash
# Story (issue 6, the transcript): outputs are created exclusively. A step
# whose output already exists (a file, or a symbolic link pointing
# elsewhere) refuses before it touches the token: the file is left as it
# was, no other output is written, the token is not logged in to (pkcs11-spy
# counts the calls) and holds as many objects as before. The CA database
# (openssl ca's index and CRL number) is left unchanged too.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"

make_token ca
require
ceremony_env ca "$PKCS11_SPY"
export PKCS11SPY="$SOFTHSM_MODULE" PKCS11SPY_OUTPUT="$TMP/spy.log"
D="$TMP/ceremony"

# refused N NAME : step N refuses because NAME exists; nothing changes and
# the token sees no call at all.
refused() {
    local n=$1 name=$2 before count
    before=$(dir_state "$D")
    count=$(object_count ca)
    : >"$TMP/spy.log"
    step_fails "$n" "$D" "$name already exists; outputs are never overwritten"
    nothing_changed "step $n with $name present" "$D" "$before" ca "$count"
    check "step $n made no PKCS#11 call (pkcs11-spy saw $(grep -c '^[0-9]*: C_' "$TMP/spy.log"))" \
        test "$(grep -c '^[0-9]*: C_' "$TMP/spy.log")" = 0
}

mkdir -p "$D"
echo "an operator's notes" >"$D/openssl-hsm.cnf"
refused 1 openssl-hsm.cnf
check "the existing file is untouched" grep -qx "an operator's notes" "$D/openssl-hsm.cnf"
rm "$D/openssl-hsm.cnf"
steps "$D" 1
require

echo "keep" >"$D/root-key.pem"
refused 2 root-key.pem
check "no key was generated: the token holds no object" test "$(object_count ca)" = 0
rm "$D/root-key.pem"
steps "$D" 2
require

# A dangling symbolic link: following it would create a file elsewhere.
ln -s "$TMP/elsewhere.pem" "$D/root.pem"
refused 3 root.pem
check "the link's target was not created" test ! -e "$TMP/elsewhere.pem"
rm "$D/root.pem"
steps "$D" 3 4
require

echo "keep" >"$D/intermediate.pem"
refused 5 intermediate.pem
check "no CA database was made" test ! -e "$D/ca"
rm "$D/intermediate.pem"
steps "$D" 5
require
index=$(sha256sum "$D/ca/index.txt")

echo "keep" >"$D/crl-01.pem"
refused 6 crl-01.pem
check "the CA database is unchanged" test "$(sha256sum "$D/ca/index.txt")" = "$index"
check "the CRL number is unchanged" grep -qx 01 "$D/ca/crlnumber"
rm "$D/crl-01.pem"
steps "$D" 6
require
check "the CRL was then made" test -s "$D/crl-01.pem"
expect_success plain_openssl crl -in "$D/crl-01.pem" -CAfile "$D/root.pem" -noout

echo "--- a second CRL gets the next number"
steps "$D" 6
check "crl-02.pem was made" test -s "$D/crl-02.pem"
check "crl-01.pem was left as it was" test "$(plain_openssl crl -in "$D/crl-01.pem" -noout -crlnumber)" = crlNumber=0x01

finish
