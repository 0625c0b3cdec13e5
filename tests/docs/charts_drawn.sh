#!/usr/bin/env bash
# The benchmark's drawing step (tests/bench/draw_charts.sh) turns a small
# set of data files, written as hsm-bench --data writes them (a missing
# figure as NaN), into the three charts docs/performance.md shows, each a
# well-formed SVG document with a size and the contenders' legend; and
# with no data it fails rather than leaving old charts in place.
#
#   charts_drawn.sh SOURCE_ROOT
set -uo pipefail

root=$1
draw="$root/tests/bench/draw_charts.sh"
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hsm-charts.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/data" "$TMP/empty"
cat >"$TMP/data/signing-softhsm.dat" <<'DAT'
# signatures/s, one thread, SoftHSMv2; medians of the rounds
# key raw_pkcs11 pkcs11_provider hsm
RSA-2048 1557.0 1519.0 1416.0
P-256 20292.0 20133.0 8717.0
Ed25519 5148.0 NaN 3237.0
DAT
sed 's/SoftHSMv2/1 ms per signature/' "$TMP/data/signing-softhsm.dat" >"$TMP/data/signing-1ms.dat"
cat >"$TMP/data/keyload.dat" <<'DAT'
# ms per load of the P-256 key; medians of the rounds
# objects raw_pkcs11 pkcs11_provider hsm
8 0.350 0.520 0.640
2002 60.800 70.100 62.600
DAT

# svg_ok FILE : prints nothing and succeeds when FILE is an SVG document
# with a positive width and height that names every contender.
svg_ok() {
    python3 - "$1" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
for side in ("width", "height"):
    assert float(root.get(side, "0").rstrip("px") or 0) > 0, side
text = " ".join(t for t in root.itertext())
for name in ("raw PKCS#11", "pkcs11-provider", "hsm"):
    assert name in text, name
PY
}

if timeout 60 bash "$draw" "$TMP/data" "$TMP/out" 2>"$TMP/draw.err"; then
    ok
else
    bad "draw_charts.sh failed on the sample data: $(cat "$TMP/draw.err")"
fi
for chart in signing-softhsm signing-1ms keyload; do
    if [ ! -s "$TMP/out/$chart.svg" ]; then
        bad "$chart.svg was not drawn"
    elif err=$(svg_ok "$TMP/out/$chart.svg" 2>&1); then
        ok
    else
        bad "$chart.svg is not a valid chart: $(tail -n 1 <<<"$err")"
    fi
done

if timeout 60 bash "$draw" "$TMP/empty" "$TMP/out-empty" 2>/dev/null; then
    bad "draw_charts.sh succeeded with no data files"
else
    ok
fi

echo "charts_drawn: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
