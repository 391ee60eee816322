#!/usr/bin/env bash
# Peer benchmark of k2's HTTP stage (workload `http:`) against wrk (Debian package wrk), on the
# same URL of a private ClickHouse's HTTP interface (the local stand-in API); not a test.
#   scripts/bench-http.sh                        # 10 s each, k2 at 100 requests/s
#   RATE=200 SECONDS_EACH=20 scripts/bench-http.sh
#   K2=.build/debug/k2 scripts/bench-http.sh     # skip the release build (debug figures are slower)
# wrk is closed loop with no rate option (wrk2 has one): it runs flat out on one connection and
# gives its throughput (the rate the server sustains) and its latency percentiles. k2 runs open
# loop at RATE (below wrk's throughput, so both sustain it) on one keep-alive connection: its
# latency from the actual start (uncorrected) is the figure comparable with wrk's; the one from
# the intended start (corrected) is shown next to it. Goal: the same median within noise.
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${RATE:-100}
SECS=${SECONDS_EACH:-10}
. scripts/peer-bench.sh http wrk:wrk
URL="http://127.0.0.1:$HP/?query=SELECT%20symbol%2C%20count()%20FROM%20q.trades%20GROUP%20BY%20symbol%20ORDER%20BY%20symbol"
curl -sS "$URL" > /dev/null
echo "== wrk -t1 -c1 -d${SECS}s --latency (closed loop, flat out)"
wrk -t1 -c1 -d"${SECS}s" --latency "$URL" | tee "$W/wrk.txt"
cat > "$W/http.yaml" <<YAML
source: {captures: [$PWD/captures/binance-sample.k2cap]}
rate: 100
duration: ${SECS}s
sinks: [mock://]
http:
  concurrency: 1
  requests:
    api: {url: "$URL", rate: $RATE, contains: BTCUSDT}
YAML
echo "== k2 bench run: http stage open loop at $RATE requests/s, 1 connection"
"$K2" bench run "$W/http.yaml" -o "$W/k2" --quiet > /dev/null
python3 - "$W/k2/report.json" "$W/wrk.txt" "$RATE" "$SECS" <<'PY'
import json, re, sys
m = json.load(open(sys.argv[1]))["metrics"]
wrk = open(sys.argv[2]).read()
def wrk_ms(label):
    hit = re.search(r"^\s*" + re.escape(label) + r"\s+([\d.]+)(us|ms|s)\s*$", wrk, re.M)
    if not hit: return float("nan")
    v, unit = float(hit.group(1)), hit.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
rps = re.search(r"Requests/sec:\s+([\d.]+)", wrk)
g = lambda k: m.get(k, {}).get("value", float("nan"))
print(f"wrk: {float(rps.group(1)) if rps else float('nan'):.0f} requests/s flat out, p50 {wrk_ms('50%'):.2f} ms, p99 {wrk_ms('99%'):.2f} ms")
print(f"k2:  open loop at {sys.argv[3]} requests/s for {sys.argv[4]} s: {g('http.api.count'):.0f} good, {g('http.api.errors'):.0f} failed; "
      f"from the actual start p50 {g('latency.http_uncorrected.api.p50'):.2f} ms, p99 {g('latency.http_uncorrected.api.p99'):.2f} ms; "
      f"from the intended start p50 {g('latency.http.api.p50'):.2f} ms, p99 {g('latency.http.api.p99'):.2f} ms")
print(f"median k2 (actual start) / wrk: {g('latency.http_uncorrected.api.p50') / wrk_ms('50%'):.2f}")
PY
echo "(files in $W)"
