#!/usr/bin/env bash
# Story: the thread storm (thread_storm.sh: 16 threads, shared and
# per-thread keys, RSA and EC), the forks (fork_sign.sh: a fork while
# another thread signs, HSM_TSAN_FORKS times, 10 by default) and the
# passphrase callback that forks (fork_in_callback.sh: threads loading at
# once, the PIN from a forked child, also with a module that forks in
# C_Initialize) and the remote token that dies (dying_token.sh: 16 threads
# through p11-kit's client, one call at a time, while its server is killed
# and started again) under ThreadSanitizer. TSan needs a build of
# its own: this script configures one (-Db_sanitize=thread -Db_lundef=false)
# in $HSM_TSAN_BUILD (default: a directory beside the calling build, kept
# between runs so rebuilds are incremental), builds only the provider and
# the two programs, and runs both scripts against them with fewer
# signatures and forks (TSan slows everything down). The programs and hsm.so are
# instrumented and carry the TSan runtime themselves; openssl, SoftHSMv2 and
# p11-kit are not, and nothing is preloaded. Any "WARNING: ThreadSanitizer"
# fails the run. Skipped (status 77) inside a sanitized build.
set -u -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${HSM_SOURCE_ROOT:-$(cd "$here/../.." && pwd)}
build=${HSM_TSAN_BUILD:-${TMPDIR:-/tmp}/hsm-tsan-build}

if [ "${HSM_SANITIZED:-0}" = 1 ]; then
    echo "SKIP: tsan: ThreadSanitizer cannot run inside an ASan/UBSan build"
    exit 77
fi
unset LD_PRELOAD HSM_TEST_PRELOAD ASAN_OPTIONS
if [ ! -e "$build/build.ninja" ]; then
    rm -rf "$build"
    if ! meson setup "$build" "$src" -Db_sanitize=thread -Db_lundef=false \
        -Dbuildtype=debugoptimized >"${build}.setup.log" 2>&1; then
        echo "FAIL: meson setup of the TSan build failed:"
        tail -20 "${build}.setup.log"
        echo "tsan: 0 passed, 1 failed"
        exit 1
    fi
fi
if ! ninja -C "$build" provider/hsm.so tests/reliability/thread_storm \
    tests/reliability/fork_sign tests/reliability/fork_in_callback \
    tests/reliability/reliability_key_holder tests/shim/hsm-fault-shim.so \
    >"$build/ninja.log" 2>&1; then
    echo "FAIL: building the TSan provider and thread_storm failed:"
    tail -30 "$build/ninja.log"
    echo "tsan: 0 passed, 1 failed"
    exit 1
fi
echo "TSan build: $build"
export HSM_PROVIDER_DIR="$build/provider"
export HSM_REL_BIN="$build/tests/reliability"
export HSM_FAULT_SHIM="$build/tests/shim/hsm-fault-shim.so"
export HSM_STORM_RSA=${HSM_TSAN_RSA:-2000}
export HSM_STORM_EC=${HSM_TSAN_EC:-8000}
export HSM_CMD_TIMEOUT=${HSM_CMD_TIMEOUT:-240}
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 history_size=4 suppressions=$here/tsan.supp ${TSAN_OPTIONS:-}"
bash "$here/thread_storm.sh"
storm=$?
HSM_FORKS=${HSM_TSAN_FORKS:-10} bash "$here/fork_sign.sh"
forks=$?
bash "$here/fork_in_callback.sh"
callback=$?
HSM_UNDER_TSAN=1 bash "$here/dying_token.sh"
dying=$?
[ "$storm" = 0 ] && [ "$forks" = 0 ] && [ "$callback" = 0 ] && [ "$dying" = 0 ]
