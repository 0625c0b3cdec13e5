#!/usr/bin/env bash
# Story: a network HSM reached through p11-kit's RPC client. That client
# hangs for ever when its server dies mid-reply while threads share its
# socket (dying_token shows the hang and its absence), so the provider
# calls such a module one thread at a time (cache/module_rpc.h). Which
# modules that is must be right whichever way the user names the module:
# p11-kit-client.so by path, and p11-kit's proxy when a module registered
# with p11-kit has a `remote:` setting; a local module (SoftHSMv2 by path,
# the proxy without a remote module) keeps its parallel calls. Observed in
# the provider's debug log, which names the decision.
# shellcheck source=rel_lib.sh
. "$(dirname "$0")/rel_lib.sh"
# shellcheck source=../integration/p11kit_server.sh
. "$(dirname "$0")/../integration/p11kit_server.sh"
p11kit_server_available || finish

make_token rpc
require
p11kit_server_start rpc
ONE_CALL="reaches its token through p11-kit's RPC client: one call at a time"
lacks() { ! grep -qF -- "$1"; }
# What another user must reach: this directory (the test's own stays
# closed to others but may be passed through).
home="$TMP/nobody-home"
mkdir -p "$home/.config/pkcs11/modules"
chmod -R a+rwX "$home"
chmod o+x "$TMP"

# decided MODULE [RUNNER...] : runs a load through the provider on MODULE
# (with RUNNER in front, for another user) and prints the debug log.
decided() {
    local module=$1 log="$home/decided.$RANDOM.log"
    shift
    write_provider_cnf "$home/decided.cnf" "pkcs11-module-path=$module"
    chmod 644 "$home/decided.cnf"
    : >"$log"
    chmod 666 "$log"
    # shellcheck disable=SC2046
    timeout 30 "$@" env $(_preload_env) HSM_DEBUG_LOG="$log" HSM_DEBUG_LEVEL=1 OPENSSL_CONF="$home/decided.cnf" \
        OPENSSL_MODULES="$HSM_PROVIDER_DIR" openssl storeutl -noout "pkcs11:token=rpc" \
        >/dev/null 2>&1 </dev/null
    cat "$log"
}

check "p11-kit-client.so named by path: one call at a time" \
    grep -qF "$P11KIT_CLIENT $ONE_CALL" <<<"$(decided "$P11KIT_CLIENT")"
check "SoftHSMv2 named by path: calls in parallel" \
    lacks "$ONE_CALL" <<<"$(decided "$SOFTHSM_MODULE")"

# p11-kit reads a user's module files only for a user other than root: the
# proxy case runs as nobody, with a module file in its own configuration.
PROXY=$(pkg-config --variable=proxy_module p11-kit-1 2>/dev/null)
PROXY=${PROXY:-/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so}
as_nobody=(setpriv --reuid 65534 --regid 65534 --clear-groups env HOME="$home")
if ! "${as_nobody[@]}" test -r "$HSM_PROVIDER_DIR/hsm.so" -a -r "$home/decided.cnf"; then
    echo "not run: nobody cannot read the provider in $HSM_PROVIDER_DIR, and p11-kit reads a user's module files only for a user other than root"
else
    check "p11-kit's proxy with no remote module: calls in parallel" \
        lacks "$ONE_CALL" <<<"$(decided "$PROXY" "${as_nobody[@]}")"
    echo "remote: unix:path=$P11KIT_SOCK" >"$home/.config/pkcs11/modules/hsm-test-remote.module"
    chmod 644 "$home/.config/pkcs11/modules/hsm-test-remote.module"
    check "p11-kit's proxy with a module file that has remote: one call at a time" \
        grep -qF "$PROXY $ONE_CALL" <<<"$(decided "$PROXY" "${as_nobody[@]}")"
fi
p11kit_server_kill >/dev/null
finish
