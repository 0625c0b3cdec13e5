#!/usr/bin/env bash
# Story: a person makes a mistake: a malformed URI, a typo in an attribute,
# a token or key that does not exist, a URI that matches two keys or two
# tokens, a wrong PIN, a module path that is not there. Each command exits
# non-zero without crashing (status < 128), prints the provider's reason,
# writes no output file, never prints a PIN, and a wrong PIN is tried once.
# shellcheck source=lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/lib.sh"

SECRET_PIN=Pin-Secret-58
WRONG_PIN=Wrong-Pin-4711

make_token ca
make_key ca EC:prime256v1 01 p256
make_key ca rsa:2048 1a2b twin
make_key ca EC:prime256v1 3c4d twin
make_token secret "$SECRET_PIN"
make_key secret EC:prime256v1 05 p256 "$SECRET_PIN"
make_token dup
dup1_slot=$TOKEN_SLOT dup1_serial=$TOKEN_SERIAL
make_key "slot:$dup1_slot" EC:prime256v1 07 dupkey
make_token dup
dup2_slot=$TOKEN_SLOT dup2_serial=$TOKEN_SERIAL
make_key "slot:$dup2_slot" EC:prime256v1 07 dupkey
require
save_token_pubkey ca 3c4d twin-3c4d.pub.pem
save_token_pubkey "slot:$dup2_slot" 07 dup2.pub.pem
check "the two dup tokens have different serials" test "$dup1_serial" != "$dup2_serial"

# req_fails EXPECTED URI [EXTRA...] : `openssl req -x509` with that key fails
# cleanly with EXPECTED and leaves no certificate.
n=0
req_fails() {
    local expected=$1 uri=$2
    shift 2
    n=$((n + 1))
    expect_failure_with "$expected" hsm_openssl req -new -x509 -key "$uri" "$@" \
        -subj /CN=Root -days 30 -out "bad-$n.pem"
}

# Malformed URI, unknown attributes (a typo must not widen the match).
req_fails "malformed pkcs11: URI" 'pkcs11:token=%zz'
req_fails "pkcs11: URI has an attribute that is not understood" 'pkcs11:tokn=x' &&
    assert_output_contains "tokn"
req_fails "pkcs11: URI has an attribute that is not understood" \
    "pkcs11:token=ca;object=p256;type=private?pin-valeu=$SECRET_PIN" &&
    assert_output_contains "pin-valeu"
expect_failure_with "malformed pkcs11: URI" \
    hsm_openssl pkeyutl -sign -inkey 'pkcs11:object=%' -in /dev/null -out bad-pkeyutl.sig

# Nothing matches.
req_fails "no token matches the URI" "pkcs11:token=nosuch;object=p256;type=private?pin-value=$USER_PIN" &&
    assert_output_contains "nosuch"
req_fails "no object matches the URI" "pkcs11:token=ca;object=nosuch;type=private?pin-value=$USER_PIN" &&
    assert_output_contains "nosuch"
printf '%032d' 0 >digest
expect_failure_with "no object matches the URI" hsm_openssl pkeyutl -sign \
    -inkey "pkcs11:token=ca;id=%99;type=private?pin-value=$USER_PIN" -in digest -out bad-none.sig

# Two keys with one label: both ids listed, and id= named as the way out.
req_fails "several objects match the URI" "$(key_uri ca twin)" &&
    assert_output_matches '1a[%: ]?2b' "the error lists id 1a2b" &&
    assert_output_matches '3c[%: ]?4d' "the error lists id 3c4d" &&
    assert_output_contains "id="
expect_success hsm_openssl req -new -x509 \
    -key "pkcs11:token=ca;object=twin;id=%3c%4d;type=private?pin-value=$USER_PIN" \
    -subj /CN=Root -days 30 -out twin-3c4d.pem && verify_root twin-3c4d.pem twin-3c4d.pub.pem

# Two tokens with one label: both serials listed, and serial= as the way out.
req_fails "several tokens match the URI" "$(key_uri dup dupkey)" &&
    assert_output_contains "$dup1_serial" &&
    assert_output_contains "$dup2_serial" &&
    assert_output_contains "serial="
expect_success hsm_openssl req -new -x509 \
    -key "pkcs11:token=dup;serial=$dup2_serial;object=dupkey;type=private?pin-value=$USER_PIN" \
    -subj /CN=Root -days 30 -out dup2.pem && verify_root dup2.pem dup2.pub.pem

# Wrong PIN: said so, and C_Login called exactly once (counted by OpenSC's
# pkcs11-spy standing between the provider and SoftHSMv2).
write_provider_cnf spy.cnf "pkcs11-module-path=$PKCS11_SPY"
spy_no=0
spy_openssl() {
    spy_no=$((spy_no + 1))
    SPY_LOG="$TMP/spy-$spy_no.log"
    PKCS11SPY="$SOFTHSM_MODULE" PKCS11SPY_OUTPUT="$SPY_LOG" cnf_openssl "$TMP/spy.cnf" "$@"
}
logins() { grep -cE '^[0-9]+: C_Login$' "$SPY_LOG" 2>/dev/null; }

expect_success spy_openssl req -new -x509 -key "$(key_uri ca p256)" \
    -subj /CN=Root -days 30 -out spy-ok.pem
check "a good PIN through pkcs11-spy: one C_Login (saw $(logins))" test "$(logins)" -eq 1
expect_failure_with "wrong PIN" spy_openssl req -new -x509 \
    -key "pkcs11:token=secret;object=p256;type=private?pin-value=$WRONG_PIN" \
    -subj /CN=Root -days 30 -out bad-wrong-pin.pem
check "wrong PIN in the URI: one C_Login (saw $(logins))" test "$(logins)" -eq 1
expect_failure_with "wrong PIN" spy_openssl req -new -x509 -passin "pass:$WRONG_PIN" \
    -key "pkcs11:token=secret;object=p256;type=private" \
    -subj /CN=Root -days 30 -out bad-wrong-passin.pem
check "wrong PIN from -passin: one C_Login (saw $(logins))" test "$(logins)" -eq 1
# also through the default module (p11-kit's proxy)
req_fails "wrong PIN" "pkcs11:token=secret;object=p256;type=private?pin-value=$WRONG_PIN"
# and the token still takes the right PIN afterwards
expect_success hsm_openssl req -new -x509 \
    -key "pkcs11:token=secret;object=p256;type=private?pin-value=$SECRET_PIN" \
    -subj /CN=Root -days 30 -out secret-ok.pem

# A URI cannot make the provider load a library its configuration did not
# name: module-path pointing at pkcs11-spy must leave no spy log behind.
urispy="$TMP/uri-spy.log"
PKCS11SPY="$SOFTHSM_MODULE" PKCS11SPY_OUTPUT="$urispy" _run hsm_openssl req -new -x509 \
    -key "pkcs11:token=ca;object=p256;type=private?module-path=$PKCS11_SPY&pin-value=$USER_PIN" \
    -subj /CN=Root -days 30 -out uri-module.pem
check "module-path in a URI ends cleanly (status $LAST_RC)" test "$LAST_RC" -lt 124
check "module-path in a URI did not load that module" test ! -e "$urispy"

# The configured module is missing, or not a PKCS#11 library.
write_provider_cnf missing.cnf "pkcs11-module-path=/nonexistent/lib.so"
expect_failure_with "cannot load PKCS#11 module" cnf_openssl "$TMP/missing.cnf" req -new -x509 \
    -key "$(key_uri ca p256)" -subj /CN=Root -days 30 -out bad-missing-module.pem &&
    assert_output_contains "/nonexistent/lib.so"
head -c 4096 /dev/urandom >broken.so
write_provider_cnf broken.cnf "pkcs11-module-path=$TMP/broken.so"
expect_failure_with "cannot load PKCS#11 module" cnf_openssl "$TMP/broken.cnf" req -new -x509 \
    -key "$(key_uri ca p256)" -subj /CN=Root -days 30 -out bad-broken-module.pem &&
    assert_output_contains "$TMP/broken.so"
write_provider_cnf notp11.cnf "pkcs11-module-path=/usr/lib/x86_64-linux-gnu/libcrypto.so.3"
expect_failure_with "cannot load PKCS#11 module" cnf_openssl "$TMP/notp11.cnf" req -new -x509 \
    -key "$(key_uri ca p256)" -subj /CN=Root -days 30 -out bad-notp11-module.pem &&
    assert_output_contains "libcrypto.so.3"

# Errors after a successful login, with the PIN from the configuration.
write_provider_cnf secret-pin.cnf "pkcs11-module-token-pin=$SECRET_PIN"
expect_failure_with "no object matches the URI" cnf_openssl "$TMP/secret-pin.cnf" req -new -x509 \
    -key "pkcs11:token=secret;object=nosuch;type=private" -subj /CN=Root -days 30 \
    -out bad-cnf-pin.pem
req_fails "no object matches the URI" \
    "pkcs11:token=secret;object=nosuch;type=private?pin-value=$SECRET_PIN"

# No PIN in any message the provider wrote above. The openssl commands echo
# their own -key argument ("Could not read [or find] private key from
# pkcs11:...?pin-value=..."), and the default provider's file store repeats it when it
# tries the URI as a file name; those lines are OpenSSL's, not the
# provider's, and are left out.
openssl_echo='^Could not [A-Za-z ]+ from pkcs11:|file_store\.c:[0-9]+:calling stat\(pkcs11:'
for f in "$TMP"/log/*.out "$TMP"/log/*.err; do
    grep -vE "$openssl_echo" "$f" | sed "s|^|$(head -c 60 "${f%.*}.cmd" | cut -d' ' -f1-3)...: |"
done >provider-output.txt
_run cat provider-output.txt
assert_output_lacks "$SECRET_PIN|$WRONG_PIN" "no message printed the PINs $SECRET_PIN or $WRONG_PIN"
assert_output_lacks "pin-value=$USER_PIN|pin-value=$SECRET_PIN|pin-value=$WRONG_PIN" \
    "no message printed a pin-value"
assert_output_lacks "(^|[^0-9A-Za-z:])$USER_PIN([^0-9A-Za-z:]|$)" "no message printed the PIN $USER_PIN"

finish
