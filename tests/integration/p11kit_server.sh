# shellcheck shell=bash
# A remote token, as a network HSM would be: SoftHSMv2 behind `p11-kit
# server` on a socket in $TMP, reached through p11-kit-client.so. Sourced
# after lib.sh.
#
#   p11kit_server_available          false (and a failure) when p11-kit's
#                                    server or client module is missing
#   p11kit_server_start TOKEN_LABEL  starts (or starts again) the server for
#                                    that token; sets SERVER_PID
#   p11kit_server_kill               the HSM dies: kills the server and
#                                    every process below it (one
#                                    p11-kit-remote per connected client),
#                                    by their ids, and waits until they are
#                                    gone; clears SERVER_PID
#
# P11KIT_CLIENT is the client module's path, P11KIT_SOCK the socket;
# P11_KIT_SERVER_ADDRESS is exported for the client. P11KIT_SOCK_MODE=0666
# opens the socket to every user: a server that forks children as another
# user (httpd's www-data) connects from there too.

P11KIT_CLIENT=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
P11KIT_SOCK="$TMP/p11kit.sock"
export XDG_RUNTIME_DIR="$TMP"
export P11_KIT_SERVER_ADDRESS="unix:path=$P11KIT_SOCK"
SERVER_PID=""
SERVER_SEQ=0
P11KIT_SOCK_MODE=${P11KIT_SOCK_MODE:-}

p11kit_server_available() {
    if [ ! -e "$P11KIT_CLIENT" ] || ! command -v p11-kit >/dev/null; then
        fail "p11-kit's server and client module are not installed (p11-kit, p11-kit-modules)"
        return 1
    fi
}

p11kit_server_start() {
    local token=$1
    SERVER_SEQ=$((SERVER_SEQ + 1))
    rm -f "$P11KIT_SOCK"
    p11-kit server -f -s --provider "$SOFTHSM_MODULE" -n "$P11KIT_SOCK" "pkcs11:token=$token" \
        >"$TMP/log/server$SERVER_SEQ.out" 2>"$TMP/log/server$SERVER_SEQ.err" &
    SERVER_PID=$!
    BACKGROUND_PIDS+=("$SERVER_PID")
    for _ in $(seq 100); do
        [ -S "$P11KIT_SOCK" ] && break
        sleep 0.1
    done
    [ -z "$P11KIT_SOCK_MODE" ] || [ ! -S "$P11KIT_SOCK" ] || chmod "$P11KIT_SOCK_MODE" "$P11KIT_SOCK"
    if [ -S "$P11KIT_SOCK" ]; then
        pass "p11-kit server #$SERVER_SEQ serves token $token on $P11KIT_SOCK"
    else
        fail "p11-kit server #$SERVER_SEQ did not start"
        sed 's/^/  | /' "$TMP/log/server$SERVER_SEQ.err"
        finish
    fi
}

# _p11kit_running PID : the process exists and is not a zombie (an orphan
# waits to be reaped by whoever adopted it; it serves nothing any more).
_p11kit_running() {
    local state
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
    [ -n "$state" ] && [ "$state" != Z ]
}

# Killing only the server's PID would leave each connected client its
# p11-kit-remote, still serving the token.
p11kit_server_kill() {
    local pids p names="" waited=0 left
    [ -n "$SERVER_PID" ] || return 0
    # Stopped first, so that it forks no p11-kit-remote between the listing
    # and the kill: one forked meanwhile would survive, orphaned, and keep
    # serving its client through the "outage".
    kill -STOP "$SERVER_PID" 2>/dev/null
    pids="$SERVER_PID $(_descendants "$SERVER_PID")"
    for p in $pids; do
        names="$names $(cat "/proc/$p/comm" 2>/dev/null)"
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    for p in $pids; do
        while _p11kit_running "$p" && [ "$waited" -lt 50 ]; do
            sleep 0.1
            waited=$((waited + 1))
        done
    done
    case "$names" in
    *p11-kit-remote*) pass "killed the p11-kit server and its p11-kit-remote:$names" ;;
    *) pass "killed the p11-kit server (no per-client process was running:$names)" ;;
    esac
    left=""
    for p in $pids; do
        ! _p11kit_running "$p" || left="$left $p"
    done
    check "no process that served the token is left${left:+ (left:$left)}" test -z "$left"
    SERVER_PID=""
}
