#!/usr/bin/env bash
# Story: the token reports that it was removed or broke (CKR_DEVICE_REMOVED,
# CKR_DEVICE_ERROR), through the fault-injection shim wrapping SoftHSMv2.
# A long-lived process holding keys must get a clear error naming the token
# and the CKR_ code for each refused signature (never a crash, never a
# signature file), and sign again by itself once the fault is gone, with a
# signature that verifies under the key it loaded. A single transient
# fault is absorbed by the provider's retry (the signature still verifies).
# Last, the token vanishes and the module's re-initialisation fails: the
# provider must recover once the module can be initialised again.
# shellcheck source=rel_lib.sh
. "$(dirname "$0")/rel_lib.sh"

# shellcheck source=../shim/shim_lib.sh
. "$HSM_SOURCE_ROOT/tests/shim/shim_lib.sh"
need_shim

make_token flaky
serial=$TOKEN_SERIAL
make_key flaky EC:prime256v1 01 ec
make_key flaky rsa:2048 02 rsa
save_token_pubkey flaky 01 ec.pem
save_token_pubkey flaky 02 rsa.pem
require
write_provider_cnf shim.cnf "pkcs11-module-path=$HSM_FAULT_SHIM"
# By serial and id: the label must come from the provider's own message.
ec_uri="pkcs11:serial=$serial;id=%01;type=private?pin-value=$USER_PIN"
rsa_uri="pkcs11:serial=$serial;id=%02;type=private?pin-value=$USER_PIN"

holder_start shim.cnf || finish
holder_ok "loads the P-256 key through the shim" "load ec $ec_uri"
holder_ok "loads the RSA key through the shim" "load rsa $rsa_uri"
holder_sign_verifies "signs with ec before any fault" ec ec.pem

for code in CKR_DEVICE_REMOVED CKR_DEVICE_ERROR; do
    # Every C_Sign fails: each signature is refused, clearly.
    shim_control "fail C_Sign * $code"
    holder_sign_fails_with "ec while every C_Sign returns $code" ec "$code" flaky
    holder_sign_fails_with "rsa while every C_Sign returns $code" rsa "$code" flaky
    holder_sign_fails_with "ec again while every C_Sign returns $code" ec "$code" flaky
    shim_control
    holder_sign_verifies "ec signs again once $code stopped" ec ec.pem
    holder_sign_verifies "rsa signs again once $code stopped" rsa rsa.pem

    # Every call fails: the token looks dead to the whole module.
    shim_control "fail * * $code"
    holder_sign_fails_with "ec while every call returns $code" ec flaky
    if holder_send "load ec2 $ec_uri" && [ "${HOLDER_REPLY%% *}" = err ]; then
        pass "holder: a fresh load while every call returns $code is refused"
    else
        fail "holder: a fresh load while every call returns $code"
        _show_reply
    fi
    shim_control
    holder_sign_recovers "ec signs again once every call works again ($code)" ec ec.pem
    holder_within 3 "a fresh load after $code" "load ec3 $ec_uri"
    holder_ok "the fresh load's public key" "pub ec3 $TMP/ec3.$code.pem"
    same_pubkey "the key loaded after $code is the token's key" "$TMP/ec3.$code.pem" ec.pem

    # One transient fault: the provider's retry absorbs it.
    shim_control "fail C_Sign 1 $code"
    holder_sign_verifies "ec signs through one transient $code" ec ec.pem
    shim_control
done
# The token vanishes from the slot list and the module cannot be
# initialised again at first (the provider's re-initialisation fails):
# refused, clearly; once the module works again the provider must try
# again by itself and recover, as a restarted process would, within the
# bounded wait between attempts (at most 1 s by default).
shim_control "token-flags -CKF_TOKEN_INITIALIZED" "fail C_Initialize * CKR_DEVICE_ERROR" \
    "fail C_Sign * CKR_DEVICE_REMOVED"
holder_sign_fails_with "ec while the token is gone and C_Initialize fails" ec flaky
holder_sign_fails_with "ec again while the token is gone and C_Initialize fails" ec flaky
shim_control
holder_sign_recovers "ec signs again once the module initialises again" ec ec.pem
holder_sign_recovers "rsa signs again once the module initialises again" rsa rsa.pem
holder_stop
finish
