#!/usr/bin/env bash
# Real-system sink benchmarks (issue 3): prints figures next to a peer doing the same work on the
# same messages in the same run; not a test.
#   scripts/bench-sinks.sh                      # ~305K messages (5 minutes at 1000 msg/s, replayed flat out)
#   REPEAT=3 scripts/bench-sinks.sh             # runs per contender (alternating; best runs and medians are compared)
#   RATE=2000 DURATION=5m scripts/bench-sinks.sh
#   BENCH_DIR=/tmp/k2bench scripts/bench-sinks.sh   # keep the capture and the logs
#   K2=.build/debug/k2 scripts/bench-sinks.sh       # skip the release build (debug figures are not comparable)
#   ONLY=kafka|clickhouse scripts/bench-sinks.sh    # one half
#   K2_BEFORE=/path/to/older/k2 scripts/bench-sinks.sh  # also runs an older k2 with its defaults ("k2-before"), alternating
#   CH_DATA=/var/tmp/chdata scripts/bench-sinks.sh      # the ClickHouse server's data on that disk (default: tmpfs
#                                                        # under /dev/shm when there is one, removed at exit)
# Goals: replay into the embedded broker ≥ 1.0 × `kcat -P -l` of the same messages;
#        replay into ClickHouse (mode=trades, RowBinary) ≥ 1.5 × `curl --data-binary` JSONEachRow of the same trades,
#        and ≥ 0.9 × curl posting k2's rows pre-encoded as RowBinary (printed as a second comparison).
# Each figure is wall time of the whole client process (start, connect, send, wait for every
# ack / the insert's answer, exit) and its CPU (user+sys); the server's CPU during the run is
# shown next to it (the broker is `k2 broker` in its own process; ClickHouse is a private server).
# With `perf` usable, each client's user-space instructions are shown too: unlike wall and CPU
# time they do not depend on how loaded the machine is (PERF=0 to leave them out).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-1000}
DURATION=${DURATION:-5m}
REPEAT=${REPEAT:-2}
ONLY=${ONLY:-all}
W=${BENCH_DIR:-$(mktemp -d /tmp/k2-bench-sinks.XXXXXX)}
mkdir -p "$W"
PIDS=()
CHTMP=
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [ -n "$CHTMP" ]; then sleep 0.5; rm -rf "$CHTMP"; fi
}
trap cleanup EXIT

if [ -z "${K2:-}" ]; then   # K2=path/to/k2 to use another build (figures from a debug build are not comparable)
  swift build -c release --product k2 >&2
  K2="$(swift build -c release --show-bin-path)/k2"
fi
TCK=$(getconf CLK_TCK)
PERF=${PERF:-1}
# perf may run but count nothing ("<not supported>" on VMs without PMU access): then leave instructions out.
if [ "$PERF" = 1 ] && ! { perf stat -x, -e instructions:u -o "$W/perf-check.out" true 2>/dev/null \
    && grep -q '^[0-9]' "$W/perf-check.out"; }; then PERF=0; fi
# private_clickhouse DIR, q SQL: the private ClickHouse server, started as k2's LocalClickHouse starts it.
. scripts/private-clickhouse.sh
now() { date +%s.%N; }
cpu_of() { awk -v t="$TCK" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t }' "/proc/$1/stat"; }
# timed FILE NAME SERVER_PID cmd...: appends "NAME wall_s client_cpu_s server_cpu_s client_insn" to FILE.
timed() {
  local file=$1 name=$2 spid=$3; shift 3
  local s0 s1 t0 t1 u s insn=0
  s0=$(cpu_of "$spid"); t0=$(now)
  if [ "$PERF" = 1 ]; then
    perf stat -x, -e instructions:u -o "$W/insn.out" -- /usr/bin/time -f "%U %S" -o "$W/time.out" "$@"
  else
    /usr/bin/time -f "%U %S" -o "$W/time.out" "$@"
  fi
  t1=$(now); s1=$(cpu_of "$spid")
  read -r u s < "$W/time.out"
  [ "$PERF" = 1 ] && insn=$(awk -F, '/instructions/ { print $1 }' "$W/insn.out")
  echo "$name $(echo "$t1 - $t0" | bc) $(echo "$u + $s" | bc) $(echo "$s1 - $s0" | bc) ${insn:-0}" >> "$file"
}
# report FILE COUNT UNIT BASELINE GOAL: each contender's runs and the ratio of the best runs to BASELINE's best.
report() {
  python3 - "$@" <<'PY'
import statistics, sys
path, count, unit, base, goal = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5])
runs = {}
for line in open(path):
    name, wall, cpu, srv, insn = line.split()
    runs.setdefault(name, []).append((float(wall), float(cpu), float(srv), float(insn) if insn.isdigit() else 0.0))
best = {n: min(r) for n, r in runs.items()}
# The median wall of each contender too: on a shared machine the best run is luck as much as speed.
median = {n: statistics.median(x[0] for x in r) for n, r in runs.items()}
w = max(len(n) for n in runs)
for n, r in runs.items():
    b = best[n]
    each = ", ".join(f"{x[0]:.3f}" for x in r)
    ratio = best[base][0] / b[0]
    mratio = median[base] / median[n]
    mark = f"  ratio {ratio:.2f}x (medians {mratio:.2f}x) vs {base}" + (f" (goal >= {goal})" if n.startswith("k2") and n.endswith("default") else "") if n != base else ""
    insn = min(x[3] for x in r)
    ins = f"  client {insn / 1e9:.2f} G insn" if insn > 0 else ""
    print(f"  {n:<{w}}  {count / b[0]:>10,.0f} {unit}/s  best {b[0]:.3f} s, median {median[n]:.3f} s (runs {each})  client cpu {b[1]:.2f} s  server cpu {b[2]:.2f} s{ins}{mark}")
PY
}

[ -s "$W/bench.k2cap" ] || "$K2" replay synth-capture "$W/bench.k2cap" --duration "$DURATION" --rate "$RATE" --seed 3
# The same messages as lines (payload only; symbol<TAB>payload for the keyed peer), and the trades as JSONEachRow.
"$K2" capture cat "$W/bench.k2cap" --kind recv > "$W/records.ndjson"
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
with open(f"{w}/records.ndjson") as f, open(f"{w}/msgs.txt", "w") as out, open(f"{w}/keyed.txt", "w") as keyed, \
        open(f"{w}/trades.json", "w") as tr:
    for line in f:
        r = json.loads(line)
        data = r["data"]
        out.write(data + "\n")
        m = json.loads(data)
        d = m.get("data", m)
        keyed.write(d.get("s", "") + "\t" + data + "\n")
        if d.get("e") not in ("trade", "aggTrade"):
            continue
        tid = str(d.get("t", d.get("a", "")))
        ts = d.get("T", d.get("E"))
        row = {"message_id": f"binance:{ts}:{d['s']}:{tid}", "exchange": "binance", "symbol": d["s"],
               "exchange_timestamp_ms": ts, "price": float(d["p"]), "quantity": float(d["q"]),
               "side": "sell" if d.get("m") else "buy", "trade_id": tid, "receive_ns": r["ts_ns"]}
        tr.write(json.dumps(row, separators=(",", ":")) + "\n")
PY
MSGS=$(wc -l < "$W/msgs.txt"); TRADES=$(wc -l < "$W/trades.json")
echo "capture: $MSGS messages, $TRADES trades ($W/bench.k2cap); k2 = $K2; $REPEAT run(s) each, alternating; load: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$ONLY" = all ] || [ "$ONLY" = kafka ]; then
echo "== Kafka: k2 replay --speed max into the embedded broker (k2 broker, its own process) vs kcat, same messages, same broker"
echo "   both: librdkafka 2.0.2, acks=all, linger.ms=5, batch.num.messages=10000, queue.buffering.max.messages=100000, no compression"
echo "   kcat -P -l: no key (sticky partitioner), no headers, idempotence off;  kcat -P -K: key = symbol"
echo "   kcat-P-H-headers: kcat -P -l plus the two 19-digit headers (-H): what headers alone cost"
echo "   kcat-same-work: key = symbol, two 19-digit headers and a k2-id of its length, RUNID-SEQ (-H), enable.idempotence=true: what k2 default does"
echo "   k2 default: key = symbol, headers k2-receive-ns + k2-intended-ns + k2-id, enable.idempotence=true (k2's default)"
echo "   k2 plain:   key = symbol, headers=off, enable.idempotence=false"
"$K2" broker --partitions 4 > "$W/broker.out" 2> "$W/broker.err" &
BPID=$!; PIDS+=("$BPID")
for _ in $(seq 1 100); do [ -s "$W/broker.out" ] && break; sleep 0.1; done
B=$(head -1 "$W/broker.out")
hw() { local s=0 o; for p in 0 1 2 3; do o=$(kcat -b "$B" -Q -t "$1:$p:-1" | awk '/offset/{print $NF}'); s=$((s + o)); done; echo "$s"; }
KT="$W/kafka-times.txt"; : > "$KT"
for i in $(seq 1 "$REPEAT"); do
  timed "$KT" "kcat-P-l" "$BPID" kcat -P -b "$B" -t "bench.kcat.$i" -l "$W/msgs.txt"
  timed "$KT" "k2-default" "$BPID" "$K2" replay "$W/bench.k2cap" --sink "kafka://$B?topic=bench.k2.$i" --speed max --quiet --report "$W/kafka.$i" 2> "$W/kafka.$i.txt"
  timed "$KT" "kcat-P-K-keyed" "$BPID" kcat -P -b "$B" -t "bench.kcatkey.$i" -K $'\t' -l "$W/keyed.txt"
  timed "$KT" "kcat-P-H-headers" "$BPID" kcat -P -b "$B" -t "bench.kcathdr.$i" -H k2-receive-ns=1700000000000000000 -H k2-intended-ns=1700000000000000000 -l "$W/msgs.txt"
  timed "$KT" "kcat-same-work" "$BPID" kcat -P -b "$B" -t "bench.kcatsame.$i" -K $'\t' -H k2-receive-ns=1700000000000000000 -H k2-intended-ns=1700000000000000000 -H k2-id=0123456789abcdef-152580 -X enable.idempotence=true -l "$W/keyed.txt"
  [ -n "${K2_BEFORE:-}" ] && timed "$KT" "k2-before" "$BPID" "$K2_BEFORE" replay "$W/bench.k2cap" --sink "kafka://$B?topic=bench.k2before.$i" --speed max --quiet 2> /dev/null
  timed "$KT" "k2-plain" "$BPID" "$K2" replay "$W/bench.k2cap" --sink "kafka://$B?topic=bench.k2plain.$i&headers=off" -X enable.idempotence=false --speed max --quiet 2> "$W/kafka-plain.$i.txt"
done
echo "   high watermarks (last run): kcat $(hw "bench.kcat.$REPEAT"), kcat keyed $(hw "bench.kcatkey.$REPEAT"), k2 $(hw "bench.k2.$REPEAT"), k2 plain $(hw "bench.k2plain.$REPEAT") (expected $MSGS each)"
report "$KT" "$MSGS" msg kcat-P-l 1.0
echo "   the same, against kcat doing k2 default's work:"
grep -E '^(kcat-same-work|k2-default) ' "$KT" > "$KT.same" || true
report "$KT.same" "$MSGS" msg kcat-same-work 1.0
kill "$BPID" 2>/dev/null || true
fi

if [ "$ONLY" = all ] || [ "$ONLY" = clickhouse ]; then
echo "== ClickHouse 18.16 (private server): k2 replay mode=trades (reads the capture, parses, RowBinary) vs curl --data-binary JSONEachRow (pre-converted file)"
BATCHQ=${CH_BATCH:+&batch=$CH_BATCH}   # CH_BATCH=N to override k2's default batch size
echo "   one HTTP connection each, empty Expect:, same table shape; k2 batches of ${CH_BATCH:-50000 (default)} rows; each run starts with no merge running"
echo "   k2-default: each batch sent whole, its rows first ordered by the table's key (exchange, symbol, time), so the server's sort has little to do"
echo "   k2-stream-on: stream=on, each insert streams its rows while the engine encodes them (chunked transfer encoding, capture order)"
echo "   curl-RowBinary: the same rows pre-encoded as RowBinary (what the server needs when the client costs nothing)"
# The server's parts go to tmpfs by default: on this VM's disk, writeback of the parts (dirty
# pages of earlier runs) lands in random runs and costs the server up to 2x the CPU, which
# swamps the differences between clients. CH_DATA=dir to measure on a disk.
if [ -n "${CH_DATA:-}" ]; then CH="$CH_DATA"; rm -rf "$CH"
elif [ -d /dev/shm ] && [ -w /dev/shm ]; then CH=$(mktemp -d /dev/shm/k2-bench-ch.XXXXXX); CHTMP=$CH
else CH="$W/clickhouse"; rm -rf "$CH"; fi
echo "   server data in $CH"
private_clickhouse "$CH"
PIDS+=("$SPID")
q 'CREATE DATABASE IF NOT EXISTS k2'
CT="$W/clickhouse-times.txt"; : > "$CT"
# Inserts of several parts (k2's batches) start background merges; each timed run starts once
# the server has none running, so no contender pays for the previous one's merges.
settle() { for _ in $(seq 1 100); do [ "$(q 'SELECT count() FROM system.merges')" = 0 ] && return; sleep 0.05; done; }
chtimed() { settle; timed "$@"; }
# The RowBinary peer's file: k2's rows, dumped once (also warms the page cache for everyone).
# Dumped from one part, so its rows are in key order, like k2's sorted batches. The columns are
# named: k2's own table (--create-tables) has a k2_batch column the timed tables lack, and
# RowBinary has no column names, so the extra 8 bytes a row shift every later field and the
# server reads a string length from the wrong bytes ("Cannot mmap 32.00 GiB", "Cannot read all data").
"$K2" replay "$W/bench.k2cap" --sink "clickhouse://127.0.0.1:$HP/k2?mode=trades&table=rb_source" --create-tables --speed max --quiet 2> /dev/null
q "SELECT message_id, exchange, symbol, exchange_timestamp_ms, price, quantity, side, trade_id, receive_ns FROM k2.rb_source FORMAT RowBinary" > "$W/trades.rowbinary"
for i in $(seq 1 "$REPEAT"); do
  # Every contender's table exists before its timed run (no DDL inside the timing).
  q "CREATE TABLE k2.curl_trades_$i (message_id String, exchange String, symbol String, exchange_timestamp_ms UInt64, price Float64, quantity Float64, side Nullable(String), trade_id String, receive_ns UInt64) ENGINE = MergeTree ORDER BY (exchange, symbol, exchange_timestamp_ms)"
  for t in k2_trades k2_stream rb_trades; do q "CREATE TABLE k2.${t}_$i AS k2.curl_trades_$i"; done
  chtimed "$CT" "curl-JSONEachRow" "$SPID" curl -sS --fail-with-body -H 'Expect:' --data-binary @"$W/trades.json" "http://127.0.0.1:$HP/?query=INSERT%20INTO%20k2.curl_trades_$i%20FORMAT%20JSONEachRow"
  chtimed "$CT" "k2-default" "$SPID" "$K2" replay "$W/bench.k2cap" --sink "clickhouse://127.0.0.1:$HP/k2?mode=trades&table=k2_trades_$i$BATCHQ" --speed max --quiet --report "$W/clickhouse.$i" 2> "$W/clickhouse.$i.txt"
  chtimed "$CT" "k2-stream-on" "$SPID" "$K2" replay "$W/bench.k2cap" --sink "clickhouse://127.0.0.1:$HP/k2?mode=trades&table=k2_stream_$i&stream=on$BATCHQ" --speed max --quiet 2> "$W/clickhouse-stream.$i.txt"
  if [ -n "${K2_BEFORE:-}" ]; then
    q "CREATE TABLE k2.k2_before_$i AS k2.curl_trades_$i"
    chtimed "$CT" "k2-before" "$SPID" "$K2_BEFORE" replay "$W/bench.k2cap" --sink "clickhouse://127.0.0.1:$HP/k2?mode=trades&table=k2_before_$i$BATCHQ" --speed max --quiet 2> /dev/null
  fi
  chtimed "$CT" "curl-RowBinary" "$SPID" curl -sS --fail-with-body -H 'Expect:' --data-binary @"$W/trades.rowbinary" "http://127.0.0.1:$HP/?query=INSERT%20INTO%20k2.rb_trades_$i%20FORMAT%20RowBinary"
done
echo "   rows (last run): curl $(q "SELECT count() FROM k2.curl_trades_$REPEAT"), k2 $(q "SELECT count() FROM k2.k2_trades_$REPEAT"), k2 stream on $(q "SELECT count() FROM k2.k2_stream_$REPEAT"), curl RowBinary $(q "SELECT count() FROM k2.rb_trades_$REPEAT") (expected $TRADES each)"
report "$CT" "$TRADES" row curl-JSONEachRow 1.5
echo "   the same, against curl posting k2's rows pre-encoded as RowBinary (the server's floor; issue 18's goal: k2-default >= 0.9):"
grep -E '^(curl-RowBinary|k2-default|k2-before) ' "$CT" > "$CT.rb" || true
report "$CT.rb" "$TRADES" row curl-RowBinary 0.9
kill "$SPID" 2>/dev/null || true
fi
echo "(goals: Kafka k2-default ratio >= 1.0, ClickHouse k2-default ratio >= 1.5 vs JSONEachRow and >= 0.9 vs curl RowBinary; logs and summaries in $W)"
