#!/usr/bin/env bash
# Makes two temporary SoftHSMv2 tokens and runs hsm-bench, which prints a
# Markdown table on stdout (progress on stderr), writes the charts' data and
# draws them. Run by `ninja -C build bench`.
#
#   run_bench.sh --bench PATH --oneshot PATH --fill PATH --provider HSM.SO
#                [--load-calls PATH] [--shim HSM-FAULT-SHIM.SO] [-- extra hsm-bench options]
#
# Environment: BENCH_RESULTS (BUILD/bench-results: a directory that receives the
# tables as results.md, the charts' data and the charts drawn from them by
# draw_charts.sh), BENCH_ROUNDS (5), BENCH_SLICE (0.3 s), BENCH_PROC_RUNS (10),
# BENCH_FILL (1000 extra key pairs on the "big" token), HSM_KEEP_TMP=1,
# BENCH_PEER (pkcs11-provider's pkcs11.so; default: OpenSSL's modules
# directory, measured when present; empty: not measured);
# httpd_handshakes.sh's BENCH_HTTPD_* (then run, as root, for the httpd
# figures).
set -euo pipefail

SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
PKCS11_SPY=${PKCS11_SPY:-/usr/lib/x86_64-linux-gnu/pkcs11-spy.so}
PIN=1234
SO_PIN=5678
BENCH="" ONESHOT="" FILL="" PROVIDER="" SHIM="" LOAD_CALLS=""

while [ $# -gt 0 ]; do
    case "$1" in
    --bench) BENCH=$2; shift 2 ;;
    --oneshot) ONESHOT=$2; shift 2 ;;
    --fill) FILL=$2; shift 2 ;;
    --provider) PROVIDER=$2; shift 2 ;;
    --shim) SHIM=$2; shift 2 ;;
    --load-calls) LOAD_CALLS=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "run_bench.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
for f in "$BENCH" "$ONESHOT" "$FILL" "$PROVIDER" "$SOFTHSM_MODULE"; do
    if [ ! -e "$f" ]; then
        echo "run_bench.sh: missing '$f' (build with: meson compile -C BUILD hsm-bench" \
            "raw_oneshot fill_token hsm)" >&2
        exit 1
    fi
done
# OpenSSL reads a relative provider path from its modules directory.
PROVIDER=$(realpath "$PROVIDER")
[ -z "$SHIM" ] || SHIM=$(realpath "$SHIM")

# Nothing from the caller's environment may load another configuration.
unset OPENSSL_CONF OPENSSL_MODULES OPENSSL_ENGINES PKCS11SPY PKCS11SPY_OUTPUT \
    HSM_SHIM_MODULE HSM_SHIM_CONTROL HSM_SHIM_LOG

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hsm-bench.XXXXXX")
cleanup() {
    if [ "${HSM_KEEP_TMP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
mkdir -p "$TMP/tokens"
export SOFTHSM2_CONF="$TMP/softhsm2.conf"
cat >"$SOFTHSM2_CONF" <<CONF
directories.tokendir = $TMP/tokens
objectstore.backend = file
log.level = ERROR
CONF

keygen() { # TOKEN TYPE ID LABEL
    if ! pkcs11-tool --module "$SOFTHSM_MODULE" --token-label "$1" --login --pin "$PIN" \
        --keypairgen --key-type "$2" --id "$3" --label "$4" >"$TMP/keygen.log" 2>&1; then
        echo "run_bench.sh: pkcs11-tool could not make $2 key '$4' on token $1:" >&2
        sed 's/^/  /' "$TMP/keygen.log" >&2
        return 1
    fi
}

echo "run_bench.sh: making tokens in $TMP" >&2
softhsm2-util --init-token --free --label bench --pin "$PIN" --so-pin "$SO_PIN" >/dev/null
keygen bench rsa:2048 01 rsa2048
keygen bench EC:prime256v1 02 p256
keygen bench EC:secp384r1 03 p384
if ! keygen bench EC:edwards25519 04 ed25519; then
    echo "run_bench.sh: pkcs11-tool cannot make an Ed25519 key here; its row will be n/a" >&2
fi
# Whole-process runs see only this token: SoftHSMv2 reads every token's
# objects at C_Initialize, and the crowded one would swamp the difference.
mkdir -p "$TMP/tokens-small"
cp -a "$TMP/tokens/." "$TMP/tokens-small/"
sed "s#^directories.tokendir = .*#directories.tokendir = $TMP/tokens-small#" \
    "$SOFTHSM2_CONF" >"$TMP/softhsm2-small.conf"

softhsm2-util --init-token --free --label big --pin "$PIN" --so-pin "$SO_PIN" >/dev/null
keygen big EC:prime256v1 02 p256
start=$(date +%s.%N)
"$FILL" "$SOFTHSM_MODULE" big "$PIN" "${BENCH_FILL:-1000}" >&2
echo "run_bench.sh: filled in $(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s" >&2

args=(--provider "$PROVIDER" --module "$SOFTHSM_MODULE" --workdir "$TMP"
    --token bench --big-token big --pin "$PIN" --oneshot "$ONESHOT"
    --rounds "${BENCH_ROUNDS:-5}" --slice "${BENCH_SLICE:-0.3}"
    --proc-runs "${BENCH_PROC_RUNS:-10}" --proc-softhsm-conf "$TMP/softhsm2-small.conf"
    --softhsm-version "$(softhsm2-util --version 2>/dev/null || echo unknown)")
[ -n "$SHIM" ] && [ -e "$SHIM" ] && args+=(--shim "$SHIM")
[ -e "$PKCS11_SPY" ] && args+=(--spy "$PKCS11_SPY")

# The peer, pkcs11-provider (scripts/install-peer.sh installs Debian's).
if [ -z "${BENCH_PEER+set}" ]; then
    BENCH_PEER="$(pkg-config --variable=modulesdir libcrypto 2>/dev/null)/pkcs11.so"
fi
if [ -n "$BENCH_PEER" ] && [ -e "$BENCH_PEER" ]; then
    args+=(--peer "$BENCH_PEER" --peer-version
        "$(dpkg-query -W -f='${Version}' pkcs11-provider 2>/dev/null || echo "not from a package")")
else
    echo "run_bench.sh: pkcs11-provider not found${BENCH_PEER:+ at $BENCH_PEER}; its columns" \
        "will be n/a (scripts/install-peer.sh installs it)" >&2
fi
args+=(--hsm-revision "$(git -C "$(dirname "$0")" describe --always --dirty 2>/dev/null ||
    echo unknown)")

# The run's record: the tables, the charts' data and the charts.
RESULTS=${BENCH_RESULTS:-${MESON_BUILD_ROOT:-.}/bench-results}
mkdir -p "$RESULTS"
RESULTS=$(realpath "$RESULTS")
args+=(--data "$RESULTS")
uptime >"$RESULTS/load-before.txt"
"$BENCH" "${args[@]}" "$@" | tee "$RESULTS/results.md"
# PKCS#11 calls of one warm key load, both providers, both tokens, by label
# and by id: counts that the machine's load does not disturb.
if [ -n "$LOAD_CALLS" ] && [ -e "$PKCS11_SPY" ]; then
    {
        echo
        echo "### PKCS#11 calls of one key load (OSSL_STORE open, load, close;" \
            "pkcs11-spy; the second of two loads)"
        echo
        echo "| token | URI names | provider | calls |"
        echo "|---|---|---|---|"
        for tok in bench big; do
            for by in "object=p256" "id=%02"; do
                uri="pkcs11:token=$tok;$by;type=private?pin-value=$PIN"
                echo "| $tok | ${by%%=*} | hsm | $(timeout 300 "$LOAD_CALLS" hsm "$PROVIDER" \
                    "$PKCS11_SPY" "$SOFTHSM_MODULE" "$TMP" "$uri" || true) |"
                if [ -n "$BENCH_PEER" ] && [ -e "$BENCH_PEER" ]; then
                    echo "| $tok | ${by%%=*} | pkcs11-provider | $(timeout 300 "$LOAD_CALLS" peer \
                        "$BENCH_PEER" "$PKCS11_SPY" "$SOFTHSM_MODULE" "$TMP" "$uri" || true) |"
                fi
            done
        done
    } | tee -a "$RESULTS/results.md"
fi
uptime >"$RESULTS/load-after.txt"
bash "$(dirname "$0")/draw_charts.sh" "$RESULTS" "$RESULTS" ||
    echo "run_bench.sh: the charts were not drawn (see above)" >&2
echo "run_bench.sh: tables, data and charts in $RESULTS" >&2

# Apache httpd's handshakes per second (token behind p11-kit server, token
# direct, PEM key), through the servers suite's harness: it needs root
# (httpd's children switch to www-data), apache2 and ab.
if [ "$(id -u)" = 0 ] && [ -x /usr/sbin/apache2 ] && command -v ab >/dev/null; then
    echo
    HSM_PROVIDER_DIR=$(dirname "$PROVIDER") HSM_SOURCE_ROOT=$(cd "$(dirname "$0")/../.." && pwd) \
        bash "$(dirname "$0")/httpd_handshakes.sh" | tee "$RESULTS/httpd.md" ||
        echo "run_bench.sh: the httpd handshake figures failed (see above)" >&2
else
    echo "run_bench.sh: no httpd figures (they need root, apache2 and ab)" >&2
fi
