# shellcheck shell=bash
# Shared set-up for the key reference scenarios; sourced, never run.
#
# A key reference is the PEM "PRIVATE KEY" that `openssl pkey -in pkcs11:...`
# and `openssl genpkey ... pkcs11_uri:...` write: a PKCS#8 whose algorithm
# is the provider's own OID and whose content is the key's canonical URI.
# Builds on tests/keys/keys_lib.sh and tests/integration/lib.sh (temporary
# SoftHSMv2 token, key generation through the provider, openssl through the
# provider, plain verification, assertions) and adds: crafting
# a reference with plain OpenSSL (any URI, any OID), running openssl with a
# chosen list of providers, and the provider's debug log.
#
# Environment (set by tests/keyref/meson.build), besides lib.sh's:
#   HSM_KEYREF_BIN     directory of this suite's C programs

# shellcheck source=../keys/keys_lib.sh
. "$(dirname "$0")/../keys/keys_lib.sh"

KEYREF_BIN=${HSM_KEYREF_BIN:-}
# The reference OID (docs/uris-and-pins.md, "Key reference files").
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

# ARRANGEMENTS: the provider lists every reference must load in, as the
# command line activates them. default alone beside hsm, in both orders;
# base beside default, before, between and after (the usual FIPS
# arrangement names base beside the FIPS provider).
ARRANGEMENTS=("hsm default" "default hsm" "hsm default base" "base hsm default"
    "default base hsm")

# arrangement_cnf FILE "P1 P2 ..." [KEY=VALUE...] : an openssl.cnf that
# activates these providers in this order, hsm with the given options
# (pkcs11-module-path is SoftHSMv2). "fips" includes FIPS_CNF, which
# fips_available made.
arrangement_cnf() {
    local file=$1 list=$2 p kv
    shift 2
    {
        echo "openssl_conf = openssl_init"
        [[ " $list " != *" fips "* ]] || echo ".include $FIPS_CNF"
        echo "[openssl_init]"
        echo "providers = provider_sect"
        echo "[provider_sect]"
        for p in $list; do
            echo "$p = ${p}_sect"
        done
        for p in $list; do
            [ "$p" != fips ] || continue # its section is in FIPS_CNF
            echo "[${p}_sect]"
            if [ "$p" = hsm ]; then
                echo "module = $HSM_PROVIDER_DIR/hsm.so"
                echo "pkcs11-module-path = $SOFTHSM_MODULE"
                for kv in "$@"; do
                    echo "${kv%%=*} = ${kv#*=}"
                done
            fi
            echo "activate = 1"
        done
    } >"$file"
}

# fips_available : true when OpenSSL's FIPS provider is installed (Debian
# 13's openssl-provider-fips); then FIPS_CNF is its configuration, made
# here by openssl fipsinstall, and FIPS_MODULES a directory with hsm.so and
# fips.so for OPENSSL_MODULES.
fips_available() {
    local dir fips
    dir=$(plain_openssl version -m 2>/dev/null | sed -n 's/^MODULESDIR: "\(.*\)"$/\1/p')
    fips="$dir/fips.so"
    [ -n "$dir" ] && [ -e "$fips" ] || return 1
    FIPS_CNF="$TMP/fipsmodule.cnf"
    FIPS_MODULES="$TMP/fips-modules"
    mkdir -p "$FIPS_MODULES"
    ln -sf "$fips" "$FIPS_MODULES/fips.so"
    ln -sf "$HSM_PROVIDER_DIR/hsm.so" "$FIPS_MODULES/hsm.so"
    plain_openssl fipsinstall -module "$fips" -out "$FIPS_CNF" >/dev/null 2>&1
}

# fips_openssl CNF SUBCOMMAND ARGS... : openssl with CNF, whose modules are
# found in FIPS_MODULES.
fips_openssl() {
    local cnf=$1
    shift
    provider_wrap "OPENSSL_CONF=$cnf" openssl "$@"
    # shellcheck disable=SC2046
    env $(_preload_env) OPENSSL_CONF="$cnf" OPENSSL_MODULES="$FIPS_MODULES" \
        timeout -k 10 "$WRAP_TIMEOUT" "${WRAP[@]}" "$OPENSSL_BIN" "$@"
}
