#!/usr/bin/env bash
# Story: the user PIN reaches the provider from each source the issue
# lists: pin-value in the URI, pin-source=file: (a file only its owner can
# read), the provider option pkcs11-module-token-pin (a value or file:PATH),
# and OpenSSL's passphrase callback (-passin). A PIN file others can read is
# refused, and without any PIN the load fails and says so.
# shellcheck source=lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/lib.sh"

make_token ca
make_key ca EC:prime256v1 01 p256
require
save_token_pubkey ca 01 p256.pub.pem
nopin="pkcs11:token=ca;object=p256;type=private"

# root_with TAG CMD... : `req -x509` with the rest of the command line, and
# the root verified.
root_with() {
    local tag=$1
    shift
    expect_success "$@" -subj /CN=Root -days 30 -out "$tag.pem" &&
        verify_root "$tag.pem" p256.pub.pem
}

# In the URI.
root_with uri-pin-value hsm_openssl req -new -x509 -key "$nopin?pin-value=$USER_PIN"

# From a file named in the URI, mode 0600; with and without a final newline.
printf '%s' "$USER_PIN" >pin.txt
chmod 600 pin.txt
root_with uri-pin-source hsm_openssl req -new -x509 -key "$nopin?pin-source=file:$TMP/pin.txt"
echo "$USER_PIN" >pin-nl.txt
chmod 600 pin-nl.txt
root_with uri-pin-source-nl hsm_openssl req -new -x509 -key "$nopin?pin-source=file:$TMP/pin-nl.txt"

# A PIN file that group or others can read is refused, whatever it holds.
for mode in 644 640 604; do
    cp pin.txt "pin-$mode.txt"
    chmod "$mode" "pin-$mode.txt"
    expect_failure_with "cannot read the PIN source" \
        hsm_openssl req -new -x509 -key "$nopin?pin-source=file:$TMP/pin-$mode.txt" \
        -subj /CN=Root -days 30 -out "refused-$mode.pem" &&
        assert_output_contains "pin-$mode.txt"
done
expect_failure_with "cannot read the PIN source" \
    hsm_openssl req -new -x509 -key "$nopin?pin-source=file:$TMP/no-such-pin-file" \
    -subj /CN=Root -days 30 -out refused-missing.pem

# From the provider configuration: a value, and file:PATH.
write_provider_cnf pin-value.cnf "pkcs11-module-token-pin=$USER_PIN"
root_with cnf-pin-value cnf_openssl "$TMP/pin-value.cnf" req -new -x509 -key "$nopin"
write_provider_cnf pin-file.cnf "pkcs11-module-token-pin=file:$TMP/pin.txt"
root_with cnf-pin-file cnf_openssl "$TMP/pin-file.cnf" req -new -x509 -key "$nopin"
expect_success cnf_openssl "$TMP/pin-file.cnf" dgst -sha256 -sign "$nopin" -out cnf.sig pin.txt &&
    expect_success plain_openssl dgst -sha256 -verify p256.pub.pem -signature cnf.sig pin.txt

# Through OpenSSL's passphrase callback.
root_with passin hsm_openssl req -new -x509 -passin "pass:$USER_PIN" -key "$nopin"
expect_success hsm_openssl pkey -passin "pass:$USER_PIN" -in "$nopin" -pubout -out passin.pub.pem &&
    same_pubkey "pkey -passin -pubout equals the token's public key" passin.pub.pem p256.pub.pem
expect_success hsm_openssl dgst -sha256 -passin "pass:$USER_PIN" -sign "$nopin" -out passin.sig \
    pin.txt &&
    expect_success plain_openssl dgst -sha256 -verify p256.pub.pem -signature passin.sig pin.txt
plain_openssl dgst -sha256 -binary -out digest pin.txt
expect_success hsm_openssl pkeyutl -sign -passin "pass:$USER_PIN" -inkey "$nopin" -in digest \
    -out passin-pkeyutl.sig &&
    expect_success plain_openssl pkeyutl -verify -pubin -inkey p256.pub.pem -in digest \
        -sigfile passin-pkeyutl.sig

# No PIN anywhere, no terminal to prompt on (new session, stdin closed): the
# callback gets nothing and the load fails, saying a PIN is needed.
no_tty_openssl() {
    provider_wrap openssl "$@"
    # shellcheck disable=SC2046
    timeout -k 10 "$WRAP_TIMEOUT" setsid -w env $(_preload_env) \
        OPENSSL_MODULES="$HSM_PROVIDER_DIR" "${WRAP[@]}" "$OPENSSL_BIN" "$@"
}
expect_failure_with "token PIN required but none given" \
    no_tty_openssl req -new -x509 -provider hsm -provider default -key "$nopin" \
    -subj /CN=Root -days 30 -out nopin.pem
assert_output_lacks "did not exit normally" "openssl did not crash without a PIN"

finish
