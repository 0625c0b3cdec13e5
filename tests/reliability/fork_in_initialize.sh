#!/usr/bin/env bash
# Story: the PKCS#11 module forks inside C_Initialize, as p11-kit's
# `remote: |command` transport does and as any module that starts a helper
# process does (the fault shim's `fork C_Initialize`: a real fork(), so the
# provider's pthread_atfork handlers run in the thread that is initialising
# the module). Every (re-)initialisation must go through, within seconds:
#   a. the first one: a key loads, signs, the signature verifies;
#   b. after a URI matches no token (the provider initialises the module
#      again to look for a token created since): a clean "no token matches";
#   c. after the token vanished under a long-lived process (deleted and
#      created again by another process): the process reloads the key;
#   d. in a forked child (PKCS#11 wants C_Initialize again there; the
#      provider does it on the child's first use): parent and child sign
#      with the key loaded before the fork (tests/reliability/fork_sign.c);
#   e. after a remote token's server died (shim over p11-kit-client.so,
#      `p11-kit server` killed with its p11-kit-remote, then back): the
#      process signs again by itself.
# Each step's shim log must show the fork, or the step proves nothing.
# A hang is reported as such (every command and holder answer is bounded).
# shellcheck source=rel_lib.sh
. "$(dirname "$0")/rel_lib.sh"
# shellcheck source=../shim/shim_lib.sh
. "$HSM_SOURCE_ROOT/tests/shim/shim_lib.sh"
# shellcheck source=../integration/p11kit_server.sh
. "$HSM_SOURCE_ROOT/tests/integration/p11kit_server.sh"
need_shim
p11kit_server_available || finish

# A hang must cost seconds, not the minute lib.sh allows a slow command.
[ -n "${HSM_CMD_TIMEOUT:-}" ] || CMD_TIMEOUT=10

make_token forkinit
make_key forkinit EC:prime256v1 01 ec
make_key forkinit rsa:2048 02 rsa
save_token_pubkey forkinit 01 ec.pem
save_token_pubkey forkinit 02 rsa.pem
require
write_provider_cnf fork.cnf "pkcs11-module-path=$HSM_FAULT_SHIM"
ec_uri="pkcs11:token=forkinit;id=%01;type=private?pin-value=$USER_PIN"
rsa_uri="pkcs11:token=forkinit;id=%02;type=private?pin-value=$USER_PIN"
shim_control "fork C_Initialize"

# forked DESC AT-LEAST : the shim's log shows at least that many children
# of C_Initialize since it was emptied (the module really did fork).
forked() {
    local n
    n=$(shim_calls "fork C_Initialize")
    if [ "${n:-0}" -ge "$2" ]; then
        pass "$1: C_Initialize forked ($n child(ren), each waited for)"
    else
        fail "$1: C_Initialize forked ${n:-0} time(s), expected at least $2"
    fi
}

echo "--- a. first initialisation"
: >"$SHIM_LOG"
expect_success cnf_openssl fork.cnf pkey -in "$ec_uri" -pubout -out a-ec.pem &&
    same_pubkey "a: the key loaded is the token's P-256 key" a-ec.pem ec.pem
expect_success cnf_openssl fork.cnf dgst -sha256 -sign "$rsa_uri" -out a-rsa.sig "$DATA" &&
    verify_sig "a: the RSA signature verifies (plain OpenSSL)" rsa.pem a-rsa.sig "$DATA"
forked "a" 2

echo "--- b. re-initialisation after a URI matched no token"
: >"$SHIM_LOG"
expect_clean_refusal "b: a URI that matches no token" --with "no token matches" \
    cnf_openssl fork.cnf pkey -pubout -in "pkcs11:token=nosuch;id=%01;type=private?pin-value=$USER_PIN"
forked "b (first initialisation and the one looking for the token)" 2

echo "--- c. re-initialisation after the token vanished under a long-lived process"
holder_start fork.cnf || finish
holder_ok "c: loads the P-256 key" "load ec $ec_uri"
holder_sign_verifies "c: signs before the token vanishes" ec ec.pem
expect_success softhsm2-util --delete-token --token forkinit
make_token forkinit
make_key forkinit EC:prime256v1 01 ec
save_token_pubkey forkinit 01 ec-new.pem
: >"$SHIM_LOG"
if holder_send "sign ec $DATA $TMP/c-old.sig SHA256" && [ "${HOLDER_REPLY%% *}" = err ]; then
    pass "holder: c: the vanished token's key is refused (${HOLDER_REPLY:0:160})"
else
    fail "holder: c: signing with the vanished token's key"
    _show_reply
fi
holder_ok "c: reloads the key from the token created again" "load ec2 $ec_uri"
holder_ok "c: the reloaded key's public key" "pub ec2 $TMP/c-ec2.pem"
same_pubkey "c: the reloaded key is the new token's key" "$TMP/c-ec2.pem" ec-new.pem
holder_sign_verifies "c: signs with the reloaded key" ec2 ec-new.pem
forked "c (the module initialised again to find the new token)" 1
holder_stop

echo "--- d. initialisation in a forked child"
: >"$SHIM_LOG"
expect_success cnf_run fork.cnf "$(rel_bin fork_sign)" 0 "$ec_uri" ec-new.pem &&
    assert_output_contains "phase 1: 1 key(s), parent and child signed, 0 failure(s)"
forked "d (the parent's first initialisation and the child's)" 2

echo "--- e. re-initialisation after a remote token's server died"
export HSM_SHIM_MODULE="$P11KIT_CLIENT"
p11kit_server_start forkinit
: >"$SHIM_LOG"
expect_success cnf_openssl fork.cnf pkey -in "$ec_uri" -pubout -out e-ec.pem &&
    same_pubkey "e: through p11-kit-client, a new process loads the token's key" e-ec.pem ec-new.pem
forked "e: the first initialisation of p11-kit-client" 1
holder_start fork.cnf || finish
holder_ok "e: loads the P-256 key through p11-kit-client" "load ec $ec_uri"
holder_sign_verifies "e: signs through the remote token" ec ec-new.pem
p11kit_server_kill
holder_sign_fails_with "e: signing while the server is dead" ec forkinit
p11kit_server_start forkinit
: >"$SHIM_LOG"
# The module is tried again at a bounded rate (at most 1 s apart by default).
holder_sign_recovers "e: signs again once the server is back" ec ec-new.pem
forked "e (the module initialised again once the server was back)" 1
holder_stop
p11kit_server_kill >/dev/null
finish
