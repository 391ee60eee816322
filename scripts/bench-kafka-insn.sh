#!/usr/bin/env bash
# Instructions per message of the Kafka sink against kcat doing the same work (issue 18), counted
# with callgrind: unlike wall and CPU time they do not depend on how loaded the machine is, and
# `perf stat` counts nothing on this machine's VMs. Not a test; a few minutes (callgrind is slow).
#   scripts/bench-kafka-insn.sh                     # release build, 46,929 messages (67 s at 1000 msg/s)
#   K2=/path/to/k2 scripts/bench-kafka-insn.sh      # an existing release binary
#   DURATION=2m scripts/bench-kafka-insn.sh         # a longer capture (callgrind runs ~50x slower)
#   BENCH_DIR=/tmp/k2insn scripts/bench-kafka-insn.sh   # keep the captures and callgrind files
# Each client runs twice: on the capture and on a 48-message one; the difference divided by the
# difference in messages is the cost per message without start-up (k2's Swift runtime and
# argument parsing are ~55 M instructions, kcat's ~9 M). Both into one `k2 broker --partitions 4`:
#   k2 default:     k2 replay --speed max, key = symbol, 3 headers, idempotence (k2's default)
#   kcat-same-work: kcat -P -K '\t' with the same three headers (-H) and enable.idempotence=true
# Then k2's own functions (self cost) per message, the place to look for what is left.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-67s}
W=${BENCH_DIR:-$(mktemp -d /tmp/k2-bench-insn.XXXXXX)}
mkdir -p "$W"
command -v valgrind > /dev/null || { echo "valgrind is needed (apt-get install -y valgrind)" >&2; exit 2; }
BPID=
trap '[ -n "$BPID" ] && kill "$BPID" 2> /dev/null || true' EXIT

if [ -z "${K2:-}" ]; then
  swift build -c release --product k2 >&2
  K2="$(swift build -c release --show-bin-path)/k2"
fi
# valgrind 3.19 cannot read the DWARF 5 the Swift toolchain writes: count a copy without it.
objcopy --strip-debug "$K2" "$W/k2.nodebug"

for c in small:"$DURATION":1000 tiny:1s:100; do
  IFS=: read -r name duration rate <<< "$c"
  [ -s "$W/$name.k2cap" ] || "$K2" replay synth-capture "$W/$name.k2cap" --duration "$duration" --rate "$rate" --seed 3 > /dev/null
  "$K2" capture cat "$W/$name.k2cap" --kind recv | python3 -c '
import json, sys
for line in sys.stdin:
    data = json.loads(line)["data"]
    message = json.loads(data)
    print(message.get("data", message).get("s", "") + "\t" + data)' > "$W/$name.keyed"
done
SMALL=$(wc -l < "$W/small.keyed"); TINY=$(wc -l < "$W/tiny.keyed")

"$K2" broker --partitions 4 > "$W/broker.out" 2> "$W/broker.err" &
BPID=$!
for _ in $(seq 1 100); do [ -s "$W/broker.out" ] && break; sleep 0.1; done
B=$(head -1 "$W/broker.out")

# count NAME CAPTURE: total instructions of one client run.
count() {
  local out="$W/cg.$1.$2"
  if [ "$1" = k2 ]; then
    valgrind --tool=callgrind --callgrind-out-file="$out" "$W/k2.nodebug" replay "$W/$2.k2cap" \
      --sink "kafka://$B?topic=insn.k2.$2" --speed max --quiet 2> /dev/null
  else
    valgrind --tool=callgrind --callgrind-out-file="$out" kcat -P -b "$B" -t "insn.kcat.$2" -K $'\t' \
      -H k2-receive-ns=1700000000000000000 -H k2-intended-ns=1700000000000000000 \
      -H k2-id=0123456789abcdef-152580 -X enable.idempotence=true -l "$W/$2.keyed" 2> /dev/null
  fi
  awk '/^summary:/ { print $2 }' "$out"
}
echo "messages: $SMALL (and $TINY for the start-up cost); k2 = $K2; load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "k2 --version: $("$K2" --version)"
for client in k2 kcat; do
  total=$(count "$client" small); base=$(count "$client" tiny)
  echo "$client $total $base" | awk -v n="$SMALL" -v t="$TINY" '{
    printf "  %-5s %6.1f M instructions, start-up %5.1f M, %6.0f per message\n", $1, $2 / 1e6, $3 / 1e6, ($2 - $3) / (n - t) }'
done
echo "  k2's own functions (self, per message; zstd and librdkafka are listed by callgrind_annotate $W/cg.k2.small):"
callgrind_annotate --threshold=100 "$W/cg.k2.small" 2> /dev/null | grep 'k2.nodebug\]' | head -12 \
  | awk -v n="$SMALL" '{ c = $1; gsub(",", "", c); f = $0; sub(/^[^?]*\?\?\?:/, "", f); sub(/ \[.*$/, "", f); printf "    %6.0f  %s\n", c / n, f }' \
  | swift demangle --simplified | cut -c1-140
