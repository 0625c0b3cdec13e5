# shellcheck shell=bash
# The long-lived key holder (tests/policy/key_holder.c), driven from a
# scenario: the process and its pipes. Sourced after lib.sh; the suite's
# library sets HOLDER_BIN and adds its own commands on top.
#
# key_holder reads one command a line on stdin and answers one line each:
#   load NAME URI | pub NAME FILE | sign NAME IN OUT [MD] | drop NAME | quit
#
#   holder_start CNF [PREFIX-COMMAND...]  a new holder (the running one is
#                         stopped first) whose provider is configured by CNF;
#                         an optional prefix (valgrind ...) runs it
#   holder_send LINE      one command; its answer in HOLDER_REPLY
#   holder_stop           it must quit cleanly, with no sanitizer report
#
# A suite may define holder_on_start, run for each new holder.

HOLDER_BIN=${HOLDER_BIN:-}
HOLDER_PID=""
HOLDER_W=""
HOLDER_R=""
HOLDER_DIR=""
HOLDER_SEQ=0
HOLDER_REPLY=""
HOLDER_CNF=""
HOLDER_RC=""
HOLDER_END=""

# _holder_reap : waits (bounded) for the holder that was asked to go, or
# died, and says how it ended in HOLDER_END and HOLDER_RC.
_holder_reap() {
    local waited=0 sig
    HOLDER_END=""
    HOLDER_RC=""
    [ -n "$HOLDER_PID" ] || return 0
    while kill -0 "$HOLDER_PID" 2>/dev/null && [ "$waited" -lt $((CMD_TIMEOUT * 10)) ]; do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$HOLDER_PID" 2>/dev/null; then
        kill -KILL "$HOLDER_PID" 2>/dev/null
        HOLDER_END="hung (killed)"
    fi
    wait "$HOLDER_PID" 2>/dev/null
    HOLDER_RC=$?
    if [ -z "$HOLDER_END" ]; then
        if [ "$HOLDER_RC" -ge 128 ]; then
            sig=$((HOLDER_RC - 128))
            HOLDER_END="killed by signal $sig ($(kill -l "$sig" 2>/dev/null))"
        else
            HOLDER_END="exit status $HOLDER_RC"
        fi
    fi
    [ -z "$HOLDER_W" ] || exec {HOLDER_W}>&-
    [ -z "$HOLDER_R" ] || exec {HOLDER_R}<&-
    HOLDER_PID=""
    HOLDER_W=""
    HOLDER_R=""
}

# _holder_stderr_check : the holder's stderr has no sanitizer report and no
# shim complaint (a control line the shim ignored would silently mean "no
# fault").
_holder_stderr_check() {
    local err="$HOLDER_DIR/stderr"
    [ -e "$err" ] || return 0
    if grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:|SUMMARY: UndefinedBehaviorSanitizer' "$err"; then
        fail "key holder #$HOLDER_SEQ: sanitizer report"
        head -c 4000 "$err" | sed 's/^/  | /'
    fi
    if grep -q 'hsm-fault-shim: .*line ignored' "$err"; then
        fail "key holder #$HOLDER_SEQ: the shim ignored a control line"
        grep 'hsm-fault-shim:' "$err" | head -5 | sed 's/^/  | /'
    fi
}

holder_stop() {
    [ -n "$HOLDER_PID" ] || return 0
    (printf 'quit\n' >&"$HOLDER_W") 2>/dev/null
    _holder_reap
    if [ "$HOLDER_RC" = 0 ]; then
        pass "key holder #$HOLDER_SEQ quit cleanly"
    else
        fail "key holder #$HOLDER_SEQ quit: $HOLDER_END"
        tail -c 3000 "$HOLDER_DIR/stderr" | sed 's/^/  | /'
    fi
    _holder_stderr_check
}

holder_start() {
    local cnf=$1 line=""
    shift
    holder_stop
    if [ -z "$HOLDER_BIN" ] || [ ! -x "$HOLDER_BIN" ]; then
        fail "the key holder is not built (${HOLDER_BIN:-no path})"
        return 1
    fi
    HOLDER_SEQ=$((HOLDER_SEQ + 1))
    HOLDER_DIR="$TMP/holder$HOLDER_SEQ"
    HOLDER_CNF=$cnf
    ! declare -F holder_on_start >/dev/null || holder_on_start
    mkdir -p "$HOLDER_DIR"
    mkfifo "$HOLDER_DIR/in" "$HOLDER_DIR/out" || {
        fail "cannot make the holder's pipes"
        return 1
    }
    # shellcheck disable=SC2046
    env $(_preload_env) OPENSSL_CONF="$cnf" OPENSSL_MODULES="$HSM_PROVIDER_DIR" \
        "$@" "$HOLDER_BIN" <"$HOLDER_DIR/in" >"$HOLDER_DIR/out" 2>"$HOLDER_DIR/stderr" &
    HOLDER_PID=$!
    exec {HOLDER_W}>"$HOLDER_DIR/in"
    exec {HOLDER_R}<"$HOLDER_DIR/out"
    if IFS= read -r -t "$CMD_TIMEOUT" -u "$HOLDER_R" line && [ "$line" = ready ]; then
        pass "key holder #$HOLDER_SEQ started with $(_describe "$cnf")"
        return 0
    fi
    fail "key holder #$HOLDER_SEQ did not start (said \"$line\")"
    kill -KILL "$HOLDER_PID" 2>/dev/null
    _holder_reap
    tail -c 3000 "$HOLDER_DIR/stderr" | sed 's/^/  | /'
    return 1
}

# Returns 1 when the holder is gone, hung or crashed (HOLDER_REPLY says so).
holder_send() {
    HOLDER_REPLY=""
    if [ -z "$HOLDER_PID" ]; then
        HOLDER_REPLY="(no key holder running)"
        return 1
    fi
    printf '> %s\n' "$*" >>"$HOLDER_DIR/transcript"
    if (printf '%s\n' "$*" >&"$HOLDER_W") 2>/dev/null &&
        IFS= read -r -t "$CMD_TIMEOUT" -u "$HOLDER_R" HOLDER_REPLY; then
        printf '< %s\n' "$HOLDER_REPLY" >>"$HOLDER_DIR/transcript"
        return 0
    fi
    if kill -0 "$HOLDER_PID" 2>/dev/null; then
        kill -KILL "$HOLDER_PID" 2>/dev/null
        _holder_reap
        HOLDER_REPLY="(key holder gave no answer in ${CMD_TIMEOUT}s: hang or deadlock; killed)"
    else
        _holder_reap
        HOLDER_REPLY="(key holder died: $HOLDER_END)"
    fi
    printf '< %s\n' "$HOLDER_REPLY" >>"$HOLDER_DIR/transcript"
    tail -c 3000 "$HOLDER_DIR/stderr" | sed 's/^/  | /'
    _holder_stderr_check
    return 1
}

_show_reply() {
    printf '  | %s\n' "$HOLDER_REPLY" | fold -w 160 | sed '2,$s/^/  |   /'
}
