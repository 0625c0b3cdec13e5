#!/usr/bin/env bash
# Story: programs written for OpenSSL use the store the way OpenSSL's own
# loaders do. A program that opens `pkcs11:id=%01` and takes the first
# object gets the private key (not a name, not the public key) when a PIN
# is at hand; a listing without type= shows the private keys too when a
# PIN is available without asking (in the URI or the configuration), and
# never prompts; `storeutl -alias LABEL` finds objects by label; a URI
# whose module cannot be loaded or whose token does not exist fails at
# open, so storeutl exits non-zero.
# shellcheck source=keys_lib.sh disable=SC2317
. "$(dirname "$0")/keys_lib.sh"

make_token ca
serial_ca=$TOKEN_SERIAL
make_key ca EC:prime256v1 01 root
make_key ca rsa:2048 02 rsa
require
save_pubkey_by_id ca 01 pub-01.pem
write_provider_cnf plain.cnf
write_provider_cnf with-pin.cnf "pkcs11-module-token-pin=$USER_PIN"
write_provider_cnf bad-module.cnf "pkcs11-module-path=$TMP/no-such-module.so"

names() {
    sed -n 's/^[0-9]*: Name: //p' "$1"
}

# 1. The first object of a URI that names a key pair is the private key.
expect_success cnf_program with-pin.cnf "$HSM_FIRST_OBJECT" 'pkcs11:id=%01' &&
    assert_output_contains "PKEY"
expect_success cnf_program plain.cnf "$HSM_FIRST_OBJECT" "pkcs11:id=%01?pin-value=$USER_PIN" &&
    assert_output_contains "PKEY"
# Without a PIN the key pair's public half is all there is.
_run cnf_program plain.cnf "$HSM_FIRST_OBJECT" 'pkcs11:id=%01'
check "without a PIN the first object is the public key, exit status 1" \
    test "$LAST_RC" -eq 1 -a "$(head -n1 "$LAST_OUT")" = PUBKEY

# 2. Listings: private keys with a PIN at hand, never a prompt.
expect_success cnf_openssl with-pin.cnf storeutl -noout 'pkcs11:token=ca'
check "with the configuration's PIN the listing names both private keys" \
    test "$(names "$LAST_OUT" | grep -c ';type=private$')" -eq 2
expect_success cnf_openssl plain.cnf storeutl -noout "pkcs11:token=ca?pin-value=$USER_PIN"
check "with the URI's PIN the listing names both private keys" \
    test "$(names "$LAST_OUT" | grep -c ';type=private$')" -eq 2
check "every private key name is a canonical URI of token ca" \
    test "$(names "$LAST_OUT" | grep -cE "serial=$serial_ca;token=ca;id=%0[12];object=[a-z]+;type=private$")" -eq 2
assert_output_lacks "$USER_PIN" "no PIN in the listing"
expect_success cnf_openssl plain.cnf storeutl -noout 'pkcs11:token=ca'
check "without a PIN the listing has no private key and asked for none" \
    test "$(names "$LAST_OUT" | grep -c ';type=private$')" -eq 0

# 3. -alias finds objects by label.
expect_success cnf_openssl with-pin.cnf storeutl -noout -alias rsa 'pkcs11:token=ca'
check "-alias rsa names the RSA key's objects only" \
    test "$(names "$LAST_OUT" | grep -c ';object=rsa;')" -eq 2 -a \
    "$(names "$LAST_OUT" | grep -vc ';object=rsa;')" -eq 0
expect_success cnf_openssl with-pin.cnf storeutl -noout -alias nothing-here 'pkcs11:token=ca'
check "-alias with no such label finds nothing" test -z "$(names "$LAST_OUT")"
expect_success cnf_openssl with-pin.cnf pkey -in 'pkcs11:token=ca;object=root' -pubout \
    -out by-label.pem && same_pubkey "the key by its label is the token's" by-label.pem pub-01.pem

# 4. Open failures make storeutl fail.
expect_failure_with "no token matches the URI" cnf_openssl plain.cnf storeutl 'pkcs11:token=nosuch'
expect_failure_with "cannot load PKCS#11 module" cnf_openssl bad-module.cnf storeutl 'pkcs11:token=ca'

finish
