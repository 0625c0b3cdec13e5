#!/usr/bin/env bash
# Story: a smart card key with CKA_ALWAYS_AUTHENTICATE gets a
# context-specific login before each signature, under the same rules as the
# user login: a token that reports its final PIN try or a locked PIN gets no
# PIN, and a PIN the token refused is never sent again by the process (a
# signature PIN that differs from the user PIN must not lock the card after
# a few signatures). And a signature that fails after C_SignInit (the
# token's buffer too small, a refused context login) leaves no operation
# active on a session that goes back to the pool: the next signature works.
# Calls are counted in the fault-injection shim's call log.
# shellcheck source=policy_lib.sh disable=SC2317
. "$(dirname "$0")/policy_lib.sh"
need_shim

make_token card
expect_success pkcs11-tool --module "$SOFTHSM_MODULE" --token-label card --login --pin "$USER_PIN" \
    --keypairgen --key-type EC:prime256v1 --id 01 --label qualified --always-auth
make_key card EC:prime256v1 02 plain
require
save_token_pubkey card 01 qualified.pem
save_token_pubkey card 02 plain.pem
policy_cnf shim.cnf "$HSM_FAULT_SHIM"
q_uri="pkcs11:token=card;id=%01;type=private?pin-value=$USER_PIN"
p_uri="pkcs11:token=card;id=%02;type=private?pin-value=$USER_PIN"
logins() { shim_calls C_Login; }
printf 'data for the context login story\n' >data

holder_start shim.cnf || finish
holder_load_ok "loads the always-authenticate key" q "$q_uri"
holder_sign_ok "signs with a context-specific login" q data
before=$(logins)
shim_control "token-flags +CKF_USER_PIN_FINAL_TRY"
holder_sign_fails_with "token PIN is locked or on its final try" "a signature while the token reports its final PIN try" q data
shim_control "token-flags +CKF_USER_PIN_LOCKED"
holder_sign_fails_with "token PIN is locked or on its final try" "a signature while the token reports its PIN locked" q data
check "no PIN was sent while the token reported its final try or a lock" test "$(logins)" -eq "$before"

# The token refuses the signature PIN: sent once, never again.
shim_control "fail C_Login * CKR_PIN_INCORRECT"
holder_sign_fails_with "wrong PIN" "a signature whose context PIN the token refuses" q data
holder_sign_fails_with "wrong PIN" "the next signature: the refused PIN is not sent again" q data
holder_sign_fails_with "wrong PIN" "and the one after" q data
check "the refused PIN was sent once ($(($(logins) - before)) C_Login)" \
    test "$(($(logins) - before))" -eq 1
shim_control
holder_stop

# A failure after C_SignInit: the session does not go back to the pool
# with the operation still active on it.
holder_start shim.cnf || finish
holder_load_ok "loads a plain key" p "$p_uri"
holder_load_ok "loads the always-authenticate key" q "$q_uri"
holder_sign_ok "signs with the plain key" p data
shim_control "fail C_Sign 1 CKR_BUFFER_TOO_SMALL"
holder_sign_fails_with "CKR_BUFFER_TOO_SMALL" "a signature the token answers CKR_BUFFER_TOO_SMALL" p data
shim_control
holder_sign_ok "the next signature works (no operation left active)" p data
holder_sign_ok "and the one after" p data
holder_sign_ok "signs with the always-authenticate key" q data
shim_control "fail C_Login 1 CKR_GENERAL_ERROR"
holder_sign_fails_with "CKR_GENERAL_ERROR" "a signature whose context-specific login fails" q data
shim_control
holder_sign_ok "the next always-authenticate signature works" q data
holder_sign_ok "the plain key still signs" p data
holder_stop
finish
