#!/usr/bin/env bash
# Runs the shim self-test against a throw-away SoftHSMv2 token:
#   shim_selftest.sh <hsm-fault-shim.so> <shim_selftest>
# The token lives in a temporary directory with its own SOFTHSM2_CONF, so
# nothing outside it is touched. Exits non-zero on any failure.
set -euo pipefail

shim=$1
selftest=$2
real=${HSM_SHIM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
export HSM_SHIM_MODULE=$real

work=$(mktemp -d "${TMPDIR:-/tmp}/shim-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$work" >"$work/softhsm2.conf"
export SOFTHSM2_CONF=$work/softhsm2.conf
unset HSM_SHIM_CONTROL HSM_SHIM_LOG

p11() {
    pkcs11-tool --module "$real" --token-label shimtest --login --pin 1234 "$@" >/dev/null
}

softhsm2-util --init-token --free --label shimtest --pin 1234 --so-pin 5678 >/dev/null
p11 --keypairgen --key-type EC:prime256v1 --id 01 --label k1
p11 --keypairgen --key-type rsa:2048 --id 02 --label r1
# Any certificate will do under id 01: wrong-pubkey must alter its key too.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/c1.key" -subj /CN=shimtest -days 1 -outform DER -out "$work/c1.der" 2>/dev/null
p11 --write-object "$work/c1.der" --type cert --id 01 --label c1
openssl req -x509 -newkey rsa:2048 -nodes \
    -keyout "$work/c2.key" -subj /CN=shimtest -days 1 -outform DER -out "$work/c2.der" 2>/dev/null
p11 --write-object "$work/c2.der" --type cert --id 02 --label c2

# Faithfulness: OpenSC's own test suite sees the same token through the
# shim as directly, with and without virtual-handle reuse. (`--test` exits
# 1 even on SoftHSM directly, so its exit status is compared, not required.)
# OpenSC 0.26 prints pointers of its own process (OAEP's "source_ptr=0x…"),
# which differ from run to run: they are masked before the comparison.
run_tool() {
    local module=$1 out=$2
    shift 2
    local rc=0
    pkcs11-tool --module "$module" --login --pin 1234 "$@" 2>&1 |
        sed -E 's/(_ptr=)0x[0-9a-fA-F]+/\1<address>/g' >"$out" || rc=$?
    echo "exit status $rc" >>"$out"
}
run_tool "$real" "$work/direct.txt" --test
run_tool "$shim" "$work/shim.txt" --test
diff -u "$work/direct.txt" "$work/shim.txt"
echo reuse-handles >"$work/ctl"
HSM_SHIM_CONTROL=$work/ctl run_tool "$shim" "$work/shim-reuse.txt" --test
diff -u "$work/direct.txt" "$work/shim-reuse.txt"
run_tool "$real" "$work/direct-O.txt" -O
run_tool "$shim" "$work/shim-O.txt" -O
diff -u "$work/direct-O.txt" "$work/shim-O.txt"
echo "# pkcs11-tool --test and -O: identical through the shim"

# SHIM_SELFTEST_WRAPPER lets a developer run the self-test under e.g.
# "valgrind --error-exitcode=1 --leak-check=full".
${SHIM_SELFTEST_WRAPPER:-} "$selftest" "$shim" "$work"
