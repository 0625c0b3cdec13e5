#!/usr/bin/env bash
# Story: the token is remote (a network HSM): SoftHSMv2 behind `p11-kit
# server`, the provider on p11-kit-client.so. The server dies mid-run (the
# server and its per-client p11-kit-remote are killed). The host process
# must survive (a write to the dead socket raises SIGPIPE, whose default
# action ends the host), each operation must fail with a clear error that
# names the token, and once a server is back on the same socket the
# provider must recover by itself (no restart of the host): the next
# signature verifies under the public key the key was loaded with.
# Then the same with sixteen threads signing while the server is killed.
# shellcheck source=rel_lib.sh
. "$(dirname "$0")/rel_lib.sh"

# shellcheck source=../integration/p11kit_server.sh
. "$(dirname "$0")/../integration/p11kit_server.sh"
p11kit_server_available || finish

make_token dying
serial=$TOKEN_SERIAL
make_key dying EC:prime256v1 01 ec
make_key dying rsa:2048 02 rsa
save_token_pubkey dying 01 ec.pem
save_token_pubkey dying 02 rsa.pem
require

# server_start : the server for this scenario's token (again).
server_start() {
    p11kit_server_start dying
}

write_provider_cnf remote.cnf "pkcs11-module-path=$P11KIT_CLIENT"
# By id and serial only: the token's label must come from the provider's
# own message, not from an echo of the URI.
ec_uri="pkcs11:serial=$serial;id=%01;type=private?pin-value=$USER_PIN"
rsa_uri="pkcs11:serial=$serial;id=%02;type=private?pin-value=$USER_PIN"
GONE_ERR="dying"

# 1. A long-lived process loads two keys and signs.
server_start
holder_start remote.cnf || finish
holder_ok "loads the P-256 key through p11-kit-client" "load ec $ec_uri"
holder_ok "loads the RSA key through p11-kit-client" "load rsa $rsa_uri"
holder_sign_verifies "signs with ec through the remote token" ec ec.pem
holder_sign_verifies "signs with rsa through the remote token" rsa rsa.pem

# 2. The server dies while the process holds the keys.
p11kit_server_kill
holder_sign_fails_with "signing with ec while the server is dead" ec "$GONE_ERR"
holder_sign_fails_with "signing with rsa while the server is dead" rsa "$GONE_ERR"
holder_sign_fails_with "signing with ec again while the server is dead" ec "$GONE_ERR"
if holder_send "load ec2 $ec_uri" && [ "${HOLDER_REPLY%% *}" = err ]; then
    pass "holder: a fresh load while the server is dead is refused (the host survives)"
else
    fail "holder: a fresh load while the server is dead"
    _show_reply
fi
# (The openssl binary is not instrumented: under tsan.sh it cannot load the
# ThreadSanitizer build of the provider, so its steps are left to the
# plain and ASan runs.)
if [ "${HSM_UNDER_TSAN:-0}" != 1 ]; then
    expect_clean_refusal "a new process while the server is dead" \
        cnf_openssl remote.cnf pkey -in "$ec_uri" -pubout -out dead.pem
fi

# 3. A server is back on the same socket (same token directory): the same
# process signs again without being restarted, with the key it loaded.
server_start
# A new process works at once: the server really is back.
if [ "${HSM_UNDER_TSAN:-0}" != 1 ]; then
    expect_success cnf_openssl remote.cnf pkey -in "$ec_uri" -pubout -out back.pem
    same_pubkey "a new process sees the token's key again" back.pem ec.pem
else
    sleep 1.1 # what that step takes: the module is tried again within 1 s
fi
holder_sign_verifies "the first signature with ec after the server is back" ec ec.pem ||
    holder_sign_verifies "a second signature with ec after the server is back" ec ec.pem
holder_sign_verifies "signs with rsa after the server is back" rsa rsa.pem
holder_ok "a fresh load after the server is back" "load ec3 $ec_uri"
holder_ok "the fresh load's public key" "pub ec3 $TMP/ec3.pem"
same_pubkey "the key loaded after recovery is the token's key" "$TMP/ec3.pem" ec.pem
holder_stop

# 4. Sixteen threads sign through the remote token while the server is
# killed (stopped, then killed with its p11-kit-remote) and started again
# twelve times. p11-kit's RPC client lets threads share its socket, and a
# thread waiting for another's reply waits for ever when the server dies
# between a reply's header and its body (p11-kit 0.24 and 0.25): before
# the provider called such a module one thread at a time, this hung the
# process in most runs. 3 s after the last return the process is asked to
# stop: it must end by itself, every signature it made must verify, and it
# must have been signing again (its last signature under 2 s old).
storm=$(rel_bin thread_storm)
cnf_run remote.cnf "$storm" "$rsa_uri" rsa.pem "$ec_uri" ec.pem 1000000 1000000 120 \
    >"$TMP/log/storm.out" 2>"$TMP/log/storm.err" </dev/null &
storm_pid=$!
REL_CLEANUP+=("$storm_pid")
sleep 1.5
for cycle in $(seq 12); do
    p11kit_server_kill >/dev/null
    sleep 0.2
    p11kit_server_start dying >/dev/null
    sleep "0.$((RANDOM % 5 + 4))"
done
sleep 3
storm_proc=""
for p in $(_descendants "$storm_pid"); do
    [ "$(cat "/proc/$p/comm" 2>/dev/null)" != thread_storm ] || storm_proc=$p
done
check "the signing process is still running after the server's last return" test -n "$storm_proc"
[ -z "$storm_proc" ] || kill -USR1 "$storm_proc"
for _ in $(seq 300); do
    kill -0 "$storm_pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$storm_pid" 2>/dev/null; then
    fail "sixteen signing threads, server killed 12 times: the process has not ended 30 s after it was asked to (hang)"
    # shellcheck disable=SC2046
    show_stacks "$storm_proc"
    # shellcheck disable=SC2046
    kill -KILL $(_descendants "$storm_pid") 2>/dev/null
else
    pass "sixteen signing threads, server killed 12 times: the process ended when asked"
fi
wait "$storm_pid"
rc=$?
cat "$TMP/log/storm.out"
check "sixteen signing threads, server killed 12 times: every signature verifies and it was signing again after the last return (exit status $rc)" \
    test "$rc" -eq 0
if grep -q 'DOES NOT VERIFY' "$TMP/log/storm.err"; then
    fail "a signature returned while the server came and went does not verify"
fi
[ -z "$SERVER_PID" ] || p11kit_server_kill >/dev/null

finish
