# shellcheck shell=bash
# Shared set-up for the module matrix; sourced, never run.
#
# Each scenario is written once and run per module: `SCENARIO.sh DRIVER`,
# where DRIVER is one of drivers.sh's (softhsm, softhsm-proxy,
# softhsm-remote, nss, tpm2, opencryptoki). The driver starts what its
# module needs (swtpm, tpm2-abrmd on a private D-Bus session bus,
# pkcsslotd, a p11-kit server), makes its token, makes and changes keys
# from another process (tests/modules/p11_tool, never the provider), and
# says what the module cannot do.
#
# The whole scenario runs in private namespaces (unshare: mount, IPC, PID,
# network): openCryptoki's fixed paths (/etc/opencryptoki, /var/lib/
# opencryptoki, /run, /dev/shm) are test-private mounts, every daemon dies
# with the scenario (the PID namespace ends with it), and loopback ports
# cannot meet another session's: nothing outside $TMP is changed, and
# nothing is left running. Needs root (as CI and the project's machines run).
#
# Environment (tests/modules/meson.build), besides policy_lib.sh's:
#   HSM_P11_TOOL       tests/modules/p11_tool
#   HSM_TPM2_PKCS11_DIR  where tpm2-pkcs11's .debs are unpacked (default
#                      /opt/hsm-tests/tpm2-pkcs11, by scripts/install-deps.sh);
#                      tpm2-pkcs11 is never installed system-wide (it would
#                      register itself with p11-kit for every program)

if [ -z "${HSM_MODULES_IN_NS:-}" ]; then
    if ! unshare --mount --ipc --pid --fork --kill-child --mount-proc --propagation private --net \
        true 2>/dev/null; then
        echo "FAIL: $(basename "$0" .sh) needs private namespaces (unshare as root)"
        echo "0 passed, 1 failed"
        exit 1
    fi
    exec env HSM_MODULES_IN_NS=1 unshare --mount --ipc --pid --fork --kill-child --mount-proc \
        --propagation private --net bash "$0" "$@"
fi
ip link set lo up

DRIVER=${1:-${HSM_MODULE_DRIVER:-}}
MODULES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../policy/policy_lib.sh
. "$(dirname "$0")/../policy/policy_lib.sh"
SCENARIO="${SCENARIO}[$DRIVER]"

P11_TOOL=${HSM_P11_TOOL:-}
if [ -z "$P11_TOOL" ] || [ ! -x "$P11_TOOL" ]; then
    fail "p11_tool is not built (HSM_P11_TOOL=${HSM_P11_TOOL:-unset})"
    finish
fi

# shellcheck source=drivers.sh
. "$MODULES_DIR/drivers.sh"

# ------------------------------------------------------------ the driver
#
# A driver sets, in drv_setup:
#   TOKEN        the token's label; TOKEN_URI the same, percent-encoded
#   USER_PIN     the token's user PIN
#   MOD_PATH     pkcs11-module-path for the provider ("" : p11-kit's proxy)
#   MOD_OPTS     further provider options (KEY=VALUE)
#   TOOL_MODULE  the module p11_tool changes the token through
#   KEY_TYPES    the key types it can make: "ec rsa" or "rsa"
#   CANNOT       words for what the module cannot do, each with its reason
#                in WHY[word]: ec-keygen, rsa-keygen-sign-only, pss-max,
#                create-pubkey, reinit-with-sessions
# and defines drv_reinit_token (the token made anew, same label, empty).

# shellcheck disable=SC2034 # set by the drivers, read by the scenarios
declare -A WHY=()
CANNOT=""
MOD_OPTS=()

cannot() {
    case " $CANNOT " in *" $1 "*) return 0 ;; esac
    return 1
}

# p11tool COMMAND ARGS... : p11_tool on the driver's token, as another
# process.
p11tool() {
    timeout -k 5 "$CMD_TIMEOUT" "$P11_TOOL" "$TOOL_MODULE" "$TOKEN" "$USER_PIN" "$@"
}

# drv_keygen TYPE ID LABEL : a key pair made by another process.
drv_keygen() {
    expect_success p11tool keygen "$@"
}

# drv_delete ID : every object with this id, deleted by another process.
drv_delete() {
    expect_success p11tool delete "$1"
}

# no_key_on_token TOKEN ID : replaces policy_lib.sh's: the driver's token
# (read without the provider) has no object with ID.
no_key_on_token() {
    if p11tool ids 2>/dev/null | grep -qE "^[a-z]+ $2 "; then
        fail "token $1 has an object with id $2"
    else
        pass "token $1 has no object with id $2 (p11_tool)"
    fi
}

# token_pubkey TOKEN ID > PEM : replaces lib.sh's pkcs11-tool reader (used
# by policy_lib.sh's restart_equivalence): the driver's module, read
# without the provider.
token_pubkey() {
    local out
    out=$(mktemp "$TMP/pub.XXXXXX.pem")
    p11tool pubkey "$2" "$out" >/dev/null 2>&1 && cat "$out"
}

# The provider's configuration for this module.
mod_cnf() {
    local file=$1
    shift
    if [ -n "$MOD_PATH" ]; then
        write_provider_cnf "$file" "pkcs11-module-path=$MOD_PATH" "${MOD_OPTS[@]}" "$@"
    else
        write_provider_cnf "$file" "${MOD_OPTS[@]}" "$@"
    fi
}

# A private key URI on the driver's token, with the PIN.
mod_uri() {
    printf 'pkcs11:token=%s;id=%%%s;type=private?pin-value=%s' "$TOKEN_URI" "$1" "$USER_PIN"
}

# The scenario's module: set up, configured, tear-down at exit (the
# namespace ends every daemon in any case).
if ! declare -F "drv_${DRIVER//-/_}_setup" >/dev/null; then
    fail "unknown module driver \"$DRIVER\""
    finish
fi
"drv_${DRIVER//-/_}_setup"
require
mod_cnf "$TMP/mod.cnf"
# shellcheck disable=SC2034 # read by the scenarios
MOD_CNF="$TMP/mod.cnf"
echo "module $DRIVER: ${MOD_PATH:-p11-kit proxy} token \"$TOKEN\"; cannot: ${CANNOT:-nothing listed}"

# key_ids : "ec:01 rsa:02" for the types the module makes.
key_ids() {
    local t
    for t in $KEY_TYPES; do
        case $t in
        ec) printf 'ec:01 ' ;;
        rsa) printf 'rsa:02 ' ;;
        esac
    done
}
