# shellcheck shell=bash
# Valgrind memcheck for the processes that load the provider; sourced by
# lib.sh, never run.
#
# One judgement for every suite: reliability/valgrind.sh runs its own
# commands with memcheck_cmd and memcheck_judge, and HSM_TEST_VALGRIND=1
# (meson suite 'valgrind') puts every process lib.sh starts with the
# provider in it under memcheck: hsm_openssl, modules_openssl, cnf_openssl,
# example_sign, and whatever a scenario prefixes with "${WRAP[@]}" after
# provider_wrap. valgrind writes to an XML file under log/ and its text
# channel to a file beside it, never to the process's stdout or stderr, so
# a scenario's assertions on openssl's output hold unchanged.
#
# The verdict: any memory error fails; a definite leak fails when a frame
# of its allocation stack is in hsm.so. Definite leaks of openssl,
# SoftHSMv2 or p11-kit themselves are shown, not judged: they are not ours
# to fix, and the provider must not be blamed for them.

MEMCHECK_SUPP="$HSM_SOURCE_ROOT/tests/reliability/valgrind.supp"
# valgrind runs a program 20-50 times slower; the per-command limits are
# meant for hangs, so they grow by this factor under valgrind.
MEMCHECK_SLOWDOWN=10
MEMCHECK_SEQ=0
MEMCHECK_JUDGED=0
WRAP=()
WRAP_TIMEOUT=$CMD_TIMEOUT

# memcheck_cmd XML : sets MEMCHECK, the valgrind command line (a prefix)
# that writes its report to XML and its text output to XML.txt.
memcheck_cmd() {
    MEMCHECK=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite
        --num-callers=40 --suppressions="$MEMCHECK_SUPP"
        --xml=yes --xml-file="$1" --log-file="$1.txt")
}

# memcheck_judge DESC XML : reads valgrind's XML report. Fails on any memory
# error, and on a definite leak allocated through hsm.so.
memcheck_judge() {
    local desc=$1 xml=$2 verdict hsm
    if [ ! -s "$xml" ]; then
        fail "$desc: valgrind wrote no report"
        return 1
    fi
    # valgrind names each frame's object by its real path.
    hsm=$(realpath "$HSM_PROVIDER_DIR/hsm.so")
    verdict=$(awk -v hsm="$hsm" '
        /<error>/ { inerr = 1; kind = ""; ours = 0; stack = ""; nfr = 0; bytes = "" }
        inerr && /<kind>/ { k = $0; gsub(/.*<kind>|<\/kind>.*/, "", k); kind = k }
        inerr && /<leakedbytes>/ { b = $0; gsub(/.*<leakedbytes>|<\/leakedbytes>.*/, "", b); bytes = b }
        inerr && /<obj>/ { o = $0; gsub(/.*<obj>|<\/obj>.*/, "", o); if (o == hsm) ours = 1 }
        inerr && /<fn>/ && nfr < 12 { f = $0; gsub(/.*<fn>|<\/fn>.*/, "", f); stack = stack " < " f; nfr++ }
        /<\/error>/ {
            inerr = 0
            if (kind !~ /^Leak_/) printf "ERROR %s:%s\n", kind, stack
            else if (kind == "Leak_DefinitelyLost" && ours) printf "OURS %s bytes:%s\n", bytes, stack
            else if (kind == "Leak_DefinitelyLost") printf "OTHER %s bytes:%s\n", bytes, stack
        }' "$xml")
    if grep -q '^OTHER' <<<"$verdict"; then
        echo "  $desc: definite leaks outside the provider (not judged):"
        grep '^OTHER' <<<"$verdict" | head -5 | cut -c1-300 | sed 's/^/  | /'
    fi
    if grep -qE '^(ERROR|OURS)' <<<"$verdict"; then
        fail "$desc: valgrind reports $(grep -cE '^(ERROR|OURS)' <<<"$verdict") problem(s) of the provider or memory errors (report: $xml; HSM_KEEP_TMP=1 keeps it)"
        grep -E '^(ERROR|OURS)' <<<"$verdict" | head -10 | cut -c1-400 | sed 's/^/  | /'
        return 1
    fi
    # A report cut short (the process was killed at its time limit) holds
    # no leak summary: nothing was checked at exit.
    if ! grep -q '</valgrindoutput>' "$xml"; then
        fail "$desc: valgrind's report is incomplete (process killed?)"
        return 1
    fi
    pass "$desc: no memory error, no definite leak through hsm.so"
}

# provider_wrap ARGS... : sets WRAP, the prefix for the next process that
# loads the provider (empty, or valgrind with a new report file), and
# WRAP_TIMEOUT, its time limit. ARGS describe the process in the verdict.
provider_wrap() {
    WRAP=()
    WRAP_TIMEOUT=$CMD_TIMEOUT
    [ "${HSM_TEST_VALGRIND:-0}" = 1 ] || return 0
    # BASHPID keeps names unique when a scenario wraps in a subshell, where
    # the counter's increments are lost.
    MEMCHECK_SEQ=$((MEMCHECK_SEQ + 1))
    local base="$TMP/log/memcheck/$MEMCHECK_SEQ-$BASHPID"
    _describe "$@" | cut -c1-200 >"$base.desc"
    memcheck_cmd "$base.xml"
    # shellcheck disable=SC2034 # WRAP and WRAP_TIMEOUT are read by lib.sh
    WRAP=("${MEMCHECK[@]}")
    # shellcheck disable=SC2034
    WRAP_TIMEOUT=$((CMD_TIMEOUT * MEMCHECK_SLOWDOWN))
}

# memcheck_judge_pending [all] : judges the reports of processes that have
# ended (all: every report, at the scenario's end). Only the scenario's own
# shell judges, so that no verdict is lost in a subshell.
memcheck_judge_pending() {
    local xml
    [ "${HSM_TEST_VALGRIND:-0}" = 1 ] && [ "$BASHPID" = "$$" ] || return 0
    while IFS= read -r xml; do
        [ ! -e "$xml.judged" ] || continue
        [ "${1:-}" = all ] || grep -q '</valgrindoutput>' "$xml" || continue
        : >"$xml.judged"
        MEMCHECK_JUDGED=$((MEMCHECK_JUDGED + 1))
        memcheck_judge "memcheck: $(cat "${xml%.xml}.desc")" "$xml"
    done < <(find "$TMP/log/memcheck" -name '*.xml' | sort -V)
}

# memcheck_finish : at the scenario's end, every report judged, and at
# least one: a scenario that ran nothing under valgrind checked nothing
# (unless it already failed, say in its set-up).
memcheck_finish() {
    [ "${HSM_TEST_VALGRIND:-0}" = 1 ] && [ -d "$TMP/log/memcheck" ] || return 0
    memcheck_judge_pending all
    if [ "$MEMCHECK_JUDGED" -gt 0 ]; then
        pass "memcheck: $MEMCHECK_JUDGED processes that loaded the provider, all judged"
    elif [ "$FAILED" -eq 0 ]; then
        fail "memcheck: HSM_TEST_VALGRIND=1, but no process ran under valgrind"
    fi
}

# _memcheck_preflight : valgrind is there and can run this build.
_memcheck_preflight() {
    [ "${HSM_TEST_VALGRIND:-0}" = 1 ] || return 0
    if [ -n "${HSM_TEST_PRELOAD:-}" ] || [ "${HSM_SANITIZED:-0}" = 1 ]; then
        echo "SKIP: $SCENARIO: valgrind cannot run an ASan-instrumented provider"
        # shellcheck disable=SC2034 # read by lib.sh's exit handler
        FINISHED=1
        exit 77
    fi
    if ! command -v valgrind >/dev/null; then
        fail "HSM_TEST_VALGRIND=1, but valgrind is not installed"
        finish
    fi
    mkdir -p "$TMP/log/memcheck"
}
