#!/usr/bin/env bash
# Draws the benchmark's charts with gnuplot, as SVG, from the data files
# hsm-bench --data writes (data_files.c):
#
#   draw_charts.sh DATA_DIR OUT_DIR
#
#   signing-softhsm.dat -> signing-softhsm.svg  signatures/s per key, SoftHSMv2
#   signing-1ms.dat     -> signing-1ms.svg      the same, 1 ms per signature
#   keyload.dat         -> keyload.svg          ms per key load, by objects
#
# A chart whose data file is absent is not drawn; none at all is an error.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: draw_charts.sh DATA_DIR OUT_DIR" >&2
    exit 2
fi
data=$1 out=$2
if ! command -v gnuplot >/dev/null; then
    echo "draw_charts.sh: gnuplot is not installed (scripts/install-deps.sh installs it)" >&2
    exit 1
fi
mkdir -p "$out"

# Settings every chart shares: SVG of a fixed size, NaN for no figure.
common='
set terminal svg size 720,400 fixed noenhanced font "sans,12" background rgb "white"
set datafile missing NaN
set key top right
set grid ytics
set style line 1 lc rgb "#888888"
set style line 2 lc rgb "#1f77b4"
set style line 3 lc rgb "#d62728"
'

# signing FILE TITLE : a clustered bar chart of raw, peer and hsm per key.
signing() {
    gnuplot <<GP
$common
set output "$out/$1.svg"
set title "$2"
set ylabel "signatures/s (one thread)"
set yrange [0:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics nomirror
plot "$data/$1.dat" using 2:xtic(1) title "raw PKCS#11" ls 1, \
     '' using 3 title "pkcs11-provider" ls 2, \
     '' using 4 title "hsm (verifies every signature)" ls 3
GP
}

drawn=0
if [ -r "$data/signing-softhsm.dat" ]; then
    signing signing-softhsm "Signing on SoftHSMv2"
    drawn=$((drawn + 1))
fi
if [ -r "$data/signing-1ms.dat" ]; then
    signing signing-1ms "Signing on a token that takes 1 ms per signature"
    drawn=$((drawn + 1))
fi
if [ -r "$data/keyload.dat" ]; then
    gnuplot <<GP
$common
set output "$out/keyload.svg"
set title "Loading a P-256 key (OSSL_STORE open, load, close)"
set xlabel "objects on the token"
set ylabel "ms per load"
set logscale xy
set xrange [4:5000]
set key top left
plot "$data/keyload.dat" using 1:2 title "raw PKCS#11" with linespoints ls 1 lw 2 pt 7, \
     '' using 1:3 title "pkcs11-provider" with linespoints ls 2 lw 2 pt 5, \
     '' using 1:4 title "hsm (checks the key on every load)" with linespoints ls 3 lw 2 pt 9
GP
    drawn=$((drawn + 1))
fi
if [ "$drawn" -eq 0 ]; then
    echo "draw_charts.sh: no data files in $data" >&2
    exit 1
fi
echo "draw_charts.sh: $drawn charts in $out" >&2
