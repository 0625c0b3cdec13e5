#!/usr/bin/env bash
# Not a test: measures what the caching-module trigger
# (cache/module_caching.c) costs per load and per signature on one module,
# for the figures in docs/modules.md. Run it with a build of the provider with the
# trigger and one without (HSM_PROVIDER_DIR), same DRIVER:
#   HSM_PROVIDER_DIR=... HSM_KEY_HOLDER=... HSM_P11_TOOL=... \
#       bash tests/modules/measure_refresh.sh DRIVER [SIGNATURES] [LOADS] [ROUNDS]
# Prints the median over ROUNDS of the microseconds per signature (a held
# RSA-2048 key, `repeat` in one process) and per load (OSSL_STORE by URI),
# and the trigger's own cost per call measured directly (refresh_cost):
# the A/B difference drowns in a shared machine's noise.
# shellcheck source=modules_lib.sh disable=SC2317
. "$(dirname "$0")/modules_lib.sh"

sigs=${2:-200} loads=${3:-20} rounds=${4:-5}
require_step drv_keygen rsa 02 k02
[ -z "${MEASURE_DEBUG:-}" ] || export HSM_DEBUG_LOG="$TMP/debug.log" HSM_DEBUG_LEVEL=1
holder_start "$MOD_CNF" || finish
uri=$(mod_uri 02)
holder_load_ok "loads the key" k "$uri"
holder_repeat_ok "warm-up" k 20 "$DATA"
now_us() { echo $(($(date +%s%N) / 1000)); }
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
: >sign.us
: >load.us
for _ in $(seq "$rounds"); do
    t0=$(now_us)
    holder_send "repeat k $sigs $DATA" >/dev/null
    t1=$(now_us)
    echo $(((t1 - t0) / sigs)) >>sign.us
    t0=$(now_us)
    for i in $(seq "$loads"); do holder_send "load l$((i % 8)) $uri" >/dev/null; done
    t1=$(now_us)
    echo $(((t1 - t0) / loads)) >>load.us
done
holder_stop
[ -z "${MEASURE_DEBUG:-}" ] || { grep -c "initialised again" "$TMP/debug.log"; grep "initialised again" "$TMP/debug.log" | head -3; }
extra=()
[ "$DRIVER" != nss ] || extra=("$NSS_INIT_ARGS")
[ "$DRIVER" != nss ] || export REFRESH_TOUCH="$TMP/nssdb/key4.db"
[ "$DRIVER" != tpm2 ] || export REFRESH_TOUCH="$TPM2_PKCS11_STORE/tpm2_pkcs11.sqlite3"
direct=$("${HSM_REFRESH_COST:-$(dirname "$P11_TOOL")/refresh_cost}" "${MOD_PATH:-$P11KIT_PROXY}" \
    "${extra[@]}" 2>&1 | tail -1)
echo "MEASURE $DRIVER direct: $direct"
echo "MEASURE $DRIVER: per signature $(median <sign.us) us, per load $(median <load.us) us" \
    "(medians of $rounds rounds of $sigs signatures and $loads loads)"
pass "measured"
policy_finish
