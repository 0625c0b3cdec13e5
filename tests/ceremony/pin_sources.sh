#!/usr/bin/env bash
# Story (issue 6, PINs and activation): the token PIN reaches the provider
# from each source docs/uris-and-pins.md documents, for a key generated on
# the token
# by openssl genpkey and named either by its URI or by the key reference
# file genpkey wrote:
#   - the URI: pin-value, pin-source=file: (with and without a trailing
#     newline);
#   - the provider option pkcs11-module-token-pin: the PIN itself, file:PATH
#     (auto-activation), env:VARIABLE;
#   - OpenSSL's passphrase callback: -passin, and the interactive prompt on
#     a terminal (manual activation), typed on a pseudo-terminal made by
#     util-linux's script, the PIN not echoed;
#   - the ceremony scripts' own prompt (no PIN file, no HSM_CEREMONY_PIN).
# Every root made is verified with plain OpenSSL against the token's key.
# Without any source and without a terminal the load fails and says so.
# shellcheck source-path=SCRIPTDIR source=ceremony_lib.sh disable=SC2317,SC2016
. "$(dirname "$0")/ceremony_lib.sh"

make_token ca
require
write_provider_cnf nopin.cnf "pkcs11-module-path=$SOFTHSM_MODULE"
write_provider_cnf pinfile.cnf "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=file:$PIN_FILE"
write_provider_cnf pinvalue.cnf "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=$USER_PIN"
write_provider_cnf pinenv.cnf "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=env:CA_TOKEN_PIN"

expect_success cnf_openssl pinfile.cnf genpkey -propquery provider=hsm -algorithm EC \
    -pkeyopt group:P-384 -pkeyopt "pkcs11_uri:pkcs11:token=ca;object=root;id=%01" -out ref.pem
require
save_token_pubkey ca 01 token.pub.pem
uri="pkcs11:token=ca;object=root;id=%01;type=private"

# root_with TAG CNF KEY [ARGS...] : req -x509 through CNF, verified.
root_with() {
    local tag=$1 cnf=$2 key=$3
    shift 3
    expect_success cnf_openssl "$cnf" req -new -x509 -key "$key" "$@" -subj "/CN=Root $tag" \
        -days 30 -out "$tag.pem" && verify_root "$tag.pem" token.pub.pem
}

echo "--- in the URI"
root_with uri-pin-value nopin.cnf "$uri?pin-value=$USER_PIN"
printf '%s' "$USER_PIN" >pin-bare
printf '%s\n' "$USER_PIN" >pin-nl
chmod 600 pin-bare pin-nl
root_with uri-pin-source nopin.cnf "$uri?pin-source=file:$TMP/pin-bare"
root_with uri-pin-source-newline nopin.cnf "$uri?pin-source=file:$TMP/pin-nl"

echo "--- in the configuration"
root_with cnf-value pinvalue.cnf ref.pem
root_with cnf-file pinfile.cnf ref.pem
CA_TOKEN_PIN=$USER_PIN root_with cnf-env pinenv.cnf ref.pem
expect_failure_with "cannot read the PIN source" cnf_openssl pinenv.cnf req -new -x509 \
    -key ref.pem -subj /CN=Root -days 30 -out cnf-env-unset.pem &&
    assert_output_contains "CA_TOKEN_PIN (pkcs11-module-token-pin) is not set or empty"
expect_failure_with "cannot read the PIN source" cnf_openssl pinenv.cnf req -new -x509 \
    -key "$uri" -subj /CN=Root -days 30 -out cnf-env-unset-uri.pem &&
    assert_output_contains "CA_TOKEN_PIN (pkcs11-module-token-pin) is not set or empty"

echo "--- OpenSSL's passphrase callback"
root_with passin-pass nopin.cnf ref.pem -passin "pass:$USER_PIN"
root_with passin-file nopin.cnf "$uri" -passin "file:$TMP/pin-nl"
CA_TOKEN_PIN=$USER_PIN root_with passin-env nopin.cnf ref.pem -passin env:CA_TOKEN_PIN

echo "--- no source, no terminal"
expect_failure_with "token PIN required but none given" setsid -w env OPENSSL_CONF="$TMP/nopin.cnf" \
    OPENSSL_MODULES="$HSM_PROVIDER_DIR" "$CEREMONY_OPENSSL" req -new -x509 -key "$uri" \
    -subj /CN=Root -days 30 -out none.pem

# on_tty OUT PROMPT SECRET COMMAND : runs COMMAND (a shell command line) on
# a pseudo-terminal (script -qefc), types SECRET and Enter when PROMPT
# appears, and waits for the command to end. Its exit status is kept in
# OUT as "__DONE__ rc=N".
on_tty() {
    local out=$1 prompt=$2 secret=$3 cmd=$4 fifo="$TMP/tty.$RANDOM"
    mkfifo "$fifo"
    : >"$out"
    (
        for _ in $(seq 300); do grep -qF -- "$prompt" "$out" && break; sleep 0.1; done
        printf '%s\r' "$secret"
        for _ in $(seq 600); do grep -q '__DONE__' "$out" && break; sleep 0.1; done
    ) >"$fifo" &
    local writer=$!
    timeout -k 10 "$CMD_TIMEOUT" script -qefc "$cmd; echo __DONE__ rc=\$?" /dev/null <"$fifo" >"$out" 2>&1
    wait "$writer" 2>/dev/null
    rm -f "$fifo"
    grep -q '__DONE__ rc=0' "$out"
}

echo "--- the interactive prompt (manual activation), on a terminal"
cmd="OPENSSL_CONF=$TMP/nopin.cnf OPENSSL_MODULES=$HSM_PROVIDER_DIR $CEREMONY_OPENSSL req -new -x509"
cmd="$cmd -key $TMP/ref.pem -subj /CN=Root-tty -days 30 -out $TMP/tty.pem"
if on_tty tty.out "PIN for token 'ca'" "$USER_PIN" "$cmd"; then
    pass "openssl req on a terminal, the PIN typed at OpenSSL's prompt"
    verify_root tty.pem token.pub.pem
else
    fail "openssl req on a terminal, the PIN typed at OpenSSL's prompt"
    sed 's/^/  | /' tty.out
fi
check "the prompt names the token and its serial" grep -qE "PIN for token 'ca' \(serial [0-9a-f]+\)" tty.out
check "the typed PIN was not echoed" bash -c '! grep -qF -- "$1" "$2"' _ "$USER_PIN" tty.out

echo "--- the ceremony's own prompt"
ceremony_env ca
unset CEREMONY_PIN_FILE
export CEREMONY_KEY_LABEL=ceremony-root CEREMONY_KEY_ID=02
D="$TMP/ceremony"
HSM_CEREMONY_PIN=$USER_PIN steps "$D" 1 2
require
if on_tty step3.out "PIN for token 'ca'" "$USER_PIN" "/bin/sh $CEREMONY_HOME/3-self-sign.sh $D"; then
    pass "step 3 on a terminal, the PIN typed at the script's prompt"
else
    fail "step 3 on a terminal, the PIN typed at the script's prompt"
    tail -20 step3.out | sed 's/^/  | /'
fi
check "the transcript says the PIN was typed" grep -q 'PIN: typed by the operator' "$D/transcript.log"
check "the typed PIN was not echoed" bash -c '! grep -qF -- "$1" "$2"' _ "$USER_PIN" step3.out
save_token_pubkey ca 02 ceremony.pub.pem
verify_root "$D/root.pem" ceremony.pub.pem
steps "$D" 4
expect_failure_with --any-file "no PIN: run on a terminal" timeout -k 10 "$CMD_TIMEOUT" \
    setsid -w /bin/sh "$CEREMONY_HOME/5-sign-intermediate.sh" "$D"
check "... and wrote no certificate" test ! -e "$D/intermediate.pem"

finish
