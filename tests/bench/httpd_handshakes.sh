#!/usr/bin/env bash
# Apache httpd's TLS handshakes per second with a token key behind `p11-kit
# server` (a network HSM's stand-in), with the token's module (SoftHSMv2)
# loaded directly, and with a PEM key in a file (no provider: the ceiling),
# for a P-256 and an RSA-2048 key, measured in one run. Each cell is `ab`
# with a fixed number of requests and clients, TLS 1.2, a new connection and
# full handshake per request (one signature each); the cells alternate in
# rounds and the table shows the median of the rounds. Run by run_bench.sh
# after hsm-bench (needs root, apache2 and ab); prints a Markdown section on
# stdout, progress on stderr. Built on the servers suite's harness
# (tests/servers/httpd_lib.sh).
#
# Environment: HSM_PROVIDER_DIR (the built hsm.so's directory, required),
# BENCH_HTTPD_REQUESTS (1000), BENCH_HTTPD_CLIENTS (8), BENCH_HTTPD_ROUNDS
# (3), BENCH_HTTPD_MPM (event).

# The harness's assertions and progress go to stderr; the table to stdout.
exec 3>&1 1>&2
# shellcheck source=../servers/httpd_lib.sh
. "$(dirname "$0")/../servers/httpd_lib.sh"
httpd_available

REQUESTS=${BENCH_HTTPD_REQUESTS:-1000}
CLIENTS=${BENCH_HTTPD_CLIENTS:-8}
ROUNDS=${BENCH_HTTPD_ROUNDS:-3}
MPM=${BENCH_HTTPD_MPM:-event}

make_token bench
httpd_make_ca
httpd_two_keys bench
# The ceiling: software keys of the same kinds, in PEM files.
expect_success plain_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$HTTPD_ROOT/ec.key"
expect_success plain_openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$HTTPD_ROOT/rsa.key"
for k in ec rsa; do
    expect_success plain_openssl req -new -key "$HTTPD_ROOT/$k.key" -subj /CN=127.0.0.1 \
        -out "$HTTPD_ROOT/$k-pem.csr" &&
        expect_success plain_openssl x509 -req -in "$HTTPD_ROOT/$k-pem.csr" -CA "$HTTPD_CA" \
            -CAkey "$HTTPD_CA_KEY" -CAcreateserial -days 2 -extfile "$HTTPD_ROOT/leaf.ext" \
            -out "$HTTPD_ROOT/$k-pem.crt"
done
write_provider_cnf "$HTTPD_ROOT/direct.cnf" "pkcs11-module-path=$SOFTHSM_MODULE" \
    "pkcs11-module-token-pin=$USER_PIN"
# The PEM server loads no provider but OpenSSL's default.
printf '%s\n' "openssl_conf = openssl_init" "[openssl_init]" >"$HTTPD_ROOT/plain.cnf"
httpd_remote_token bench
require

# One server per key source, each serving both keys; the client's cipher
# picks one. SOURCES: name, configuration, settings.
declare -A CONF_OF PORT_OF PID_OF DIR_OF
SOURCES=(remote direct pem)
LABEL_remote="token behind p11-kit server"
LABEL_direct="token, SoftHSMv2 loaded directly"
LABEL_pem="PEM key file, no provider (ceiling)"

start_source() {
    local src=$1
    case "$src" in
    remote) httpd_config mpm="$MPM" cnf="$HTTPD_REMOTE_CNF" "${HTTPD_TWO_KEYS[@]}" ;;
    direct) httpd_config mpm="$MPM" cnf="$HTTPD_ROOT/direct.cnf" "${HTTPD_TWO_KEYS[@]}" ;;
    pem) httpd_config mpm="$MPM" cnf="$HTTPD_ROOT/plain.cnf" key="$HTTPD_ROOT/ec.key" \
        cert="$HTTPD_ROOT/ec-pem.crt" extra="SSLCertificateFile \"$HTTPD_ROOT/rsa-pem.crt\"" \
        extra="SSLCertificateKeyFile \"$HTTPD_ROOT/rsa.key\"" ;;
    esac
    httpd_start || return 1
    PORT_OF[$src]=$HTTPD_PORT PID_OF[$src]=$HTTPD_PID DIR_OF[$src]=$HTTPD_DIR
    CONF_OF[$src]=$HTTPD_CONF
}

# use_source NAME : the harness's current server is that one.
use_source() {
    HTTPD_PORT=${PORT_OF[$1]} HTTPD_PID=${PID_OF[$1]} HTTPD_DIR=${DIR_OF[$1]}
    HTTPD_CONF=${CONF_OF[$1]}
    HTTPD_URL="https://127.0.0.1:$HTTPD_PORT/index.html"
    HTTPD_ACCESS_LOG="$HTTPD_DIR/logs/access.log"
    HTTPD_ERROR_LOG="$HTTPD_DIR/logs/error.log"
}

# Three servers run at once: each is ended on the way out, whatever happens.
# shellcheck disable=SC2317 # run by the trap
_bench_on_exit() {
    local rc=$? src
    for src in "${!PID_OF[@]}"; do
        # shellcheck disable=SC2046
        kill -KILL -- -"${PID_OF[$src]}" $(_descendants "${PID_OF[$src]}") 2>/dev/null
    done
    (exit "$rc")
    _httpd_on_exit
}
trap _bench_on_exit EXIT

for src in "${SOURCES[@]}"; do
    start_source "$src" || finish
done
declare -A RATES FAILED
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
read -r busy0 idle0 < <(cpu_busy)
t0=$EPOCHREALTIME
for src in "${SOURCES[@]}"; do
    use_source "$src"
    for alg in EC RSA; do
        ab_args="HTTPD_${alg}_AB[@]"
        httpd_load 100 "$CLIENTS" "${!ab_args}" # warm-up: children forked, keys found
        [ "$HTTPD_LOAD_FAILED" = 0 ] || echo "warm-up of $src $alg: $HTTPD_LOAD_FAILED failed"
    done
done
for round in $(seq "$ROUNDS"); do
    # The order rotates from round to round.
    for i in 0 1 2; do
        src=${SOURCES[$(((i + round) % 3))]}
        use_source "$src"
        for alg in EC RSA; do
            ab_args="HTTPD_${alg}_AB[@]"
            httpd_load "$REQUESTS" "$CLIENTS" "${!ab_args}"
            echo "round $round: $src $alg: ${HTTPD_LOAD_RATE:-?}/s, $HTTPD_LOAD_FAILED failed"
            RATES[$src.$alg]="${RATES[$src.$alg]:-} ${HTTPD_LOAD_RATE:-0}"
            FAILED[$src.$alg]=$((${FAILED[$src.$alg]:-0} + HTTPD_LOAD_FAILED))
        done
    done
done
read -r busy1 idle1 < <(cpu_busy)
wall=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
for src in "${SOURCES[@]}"; do
    use_source "$src"
    httpd_stop
    unset "PID_OF[$src]"
done
p11kit_server_kill

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) print 0; else if (NR % 2) printf "%.0f\n", v[(NR + 1) / 2];
        else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
{
    echo "#### Apache httpd: TLS handshakes/s (ab, $REQUESTS requests over $CLIENTS clients, TLS 1.2, a new handshake each; $MPM MPM; median of $ROUNDS rounds)"
    echo
    echo "- $(nproc) CPUs; CPUs busy $(awk -v b="$((busy1 - busy0))" -v i="$((idle1 - idle0))" 'BEGIN { printf "%.0f", 100 * b / (b + i) }')% during the ${wall} s of rounds (ab, httpd, p11-kit and the token share them); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- $(apache2 -v | sed -n 's/^Server version: //p'), p11-kit $(dpkg-query -W -f '${Version}' p11-kit 2>/dev/null), SoftHSM $(softhsm2-util --version 2>/dev/null), $(openssl version | cut -d' ' -f1-2)"
    echo
    echo "| key | ${LABEL_remote} | ${LABEL_direct} | ${LABEL_pem} | remote/PEM | direct/PEM | remote/direct |"
    echo "|---|---|---|---|---|---|---|"
    for alg in EC RSA; do
        # shellcheck disable=SC2086
        r=$(median ${RATES[remote.$alg]}) d=$(median ${RATES[direct.$alg]}) p=$(median ${RATES[pem.$alg]})
        name=$([ "$alg" = EC ] && echo P-256 || echo RSA-2048)
        echo "| $name | $r | $d | $p | $(ratio "$r" "$p") | $(ratio "$d" "$p") | $(ratio "$r" "$d") |"
    done
    echo
    fails=""
    for k in "${!FAILED[@]}"; do
        [ "${FAILED[$k]}" = 0 ] || fails="$fails $k: ${FAILED[$k]}"
    done
    echo "Failed requests during the rounds:${fails:- none}. Per round (requests/s):"
    for src in "${SOURCES[@]}"; do
        echo "${src} P-256:${RATES[$src.EC]}; RSA-2048:${RATES[$src.RSA]}."
    done
} >&3
finish
