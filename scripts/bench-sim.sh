#!/bin/bash
# Generation speed of `k2 sim` (generation alone, generation + capture writing with zstd -3),
# next to a peer: zstd -3 compressing the same messages as an NDJSON dump.
# Usage: scripts/bench-sim.sh            (K2=path/to/k2 to use another binary, N=messages)
# Prints k2 sim bench's lines per venue, then one summary line per venue: msg/s by the wall
# clock and per CPU-second (the process's user+sys, compression threads included) and the
# CPU-seconds of each pass; for the write pass also msg/s per CPU-second of the generating
# thread alone (compression runs on CaptureGenerator.compressionThreads other threads): with
# cores to spare, the wall rate's limit. Goal (issue 18): >= 1M msg/s with writing for every
# venue. On a shared machine compare the CPU figures: the wall ones depend on what else runs.
set -euo pipefail
cd "$(dirname "$0")/.."
K2=${K2:-.build/release/k2}
N=${N:-2000000}
[ -x "$K2" ] || swift build -c release --product k2
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores; $N messages per venue"
SUMMARY=()
for v in binance kraken coinbase; do
    out=$("$K2" sim bench --venue "$v" --messages "$N" --output "/tmp/k2-sim-bench-$v.k2cap")
    echo "$out"
    # "... in W s wall / C s CPU: R msg/s wall, P msg/s per CPU-second, ..." -> "R P C"
    figures() { echo "$out" | awk -v pass="$1" 'index($0, pass) == 1 {
        for (i = 1; i <= NF; i++) { if ($i == "CPU:") cpu = $(i - 2); if ($i == "msg/s" && $(i + 1) == "wall,") wall = $(i - 1); if ($i == "per" && $(i + 1) == "CPU-second,") per = $(i - 2) }
        print wall, per, cpu }'; }
    thread=$(echo "$out" | sed -n -E 's/^generate \+ write:.*\(([0-9]+) msg\/s per its CPU-second\).*/\1/p')
    read -r gw gp gc <<< "$(figures "generate only:")"
    read -r ww wp wc <<< "$(figures "generate + write:")"
    SUMMARY+=("$(printf '%-9s %10s %10s %7s   %10s %10s %7s %12s' "$v" "$gw" "$gp" "$gc" "$ww" "$wp" "$wc" "${thread:-?}")")
done
echo "summary (msg/s wall, msg/s per CPU-second, CPU-seconds):"
printf '%-9s %10s %10s %7s   %10s %10s %7s %12s\n' venue "gen wall" "gen /CPU-s" "CPU s" "write wall" "write/CPU-s" "CPU s" "gen thread/s"
printf '%s\n' "${SUMMARY[@]}"
"$K2" capture cat --kind recv /tmp/k2-sim-bench-binance.k2cap > /tmp/k2-sim-bench.ndjson
/usr/bin/time -f "peer: zstd -3 of the binance NDJSON dump ($(du -h /tmp/k2-sim-bench.ndjson | cut -f1)): %e s wall, %U s user" \
    zstd -3 -q -f /tmp/k2-sim-bench.ndjson -o /tmp/k2-sim-bench.ndjson.zst
rm -f /tmp/k2-sim-bench.ndjson /tmp/k2-sim-bench.ndjson.zst
