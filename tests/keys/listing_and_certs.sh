#!/usr/bin/env bash
# Story: an operator looks at what a token holds with
# `openssl storeutl 'pkcs11:token=ca'` and uses what it prints. In a listing
# (a URI with neither id nor object) each object is preceded by a "Name:"
# line with its canonical URI; public objects are listed without a PIN,
# private keys only with a PIN. Every printed URI, fed back to storeutl,
# pkey or x509, opens exactly the object it was printed for (checked against
# what pkcs11-tool reads), handed out alone (a URI that names an object gets
# no name before it), and each URI attribute alone (token, object, id,
# type) works where it is unique.
# `storeutl -keys` and `-certs` list every matching key and certificate by
# name, and each name opens exactly its object; where one object is wanted
# (req -key, pkey -in, x509 -in) several matches are an error that lists the
# candidates, never the first of them. A certificate written
# with pkcs11-tool loads with `x509 -in 'pkcs11:...;type=cert'`, and
# `x509 -req -CA pkcs11:... -CAkey pkcs11:...` issues a leaf that plain
# `openssl verify` accepts.
# shellcheck source=keys_lib.sh disable=SC2317,SC2016 # functions are run through _run
. "$(dirname "$0")/keys_lib.sh"

make_token ca
serial_ca=$TOKEN_SERIAL
make_key ca EC:prime256v1 01 root
make_key ca rsa:2048 02 rsa
expect_success genkey ed.pem "$(gen_uri ca ed %03)" ED25519
require
save_pubkey_by_id ca 01 pub-01.pem
save_pubkey_by_id ca 02 pub-02.pem
save_pubkey_by_id ca 03 pub-03.pem

# The root certificate of the token key, stored on the token beside it; and
# a certificate with no key on the token (a software root).
expect_success hsm_openssl req -new -x509 -key "$(key_uri ca root)" -subj /CN=Token-Root \
    -days 30 -out root.pem && verify_root root.pem pub-01.pem
plain_openssl x509 -in root.pem -outform DER -out cert-01.der
plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout sw.key \
    -subj /CN=Software-Root -days 30 -outform DER -out cert-0a.der 2>/dev/null
expect_success p11 ca --login --pin "$USER_PIN" --write-object cert-01.der --type cert \
    --id 01 --label root
expect_success p11 ca --login --pin "$USER_PIN" --write-object cert-0a.der --type cert \
    --id 0a --label sw-root
require

plain_openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key \
    -subj /CN=leaf -out leaf.csr 2>/dev/null

# names OUTPUT : the URIs of the "N: Name: URI" lines
names() {
    sed -n 's/^[0-9]*: Name: //p' "$1"
}

# ---------------------------------------------------------------- listing
expect_success hsm_openssl storeutl -noout 'pkcs11:token=ca'
cp "$LAST_OUT" list-ca.out
assert_output_contains "Total found: 10"
assert_output_lacks "type=private|PIN|Enter pass" "no private object and no PIN prompt without a PIN"
check "three public keys and two certificates are named" \
    test "$(names list-ca.out | grep -c ';type=public$')" -eq 3 -a \
    "$(names list-ca.out | grep -c ';type=cert$')" -eq 2
check "every object is preceded by its name" \
    test "$(grep -cE '^[0-9]+: Name: ' list-ca.out)" -eq 5 -a \
    "$(grep -cE '^[0-9]+: (Public key|Certificate)$' list-ca.out)" -eq 5
check "every name is a canonical URI of token ca (serial, token, id, object, type)" \
    bash -c '! grep -vE "^pkcs11:.*serial=$1;token=ca;id=%[0-9A-F%]+;object=[a-z0-9-]+;type=(public|cert)$" <<<"$2"' \
    _ "$serial_ca" "$(names list-ca.out)"

# With a PIN, type=private lists the private keys, each with its name.
expect_success hsm_openssl storeutl -noout "pkcs11:token=ca;type=private?pin-value=$USER_PIN"
cp "$LAST_OUT" list-private.out
assert_output_contains "Total found: 6"
check "three private keys are named, type=private" \
    test "$(names list-private.out | grep -c ';type=private$')" -eq 3
assert_output_lacks "$USER_PIN" "no PIN in the listing"
# (OpenSSL 3.0's storeutl reports a failed load but exits 0, and prints a
# count of 0 that 3.5's does not: what is listed is what counts)
_run hsm_openssl storeutl -noout 'pkcs11:token=ca;type=private'
assert_output_contains "token PIN required but none given"
assert_output_lacks '^[0-9]+: ' "no object is listed without the PIN"

# ------------------------------------------------------------- round trip
# Every printed URI opens exactly its object, compared with pkcs11-tool's.
n=0
while IFS= read -r uri; do
    n=$((n + 1))
    id=$(id_of_uri "$uri")
    case "$uri" in
    *type=private) open="$uri?pin-value=$USER_PIN" ;;
    *) open=$uri ;;
    esac
    expect_success hsm_openssl storeutl -noout "$open" || continue
    check "round trip $n: storeutl of the name finds exactly one object, with no name before it" \
        test "$(grep -cE '^[0-9]+: ' "$LAST_OUT")" -eq 1 -a -z "$(names "$LAST_OUT")"
    case "$uri" in
    *type=cert)
        expect_success hsm_openssl x509 -in "$open" -outform DER -out "rt-$n.der" &&
            check "round trip $n: x509 reads the certificate with id $id" \
                cmp -s "rt-$n.der" "cert-$id.der" ;;
    *type=public)
        expect_success hsm_openssl pkey -pubin -in "$open" -out "rt-$n.pem" &&
            same_pubkey "round trip $n: pkey reads the public key with id $id" \
                "rt-$n.pem" "pub-$id.pem" ;;
    *type=private)
        expect_success hsm_openssl pkey -in "$open" -pubout -out "rt-$n.pem" &&
            same_pubkey "round trip $n: pkey loads the private key with id $id" \
                "rt-$n.pem" "pub-$id.pem"
        expect_success hsm_openssl storeutl -noout -text "$open" &&
            check "round trip $n: storeutl -text shows the key's name" \
                grep -qxF "URI: $uri" "$LAST_OUT" ;;
    esac
done < <(names list-ca.out; names list-private.out)
check "8 names were fed back" test "$n" -eq 8

# ---------------------------------------------- one attribute at a time
# One token: each attribute alone names a unique object.
expect_success hsm_openssl storeutl -noout 'pkcs11:object=rsa' &&
    check "object= alone: one object, no name" test "$(grep -cE '^[0-9]+: ' "$LAST_OUT")" -eq 1 \
        -a -z "$(names "$LAST_OUT")"
expect_success hsm_openssl storeutl -noout 'pkcs11:id=%03' &&
    check "id= alone: one object, no name" test "$(grep -cE '^[0-9]+: ' "$LAST_OUT")" -eq 1 \
        -a -z "$(names "$LAST_OUT")"
expect_success hsm_openssl storeutl -noout 'pkcs11:type=cert' &&
    check "type= alone lists the two certificates, each with its name" \
        test "$(names "$LAST_OUT" | grep -c ';type=cert$')" -eq 2
expect_success hsm_openssl x509 -in 'pkcs11:object=sw-root' -outform DER -out by-object.der &&
    check "object= alone opens the certificate" cmp -s by-object.der cert-0a.der
expect_success hsm_openssl x509 -in 'pkcs11:id=%0a' -outform DER -out by-id.der &&
    check "id= alone opens the certificate" cmp -s by-id.der cert-0a.der
expect_success hsm_openssl pkey -pubin -in 'pkcs11:object=rsa' -out by-object.pem &&
    same_pubkey "object= alone opens the public key" by-object.pem pub-02.pem
expect_success hsm_openssl pkey -in "pkcs11:id=%03?pin-value=$USER_PIN" -pubout -out by-id.pem &&
    same_pubkey "id= alone opens the private key" by-id.pem pub-03.pem
expect_success hsm_openssl pkey -in "pkcs11:object=root?pin-value=$USER_PIN" -pubout \
    -out by-label.pem && same_pubkey "object= alone opens the private key" by-label.pem pub-01.pem
expect_success hsm_openssl x509 -req -in leaf.csr -CA 'pkcs11:id=%01;type=cert' \
    -CAkey "pkcs11:id=%01;type=private?pin-value=$USER_PIN" -set_serial 4712 -days 10 \
    -out leaf2.pem && expect_success plain_openssl verify -CAfile root.pem leaf2.pem

# A second token: token= tells them apart; listing spans both tokens, and a
# single object is loaded only when one token matches the URI
# (docs/uris-and-pins.md, "Matching").
make_token other
make_key other EC:prime256v1 99 elsewhere
require
save_pubkey_by_id other 99 elsewhere.pem
expect_success hsm_openssl storeutl -noout 'pkcs11:token=ca' &&
    assert_output_contains "Total found: 10" &&
    assert_output_lacks "elsewhere|token=other" "the other token's objects are not listed"
expect_success hsm_openssl storeutl -noout 'pkcs11:token=other' &&
    assert_output_contains "Total found: 2" && assert_output_contains "object=elsewhere;type=public"
expect_success hsm_openssl storeutl -noout 'pkcs11:object=elsewhere' &&
    check "object= names the other token's one public object" \
        test "$(grep -cE '^[0-9]+: Public key$' "$LAST_OUT")" -eq 1
expect_success hsm_openssl pkey -in "pkcs11:token=other?pin-value=$USER_PIN" -pubout \
    -out by-token.pem && same_pubkey "token= alone opens its only private key" by-token.pem elsewhere.pem
expect_success hsm_openssl pkey -pubin -in 'pkcs11:token=other;object=elsewhere' -out other.pem &&
    same_pubkey "token= and object= open the other token's public key" other.pem elsewhere.pem
expect_failure_with "several tokens match the URI" \
    hsm_openssl x509 -in 'pkcs11:object=sw-root' -noout -subject &&
    assert_output_contains "'ca' (serial $serial_ca)" && assert_output_contains "serial="

# ------------------------------------------ -keys and -certs: every match
# With one kind asked for and several matches, storeutl lists each by its
# name; no object is handed out, because OpenSSL's single-object loader
# (req -key, x509 -in) asks the store the same way and takes the first
# object it gets. Every listed name opens exactly its object.
expect_success hsm_openssl storeutl -noout -keys "pkcs11:token=ca?pin-value=$USER_PIN"
cp "$LAST_OUT" keys.out
assert_output_contains "Total found: 3"
check "-keys names the three private keys, each type=private on token ca" \
    test "$(names keys.out | grep -cE "serial=$serial_ca;token=ca;id=%0[123];object=[a-z]+;type=private$")" -eq 3
check "-keys hands out names only, no key" \
    test "$(grep -cE '^[0-9]+: ' keys.out)" -eq "$(grep -cE '^[0-9]+: Name: ' keys.out)"
assert_output_lacks "$USER_PIN" "no PIN in the -keys listing"
expect_success hsm_openssl storeutl -noout -certs 'pkcs11:token=ca'
cp "$LAST_OUT" certs.out
assert_output_contains "Total found: 2"
check "-certs names the two certificates, root (id 01) and sw-root (id 0a)" \
    test "$(names certs.out | grep -cE ";token=ca;id=%(01;object=root|0A;object=sw-root);type=cert$")" -eq 2
check "-certs hands out names only, no certificate" \
    test "$(grep -cE '^[0-9]+: ' certs.out)" -eq "$(grep -cE '^[0-9]+: Name: ' certs.out)"
n=0
while IFS= read -r uri; do
    n=$((n + 1))
    id=$(id_of_uri "$uri")
    case "$uri" in
    *type=private)
        expect_success hsm_openssl storeutl -noout -keys "$uri?pin-value=$USER_PIN" &&
            assert_output_contains "Total found: 1"
        expect_success hsm_openssl pkey -in "$uri?pin-value=$USER_PIN" -pubout -out "kc-$n.pem" &&
            same_pubkey "-keys name $n opens the private key with id $id" "kc-$n.pem" "pub-$id.pem" ;;
    *type=cert)
        expect_success hsm_openssl storeutl -certs "$uri" &&
            assert_output_contains "Total found: 1" &&
            expect_success plain_openssl x509 -in "$LAST_OUT" -outform DER -out "kc-$n.der" &&
            check "-certs name $n: storeutl prints the certificate with id $id" \
                cmp -s "kc-$n.der" "cert-$id.der"
        expect_success hsm_openssl x509 -in "$uri" -outform DER -out "kc-$n.x.der" &&
            check "-certs name $n opens the certificate with id $id" cmp -s "kc-$n.x.der" "cert-$id.der" ;;
    esac
done < <(names keys.out; names certs.out)
check "5 names from -keys and -certs were fed back" test "$n" -eq 5
expect_success hsm_openssl storeutl -noout -keys "pkcs11:token=ca;object=rsa?pin-value=$USER_PIN" &&
    assert_output_contains "Total found: 1"
expect_success hsm_openssl storeutl -noout -certs 'pkcs11:token=ca;object=root' &&
    assert_output_contains "Total found: 1"

# One object wanted, several match: the error names the candidates and
# nothing is made with any of them (never the first one).
expect_failure_with "several objects match the URI" hsm_openssl req -new \
    -key "pkcs11:token=ca?pin-value=$USER_PIN" -subj /CN=ambiguous -out ambiguous.csr
assert_output_contains "matches 3 private keys"
for c in "id=%01, object='root'" "id=%02, object='rsa'" "id=%03, object='ed'"; do
    assert_output_contains "$c"
done
# (pkey creates its output file before it loads the key)
expect_failure_with --any-file "several objects match the URI" \
    hsm_openssl pkey -in "pkcs11:token=ca?pin-value=$USER_PIN" -pubout -out ambiguous.pub &&
    check "pkey wrote no public key for an ambiguous URI" test ! -s ambiguous.pub
expect_failure_with "several objects match the URI" \
    hsm_openssl x509 -in 'pkcs11:token=ca;type=cert' -noout -subject
assert_output_matches "object=root;type=cert\].*object=sw-root;type=cert\]|object=sw-root;type=cert\].*object=root;type=cert\]" \
    "the ambiguous x509 -in error lists the candidates root and sw-root"
# -subject filters as OpenSSL documents
expect_success hsm_openssl storeutl -noout -certs -subject /CN=Software-Root 'pkcs11:token=ca' &&
    assert_output_contains "Total found: 1"

# ----------------------------------------------------------- certificates
expect_success hsm_openssl x509 -in 'pkcs11:token=ca;object=root;type=cert' -out token-root.pem &&
    expect_success plain_openssl x509 -in token-root.pem -outform DER -out token-root.der &&
    check "x509 -in pkcs11:...;type=cert is the certificate written" cmp -s token-root.der cert-01.der
expect_success hsm_openssl x509 -req -in leaf.csr -CA 'pkcs11:token=ca;object=root;type=cert' \
    -CAkey "pkcs11:token=ca;object=root;type=private?pin-value=$USER_PIN" -set_serial 4711 \
    -days 10 -sha384 -out leaf.pem &&
    expect_success plain_openssl verify -CAfile root.pem leaf.pem &&
    assert_output_contains "leaf.pem: OK" &&
    expect_success plain_openssl x509 -in leaf.pem -noout -issuer -nameopt RFC2253 -text &&
    assert_output_contains "issuer=CN=Token-Root" &&
    assert_output_contains "Signature Algorithm: ecdsa-with-SHA384"
if tamper_pem leaf.pem bad-leaf.pem x509; then
    expect_failure_with "certificate signature failure" \
        plain_openssl verify -CAfile root.pem bad-leaf.pem
else
    fail "could not make a damaged copy of leaf.pem"
fi

finish
