# shellcheck shell=bash
# Shared set-up for the integration scenarios; sourced, never run.
#
# Each scenario gets a private SoftHSMv2 token directory in a temporary
# directory, makes keys there with OpenSC's pkcs11-tool, drives the real
# /usr/bin/openssl through the provider, and checks every result with plain
# OpenSSL (no provider flags, OPENSSL_CONF and OPENSSL_MODULES unset).
#
# Environment (set by tests/integration/meson.build):
#   HSM_PROVIDER_DIR   directory holding the built hsm.so
#   HSM_EXAMPLE_SIGN   path of the examples/sign_with_uri binary
#   HSM_SOURCE_ROOT    the source tree (for openssl.cnf.d/hsm.cnf)
#   HSM_VERSION        the project version (optional)
#   HSM_TEST_PRELOAD   LD_PRELOAD for processes that load the provider
#                      (libasan when the build is sanitized; optional)
#   HSM_CMD_TIMEOUT    seconds any one command may take (default 60;
#                      ten times that for a process under valgrind)
#   HSM_TEST_VALGRIND=1  every process that loads the provider runs under
#                      valgrind memcheck, each report judged
#                      (memcheck_lib.sh; meson suite 'valgrind')
#   HSM_KEEP_TMP=1     keep the temporary directory for a post-mortem

set -u -o pipefail
ulimit -c 0 2>/dev/null || true

# shellcheck disable=SC2034 # constants used by the scenario scripts
SCENARIO=$(basename "$0" .sh)
OPENSSL_BIN=/usr/bin/openssl
SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so
# shellcheck disable=SC2034
P11KIT_PROXY=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so
# shellcheck disable=SC2034
PKCS11_SPY=/usr/lib/x86_64-linux-gnu/pkcs11-spy.so
USER_PIN=1234
SO_PIN=5678
CMD_TIMEOUT=${HSM_CMD_TIMEOUT:-60}

HSM_SOURCE_ROOT=${HSM_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}

# shellcheck source=memcheck_lib.sh
. "$HSM_SOURCE_ROOT/tests/integration/memcheck_lib.sh"

PASSED=0
FAILED=0
CMD_NO=0
FINISHED=0
LAST_OUT=/dev/null
LAST_ERR=/dev/null
LAST_RC=0

# The provider under test is only ever reached through the functions below;
# nothing inherited from the caller's environment may load it (or another
# OpenSSL configuration) behind a test's back.
unset OPENSSL_CONF OPENSSL_MODULES OPENSSL_ENGINES PKCS11SPY PKCS11SPY_OUTPUT

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hsm-itest-$SCENARIO.XXXXXX") || exit 1
mkdir -p "$TMP/tokens" "$TMP/log"

# Processes a scenario starts in the background (p11kit_server_start): they
# and their children are ended before the verdict.
BACKGROUND_PIDS=()

_on_exit() {
    local rc=$? p
    for p in "${BACKGROUND_PIDS[@]}"; do
        pkill -KILL -P "$p" 2>/dev/null
        kill -KILL "$p" 2>/dev/null
    done
    if [ "$FINISHED" != 1 ]; then
        echo "FAIL: $SCENARIO stopped before its end (exit status $rc)"
        echo "$PASSED passed, $((FAILED + 1)) failed"
        rc=1
    fi
    if [ "${HSM_KEEP_TMP:-0}" = 1 ]; then
        echo "kept $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap _on_exit EXIT
trap 'exit 130' INT TERM

cd "$TMP" || exit 1

export SOFTHSM2_CONF="$TMP/softhsm2.conf"
cat >"$SOFTHSM2_CONF" <<EOF
directories.tokendir = $TMP/tokens
objectstore.backend = file
log.level = ERROR
EOF

# ---------------------------------------------------------------- reporting

pass() {
    PASSED=$((PASSED + 1))
    echo "ok: $*"
}

fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL: $*"
}

# Shows what the last command printed, for a failure report.
_show_last() {
    echo "  --- exit status $LAST_RC; stdout:"
    head -c 3000 "$LAST_OUT" | sed 's/^/  | /'
    echo "  --- stderr:"
    head -c 3000 "$LAST_ERR" | sed 's/^/  | /'
}

# The command line as shown in the report: the provider directory shortened.
_describe() {
    local s="$*"
    s=${s//"$TMP/"/}
    s=${s//"${HSM_PROVIDER_DIR:-/nonexistent-dir}"/\$HSM_PROVIDER_DIR}
    printf '%s' "$s"
}

# Prints "N passed, M failed" and ends the script with its verdict.
finish() {
    FINISHED=1
    memcheck_finish
    if [ "$PASSED" -eq 0 ] && [ "$FAILED" -eq 0 ]; then
        echo "FAIL: $SCENARIO asserted nothing"
        FAILED=1
    fi
    echo "$SCENARIO: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
    exit $?
}

# Stops early when a precondition (a token, a key) could not be made: the
# rest of the scenario would only report the same failure again.
require() {
    if [ "$FAILED" -ne 0 ]; then
        echo "FAIL: $SCENARIO cannot go on: set-up failed"
        finish
    fi
}

# ----------------------------------------------------------------- running

# _descendants PID : every process below PID, parents before children.
_descendants() {
    local c
    for c in $(pgrep -P "$1"); do
        echo "$c"
        _descendants "$c"
    done
}

# show_stacks PID... : every thread's stack of a hung process (gdb, when
# installed), for the failure report.
show_stacks() {
    local p
    command -v gdb >/dev/null || { echo "  (gdb is not installed: no stacks)"; return 0; }
    for p in "$@"; do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" != timeout ] || continue
        echo "  --- stacks of process $p ($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100))"
        timeout 60 gdb -p "$p" -batch -ex 'thread apply all bt 25' 2>/dev/null |
            grep -E '^(#|Thread )' | sed 's/^/  | /' | head -400
    done
}

# Runs a command with stdin closed, keeping its output under log/.
# Sets LAST_RC, LAST_OUT, LAST_ERR.
_run() {
    CMD_NO=$((CMD_NO + 1))
    LAST_OUT="$TMP/log/$CMD_NO.out"
    LAST_ERR="$TMP/log/$CMD_NO.err"
    printf '%s\n' "$*" >"$TMP/log/$CMD_NO.cmd"
    "$@" >"$LAST_OUT" 2>"$LAST_ERR" </dev/null
    LAST_RC=$?
    # Under valgrind, the verdict on the process comes right after it.
    memcheck_judge_pending
}

# A sanitizer report anywhere fails the step, even a step that was meant to
# fail (ASan exits 1, which would otherwise look like a clean refusal).
_sanitizer_report() {
    grep -qE 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' \
        "$LAST_OUT" "$LAST_ERR"
}

_status_text() {
    case "$LAST_RC" in
    124) echo "timed out after ${CMD_TIMEOUT}s (hang or deadlock)" ;;
    137) echo "killed after the timeout (hang or deadlock)" ;;
    *) if [ "$LAST_RC" -ge 128 ]; then
           echo "killed by signal $((LAST_RC - 128)) (crash)"
       else
           echo "exit status $LAST_RC"
       fi ;;
    esac
}

# expect_success CMD... : the command exits 0, with no sanitizer report.
expect_success() {
    local what
    what=$(_describe "$@")
    _run "$@"
    if [ "$LAST_RC" -ne 0 ]; then
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

# The file named after -out/-o in a command line, if any.
_out_file() {
    local prev=""
    for a in "$@"; do
        case "$prev" in -out | -o) printf '%s' "$a"; return ;; esac
        prev=$a
    done
}

# expect_failure_with [--no-file PATH | --any-file] "SUBSTRING" CMD...
# The command fails cleanly: exit status 1..127 (not a signal, not a
# timeout), SUBSTRING in its output, no sanitizer report, and its output
# file (-out/-o, or PATH) not created. Only openssl commands that open their
# output after loading the key are fit for the file check (req, pkeyutl);
# dgst, pkey and x509 create the output file before they load the key, so
# they take --any-file.
expect_failure_with() {
    local nofile="" what expected anyfile=0
    case "$1" in
    --no-file) nofile=$2; shift 2 ;;
    --any-file) anyfile=1; shift ;;
    esac
    expected=$1
    shift
    [ -n "$nofile" ] || [ "$anyfile" = 1 ] || nofile=$(_out_file "$@")
    # Only a file of the scenario's own is ever removed or checked: never
    # /dev/null or anything else outside its directory.
    case "$nofile" in
    "" | "$TMP"/*) ;;
    /*) nofile="" ;;
    esac
    [ -z "$nofile" ] || rm -f -- "$nofile"
    what="$(_describe "$@") fails with \"$expected\""
    _run "$@"
    if [ "$LAST_RC" -eq 0 ]; then
        fail "$what: it succeeded"
        _show_last
        return 1
    fi
    if [ "$LAST_RC" -ge 124 ]; then
        fail "$what: $(_status_text)"
        _show_last
        return 1
    fi
    if _sanitizer_report; then
        fail "$what: sanitizer report"
        _show_last
        return 1
    fi
    if ! grep -qF -- "$expected" "$LAST_OUT" "$LAST_ERR"; then
        fail "$what: message not printed"
        _show_last
        return 1
    fi
    if [ -n "$nofile" ] && [ -e "$nofile" ]; then
        fail "$what: left $(_describe "$nofile") behind"
        return 1
    fi
    pass "$what"
}

# assert_output_contains TEXT : the last command printed TEXT (fixed string).
assert_output_contains() {
    if grep -qF -- "$1" "$LAST_OUT" "$LAST_ERR"; then
        pass "output names \"$1\""
    else
        fail "output does not name \"$1\""
        _show_last
    fi
}

# assert_output_matches ERE DESC : the last command's output matches ERE.
assert_output_matches() {
    if grep -qiE -- "$1" "$LAST_OUT" "$LAST_ERR"; then
        pass "$2"
    else
        fail "$2 (no match for /$1/)"
        _show_last
    fi
}

# assert_output_lacks ERE DESC : the last command's output does not match.
assert_output_lacks() {
    if grep -qE -- "$1" "$LAST_OUT" "$LAST_ERR"; then
        fail "$2"
        grep -E -- "$1" "$LAST_OUT" "$LAST_ERR" | head -5 | sed 's/^/  | /'
    else
        pass "$2"
    fi
}

# check DESC CMD... : a plain assertion (cmp, grep, test) that must hold.
check() {
    local what=$1
    shift
    if "$@" >/dev/null 2>&1; then
        pass "$what"
    else
        fail "$what"
    fi
}

# version_at_least PACKAGE VERSION : the installed PACKAGE (pkg-config name:
# libcrypto, p11-kit-1) is VERSION or later. For the few stories where a
# dependency behaves differently on the releases tested (Debian 12: OpenSSL
# 3.0, p11-kit 0.24; Debian 13: OpenSSL 3.5, p11-kit 0.25): such a story
# states each behaviour and checks the one of the release it runs on.
version_at_least() {
    pkg-config --atleast-version="$2" "$1"
}

# ------------------------------------------------------------------ openssl

_preload_env() {
    if [ -n "${HSM_TEST_PRELOAD:-}" ]; then
        printf '%s\n' "LD_PRELOAD=$HSM_TEST_PRELOAD"
    fi
}

# hsm_openssl SUBCOMMAND ARGS... : /usr/bin/openssl with the provider loaded
# from the command line (-provider-path, -provider hsm -provider default).
hsm_openssl() {
    local sub=$1
    shift
    provider_wrap openssl "$sub" "$@"
    # shellcheck disable=SC2046
    env $(_preload_env) timeout -k 10 "$WRAP_TIMEOUT" "${WRAP[@]}" "$OPENSSL_BIN" "$sub" \
        -provider-path "$HSM_PROVIDER_DIR" -provider hsm -provider default "$@"
}

# modules_openssl SUBCOMMAND ARGS... : the provider found through
# OPENSSL_MODULES rather than -provider-path.
modules_openssl() {
    local sub=$1
    shift
    provider_wrap openssl "$sub" "$@"
    # shellcheck disable=SC2046
    env $(_preload_env) OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
        timeout -k 10 "$WRAP_TIMEOUT" "${WRAP[@]}" "$OPENSSL_BIN" "$sub" -provider hsm -provider default "$@"
}

# cnf_openssl CNF SUBCOMMAND ARGS... : the provider activated by an
# openssl.cnf (OPENSSL_CONF), no -provider flags. OPENSSL_MODULES points at
# the build so a config that names the module "hsm" finds it.
cnf_openssl() {
    local cnf=$1
    shift
    provider_wrap "OPENSSL_CONF=$cnf" openssl "$@"
    # shellcheck disable=SC2046
    env $(_preload_env) OPENSSL_CONF="$cnf" OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
        timeout -k 10 "$WRAP_TIMEOUT" "${WRAP[@]}" "$OPENSSL_BIN" "$@"
}

# cnf_program CNF PROGRAM ARGS... : a C test program with the provider
# activated by an openssl.cnf, like cnf_openssl.
cnf_program() {
    local cnf=$1
    shift
    provider_wrap "OPENSSL_CONF=$cnf" "$@"
    # shellcheck disable=SC2046
    env $(_preload_env) OPENSSL_CONF="$cnf" OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
        timeout -k 10 "$WRAP_TIMEOUT" "${WRAP[@]}" "$@"
}

# plain_openssl ARGS... : OpenSSL without the provider, for verification.
plain_openssl() {
    env -u OPENSSL_CONF -u OPENSSL_MODULES -u LD_PRELOAD \
        timeout -k 10 "$CMD_TIMEOUT" "$OPENSSL_BIN" "$@"
}

# example_sign URI IN SIG [DIGEST] : the C example, which loads the provider
# with OSSL_PROVIDER_load(NULL, "hsm"), found through OPENSSL_MODULES.
example_sign() {
    if [ -z "${HSM_EXAMPLE_SIGN:-}" ] || [ ! -x "$HSM_EXAMPLE_SIGN" ]; then
        echo "HSM_EXAMPLE_SIGN (examples/sign_with_uri) is not built" >&2
        return 1
    fi
    provider_wrap sign_with_uri "$@"
    # shellcheck disable=SC2046
    env $(_preload_env) OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
        timeout -k 10 "$WRAP_TIMEOUT" "${WRAP[@]}" "$HSM_EXAMPLE_SIGN" "$@"
}

# write_provider_cnf FILE [KEY=VALUE...] : a self-contained openssl.cnf that
# activates hsm (with the given provider options) and default.
write_provider_cnf() {
    local file=$1 kv
    shift
    {
        echo "openssl_conf = openssl_init"
        echo "[openssl_init]"
        echo "providers = provider_sect"
        echo "[provider_sect]"
        echo "hsm = hsm_sect"
        echo "default = default_sect"
        echo "[default_sect]"
        echo "activate = 1"
        echo "[hsm_sect]"
        echo "module = $HSM_PROVIDER_DIR/hsm.so"
        for kv in "$@"; do
            echo "${kv%%=*} = ${kv#*=}"
        done
        echo "activate = 1"
    } >"$file"
}

# write_snippet_cnf FILE : an openssl.cnf that activates the provider only by
# including the shipped snippet openssl.cnf.d/hsm.cnf, which defines
# [hsm_sect]; default is activated beside it.
write_snippet_cnf() {
    local file=$1
    {
        echo "openssl_conf = openssl_init"
        echo ".include $HSM_SOURCE_ROOT/openssl.cnf.d/hsm.cnf"
        echo "[openssl_init]"
        echo "providers = provider_sect"
        echo "[provider_sect]"
        echo "hsm = hsm_sect"
        echo "default = default_sect"
        echo "[default_sect]"
        echo "activate = 1"
    } >"$file"
}

# ------------------------------------------------------------------- tokens

# A token is named by its label, or by "slot:ID" when labels repeat.
_token_args() {
    case "$1" in
    slot:*) printf '%s\n' --slot "${1#slot:}" ;;
    *) printf '%s\n' --token-label "$1" ;;
    esac
}

# make_token LABEL [PIN] : initialises a free SoftHSMv2 slot. Sets
# TOKEN_SLOT (decimal slot id) and TOKEN_SERIAL of the new token.
make_token() {
    local label=$1 pin=${2:-$USER_PIN}
    TOKEN_SLOT=""
    TOKEN_SERIAL=""
    if ! expect_success softhsm2-util --init-token --free --label "$label" \
        --pin "$pin" --so-pin "$SO_PIN"; then
        return 1
    fi
    TOKEN_SLOT=$(sed -n 's/.*reassigned to slot \([0-9]*\).*/\1/p' "$LAST_OUT")
    TOKEN_SERIAL=$(softhsm2-util --show-slots 2>/dev/null | awk -v s="$TOKEN_SLOT" '
        /^Slot [0-9]+ *$/ { cur = $2 }
        cur == s && $1 == "Serial" { print $3; exit }')
    check "token \"$label\" has slot $TOKEN_SLOT and serial $TOKEN_SERIAL" \
        test -n "$TOKEN_SLOT" -a -n "$TOKEN_SERIAL"
}

# make_key TOKEN KEYTYPE ID LABEL [PIN] : a key pair made on the token by
# pkcs11-tool. KEYTYPE: rsa:2048, EC:prime256v1, EC:secp384r1, EC:secp521r1.
make_key() {
    local token=$1 type=$2 id=$3 label=$4 pin=${5:-$USER_PIN}
    local -a sel
    mapfile -t sel < <(_token_args "$token")
    expect_success pkcs11-tool --module "$SOFTHSM_MODULE" "${sel[@]}" --login --pin "$pin" \
        --keypairgen --key-type "$type" --id "$id" --label "$label"
}

# _hex_to_file HEX FILE : writes the bytes spelled by HEX.
_hex_to_file() {
    # shellcheck disable=SC2059
    printf "$(printf '%s' "$1" | sed 's/../\\x&/g')" >"$2"
}

# _ec_spki_from_attributes TOKEN-ARGS... ID DER : OpenSC 0.23's
# `--read-object --type pubkey` fails for P-384 ("cannot create EVP_PKEY"),
# so for EC the SubjectPublicKeyInfo is assembled by plain OpenSSL from the
# public key object's CKA_EC_PARAMS and CKA_EC_POINT as pkcs11-tool lists them.
_ec_spki_from_attributes() {
    local der=${*: -1} id=${*: -2:1} point params curve octets
    local -a sel=("${@:1:$#-2}")
    read -r point params < <(pkcs11-tool --module "$SOFTHSM_MODULE" "${sel[@]}" \
        --list-objects --type pubkey 2>/dev/null | awk -v id="$id" '
        /^[A-Za-z]/ { p = ""; q = "" }
        $1 == "EC_POINT:" { p = $2 }
        $1 == "EC_PARAMS:" { q = $2 }
        $1 == "ID:" && tolower($2) == tolower(id) && p != "" { print p, q; exit }')
    [ -n "${point:-}" ] && [ -n "${params:-}" ] || return 1
    _hex_to_file "$params" "$der.params" && _hex_to_file "$point" "$der.point" || return 1
    curve=$(plain_openssl asn1parse -inform DER -in "$der.params" |
        sed -n 's/.*OBJECT *:\([A-Za-z0-9-]*\).*/\1/p')
    octets=$(plain_openssl asn1parse -inform DER -in "$der.point" |
        sed -n 's/.*OCTET STRING *\[HEX DUMP\]:\([0-9A-Fa-f]*\).*/\1/p')
    [ -n "$curve" ] && [ -n "$octets" ] || return 1
    printf '%s\n' "asn1 = SEQUENCE:spki" "[spki]" "algorithm = SEQUENCE:algorithm" \
        "key = FORMAT:HEX,BITSTRING:$octets" "[algorithm]" "type = OID:id-ecPublicKey" \
        "curve = OID:$curve" >"$der.cnf"
    plain_openssl asn1parse -genconf "$der.cnf" -noout -out "$der" >/dev/null
}

# token_pubkey TOKEN ID > PEM : the public key object, read by pkcs11-tool
# (DER SubjectPublicKeyInfo) and converted to PEM by plain OpenSSL.
token_pubkey() {
    local token=$1 id=$2 der
    local -a sel
    der=$(mktemp "$TMP/pub.XXXXXX.der")
    mapfile -t sel < <(_token_args "$token")
    if ! pkcs11-tool --module "$SOFTHSM_MODULE" "${sel[@]}" --read-object --type pubkey \
        --id "$id" -o "$der" >/dev/null 2>&1; then
        _ec_spki_from_attributes "${sel[@]}" "$id" "$der" || return 1
    fi
    plain_openssl pkey -pubin -inform DER -in "$der"
}

# save_token_pubkey TOKEN ID FILE : token_pubkey into FILE, as an assertion.
save_token_pubkey() {
    if token_pubkey "$1" "$2" >"$3" 2>"$TMP/pubkey.err" && [ -s "$3" ]; then
        pass "public key $2 read from token $1"
    else
        fail "public key $2 read from token $1"
        sed 's/^/  | /' "$TMP/pubkey.err"
    fi
}

# key_uri TOKEN OBJECT : a private key URI with the PIN in it.
key_uri() {
    printf 'pkcs11:token=%s;object=%s;type=private?pin-value=%s' "$1" "$2" "$USER_PIN"
}

# ----------------------------------------------------- verification helpers

# same_pubkey DESC A.pem B.pem : both hold the same SubjectPublicKeyInfo
# (compared as DER, so PEM line breaks do not matter).
same_pubkey() {
    local desc=$1 a=$2 b=$3
    if plain_openssl pkey -pubin -in "$a" -outform DER -out "$a.spki.der" 2>/dev/null &&
        plain_openssl pkey -pubin -in "$b" -outform DER -out "$b.spki.der" 2>/dev/null &&
        cmp -s "$a.spki.der" "$b.spki.der"; then
        pass "$desc"
    else
        fail "$desc"
    fi
}

# tamper IN OUT : OUT is IN with its last byte flipped (the last byte of a
# DER certificate, CSR or signature lies in the signature value).
tamper() {
    local in=$1 out=$2 size last
    size=$(stat -c %s "$in")
    last=$(od -An -tu1 -j $((size - 1)) -N1 "$in" | tr -d ' ')
    head -c $((size - 1)) "$in" >"$out"
    # shellcheck disable=SC2059
    printf "\\$(printf %03o $((last ^ 1)))" >>"$out"
}

# tamper_pem IN.pem OUT.pem KIND : same, for a PEM certificate (KIND x509)
# or request (KIND req).
tamper_pem() {
    local in=$1 out=$2 kind=$3
    plain_openssl "$kind" -in "$in" -outform DER -out "$out.der" 2>/dev/null &&
        tamper "$out.der" "$out.bad.der" &&
        plain_openssl "$kind" -inform DER -in "$out.bad.der" -out "$out" 2>/dev/null
}

# verify_root ROOT.pem PUB.pem : a self-signed certificate that verifies
# with its own signature checked, and that carries the token's public key.
verify_root() {
    local root=$1 pub=$2
    expect_success plain_openssl verify -check_ss_sig -CAfile "$root" "$root" &&
        assert_output_contains "$root: OK"
    plain_openssl x509 -in "$root" -noout -pubkey >"$root.pub.pem" 2>/dev/null
    same_pubkey "$root carries the token's public key" "$root.pub.pem" "$pub"
}

# ---------------------------------------------------------------- preflight

_preflight() {
    local missing=0 p
    for p in "$OPENSSL_BIN" /usr/bin/pkcs11-tool /usr/bin/softhsm2-util "$SOFTHSM_MODULE"; do
        if [ ! -e "$p" ]; then
            fail "$p is not installed"
            missing=1
        fi
    done
    if [ -z "${HSM_PROVIDER_DIR:-}" ] || [ ! -e "$HSM_PROVIDER_DIR/hsm.so" ]; then
        fail "the provider is not built (HSM_PROVIDER_DIR=${HSM_PROVIDER_DIR:-unset})"
        missing=1
    fi
    [ "$missing" -eq 0 ] || finish
    # Verification must not go through the provider: plain OpenSSL as
    # configured on this machine must not have it active.
    if plain_openssl list -providers 2>/dev/null | grep -qiE '^ *hsm$|name: *hsm'; then
        fail "plain openssl already loads the hsm provider; verification would not be independent"
        finish
    fi
    _memcheck_preflight
}
_preflight
