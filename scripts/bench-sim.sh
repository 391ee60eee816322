#!/bin/bash
# Generation speed of `k2 sim` (generation alone, generation + capture writing with zstd -3),
# next to a peer: zstd -3 compressing the same messages as an NDJSON dump.
# Usage: scripts/bench-sim.sh            (K2=path/to/k2 to use another binary, N=messages)
set -euo pipefail
cd "$(dirname "$0")/.."
K2=${K2:-.build/release/k2}
N=${N:-2000000}
[ -x "$K2" ] || swift build -c release --product k2
for v in binance kraken coinbase; do
    "$K2" sim bench --venue "$v" --messages "$N" --output "/tmp/k2-sim-bench-$v.k2cap"
done
"$K2" capture cat --kind recv /tmp/k2-sim-bench-binance.k2cap > /tmp/k2-sim-bench.ndjson
/usr/bin/time -f "peer: zstd -3 of the binance NDJSON dump ($(du -h /tmp/k2-sim-bench.ndjson | cut -f1)): %e s wall, %U s user" \
    zstd -3 -q -f /tmp/k2-sim-bench.ndjson -o /tmp/k2-sim-bench.ndjson.zst
rm -f /tmp/k2-sim-bench.ndjson /tmp/k2-sim-bench.ndjson.zst
