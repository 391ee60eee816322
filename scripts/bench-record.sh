#!/usr/bin/env bash
# Recording speed: `k2 record` vs two Python recorders doing the same work (websockets+zstandard,
# the v1 stack, and picows+zstandard, the fastest Python client: Cython), all recording from the
# local exchange simulator over one connection, in the same run. Prints frames/s, CPU cores used
# (from /proc), frames per CPU-second, peak RSS, and the simulator's CPU; and checks k2's capture
# against the simulator's --log: the frames recorded must be exactly the first frames the
# simulator sent on that connection (0 lost, 0 reordered), with 0 gap markers.
#
#   scripts/bench-record.sh [SECONDS] [RATE]   (default 10 s, rate max)
# RATE max: the simulator generates 65,536 messages at a time and streams each chunk as zero-copy
# slices (docs/exchange-simulator.md); the market continues across chunks, so the capture has no
# gaps; generating, logging (--log, zstd -3) and sending cost the simulator ≈ 0.7 µs per message
# on its one thread, so at ~1.4M frames/s it is the limit. RATE 0: the live market model, as fast
# as the client reads (≈ 1 µs of simulator CPU per message).
# The machine should be otherwise idle: the simulator and the recorder need a core each.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
rate=${2:-max}
port=${K2_BENCH_PORT:-19443}
work=$(mktemp -d /tmp/k2-bench-record.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# K2_BUILD_PATH: another scratch path for the release build (default .build); K2_BIN: a k2
# binary to measure instead of building one.
if [ -n "${K2_BIN:-}" ]; then k2=$K2_BIN; else
  scratch=${K2_BUILD_PATH:-.build}
  swift build -c release --product k2 --scratch-path "$scratch" 2>&1 | grep -E "error|warning: .*Sources|Build complete" || true
  k2=$(swift build -c release --scratch-path "$scratch" --show-bin-path)/k2
fi

# The Python peer (PyPI): a private venv so the system Python stays untouched.
venv=${K2_BENCH_VENV:-/tmp/k2-bench-venv}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
if ! "$venv/bin/python" -c "import websockets, zstandard, picows" 2>/dev/null; then
  "$venv/bin/pip" install --quiet websockets zstandard picows
fi

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# Runs "$@" in the background for about $secs s; prints "cpu_cores peak_rss_mb" from /proc,
# sampled just before the process exits.
measure() {
  "$@" > "$work/out.txt" 2> "$work/err.txt" &
  local pid=$! start_t start_c end_c rss=0 t0 t1 sim0 sim1
  sleep 0.3
  start_c=$(cpu_ticks $pid); t0=$(date +%s.%N); sim0=$(cpu_ticks $simpid); sim1=$sim0
  while kill -0 $pid 2>/dev/null; do
    end_c=$(cpu_ticks $pid 2>/dev/null || echo "$end_c"); t1=$(date +%s.%N); sim1=$(cpu_ticks $simpid)
    r=$(hwm_kb $pid 2>/dev/null || echo 0); [ "${r:-0}" -gt "$rss" ] && rss=$r
    sleep 0.2
  done
  wait $pid || true
  awk -v c=$((end_c - start_c)) -v s=$((sim1 - sim0)) -v tk=$ticks -v a=$t0 -v b=$t1 -v r=$rss 'BEGIN { printf "%.2f %.1f %.2f\n", c / tk / (b - a), r / 1024, s / tk / (b - a) }'
}

sim() {
  "$k2" sim exchange --venue binance --port $port --rate "$rate" --symbols 2 --quiet "$@" &
  simpid=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/v3/ping" >/dev/null && break; sleep 0.1; done
}

streams="btcusdt@trade/btcusdt@depth@100ms/ethusdt@trade/ethusdt@depth@100ms"

load0=$(cut -d' ' -f1-3 /proc/loadavg)
sim --log "$work/sim.k2cap"
read -r k2cpu k2rss k2sim < <(measure "$k2" record --venue binance --symbols BTCUSDT,ETHUSDT --channels trade,depth --url "ws://127.0.0.1:$port" --duration "${secs}s" --quiet -o "$work/k2.k2cap")
kill -INT $simpid; wait $simpid 2>/dev/null || true
payloads() { python3 -c 'import json, sys; sys.stdout.writelines(json.loads(line)["data"] + "\n" for line in sys.stdin)'; }
"$k2" capture cat "$work/k2.k2cap" --kind recv | payloads > "$work/k2.payloads"
k2frames=$(wc -l < "$work/k2.payloads")
k2gaps=$("$k2" capture cat "$work/k2.k2cap" --kind marker | grep -c '"marker":"gap"' || true)
k2bytes=$(stat -c %s "$work/k2.k2cap")
# What the simulator sent on the recorder's connection, in order; k2's frames must be its first k2frames.
"$k2" capture cat "$work/sim.k2cap" --kind recv | payloads > "$work/sim.payloads"
simsent=$(wc -l < "$work/sim.payloads")
if head -n "$k2frames" "$work/sim.payloads" | cmp -s - "$work/k2.payloads"; then k2lost=0; else
  k2lost=$(head -n "$k2frames" "$work/sim.payloads" | diff - "$work/k2.payloads" | grep -c '^<' || true)
fi

sim
read -r pycpu pyrss pysim < <(measure "$venv/bin/python" scripts/bench_record_python.py "ws://127.0.0.1:$port/stream?streams=$streams" "$work/py.zst" "$secs")
kill $simpid; wait $simpid 2>/dev/null || true
pyframes=$(sed -n 's/frames=\([0-9]*\).*/\1/p' "$work/out.txt")
pybytes=$(stat -c %s "$work/py.zst")

sim
read -r pwcpu pwrss pwsim < <(measure "$venv/bin/python" scripts/bench_record_picows.py "ws://127.0.0.1:$port/stream?streams=$streams" "$work/pw.zst" "$secs")
kill $simpid; wait $simpid 2>/dev/null || true
pwframes=$(sed -n 's/frames=\([0-9]*\).*/\1/p' "$work/out.txt")
pwbytes=$(stat -c %s "$work/pw.zst")

echo "load average before/after: $load0 / $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v rate="$rate" -v ks=$k2sim -v ps=$pysim -v kg=$k2gaps -v s=$secs -v kf=$k2frames -v kc=$k2cpu -v kr=$k2rss -v kb=$k2bytes -v pf=$pyframes -v pc=$pycpu -v pr=$pyrss -v pb=$pybytes \
  -v wf=$pwframes -v wc=$pwcpu -v wr=$pwrss -v wb=$pwbytes -v ws=$pwsim -v kl=$k2lost -v ss=$simsent 'BEGIN {
  printf "recording from k2 sim exchange (binance, --rate %s), one connection, %d s\n", rate, s
  printf "%-28s %12s %10s %16s %10s %10s %10s\n", "recorder", "frames/s", "cpu cores", "frames/cpu-s", "rss MB", "file MB", "sim cores"
  printf "%-28s %12.0f %10.2f %16.0f %10.1f %10.1f %10.2f\n", "k2 record", kf / s, kc, kf / s / (kc > 0 ? kc : 1), kr, kb / 1e6, ks
  printf "%-28s %12.0f %10.2f %16.0f %10.1f %10.1f %10.2f\n", "python websockets+zstandard", pf / s, pc, pf / s / (pc > 0 ? pc : 1), pr, pb / 1e6, ps
  printf "%-28s %12.0f %10.2f %16.0f %10.1f %10.1f %10.2f\n", "python picows+zstandard", wf / s, wc, wf / s / (wc > 0 ? wc : 1), wr, wb / 1e6, ws
  printf "k2 record: %d frames of the %d the simulator sent on its connection (the rest were in flight at the stop); lost or out of order among them: %d; gap markers: %d\n", kf, ss, kl, kg
  printf "frames/cpu-s = frames/s divided by the cores used: the rate one full core would sustain when the source is not the limit\n"
  kpc = kf / s / (kc > 0 ? kc : 1)
  printf "k2 / websockets: %.1fx frames/s, %.1fx frames per CPU-second; k2 / picows: %.1fx frames/s, %.1fx frames per CPU-second\n", \
    (kf / s) / (pf / s > 0 ? pf / s : 1), kpc / (pf / s / (pc > 0 ? pc : 1)), (kf / s) / (wf / s > 0 ? wf / s : 1), kpc / (wf / s / (wc > 0 ? wc : 1))
  printf "goal (issue 18): >= 1,000,000 frames/s recorded, 0 lost, 0 gap markers, ahead of both Python peers per CPU-second\n"
}'
