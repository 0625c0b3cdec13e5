#!/usr/bin/env bash
# Builds the libFuzzer targets with clang straight from the sources
# (-fsanitize=fuzzer,address,undefined) and runs each for a bounded time
# from its committed seed corpus in corpus/<target>/. Any crash, sanitizer
# report, leak or broken invariant fails the run; libFuzzer's reproducer is
# kept as crash-<target>-* in the work directory (copy it into
# corpus/<target>/ as a regression input).
#
#   fuzz_uri     uri/uri.c: parsing, unknown-attribute check, redaction,
#                search templates, matching; a marker PIN must never reach
#                the redacted URI or an error message
#   fuzz_config  provider/config.c: hsm_config_from_options() with fuzzed option
#                strings; the parsed values must agree with the input
#   fuzz_module  the whole provider, built in, loading a key and signing
#                through a hostile module whose answers come from the input
#                (fake_module.c): a key handed out must be the key the token
#                signs with, a signature returned must verify
#
# Environment: HSM_FUZZ_SECONDS (per target, default 60), HSM_FUZZ_WORK
# (work directory, default a temporary one), CC (default clang).
# Prints "N passed, M failed"; exits 77 (skipped) without clang/libFuzzer
# or inside a sanitized meson build (the fuzzers do not depend on it).
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
seconds=${HSM_FUZZ_SECONDS:-60}
cc=${CC:-clang}
passed=0
failed=0

if [ "${HSM_SANITIZED:-0}" = 1 ]; then
    echo "SKIP: fuzz: runs in the plain build only (it builds its own instrumented binaries)"
    exit 77
fi
case "$cc" in *clang*) ;; *) cc=clang ;; esac
if ! command -v "$cc" >/dev/null; then
    echo "SKIP: fuzz: clang is not installed"
    exit 77
fi
work=${HSM_FUZZ_WORK:-}
if [ -z "$work" ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/hsm-fuzz.XXXXXX") || exit 1
    trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
    >"$work/probe.c"
if ! "$cc" -fsanitize=fuzzer,address,undefined "$work/probe.c" -o "$work/probe" 2>"$work/probe.log"; then
    echo "SKIP: fuzz: $cc cannot build libFuzzer targets (libclang-rt-dev missing?):"
    head -5 "$work/probe.log"
    exit 77
fi

# LeakSanitizer matches lsan.supp against function names: without a
# symbolizer the stacks are bare addresses, nothing is suppressed, and
# OpenSSL's per-thread random generators are reported as leaks.
if ! command -v llvm-symbolizer >/dev/null; then
    echo "FAIL: fuzz: llvm-symbolizer is not installed (package llvm, scripts/install-deps.sh):" \
        "the leak suppressions cannot match"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
fi

# shellcheck disable=SC2207
deps=($(pkg-config --cflags --libs p11-kit-1 libcrypto)) || {
    echo "FAIL: pkg-config does not know p11-kit-1 and libcrypto"
    echo "fuzz: 0 passed, 1 failed"
    exit 1
}
common=(uri/uri.c uri/pin_source.c cache/error.c cache/debug_log.c cache/ckr_name.c cache/fork_gate.c
    cache/backoff.c cache/lock.c)
declare -A sources=(
    [uri]=""
    [config]="provider/options.c provider/config.c provider/token_pin.c cache/audit_json.c
        cache/audit_chain.c cache/audit_record.c cache/audit_log.c"
    [module]="$(cd "$src" && echo provider/*.c cache/*.c uri/*.c | tr ' ' '\n' |
        grep -vxF -e uri/uri.c -e uri/pin_source.c -e cache/error.c -e cache/debug_log.c \
            -e cache/ckr_name.c -e cache/fork_gate.c -e cache/backoff.c -e cache/lock.c |
        tr '\n' ' ')"
)
# fuzz_module's hostile module is a library of its own (the provider loads
# it by path); the target links it too, to feed it the input.
fake="$work/libhsm-fuzz-fake.so"
# shellcheck disable=SC2086
if ! (cd "$src" && "$cc" -g -O1 -std=c11 -D_GNU_SOURCE -fPIC -shared \
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
    tests/fuzz/fake_module.c "${deps[@]}" -o "$fake") >"$work/build-fake.log" 2>&1; then
    echo "FAIL: the fake module does not build:"
    head -30 "$work/build-fake.log"
    failed=$((failed + 1))
fi
declare -A extra=(
    [uri]=""
    [config]=""
    [module]="$fake -Wl,-rpath,$work -ldl"
)
# shellcheck disable=SC2054 # commas inside one -fsanitize= option
cflags=(-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
    -fno-sanitize-recover=all -fno-omit-frame-pointer -I"$src")

for target in uri config module; do
    bin="$work/fuzz_$target"
    # shellcheck disable=SC2086
    if ! (cd "$src" && "$cc" "${cflags[@]}" "tests/fuzz/fuzz_$target.c" ${sources[$target]} \
        "${common[@]}" "${deps[@]}" ${extra[$target]} -lpthread -o "$bin") \
        >"$work/build-$target.log" 2>&1; then
        echo "FAIL: fuzz_$target does not build:"
        head -30 "$work/build-$target.log"
        failed=$((failed + 1))
        continue
    fi
    # New inputs go to a scratch corpus; the committed one is only read.
    mkdir -p "$work/corpus-$target"
    rm -f "$work/$target"-*
    start=$(date +%s)
    # Full stacks, so that the suppressions can name OpenSSL's calls.
    ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0" "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix="$work/$target-" \
        "$work/corpus-$target" "$here/corpus/$target" >"$work/run-$target.log" 2>&1
    rc=$?
    end=$(date +%s)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/run-$target.log")
    found=$(ls "$work/$target"-* 2>/dev/null)
    if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
        echo "FAIL: fuzz_$target: exit status $rc after $((end - start)) s, ${execs:-?} executions"
        grep -E 'ERROR|invariant|SUMMARY|runtime error|#[0-9]+ ' "$work/run-$target.log" |
            head -40 | sed 's/^/  | /'
        for f in $found; do
            echo "  reproducer: $f ($(wc -c <"$f") bytes): $(head -c 200 "$f" | od -An -c | tr -s ' ' | head -3)"
        done
        failed=$((failed + 1))
    else
        echo "ok: fuzz_$target: ${execs:-?} executions in $((end - start)) s," \
            "$(find "$here/corpus/$target" -type f | wc -l) seeds," \
            "$(find "$work/corpus-$target" -type f | wc -l) new inputs, no crash"
        passed=$((passed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
