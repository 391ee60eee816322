#!/usr/bin/env bash
# Peer benchmark of k2's query stage (workload `queries:`) against clickhouse-benchmark (Debian
# package clickhouse-tools) on the same query, the same private ClickHouse and the same
# concurrency; not a test.
#   scripts/bench-queries.sh                       # concurrency 2, 10 s each
#   CONCURRENCY=4 SECONDS_EACH=20 scripts/bench-queries.sh
#   ROUNDS=3 SECONDS_EACH=5 scripts/bench-queries.sh   # alternate 3 times (a shared machine)
#   K2=.build/debug/k2 scripts/bench-queries.sh    # skip the release build
# Closed loop for all: clickhouse-benchmark keeps CONCURRENCY queries in flight on the native
# TCP protocol; k2's open-loop scheduler is given a rate far above what the server answers, so
# its CONCURRENCY workers (one kept-alive connection each) never wait for a slot — i.e. closed
# loop — and its throughput is the queries answered / the window (the queries due and never
# started are in the report's notes). k2 runs twice: `protocol: native` (the same protocol as
# clickhouse-benchmark: the like-for-like figure) and `protocol: http` (the HTTP interface,
# which costs the server more per query). Goals: k2-native's throughput ≥ 0.9 ×
# clickhouse-benchmark's, medians within noise (k2's latency from the actual start; the one
# from the intended start is meaningless here). wrk (Debian package wrk) POSTs the same query to
# the HTTP interface on CONCURRENCY keep-alive connections, the same-protocol peer of k2-http
# (measured 2026-12-06: wrk reached 0.6 of clickhouse-benchmark, k2-http ~1.0 of wrk).
# The runs alternate (ROUNDS, default 1, of clickhouse-benchmark, k2-native, wrk, k2-http) so a
# shared machine's load shifts hit all of them; the summary takes each one's median round.
set -euo pipefail
cd "$(dirname "$0")/.."
C=${CONCURRENCY:-2}
SECS=${SECONDS_EACH:-10}
ROUNDS=${ROUNDS:-1}
. scripts/peer-bench.sh queries clickhouse-benchmark:clickhouse-tools wrk:wrk
SQL="SELECT symbol, count(), avg(price) FROM trades WHERE exchange_timestamp_ms BETWEEN 1700000000000 AND 1700010000000 GROUP BY symbol ORDER BY symbol"
echo "$SQL" > "$W/query.sql"
q "${SQL/FROM trades/FROM q.trades} FORMAT Null" > /dev/null
printf 'wrk.method = "POST"\nwrk.body = [[%s]]\n' "$SQL" > "$W/post.lua"
for protocol in native http; do
  cat > "$W/queries-$protocol.yaml" <<YAML
source: {captures: [$PWD/captures/binance-sample.k2cap]}
rate: 100
duration: ${SECS}s
sinks: [mock://]
queries:
  clickhouse: http://127.0.0.1:$HP
  protocol: $protocol
  native_port: $TP
  database: q
  concurrency: $C
  classes:
    q: {sql: $W/query.sql, rate: 1000000}
YAML
done
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min; $(nproc) cores)"
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round: clickhouse-benchmark -c $C -t $SECS (native TCP)"
  echo "$SQL" | clickhouse-benchmark --port "$TP" --database q -c "$C" -t "$SECS" -d 0 --json "$W/chb-$round.json" 2> "$W/chb-$round.txt" > /dev/null || true
  tail -n 4 "$W/chb-$round.txt"
  echo "== round $round: k2 bench run, query stage, protocol native, $C workers, no idle slot (closed loop)"
  "$K2" bench run "$W/queries-native.yaml" -o "$W/k2-native-$round" --quiet > /dev/null
  echo "== round $round: wrk -t$C -c$C -d${SECS}s: the same query POSTed to the HTTP interface (keep-alive)"
  wrk -t"$C" -c"$C" -d"${SECS}s" --latency -s "$W/post.lua" "http://127.0.0.1:$HP/?database=q" > "$W/wrk-$round.txt"
  grep -E "Requests/sec|50%" "$W/wrk-$round.txt"
  echo "== round $round: k2 bench run, query stage, protocol http"
  "$K2" bench run "$W/queries-http.yaml" -o "$W/k2-http-$round" --quiet > /dev/null
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$W" "$SECS" "$C" "$ROUNDS" <<'PY'
import json, re, statistics, sys
w, secs, c, rounds = sys.argv[1], float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
nan = float("nan")
def k2(kind, r):
    m = json.load(open(f"{w}/k2-{kind}-{r}/report.json"))["metrics"]
    g = lambda k: m.get(k, {}).get("value", nan)
    return g("queries.q.count") / secs, g("latency.query_uncorrected.q.p50"), g("queries.q.errors")
def chb(r):
    try:   # 18.16: {"statistics": {"QPS": …}, "query_time_percentiles": {"50": s, …}}
        j = json.load(open(f"{w}/chb-{r}.json"))
        return float(j["statistics"]["QPS"]), float(j["query_time_percentiles"].get("50", nan)) * 1000, 0
    except Exception as error:
        print(f"(clickhouse-benchmark JSON of round {r} not read: {error})"); return nan, nan, 0
def wrk(r):
    text = open(f"{w}/wrk-{r}.txt").read()
    hit = re.search(r"Requests/sec:\s+([\d.]+)", text)
    qps = float(hit.group(1)) if hit else nan
    hit = re.search(r"^\s*50%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
    p50 = nan if not hit else float(hit.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[hit.group(2)]
    return qps, p50, 0
rows = {"clickhouse-benchmark": [chb(r) for r in range(1, rounds + 1)], "k2-native": [k2("native", r) for r in range(1, rounds + 1)],
        "wrk (HTTP)": [wrk(r) for r in range(1, rounds + 1)], "k2-http": [k2("http", r) for r in range(1, rounds + 1)]}
med = {name: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v), sum(x[2] for x in v)) for name, v in rows.items()}
for name, (qps, p50, errors) in med.items():
    rounds_text = ", ".join(f"{x[0]:.1f}" for x in rows[name])
    print(f"{name:21} {qps:8.1f} queries/s at concurrency {c}, median {p50:.2f} ms ({rounds_text} per round{'' if name[:2] != 'k2' else f', {errors:.0f} failed'})")
chbq = med["clickhouse-benchmark"][0]
print(f"k2-native / clickhouse-benchmark throughput: {med['k2-native'][0] / chbq:.2f} (goal ≥ 0.9, same protocol)")
print(f"k2-http / clickhouse-benchmark: {med['k2-http'][0] / chbq:.2f}; k2-http / wrk on the same HTTP interface: {med['k2-http'][0] / med['wrk (HTTP)'][0]:.2f}")
PY
echo "(files in $W)"
