# shellcheck shell=bash
# Shared set-up for the key reference scenarios; sourced, never run.
#
# A key reference is the PEM "PRIVATE KEY" that `openssl pkey -in pkcs11:...`
# and `openssl genpkey ... pkcs11_uri:...` write: a PKCS#8 whose algorithm
# is the provider's own OID and whose content is the key's canonical URI.
# Builds on tests/integration/lib.sh (temporary SoftHSMv2 token, openssl
# through the provider, plain verification, assertions) and adds: crafting
# a reference with plain OpenSSL (any URI, any OID), running openssl with a
# chosen list of providers, and the provider's debug log.
#
# Environment (set by tests/keyref/meson.build), besides lib.sh's:
#   HSM_KEYREF_BIN     directory of this suite's C programs

# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

KEYREF_BIN=${HSM_KEYREF_BIN:-}
# The reference OID (README, "Key generation on the token").
REF_OID=2.25.66901314653364937060485567949883125691
DEBUG_LOG="$TMP/hsm-debug.log"
printf 'the data a key reference scenario signs\n' >"$TMP/data"
DATA="$TMP/data"

# craft_reference URI OUT.pem [OID] : a reference PEM holding URI, made by
# plain OpenSSL (asn1parse -genconf), as anyone could make one.
craft_reference() {
    local uri=$1 out=$2 oid=${3:-$REF_OID}
    printf '%s\n' "asn1 = SEQUENCE:pki" "[pki]" "version = INTEGER:0" \
        "alg = SEQUENCE:alg" "key = OCTWRAP,UTF8String:$uri" "[alg]" "oid = OID:$oid" \
        >"$out.cnf"
    plain_openssl asn1parse -genconf "$out.cnf" -noout -out "$out.der" >/dev/null &&
        { echo "-----BEGIN PRIVATE KEY-----"; base64 -w 64 "$out.der"
          echo "-----END PRIVATE KEY-----"; } >"$out"
}

# logins_in_log : how many C_Login calls the debug log shows.
logins_in_log() {
    grep -c 'C_Login' "$DEBUG_LOG" 2>/dev/null || true
}

# with_providers "P1 P2 ..." SUBCOMMAND ARGS... : /usr/bin/openssl with
# exactly these providers activated on the command line, in this order
# (the hsm module from the build), and no configuration file but the one
# in OPENSSL_CONF if the caller sets it.
with_providers() {
    local list=$1 sub=$2 p
    local -a flags=(-provider-path "$HSM_PROVIDER_DIR")
    shift 2
    for p in $list; do
        flags+=(-provider "$p")
    done
    provider_wrap openssl "$sub" "$@"
    # shellcheck disable=SC2046
    env $(_preload_env) timeout -k 10 "$WRAP_TIMEOUT" "${WRAP[@]}" "$OPENSSL_BIN" "$sub" \
        "${flags[@]}" "$@"
}

# expect_refusal DESC CMD... : the command fails cleanly (exit status
# 1..123: not a signal, not a timeout), with no sanitizer report.
expect_refusal() {
    local what=$1
    shift
    _run "$@"
    if [ "$LAST_RC" -eq 0 ] || [ "$LAST_RC" -ge 124 ]; then
        fail "$what: $(_status_text)"
        _show_last
        return 1
    fi
    if _sanitizer_report; then
        fail "$what: sanitizer report"
        _show_last
        return 1
    fi
    pass "$what"
}

# uri_of_reference REF.pem : the URI a reference holds, read by plain
# OpenSSL.
uri_of_reference() {
    local off
    off=$(plain_openssl asn1parse -in "$1" 2>/dev/null |
        awk '/OCTET STRING/ { sub(/:.*/, "", $1); print $1; exit }')
    [ -n "$off" ] || return 1
    plain_openssl asn1parse -in "$1" -strparse "$off" 2>/dev/null | sed -n 's/.*UTF8STRING *://p'
}

# keyref_bin NAME : the path of one of this suite's programs; fails the
# scenario when it is not built.
keyref_bin() {
    if [ -z "$KEYREF_BIN" ] || [ ! -x "$KEYREF_BIN/$1" ]; then
        fail "$1 is not built (HSM_KEYREF_BIN=${KEYREF_BIN:-unset})"
        finish
    fi
    printf '%s' "$KEYREF_BIN/$1"
}

# cnf_keyref CNF PROGRAM ARGS... : one of this suite's programs with the
# provider activated by CNF (OPENSSL_CONF), bounded by the command timeout.
cnf_keyref() {
    local cnf=$1
    shift
    provider_wrap "OPENSSL_CONF=$cnf" "$@"
    # shellcheck disable=SC2046
    env $(_preload_env) OPENSSL_CONF="$cnf" OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
        timeout -k 10 "$WRAP_TIMEOUT" "${WRAP[@]}" "$@"
}
