#!/usr/bin/env bash
# Real-system sink benchmarks (issue 3): prints figures next to a peer doing the same work on the
# same messages in the same run; not a test.
#   scripts/bench-sinks.sh                      # ~300K messages (5 minutes at 1000 msg/s, replayed flat out)
#   RATE=2000 DURATION=5m scripts/bench-sinks.sh
#   BENCH_DIR=/tmp/k2bench scripts/bench-sinks.sh   # keep the capture and the logs
#   K2=.build/debug/k2 scripts/bench-sinks.sh       # skip the release build (debug figures are not comparable)
# Goals: replay into the embedded broker ≥ 1.0 × `kcat -P -l` of the same messages;
#        replay into ClickHouse (mode=trades, RowBinary) ≥ 1.5 × `curl --data-binary` JSONEachRow of the same trades.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-1000}
DURATION=${DURATION:-5m}
W=${BENCH_DIR:-$(mktemp -d /tmp/k2-bench-sinks.XXXXXX)}
mkdir -p "$W"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

if [ -z "${K2:-}" ]; then   # K2=path/to/k2 to use another build (figures from a debug build are not comparable)
  swift build -c release --product k2 >&2
  K2="$(swift build -c release --show-bin-path)/k2"
fi
now() { date +%s.%N; }
ratio() { python3 -c 'import sys; n=float(sys.argv[1]); a=float(sys.argv[2]); b=float(sys.argv[3]); print(f"{sys.argv[4]}: {n/a:,.0f} msg/s  vs  {sys.argv[5]}: {n/b:,.0f} msg/s  ratio {b/a:.2f}x")' "$@"; }

[ -s "$W/bench.k2cap" ] || "$K2" replay synth-capture "$W/bench.k2cap" --duration "$DURATION" --rate "$RATE" --seed 3
# The same messages as lines (payload only) and their receive times, for the peers.
"$K2" capture cat "$W/bench.k2cap" --kind recv > "$W/records.ndjson"
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
with open(f"{w}/records.ndjson") as f, open(f"{w}/msgs.txt", "w") as out, open(f"{w}/trades.json", "w") as tr:
    for line in f:
        r = json.loads(line)
        data = r["data"]
        out.write(data + "\n")
        m = json.loads(data)
        d = m.get("data", m)
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
echo "capture: $MSGS messages, $TRADES trades ($W/bench.k2cap)"

echo "== Kafka: k2 replay --speed max into the embedded broker vs kcat -P -l (broker in its own process)"
"$K2" broker --partitions 4 > "$W/broker.out" 2> "$W/broker.err" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$W/broker.out" ] && break; sleep 0.1; done
B=$(head -1 "$W/broker.out")
hw() { local s=0; for p in 0 1 2 3; do o=$(kcat -b "$B" -Q -t "$1:$p:-1" | awk '/offset/{print $NF}'); s=$((s + o)); done; echo "$s"; }
t0=$(now); kcat -P -b "$B" -t bench.kcat -l "$W/msgs.txt"; t1=$(now)
"$K2" replay "$W/bench.k2cap" --sink "kafka://$B?topic=bench.k2" --speed max --quiet --report "$W/kafka" 2> "$W/kafka.txt"; t2=$(now)
"$K2" replay "$W/bench.k2cap" --sink "kafka://$B?topic=bench.k2plain&headers=off" -X enable.idempotence=false --speed max --quiet 2> "$W/kafka-plain.txt"; t3=$(now)
echo "high watermarks: kcat $(hw bench.kcat), k2 $(hw bench.k2), k2 plain $(hw bench.k2plain) (expected $MSGS each)"
ratio "$MSGS" "$(echo "$t2 - $t1" | bc)" "$(echo "$t1 - $t0" | bc)" "k2 (idempotent, key, 2 headers)" "kcat -P -l (no key, no headers)"
ratio "$MSGS" "$(echo "$t3 - $t2" | bc)" "$(echo "$t1 - $t0" | bc)" "k2 (headers=off, idempotence off: kcat's work)" "kcat -P -l"

echo "== ClickHouse: k2 replay mode=trades (RowBinary) vs curl --data-binary JSONEachRow of the same trades"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HP=$(free_port); TP=$(free_port); CH="$W/clickhouse"; mkdir -p "$CH/data" "$CH/tmp"
cat > "$CH/users.xml" <<XML
<?xml version="1.0"?>
<yandex><profiles><default></default></profiles>
<users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
<quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas></yandex>
XML
cat > "$CH/config.xml" <<XML
<?xml version="1.0"?>
<yandex><logger><level>warning</level><log>$CH/server.log</log><errorlog>$CH/server.err.log</errorlog><console>0</console></logger>
<http_port>$HP</http_port><tcp_port>$TP</tcp_port><listen_host>127.0.0.1</listen_host>
<path>$CH/data/</path><tmp_path>$CH/tmp/</tmp_path><users_config>$CH/users.xml</users_config>
<default_profile>default</default_profile><default_database>default</default_database><mark_cache_size>268435456</mark_cache_size></yandex>
XML
SERVER=$(command -v clickhouse-server || echo /usr/sbin/clickhouse-server)
"$SERVER" --config-file="$CH/config.xml" > /dev/null 2>&1 &
PIDS+=($!)
q() { curl -sS --fail-with-body --data-binary "$1" "http://127.0.0.1:$HP/"; }
for _ in $(seq 1 100); do q 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.3; done
q 'CREATE DATABASE IF NOT EXISTS k2'
q "CREATE TABLE k2.curl_trades (message_id String, exchange String, symbol String, exchange_timestamp_ms UInt64, price Float64, quantity Float64, side Nullable(String), trade_id String, receive_ns UInt64) ENGINE = MergeTree ORDER BY (exchange, symbol, exchange_timestamp_ms)"
t0=$(now); curl -sS --fail-with-body -H 'Expect:' --data-binary @"$W/trades.json" "http://127.0.0.1:$HP/?query=INSERT%20INTO%20k2.curl_trades%20FORMAT%20JSONEachRow"; t1=$(now)
"$K2" replay "$W/bench.k2cap" --sink "clickhouse://127.0.0.1:$HP/k2?mode=trades&table=k2_trades&batch=100000" --create-tables --speed max --quiet --report "$W/clickhouse" 2> "$W/clickhouse.txt"; t2=$(now)
echo "rows: curl $(q 'SELECT count() FROM k2.curl_trades'), k2 $(q 'SELECT count() FROM k2.k2_trades') (expected $TRADES each)"
ratio "$TRADES" "$(echo "$t2 - $t1" | bc)" "$(echo "$t1 - $t0" | bc)" "k2 replay (read capture + parse + RowBinary)" "curl JSONEachRow (pre-converted file)"
echo "(goal: Kafka ratio >= 1.0, ClickHouse ratio >= 1.5; logs and summaries in $W)"
