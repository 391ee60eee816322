# Sourced by the peer benchmark scripts (bench-http.sh, bench-queries.sh): starts a private
# clickhouse-server on free ports with its data under $W (or tmpfs), a database `q` with a
# `trades` table of 3 symbols × 20,000 trades, and defines `q SQL` (run a statement over HTTP).
# Sets HP (HTTP port), TP (native TCP port), SPID; the caller's EXIT trap must kill $SPID.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HP=$(free_port); TP=$(free_port)
CH="$W/clickhouse"; rm -rf "$CH"; mkdir -p "$CH/data" "$CH/tmp"
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
SPID=$!
q() { curl -sS --fail-with-body --data-binary "$1" "http://127.0.0.1:$HP/"; }
for _ in $(seq 1 200); do q 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.3; done
q 'CREATE DATABASE q'
q 'CREATE TABLE q.trades (symbol String, exchange_timestamp_ms UInt64, price Float64) ENGINE = MergeTree ORDER BY (symbol, exchange_timestamp_ms)'
q "INSERT INTO q.trades SELECT ['BTCUSDT','ETHUSDT','SOLUSDT'][number % 3 + 1], 1700000000000 + intDiv(number, 3) * 1000, 100 + number % 1000 FROM system.numbers LIMIT 60000"
