# shellcheck shell=bash
# The fault-injection shim (hsm-fault-shim.so, directives in README.md
# here) from a scenario script; sourced after tests/integration/lib.sh.
#
#   SHIM_CTL, SHIM_LOG      the control file and the call log, exported as
#                           HSM_SHIM_CONTROL and HSM_SHIM_LOG so that every
#                           process that loads the shim sees the same ones
#   HSM_SHIM_MODULE         the real module behind it: SoftHSMv2 here; a
#                           scenario may export another (p11-kit-client.so)
#   need_shim               stops the scenario unless the shim is built
#                           (HSM_FAULT_SHIM, set by the suite's meson.build)
#   shim_control [LINE...]  replaces the directives (none: no faults)
#   shim_calls WORDS        how many log lines start with WORDS since the
#                           log was last emptied ("C_Login", "fork C_Initialize")

SHIM_CTL="$TMP/shim.ctl"
SHIM_LOG="$TMP/log/shim-calls.log"
export HSM_SHIM_MODULE="$SOFTHSM_MODULE" HSM_SHIM_CONTROL="$SHIM_CTL" HSM_SHIM_LOG="$SHIM_LOG"
: >"$SHIM_CTL"

need_shim() {
    if [ -z "${HSM_FAULT_SHIM:-}" ] || [ ! -e "$HSM_FAULT_SHIM" ]; then
        fail "the fault-injection shim is not built (HSM_FAULT_SHIM=${HSM_FAULT_SHIM:-unset})"
        finish
    fi
}

# Written beside and renamed into place, so a process re-reading the file
# never sees half of it and always sees a new file identity.
shim_control() {
    if [ "$#" -gt 0 ]; then printf '%s\n' "$@"; fi >"$SHIM_CTL.new"
    mv -f "$SHIM_CTL.new" "$SHIM_CTL"
    echo "shim control: ${*:-(no directives)}"
}

shim_calls() {
    grep -c "^$1 " "$SHIM_LOG" 2>/dev/null
}
