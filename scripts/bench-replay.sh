#!/usr/bin/env bash
# Replay benchmarks (issue 3): prints figures next to a peer doing the same work; not a test.
#   scripts/bench-replay.sh                 # all figures, ~3 minutes on an idle 2-core machine
#   ONE_X_SECONDS=600 scripts/bench-replay.sh   # play all 10 minutes at 1x (default: the first 120 s)
#   BENCH_DIR=/tmp/k2bench scripts/bench-replay.sh   # keep (and reuse) the generated captures
# Goals: --speed max into mock:// ≥ 0.8 × `zstd -d` of the same capture; lateness p99 ≤ 50 µs at
# 1x and 100x; 1000x of a one-hour capture in ≤ 1.05 × 3.6 s; no allocation per message.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-300}
ONE_X_SECONDS=${ONE_X_SECONDS:-120}
W=${BENCH_DIR:-$(mktemp -d /tmp/k2-bench-replay.XXXXXX)}
mkdir -p "$W"

swift build -c release --product k2 >&2
K2="$(swift build -c release --show-bin-path)/k2"

now() { date +%s.%N; }
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=d
for k in sys.argv[2].split("."): v=v[int(k)] if k.isdigit() else v[k]
print(v)' "$1" "$2"; }

[ -s "$W/10m.k2cap" ] || "$K2" replay synth-capture "$W/10m.k2cap" --duration 10m --rate "$RATE" --seed 1
[ -s "$W/1h.k2cap" ] || "$K2" replay synth-capture "$W/1h.k2cap" --duration 1h --rate "$RATE" --seed 2
echo "captures: $(ls -la "$W"/*.k2cap | awk '{print $5, $9}' | tr '\n' ' ')"

echo "== throughput: replay --speed max into mock:// vs zstd -d (one-hour capture)"
t0=$(now); zstd -q -d -c "$W/1h.k2cap" > /dev/null; t1=$(now)
"$K2" replay "$W/1h.k2cap" --sink mock:// --speed max --quiet --report "$W/max" 2> "$W/max.txt"; t2=$(now)
msgs=$(field "$W/max/summary.json" messages)
python3 - "$t0" "$t1" "$t2" "$msgs" <<'PY'
import sys; t0,t1,t2,m=map(float,sys.argv[1:])
z=t1-t0; r=t2-t1
print(f"zstd -d: {z:.3f} s ({m/z:,.0f} msg/s equivalent)   k2 replay --speed max: {r:.3f} s ({m/r:,.0f} msg/s)   ratio {z/r:.2f}x (goal >= 0.8)")
PY

echo "== lateness at 1x (first ${ONE_X_SECONDS}s of the 10-minute capture) and 100x (all of it)"
"$K2" replay "$W/10m.k2cap" --sink mock:// --speed 1 --to "+${ONE_X_SECONDS}s" --quiet --report "$W/1x" 2> "$W/1x.txt"
"$K2" replay "$W/10m.k2cap" --sink mock:// --speed 100 --quiet --report "$W/100x" 2> "$W/100x.txt"
for run in 1x 100x; do
  s="$W/$run/summary.json"
  echo "$run: $(field "$s" messages) msgs, lateness p50 $(field "$s" lateness_ns.p50) ns, p99 $(field "$s" lateness_ns.p99) ns, p99.9 $(field "$s" lateness_ns.p99_9) ns, max $(field "$s" lateness_ns.max) ns (goal p99 <= 50000)"
done

echo "== 1000x of the one-hour capture (goal <= 3.78 s)"
t0=$(now); "$K2" replay "$W/1h.k2cap" --sink mock:// --speed 1000 --quiet --report "$W/1000x" 2> "$W/1000x.txt"; t1=$(now)
echo "wall $(python3 -c "print(f'{$t1-$t0:.3f}')") s, replay duration $(python3 -c "print(f'{$(field "$W/1000x/summary.json" duration_ns)/1e9:.3f}')") s, achieved $(field "$W/1000x/summary.json" achieved_speed)x, lateness p99 $(field "$W/1000x/summary.json" lateness_ns.p99) ns"

echo "== allocations per message (valgrind heap summary, two run lengths at --speed max)"
if command -v valgrind > /dev/null; then
  for secs in 20 40; do
    valgrind --tool=memcheck "$K2" replay "$W/10m.k2cap" --sink mock:// --speed max --to "+${secs}s" --quiet \
      --report "$W/alloc$secs" 2> "$W/alloc$secs.txt" || true
  done
  python3 - "$W" <<'PY'
import json,re,sys
w=sys.argv[1]
def get(s):
    t=open(f"{w}/alloc{s}.txt").read()
    a=int(re.search(r"total heap usage: ([\d,]+) allocs", t).group(1).replace(",",""))
    m=json.load(open(f"{w}/alloc{s}/summary.json"))["messages"]
    return a,m
(a1,m1),(a2,m2)=get(20),get(40)
print(f"{m1} msgs: {a1} allocs; {m2} msgs: {a2} allocs; {(a2-a1)/(m2-m1):.4f} allocs per extra message")
PY
else
  echo "valgrind not installed: skipped"
fi
echo "outputs in $W"
