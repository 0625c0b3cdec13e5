#!/usr/bin/env bash
# Story: the application gives the token PIN through its passphrase
# callback, and the callback forks a helper that prints it (Apache httpd's
# `SSLPassPhraseDialog exec:`, a pinentry-style prompt). No PIN is in the
# URI or the configuration. fork_in_callback.c loads an EC and an RSA key
# through OSSL_STORE_open_ex with a UI_METHOD whose reader forks `cat
# PINFILE` and waits for it; every load must succeed and every signature
# verify (default provider only, public key from the token), in one thread
# and in eight threads loading at once, within seconds; also when the
# module itself forks in C_Initialize (the shim's `fork C_Initialize`).
# First, the same load with a reader that gives no PIN must be refused: the
# PIN really comes from the forked child and from nowhere else.
# shellcheck source=rel_lib.sh
. "$(dirname "$0")/rel_lib.sh"
# shellcheck source=../shim/shim_lib.sh
. "$HSM_SOURCE_ROOT/tests/shim/shim_lib.sh"
need_shim

# A hang must cost seconds (the program's own alarm is longer, for TSan).
[ -n "${HSM_CMD_TIMEOUT:-}" ] || CMD_TIMEOUT=20
prog=$(rel_bin fork_in_callback)
threads=${HSM_FORK_CB_THREADS:-8}

make_token callback
make_key callback EC:prime256v1 01 ec
make_key callback rsa:2048 02 rsa
save_token_pubkey callback 01 ec.pem
save_token_pubkey callback 02 rsa.pem
require
printf '%s\n' "$USER_PIN" >pin.txt
chmod 600 pin.txt
# No PIN anywhere but in the helper's file.
write_provider_cnf softhsm.cnf "pkcs11-module-path=$SOFTHSM_MODULE"
write_provider_cnf shim.cnf "pkcs11-module-path=$HSM_FAULT_SHIM"
ec_uri="pkcs11:token=callback;id=%01;type=private"
rsa_uri="pkcs11:token=callback;id=%02;type=private"

expect_clean_refusal "a load whose passphrase callback gives no PIN" \
    --with "token PIN required" cnf_run softhsm.cnf "$prog" refuse 1 pin.txt "$ec_uri" ec.pem

# run DESC CNF THREADS : the program forks for the PIN; every load and
# signature succeeded, and at least one PIN came from a forked child.
run() {
    local desc=$1 cnf=$2 n=$3
    if expect_success cnf_run "$cnf" "$prog" fork "$n" pin.txt "$ec_uri" ec.pem "$rsa_uri" rsa.pem
    then
        cat "$LAST_OUT"
        assert_output_matches "$n thread\(s\), 2 key\(s\): $((2 * n)) load\(s\), $((2 * n)) verified signature\(s\), [1-9][0-9]* prompt\(s\), [1-9][0-9]* PIN\(s\) from a forked child, 0 failure\(s\)" \
            "$desc: every key loaded and signed, with the PIN from a forked child"
    fi
}

run "SoftHSMv2, one thread" softhsm.cnf 1
run "SoftHSMv2, $threads threads" softhsm.cnf "$threads"
shim_control "fork C_Initialize"
: >"$SHIM_LOG"
run "a module that forks in C_Initialize, $threads threads" shim.cnf "$threads"
check "the module forked in C_Initialize" test "$(shim_calls "fork C_Initialize")" -ge 1
finish
