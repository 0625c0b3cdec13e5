#!/usr/bin/env bash
# Story: a smart card key with CKA_ALWAYS_AUTHENTICATE needs the PIN again,
# as a context-specific login, for every signature; and a token with a PIN
# pad (CKF_PROTECTED_AUTHENTICATION_PATH) logs in without a PIN from the
# host. Calls are counted by OpenSC's pkcs11-spy; signatures are checked
# with plain OpenSSL.
# shellcheck source=keys_lib.sh disable=SC2317 # functions are run through _run
. "$(dirname "$0")/keys_lib.sh"

make_token card
expect_success p11 card --login --pin "$USER_PIN" --keypairgen --key-type EC:prime256v1 \
    --id 01 --label qualified --always-auth
save_pubkey_by_id card 01 qualified.pub.pem
require
printf 'to be signed\n' >data

write_provider_cnf spy.cnf "pkcs11-module-path=$PKCS11_SPY"
spy_run() {
    SPY_LOG="$TMP/spy-$1.log"
    shift
    PKCS11SPY="$SOFTHSM_MODULE" PKCS11SPY_OUTPUT="$SPY_LOG" cnf_openssl "$TMP/spy.cnf" "$@"
}
context_logins() { grep -A3 -E '^[0-9]+: C_Login$' "$SPY_LOG" | grep -c 'CKU_CONTEXT_SPECIFIC'; }

uri="pkcs11:token=card;object=qualified;type=private?pin-value=$USER_PIN"
check "pkcs11-tool marked the key always-authenticate" \
    grep -q "always authenticate" <(p11 card --list-objects --login --pin "$USER_PIN" 2>/dev/null)
expect_success spy_run one dgst -sha256 -sign "$uri" -out one.sig data &&
    expect_success plain_openssl dgst -sha256 -verify qualified.pub.pem -signature one.sig data
check "one signature: one context-specific login (saw $(context_logins))" \
    test "$(context_logins)" -eq 1
expect_success spy_run root req -new -x509 -key "$uri" -subj /CN=Qualified -days 5 -out q.pem &&
    expect_success plain_openssl verify -check_ss_sig -CAfile q.pem q.pem
check "a root certificate: a context-specific login before its signature (saw $(context_logins))" \
    test "$(context_logins)" -ge 1
check "the PIN is in no log line of the provider's output" \
    bash -c '! grep -qF -- "$1" "$2"' _ "$USER_PIN" "$LAST_ERR"

# A PIN pad: the shim reports CKF_PROTECTED_AUTHENTICATION_PATH. The
# provider then calls C_Login with no PIN (SoftHSMv2 itself has no pad and
# refuses that); the PIN in the URI is never sent.
make_token pad
make_key pad EC:prime256v1 01 padkey
require
cat >shim.ctl <<'CTL'
token-flags +CKF_PROTECTED_AUTHENTICATION_PATH
CTL
write_provider_cnf pad.cnf "pkcs11-module-path=$PKCS11_SPY"
SPY_LOG="$TMP/spy-pad.log"
# shellcheck disable=SC2046
expect_failure_with "PIN pad login" env $(_preload_env) PKCS11SPY="$HSM_FAULT_SHIM" PKCS11SPY_OUTPUT="$SPY_LOG" \
    HSM_SHIM_MODULE="$SOFTHSM_MODULE" HSM_SHIM_CONTROL="$TMP/shim.ctl" \
    OPENSSL_CONF="$TMP/pad.cnf" OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
    "$OPENSSL_BIN" req -new -x509 -key "pkcs11:token=pad;object=padkey;type=private?pin-value=$USER_PIN" \
    -subj /CN=Pad -days 5 -out pad.pem
check "the PIN pad login passed no PIN from the host" \
    bash -c 'grep -A4 -E "^[0-9]+: C_Login$" "$1" | grep -q "pPin.*NULL\|ulPinLen = 0\|\[in\] pPin\[ulPinLen\] 00000000 / 0"' _ "$SPY_LOG"
check "the PIN from the URI never reached the module" \
    bash -c '! grep -qF -- "$1" "$2"' _ "$USER_PIN" "$SPY_LOG"
finish
