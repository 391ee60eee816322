# Sourced (from the repository's root) by the peer benchmarks of k2's workload stages that run
# against a private ClickHouse, bench-http.sh and bench-queries.sh: the set-up they share.
#   . scripts/peer-bench.sh NAME TOOL:DEBIAN_PACKAGE…
# Sets W (BENCH_DIR, or a new /tmp/k2-bench-NAME.XXXXXX), installs each missing peer tool,
# builds the release k2 unless K2 names one, and starts the private ClickHouse
# (private-clickhouse.sh: HP, TP, SPID, `q SQL`; killed at exit) with its data under $W, a
# database `q` and a `trades` table of 3 symbols × 20,000 trades.
peer=$1; shift
W=${BENCH_DIR:-$(mktemp -d "/tmp/k2-bench-$peer.XXXXXX")}
mkdir -p "$W"
SPID=
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; true' EXIT
for need in "$@"; do
  command -v "${need%%:*}" >/dev/null || { echo "installing ${need#*:} (Debian package)…" >&2; apt-get install -y "${need#*:}" >/dev/null; }
done
if [ -z "${K2:-}" ]; then
  swift build -c release --product k2 >&2
  K2="$(swift build -c release --show-bin-path)/k2"
fi
. scripts/private-clickhouse.sh
rm -rf "$W/clickhouse"
private_clickhouse "$W/clickhouse"
q 'CREATE DATABASE q'
q 'CREATE TABLE q.trades (symbol String, exchange_timestamp_ms UInt64, price Float64) ENGINE = MergeTree ORDER BY (symbol, exchange_timestamp_ms)'
q "INSERT INTO q.trades SELECT ['BTCUSDT','ETHUSDT','SOLUSDT'][number % 3 + 1], 1700000000000 + intDiv(number, 3) * 1000, 100 + number % 1000 FROM system.numbers LIMIT 60000"
