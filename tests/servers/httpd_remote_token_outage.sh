#!/usr/bin/env bash
# Story (issue 16): Apache httpd serves HTTPS with a P-256 and an RSA-2048
# key on a network HSM (SoftHSMv2 behind `p11-kit server`, the provider on
# p11-kit-client.so), under the event and the prefork MPM, with parallel
# clients on loopback. The HSM dies in the middle of the load (the server
# and every p11-kit-remote killed) and comes back 5 s later on the same
# socket. What must hold:
# - with the token healthy, 0 failures (ab, both keys);
# - the master runs throughout, no child dies;
# - while the HSM is dead every handshake fails, quickly, with the
#   provider's reason that the token is not in the module's slot list (and
#   never that the server's user may lack permission: its children used
#   the token a moment before);
# - service is back within 2 s of the HSM's return, without restarting
#   httpd, and every later handshake succeeds;
# - every handshake that completed was signed by the served certificate's
#   key and its chain verifies (plain `openssl s_client` in a loop, per
#   key, throughout);
# - the HSM is not stormed: per process, C_Initialize calls while it is
#   dead stay within what the retry policy allows (below), and after its
#   return each process initialises the module and logs in a couple of
#   times at most. Counted in the provider's debug log (hsm[PID/TID] lines).
#
# The bound: a module that fails is tried again after 50, 50, 100, 200,
# 400, 800 ms, then every 1000 ms (retry-interval-min-ms and -max-ms,
# cache/backoff.c): 7 attempts in the first 1.6 s, then one a second, so
# at most 7 + ceil(D) in an outage of D seconds, per process, whatever the
# request rate (the threads of a process share the wait). One more for the
# attempts that straddle the window's edges: 8 + ceil(D).
# shellcheck source=httpd_lib.sh
. "$(dirname "$0")/httpd_lib.sh"
httpd_available

OUTAGE=5
make_token remote
httpd_make_ca
httpd_two_keys remote
require
httpd_remote_token remote
httpd_debug_log 1
require

# window_count ERE FROM TO : "MAX TOTAL PROCESSES" of debug-log lines.
window_count() {
    httpd_debug_per_process "$@"
}

for mpm in $HTTPD_MPMS; do
    echo "--- the HSM dies for ${OUTAGE}s under load, $mpm MPM"
    [ -n "$SERVER_PID" ] || p11kit_server_start remote
    httpd_config mpm="$mpm" cnf="$HTTPD_REMOTE_CNF" "${HTTPD_TWO_KEYS[@]}" \
        extra="LogLevel notice ssl:info"
    httpd_start || continue
    httpd_load 100 8 "${HTTPD_EC_AB[@]}"
    httpd_expect_no_failures "$mpm, healthy token: 100 P-256 handshakes"
    httpd_load 100 8 "${HTTPD_RSA_AB[@]}"
    httpd_expect_no_failures "$mpm, healthy token: 100 RSA-2048 handshakes"

    httpd_master_alive_start
    httpd_verifier_start ec "$HTTPD_EC_CERT" "${HTTPD_EC_TLS[@]}"
    httpd_verifier_start rsa "$HTTPD_RSA_CERT" "${HTTPD_RSA_TLS[@]}"
    t_start=$EPOCHREALTIME
    httpd_load_start 0 8 -t $((OUTAGE + 7)) "${HTTPD_EC_AB[@]}"
    sleep 1.5
    t_kill=$EPOCHREALTIME s_kill=$(httpd_stamp)
    p11kit_server_kill
    t_dead=$EPOCHREALTIME
    sleep "$OUTAGE"
    t_back=$EPOCHREALTIME s_back=$(httpd_stamp)
    p11kit_server_start remote
    sleep 3
    s_after=$(httpd_stamp)
    httpd_load_wait
    httpd_verifiers_stop
    t_end=$EPOCHREALTIME
    httpd_master_alive_stop
    echo "ab, P-256, $(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }') s:" \
        "$HTTPD_LOAD_DONE of $HTTPD_LOAD_N requests served"

    # What tells httpd's own resets from failed handshakes (httpd_lib.sh,
    # httpd_expect_no_failures) must see these as failed handshakes.
    check "$mpm: ab saw the outage's handshakes fail with a TLS error, not a reset ($HTTPD_LOAD_TLS_FAILED failed, $HTTPD_LOAD_RESETS reset)" \
        test "$HTTPD_LOAD_TLS_FAILED" -gt 0
    down=$(awk -v a="$t_kill" -v b="$t_back" 'BEGIN { printf "%.1f", b - a }')
    echo "the HSM was killed at $t_kill (gone at $t_dead) and back at $t_back: ${down} s"
    for k in ec rsa; do
        before_fail=$(httpd_verified $k fail "$t_start" "$t_kill")
        check "$mpm, $k: every handshake before the HSM died succeeded" \
            test "$before_fail" -eq 0 -a "$(httpd_verified $k ok "$t_start" "$t_kill")" -gt 0
        dead_ok=$(httpd_verified $k ok "$t_dead" "$t_back")
        dead_fail=$(httpd_verified $k fail "$t_dead" "$t_back")
        check "$mpm, $k: no handshake succeeded while the HSM was dead ($dead_ok)" \
            test "$dead_ok" -eq 0
        check "$mpm, $k: handshakes failed quickly while it was dead ($dead_fail in ${OUTAGE} s)" \
            test "$dead_fail" -ge 5
        first=$(httpd_first_ok $k "$t_back")
        took=$(awk -v a="$t_back" -v b="${first:-0}" 'BEGIN { printf "%.2f", (b > 0 ? b - a : 99) }')
        check "$mpm, $k: served again ${took} s after the HSM's return (at most 2 s)" \
            awk -v t="$took" 'BEGIN { exit !(t <= 2) }'
        late_fail=$(httpd_verified $k fail "$(awk -v a="$t_back" 'BEGIN { printf "%.6f", a + 2 }')")
        check "$mpm, $k: every handshake from 2 s after the return on succeeded ($late_fail failed)" \
            test "$late_fail" -eq 0
        check "$mpm, $k: every completed handshake verified against the CA with the served key" \
            test "$(httpd_verified $k WRONG)" -eq 0
        echo "$mpm, $k: $(httpd_verified $k ok) verified handshakes, $(httpd_verified $k fail) failed"
    done
    if grep -q 'exit signal' "$HTTPD_ERROR_LOG"; then
        fail "$mpm: a child of httpd died by a signal"
        grep 'exit signal' "$HTTPD_ERROR_LOG" | head -3 | sed 's/^/  | /'
    else
        pass "$mpm: no child of httpd died"
    fi
    check "$mpm: the outage is reported as the token missing from the module's slot list" \
        grep -q "is not in the slot list of $P11KIT_CLIENT: insert the token, or bring its module or server back" \
        "$HTTPD_ERROR_LOG"
    # A child forked during the outage never reached the token: the
    # provider cannot tell an outage from a lack of permission there. The
    # children that served before it can.
    served=$(httpd_pids_served_before "$t_kill")
    blamed=$(httpd_error_lines_of "$served" 'may lack permission')
    if [ -n "$blamed" ]; then
        fail "$mpm: the outage is blamed on the server user's permissions in children that used the token before it"
        printf '%s\n' "$blamed" | head -1 | grep -o 'is not in the slot list.*' | cut -c1-300 |
            sed 's/^/  | /'
    else
        pass "$mpm: the outage is not blamed on the server user's permissions in the $(wc -w <<<"$served") children that used the token before it"
    fi

    bound=$(awk -v d="$down" 'BEGIN { c = int(d); if (c < d) c++; print 8 + c }')
    read -r max total procs < <(window_count 'C_Initialize -> ' "$s_kill" "$s_back")
    check "$mpm: at most $bound C_Initialize per process in the ${down} s the HSM was down ($max; $total in $procs processes)" \
        test "$max" -le "$bound"
    read -r max total procs < <(window_count 'C_Login' "$s_kill" "$s_back")
    check "$mpm: at most 1 C_Login per process while the HSM was down ($max; $total in $procs processes)" \
        test "$max" -le 1
    read -r max total procs < <(window_count 'C_Initialize -> ' "$s_back" "$s_after")
    check "$mpm: at most 4 C_Initialize per process in the 3 s after the return ($max; $total in $procs processes)" \
        test "$max" -le 4
    read -r max total procs < <(window_count 'C_Login' "$s_back" "$s_after")
    check "$mpm: at most 4 C_Login per process in the 3 s after the return ($max; $total in $procs processes)" \
        test "$max" -le 4

    httpd_load 100 8 "${HTTPD_EC_AB[@]}"
    httpd_expect_no_failures "$mpm, after the HSM's return: 100 P-256 handshakes"
    httpd_load 100 8 "${HTTPD_RSA_AB[@]}"
    httpd_expect_no_failures "$mpm, after the HSM's return: 100 RSA-2048 handshakes"
    httpd_served_key_is "$mpm, after the HSM's return, P-256" "$TMP/ec.pem" "${HTTPD_EC_TLS[@]}"
    httpd_served_key_is "$mpm, after the HSM's return, RSA-2048" "$TMP/rsa.pem" "${HTTPD_RSA_TLS[@]}"
    httpd_stop
done
p11kit_server_kill
finish
