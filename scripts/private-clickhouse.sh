# Sourced by the benchmark scripts (bench-sinks.sh; bench-http.sh and bench-queries.sh through
# peer-bench.sh): `private_clickhouse DIR` starts a private clickhouse-server with its files in
# DIR, on free ports of 127.0.0.1, with the configuration of k2's own LocalClickHouse
# (Sources/K2Bench/Pipeline/LocalClickHouse.swift: what `embedded.clickhouse` and the
# integration tests start), and waits until it answers `SELECT 1` (60 s at most, as there).
# Sets HP (HTTP port), TP (native TCP port) and SPID (the caller's EXIT trap must kill it);
# `q SQL` runs one statement over HTTP (the body on stdout; the server's message and a failure
# otherwise). On a failed start: one line on stderr saying why, the server killed, status 1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
q() { curl -sS --fail-with-body --data-binary "$1" "http://127.0.0.1:$HP/"; }
private_clickhouse() {
  local dir=$1 server
  for server in /usr/sbin/clickhouse-server /usr/bin/clickhouse-server /usr/bin/clickhouse ""; do
    [ -x "$server" ] && break
  done
  if [ -z "$server" ]; then
    echo "private ClickHouse: clickhouse-server is not installed; run scripts/install-deps.sh (apt-get install clickhouse-server clickhouse-client)" >&2
    return 1
  fi
  HP=$(free_port); TP=$(free_port)
  mkdir -p "$dir/data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
  cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger><level>warning</level><log>$dir/server.log</log><errorlog>$dir/server.err.log</errorlog><console>0</console></logger>
    <http_port>$HP</http_port>
    <tcp_port>$TP</tcp_port>
    <listen_host>127.0.0.1</listen_host>
    <path>$dir/data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$dir/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <max_concurrent_queries>50</max_concurrent_queries>
    <kafka><auto_offset_reset>smallest</auto_offset_reset><session_timeout_ms>6000</session_timeout_ms><heartbeat_interval_ms>1000</heartbeat_interval_ms></kafka>
</yandex>
XML
  cat > "$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles><default></default></profiles>
    <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
  local args=(--config-file="$dir/config.xml")
  [ "${server##*/}" = clickhouse ] && args=(server "${args[@]}")
  "$server" "${args[@]}" > "$dir/stdout.log" 2> "$dir/stderr.log" &
  SPID=$!
  local deadline=$((SECONDS + 60))
  until [ "$(q 'SELECT 1' 2> /dev/null)" = 1 ]; do
    if ! kill -0 "$SPID" 2> /dev/null; then
      echo "private ClickHouse: clickhouse-server exited during start: $(tail -n 3 "$dir/server.err.log" 2> /dev/null | tr '\n' ' '); see $dir/server.err.log" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill "$SPID" 2> /dev/null || true
      echo "private ClickHouse: clickhouse-server did not answer SELECT 1 on port $HP within 60 s; see $dir/server.err.log (the machine may be overloaded)" >&2
      return 1
    fi
    sleep 0.2
  done
}
