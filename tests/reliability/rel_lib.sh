# shellcheck shell=bash
# Shared set-up for the reliability scenarios; sourced, never run.
#
# Builds on tests/integration/lib.sh (temporary SoftHSMv2 token, openssl
# through the provider, plain verification, assertions, "N passed, M
# failed") and adds: running this directory's C programs through the
# provider, and a long-lived key holder (tests/policy/key_holder.c, built
# here as reliability_key_holder) driven line by line.
#
# Environment (set by tests/reliability/meson.build), besides lib.sh's:
#   HSM_REL_BIN        directory of this suite's programs (thread_storm,
#                      fork_sign, store_probe, reliability_key_holder)
#   HSM_FAULT_SHIM     the fault-injection module hsm-fault-shim.so
#   HSM_SANITIZED      1 when the build is instrumented (ASan/UBSan)

# shellcheck source=../integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

# The sanitized CI run preloads libasan into every process (scripts/test).
# Tools such as pgrep then deadlock at start (in glibc's textdomain lock);
# the processes that load the provider get the runtime through lib.sh's
# _preload_env (HSM_TEST_PRELOAD) and this suite's programs link it.
unset LD_PRELOAD

REL_BIN=${HSM_REL_BIN:-}
HOLDER_BIN="$REL_BIN/reliability_key_holder"
printf 'the data a reliability scenario signs\n' >"$TMP/data"
DATA="$TMP/data"

# rel_bin NAME : the path of one of this suite's programs; fails the
# scenario when it is not built.
rel_bin() {
    if [ -z "$REL_BIN" ] || [ ! -x "$REL_BIN/$1" ]; then
        fail "$1 is not built (HSM_REL_BIN=${REL_BIN:-unset})"
        finish
    fi
    printf '%s' "$REL_BIN/$1"
}

# cnf_run CNF PROGRAM ARGS... : a program with the provider activated by CNF
# (OPENSSL_CONF), bounded by the command timeout.
cnf_run() {
    local cnf=$1
    shift
    # shellcheck disable=SC2046
    env $(_preload_env) OPENSSL_CONF="$cnf" OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
        timeout -k 10 "$CMD_TIMEOUT" "$@"
}

# skip_when_sanitized WHY : exits with meson's "skipped" status (77) in an
# instrumented build, where this scenario cannot run (valgrind and TSan do
# not mix with ASan).
skip_when_sanitized() {
    if [ "${HSM_SANITIZED:-0}" = 1 ] || [ -n "${HSM_TEST_PRELOAD:-}" ]; then
        echo "SKIP: $SCENARIO: $1"
        FINISHED=1
        exit 77
    fi
}

# verify_sig DESC PUB.pem SIG DATA : plain OpenSSL verifies SIG over DATA.
verify_sig() {
    if plain_openssl dgst -sha256 -verify "$2" -signature "$3" "$4" >/dev/null 2>&1; then
        pass "$1"
    else
        fail "$1"
    fi
}

# The provider's reason strings (cache/error.c): a clear refusal names one.
HSM_REASON_RE='hsm[^ ]*:(internal error in the hsm provider|invalid hsm provider configuration|malformed pkcs11: URI|pkcs11: URI has an attribute that is not understood|PKCS#11 module not allowed by the configuration|cannot load PKCS#11 module|PKCS#11 call failed|no token matches the URI|several tokens match the URI|no object matches the URI|several objects match the URI|token PIN required but none given|wrong PIN|token PIN is locked or on its final try|cannot read the PIN source|public key views of the key disagree|key changed on token since it was loaded|token key failed the possession proof|token signed with a key that does not match its published public key|operation not supported by the token|token is no longer available|invalid input|the token.s public key fails the public key check)'

# expect_clean_refusal DESC [--with TEXT] CMD... : the command fails by
# itself (exit status 1..123: not a signal, not a timeout), with one of the
# provider's reasons (and TEXT, if given) in its output, and no sanitizer
# report. REFUSAL holds the first provider error line.
expect_clean_refusal() {
    local desc=$1 text=""
    shift
    if [ "$1" = --with ]; then
        text=$2
        shift 2
    fi
    _run "$@"
    REFUSAL=$(grep -hoE -- "$HSM_REASON_RE.*" "$LAST_OUT" "$LAST_ERR" | head -1 | cut -c1-300)
    if [ "$LAST_RC" -eq 0 ]; then
        fail "$desc: it was accepted"
        _show_last
    elif [ "$LAST_RC" -ge 124 ]; then
        fail "$desc: $(_status_text)"
        _show_last
    elif _sanitizer_report; then
        fail "$desc: sanitizer report"
        _show_last
    elif [ -z "$REFUSAL" ]; then
        fail "$desc: refused without one of the provider's reasons"
        _show_last
    elif [ -n "$text" ] && ! grep -qF -- "$text" "$LAST_OUT" "$LAST_ERR"; then
        fail "$desc: the error does not say \"$text\""
        _show_last
    else
        pass "$desc: refused (${REFUSAL:0:160})"
    fi
}

# --------------------------------------------------------------- the holder
# shellcheck source=../integration/holder_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../integration/holder_lib.sh"

# holder_ok DESC LINE : the command answers "ok".
holder_ok() {
    local desc=$1
    shift
    if holder_send "$*" && [ "${HOLDER_REPLY%% *}" = ok ]; then
        pass "holder: $desc"
        return 0
    fi
    fail "holder: $desc"
    _show_reply
    return 1
}

# holder_sign_verifies DESC NAME PUB.pem : a signature by NAME comes back
# and plain OpenSSL verifies it under PUB.pem.
REL_SIG_SEQ=0
holder_sign_verifies() {
    local desc=$1 name=$2 pub=$3 sig
    REL_SIG_SEQ=$((REL_SIG_SEQ + 1))
    sig="$HOLDER_DIR/sig.$REL_SIG_SEQ"
    holder_ok "$desc" "sign $name $DATA $sig SHA256" || return 1
    verify_sig "$desc: the signature verifies (plain OpenSSL)" "$pub" "$sig" "$DATA"
}

# holder_within SECONDS DESC COMMAND... : the holder's COMMAND succeeds within
# SECONDS, asked again every 0.1 s while it is refused (a failed token or
# module is tried again after a bounded wait, cache/backoff.h; the default
# cap is 1 s). Every refusal before must be a clean error answer.
HOLDER_WITHIN_MS=0
holder_within() {
    local limit=$1 desc=$2 start now
    shift 2
    start=$(date +%s%N)
    while :; do
        if ! holder_send "$*"; then
            fail "holder: $desc: the host process did not survive"
            _show_reply
            return 1
        fi
        [ "${HOLDER_REPLY%% *}" = ok ] && break
        now=$(date +%s%N)
        if [ $(((now - start) / 1000000)) -ge $((limit * 1000)) ]; then
            fail "holder: $desc: still refused after ${limit} s"
            _show_reply
            return 1
        fi
        sleep 0.1
    done
    HOLDER_WITHIN_MS=$((($(date +%s%N) - start) / 1000000))
    pass "holder: $desc (within $HOLDER_WITHIN_MS ms)"
}

# holder_sign_recovers DESC NAME PUB.pem : like holder_sign_verifies, for a
# key whose token just came back: the signature comes within 3 s.
holder_sign_recovers() {
    local desc=$1 name=$2 pub=$3 sig
    REL_SIG_SEQ=$((REL_SIG_SEQ + 1))
    sig="$HOLDER_DIR/sig.$REL_SIG_SEQ"
    holder_within 3 "$desc" "sign $name $DATA $sig SHA256" || return 1
    verify_sig "$desc: the signature verifies (plain OpenSSL)" "$pub" "$sig" "$DATA"
}

# holder_sign_fails_with DESC NAME TEXT... : the signature is refused, the
# holder is still alive, no signature file is left, and the answer holds
# every TEXT.
holder_sign_fails_with() {
    local desc=$1 name=$2 sig t
    shift 2
    REL_SIG_SEQ=$((REL_SIG_SEQ + 1))
    sig="$HOLDER_DIR/sig.$REL_SIG_SEQ"
    if ! holder_send "sign $name $DATA $sig SHA256"; then
        fail "holder: $desc: the host process did not survive"
        _show_reply
        return 1
    fi
    case "$HOLDER_REPLY" in
    ok*)
        fail "holder: $desc: a signature was returned"
        return 1
        ;;
    esac
    if [ -e "$sig" ]; then
        fail "holder: $desc: a refused signature left a file behind"
        return 1
    fi
    for t in "$@"; do
        case "$HOLDER_REPLY" in
        *"$t"*) ;;
        *)
            fail "holder: $desc: the error does not name \"$t\""
            _show_reply
            return 1
            ;;
        esac
    done
    pass "holder: $desc is refused, naming: $*"
}

# Processes a scenario started in the background are ended (by their ids)
# before lib.sh's exit handler gives its verdict.
REL_CLEANUP=()
_rel_on_exit() {
    local rc=$? p
    [ -z "$HOLDER_PID" ] || kill -KILL "$HOLDER_PID" 2>/dev/null
    for p in "${REL_CLEANUP[@]}"; do
        # shellcheck disable=SC2046
        kill -KILL $(_descendants "$p") "$p" 2>/dev/null
    done
    (exit "$rc")
    _on_exit
}
trap _rel_on_exit EXIT

