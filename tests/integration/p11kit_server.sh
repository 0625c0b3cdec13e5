# shellcheck shell=bash
# A remote token, as a network HSM would be: SoftHSMv2 behind `p11-kit
# server` on a socket in $TMP, reached through p11-kit-client.so. Sourced
# after lib.sh.
#
#   p11kit_server_available          false (and a failure) when p11-kit's
#                                    server or client module is missing
#   p11kit_server_start TOKEN_LABEL  starts (or starts again) the server for
#                                    that token; sets SERVER_PID
#
# P11KIT_CLIENT is the client module's path, P11KIT_SOCK the socket;
# P11_KIT_SERVER_ADDRESS is exported for the client.

P11KIT_CLIENT=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
P11KIT_SOCK="$TMP/p11kit.sock"
export XDG_RUNTIME_DIR="$TMP"
export P11_KIT_SERVER_ADDRESS="unix:path=$P11KIT_SOCK"
SERVER_PID=""
SERVER_SEQ=0

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
    if [ -S "$P11KIT_SOCK" ]; then
        pass "p11-kit server #$SERVER_SEQ serves token $token on $P11KIT_SOCK"
    else
        fail "p11-kit server #$SERVER_SEQ did not start"
        sed 's/^/  | /' "$TMP/log/server$SERVER_SEQ.err"
        finish
    fi
}
