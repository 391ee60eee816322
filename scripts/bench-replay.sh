#!/usr/bin/env bash
# Replay benchmarks (issue 3): prints figures next to a peer doing the same work; not a test.
#   scripts/bench-replay.sh                 # all figures, ~6 minutes on an idle 2-core machine
#   ONE_X_SECONDS=600 scripts/bench-replay.sh   # play all 10 minutes at 1x (default: the first 120 s)
#   BENCH_DIR=/tmp/k2bench scripts/bench-replay.sh   # keep (and reuse) the generated captures
#   K2=/path/to/k2 scripts/bench-replay.sh           # use an existing release binary
#   ROUNDS=3 scripts/bench-replay.sh                  # throughput rounds (default 2)
#   REALTIME=0 scripts/bench-replay.sh                # skip the --realtime 10 repeats of the 1x/100x runs
# Goals: --speed max into mock:// ≥ 0.8 × `zstd -d` of the same capture; lateness p99 ≤ 50 µs at
# 1x and 100x; 1000x of a one-hour capture in ≤ 1.05 × 3.6 s; no allocation per message.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-300}
ONE_X_SECONDS=${ONE_X_SECONDS:-120}
W=${BENCH_DIR:-$(mktemp -d /tmp/k2-bench-replay.XXXXXX)}
mkdir -p "$W"

if [ -z "${K2:-}" ]; then
  swift build -c release --product k2 >&2
  K2="$(swift build -c release --show-bin-path)/k2"
fi

now() { date +%s.%N; }
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); v=d
for k in sys.argv[2].split("."): v=v[int(k)] if k.isdigit() else v[k]
print(v)' "$1" "$2"; }

[ -s "$W/10m.k2cap" ] || "$K2" replay synth-capture "$W/10m.k2cap" --duration 10m --rate "$RATE" --seed 1
[ -s "$W/1h.k2cap" ] || "$K2" replay synth-capture "$W/1h.k2cap" --duration 1h --rate "$RATE" --seed 2
echo "captures: $(ls -la "$W"/*.k2cap | awk '{print $5, $9}' | tr '\n' ' ')"

echo "== throughput: replay --speed max into mock:// vs zstd -d (one-hour capture), ${ROUNDS:=2} rounds"
# Wall time and CPU time (user + sys, from /usr/bin/time) of each: on a shared, loaded machine
# the CPU-time ratio is the figure to trust; the wall-time ratio follows the load of the moment.
for round in $(seq 1 "$ROUNDS"); do
  /usr/bin/time -f "%e %U %S" -o "$W/zstd.time" zstd -q -d -c "$W/1h.k2cap" > /dev/null
  /usr/bin/time -f "%e %U %S" -o "$W/max.time" "$K2" replay "$W/1h.k2cap" --sink mock:// --speed max --quiet --report "$W/max" 2> "$W/max.txt"
  msgs=$(field "$W/max/summary.json" messages)
  python3 - "$W/zstd.time" "$W/max.time" "$msgs" "$round" <<'PY'
import sys
z=list(map(float,open(sys.argv[1]).read().split()[-3:])); k=list(map(float,open(sys.argv[2]).read().split()[-3:]))
m=float(sys.argv[3]); zc=z[1]+z[2]; kc=k[1]+k[2]
print(f"round {sys.argv[4]}: zstd -d: wall {z[0]:.3f} s, cpu {zc:.3f} s ({m/zc:,.0f} msg/s of cpu)   "
      f"k2 replay --speed max: wall {k[0]:.3f} s, cpu {kc:.3f} s ({m/kc:,.0f} msg/s of cpu)   "
      f"ratio cpu {zc/kc:.2f}x, wall {z[0]/k[0]:.2f}x (goal >= 0.8)")
PY
done

echo "== lateness at 1x (first ${ONE_X_SECONDS}s of the 10-minute capture) and 100x (all of it)"
# REALTIME=P (default 10; 0 = skip) repeats the paced runs with --realtime P (SCHED_FIFO, needs root).
REALTIME=${REALTIME:-10}
modes=("")
[ "$REALTIME" != 0 ] && modes+=("--realtime $REALTIME")
for mode in "${modes[@]}"; do
  tag=${mode:+-rt}
  # shellcheck disable=SC2086
  "$K2" replay "$W/10m.k2cap" --sink mock:// --speed 1 --to "+${ONE_X_SECONDS}s" --quiet $mode --report "$W/1x$tag" 2> "$W/1x$tag.txt"
  # shellcheck disable=SC2086
  "$K2" replay "$W/10m.k2cap" --sink mock:// --speed 100 --quiet $mode --report "$W/100x$tag" 2> "$W/100x$tag.txt"
  # The same without read-ahead (each block decompressed on the sending thread): what it buys.
  # shellcheck disable=SC2086
  "$K2" replay "$W/10m.k2cap" --sink mock:// --speed 100 --quiet $mode --no-read-ahead --report "$W/100x-no-read-ahead$tag" 2> "$W/100x-nora$tag.txt"
  for run in "1x$tag" "100x$tag" "100x-no-read-ahead$tag"; do
    s="$W/$run/summary.json"
    echo "$run${mode:+ ($mode)}: $(field "$s" messages) msgs, lateness p50 $(field "$s" lateness_ns.p50) ns, p99 $(field "$s" lateness_ns.p99) ns, p99.9 $(field "$s" lateness_ns.p99_9) ns, max $(field "$s" lateness_ns.max) ns (goal p99 <= 50000)"
  done
done

echo "== 1000x of the one-hour capture (goal <= 3.78 s)"
t0=$(now); "$K2" replay "$W/1h.k2cap" --sink mock:// --speed 1000 --quiet --report "$W/1000x" 2> "$W/1000x.txt"; t1=$(now)
echo "wall $(python3 -c "print(f'{$t1-$t0:.3f}')") s, replay duration $(python3 -c "print(f'{$(field "$W/1000x/summary.json" duration_ns)/1e9:.3f}')") s, achieved $(field "$W/1000x/summary.json" achieved_speed)x, lateness p99 $(field "$W/1000x/summary.json" lateness_ns.p99) ns"

echo "== allocations per message (malloc-family calls counted by an LD_PRELOAD shim; two run lengths at --speed max)"
# valgrind 3.19 crashes on this toolchain's binaries here ("Possibly corrupted debuginfo"), so a
# small counter built with cc wraps malloc/calloc/realloc/posix_memalign/aligned_alloc/memalign.
# It forwards each call to the allocator next in the lookup order (dlsym RTLD_NEXT): jemalloc,
# which the k2 executable links (docs/sinks.md, "Allocator"), or glibc's for another binary —
# never glibc's internal __libc_malloc, whose blocks jemalloc's free would be handed.
if command -v cc > /dev/null; then
  cat > "$W/count-malloc.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <stdatomic.h>
static atomic_ulong n;
static void *(*next_malloc)(size_t), *(*next_calloc)(size_t, size_t), *(*next_realloc)(void *, size_t);
static void *(*next_memalign)(size_t, size_t), *(*next_aligned_alloc)(size_t, size_t);
static int (*next_posix_memalign)(void **, size_t, size_t);
static void (*next_free)(void *);
/* dlsym may allocate (calloc) before the pointers are set: served from here, never freed. */
static char boot[8192]; static size_t boot_used; static int resolving;
static void *boot_alloc(size_t s) { s = (s + 15) & ~(size_t)15; if (boot_used + s > sizeof boot) return NULL; void *p = boot + boot_used; boot_used += s; return p; }
static void resolve(void) {
  resolving = 1;
  next_malloc = dlsym(RTLD_NEXT, "malloc"); next_calloc = dlsym(RTLD_NEXT, "calloc");
  next_realloc = dlsym(RTLD_NEXT, "realloc"); next_free = dlsym(RTLD_NEXT, "free");
  next_memalign = dlsym(RTLD_NEXT, "memalign"); next_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  next_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  resolving = 0;
}
#define READY(fallback) do { if (!next_free) { if (resolving) return fallback; resolve(); } } while (0)
void *malloc(size_t s) { READY(boot_alloc(s)); atomic_fetch_add(&n, 1); return next_malloc(s); }
void *calloc(size_t a, size_t b) { READY(boot_alloc(a * b)); atomic_fetch_add(&n, 1); return next_calloc(a, b); }
void *realloc(void *p, size_t s) {
  READY(NULL); atomic_fetch_add(&n, 1);
  if ((char *)p >= boot && (char *)p < boot + sizeof boot) {  /* a boot block: moved, never freed */
    void *q = next_malloc(s); size_t left = (size_t)(boot + sizeof boot - (char *)p);
    if (q) memcpy(q, p, s < left ? s : left);
    return q;
  }
  return next_realloc(p, s);
}
void free(void *p) { if ((char *)p >= boot && (char *)p < boot + sizeof boot) return; READY(); if (p) next_free(p); }
int posix_memalign(void **p, size_t a, size_t s) { READY(12); atomic_fetch_add(&n, 1); return next_posix_memalign(p, a, s); }
void *aligned_alloc(size_t a, size_t s) { READY(NULL); atomic_fetch_add(&n, 1); return next_aligned_alloc(a, s); }
void *memalign(size_t a, size_t s) { READY(NULL); atomic_fetch_add(&n, 1); return next_memalign(a, s); }
__attribute__((destructor)) static void done(void) { char b[64]; int l = snprintf(b, sizeof b, "k2-malloc-count: %lu\n", (unsigned long)n); write(2, b, l); }
C
  cc -O2 -shared -fPIC -o "$W/count-malloc.so" "$W/count-malloc.c" -ldl
  for secs in 20 600; do
    LD_PRELOAD="$W/count-malloc.so" "$K2" replay "$W/10m.k2cap" --sink mock:// --speed max --to "+${secs}s" --quiet \
      --report "$W/alloc$secs" 2> "$W/alloc$secs.txt" || true
  done
  python3 - "$W" <<'PY'
import json,re,sys
w=sys.argv[1]
def get(s):
    a=int(re.search(r"k2-malloc-count: (\d+)", open(f"{w}/alloc{s}.txt").read()).group(1))
    return a, json.load(open(f"{w}/alloc{s}/summary.json"))["messages"]
(a1,m1),(a2,m2)=get(20),get(600)
print(f"{m1} msgs: {a1} allocations; {m2} msgs: {a2} allocations; {(a2-a1)/(m2-m1):.5f} per extra message")
PY
else
  echo "no C compiler: skipped"
fi
echo "outputs in $W"
