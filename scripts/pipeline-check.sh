#!/usr/bin/env bash
# The v2 pipeline, end to end with real parts: `k2 replay` → `k2 broker` (Kafka protocol over TCP)
# → ClickHouse 18.16 Kafka engine → materialized view → MergeTree, then `SELECT count()` over HTTP
# must equal the number of messages k2 delivered. NOT part of `.ci/run`: the 18.16 Kafka engine's
# consumer joins its group against the mock broker unreliably here — by hand it consumed after
# 17 s and after 50 s, but a test (150 s) and this script's own run (240 s) saw nothing. Open in
# issue 3. Exit 0 when the counts match, 1 when they do not (or nothing was consumed), 2 on setup failure.
set -euo pipefail
cd "$(dirname "$0")/.."
K2=${K2:-.build/debug/k2}
TIMEOUT=${TIMEOUT:-240}
[ -x "$K2" ] || { echo "pipeline: $K2 missing; run swift build" >&2; exit 2; }
W=$(mktemp -d /tmp/k2-pipeline.XXXXXX)
HTTP=$((38000 + RANDOM % 1000)); TCP=$((HTTP + 1000))
cleanup() { kill "${CH:-0}" "${BR:-0}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$W"; }
trap cleanup EXIT

mkdir -p "$W"/{data,tmp}
cat > "$W/config.xml" <<XML
<yandex>
  <logger><level>warning</level><log>$W/server.log</log><errorlog>$W/err.log</errorlog></logger>
  <http_port>$HTTP</http_port><tcp_port>$TCP</tcp_port><listen_host>127.0.0.1</listen_host>
  <path>$W/data/</path><tmp_path>$W/tmp/</tmp_path>
  <users_config>/etc/clickhouse-server/users.xml</users_config>
  <default_profile>default</default_profile><default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
XML
/usr/sbin/clickhouse-server --config-file="$W/config.xml" > "$W/ch.out" 2>&1 & CH=$!
"$K2" broker --partitions 4 > "$W/broker.out" 2>&1 & BR=$!
q() { curl -sS --fail-with-body "http://127.0.0.1:$HTTP/" --data-binary "$1"; }
for _ in $(seq 1 100); do q "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
q "SELECT 1" >/dev/null || { echo "pipeline: clickhouse-server did not start: $(tail -2 "$W/err.log")" >&2; exit 2; }
for _ in $(seq 1 50); do B=$(head -1 "$W/broker.out"); [ -n "$B" ] && break; sleep 0.2; done
[ -n "$B" ] || { echo "pipeline: k2 broker printed no address" >&2; exit 2; }
T=pipeline
q "CREATE TABLE q (stream String) ENGINE = Kafka SETTINGS kafka_broker_list = '$B', kafka_topic_list = '$T', kafka_group_name = 'k2-pipeline', kafka_format = 'JSONEachRow'"
q "CREATE TABLE bronze (stream String) ENGINE = MergeTree ORDER BY stream"
q "CREATE MATERIALIZED VIEW mv TO bronze AS SELECT stream FROM q"

# The engine's consumer starts at the latest offset once it has joined its group: probe first.
start=$(date +%s); ready=0
while [ $(( $(date +%s) - start )) -lt "$TIMEOUT" ]; do
  echo '{"stream":"probe"}' | kcat -P -b "$B" -t "$T" -p 0
  [ "$(q "SELECT count() FROM bronze WHERE stream = 'probe'")" != 0 ] && { ready=1; break; }
  sleep 1
done
[ "$ready" = 1 ] || { echo "pipeline: the Kafka engine consumed nothing within ${TIMEOUT}s" >&2; exit 1; }
echo "pipeline: Kafka engine consuming after $(( $(date +%s) - start ))s"

"$K2" replay captures/binance-sample.k2cap --sink "kafka://$B?topic=$T" --speed max --quiet --report "$W/replay" 2> "$W/replay.txt"
sent=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["messages"])' "$W/replay/summary.json")
start=$(date +%s); landed=0
while [ $(( $(date +%s) - start )) -lt 60 ]; do
  landed=$(q "SELECT count() FROM bronze WHERE stream != 'probe'")
  [ "$landed" -ge "$sent" ] && break
  sleep 1
done
echo "pipeline: replayed $sent, in MergeTree $landed"
[ "$landed" = "$sent" ]
