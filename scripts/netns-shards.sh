#!/usr/bin/env bash
# A sharded k2 bench run across "hosts" on one machine: Linux network namespaces joined by veth
# pairs to a bridge (iproute2; needs root, as CI has). One namespace holds the embedded broker,
# listening on and advertising 10.77.0.1:9092 (`k2 broker --host`), its control port 9093 the
# shards' clock reference (`--clock-ref`); each of N shard namespaces
# (10.77.0.10+i) runs `k2 bench run --shard i/N` against that address — the shards' own loopback
# has no broker, so nothing takes a loopback shortcut — all waiting at one `--start-at` barrier;
# then `k2 bench merge` joins their reports. Writes into OUT:
#   shard-I/ (each shard's run directory), merged/ (the merge), workload.yaml,
#   watermarks.txt (the sum of the topic's high watermarks, read with kcat -Q from a shard namespace),
#   status.txt (one "shard I exit CODE" line per shard, then "merge exit CODE").
# Usage: scripts/netns-shards.sh [N [OUT [RATE [DURATION]]]]   (default 3, a temporary folder, 6k, 4s)
# Environment: K2 (default .build/debug/k2). Exit 0 when every step ran (the checks are the
# caller's: Tests/K2IntegrationTests/NetnsShardTests.swift), 1 when a step failed.
# Namespaces, links and processes are removed on exit, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shards=${1:-3}
out=${2:-$(mktemp -d /tmp/k2-netns.XXXXXX)}
rate=${3:-6k}
duration=${4:-4s}
k2=${K2:-$root/.build/debug/k2}
case "$k2" in /*) ;; *) k2=$root/$k2 ;; esac
topic=market.crypto.trades.binance
partitions=8
broker_addr=10.77.0.1
port=9092
control_port=9093   # the broker host's control port: also the shards' clock reference (`time`)

fail() { echo "netns-shards: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root to create network namespaces (CI runs as root); run it with sudo"
command -v ip >/dev/null || fail "ip (iproute2) is missing; run scripts/install-deps.sh"
command -v kcat >/dev/null || fail "kcat is missing; run scripts/install-deps.sh"
[ -x "$k2" ] || fail "$k2 is not built; run swift build"
[[ "$shards" =~ ^[1-9][0-9]?$ && "$shards" -ge 2 ]] || fail "N '$shards' must be 2-99 (k2 bench merge joins two or more)"
mkdir -p "$out"

tag="k2n$$"
switch="$tag-sw"
broker_ns="$tag-b"
pids=()
namespaces=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT

# The network: a bridge in a namespace of its own (nothing touches the machine's own network).
add_ns() { ip netns add "$1" || fail "cannot create network namespace $1 (ip netns add failed: root and CAP_SYS_ADMIN needed)"; namespaces+=("$1"); ip -n "$1" link set lo up; }
add_ns "$switch"
ip -n "$switch" link add br0 type bridge || fail "cannot create a bridge in $switch (kernel bridge support needed)"
ip -n "$switch" link set br0 up
join() {   # join NS ADDRESS LINK: a veth from the bridge to NS, eth0 there with ADDRESS/24
  ip -n "$switch" link add "$3" type veth peer name eth0 netns "$1" || fail "cannot create a veth pair into $1"
  ip -n "$switch" link set "$3" master br0 up
  ip -n "$1" addr add "$2/24" dev eth0
  ip -n "$1" link set eth0 up
}
add_ns "$broker_ns"
join "$broker_ns" "$broker_addr" vb
for ((i = 0; i < shards; i++)); do
  add_ns "$tag-s$i"
  join "$tag-s$i" "10.77.0.$((10 + i))" "vs$i"
done

# The broker "host".
ip netns exec "$broker_ns" "$k2" broker --host "$broker_addr" --port "$port" --partitions "$partitions" --control-port "$control_port" \
  >"$out/broker.out" 2>"$out/broker.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$out/broker.out" ] && break; sleep 0.1; done
bootstrap=$(head -1 "$out/broker.out" || true)
[ "$bootstrap" = "$broker_addr:$port" ] || fail "the broker did not come up on $broker_addr:$port (it printed '$bootstrap'): $(cat "$out/broker.err")"
# Reachable from a shard namespace over the virtual network, metadata included.
ip netns exec "$tag-s0" kcat -b "$bootstrap" -L -t "$topic" -m 5 >"$out/metadata.txt" 2>&1 \
  || fail "the broker at $bootstrap is not reachable from $tag-s0: $(cat "$out/metadata.txt")"
grep -q "broker 1 at $broker_addr:$port" "$out/metadata.txt" || fail "the broker does not advertise $broker_addr:$port: $(cat "$out/metadata.txt")"

cat >"$out/workload.yaml" <<EOF
# Written by scripts/netns-shards.sh: the workload every shard runs (rate is the total).
name: netns-shards
description: K2Sim steady-138 at $rate in total, $shards shards on their own network namespaces, broker at $bootstrap
source:
  profile: $root/captures/profiles/steady-138.yaml   # 200 symbols: every shard gets some
rate: $rate
warmup: 1s
duration: $duration
sinks:
  - kafka://$bootstrap?topic=$topic
watch:
  harness: true
  interval: 1s
EOF

# The shards: all wait for the same start time, a few seconds ahead (start-up of every process),
# read on the broker host's clock: each measures its offset from it (--clock-ref) and reports it.
start_at=$(( $(date +%s) + 4 ))
shard_pids=()
for ((i = 0; i < shards; i++)); do
  ip netns exec "$tag-s$i" timeout 100 "$k2" bench run "$out/workload.yaml" --shard "$i/$shards" \
    --start-at "@$start_at" --clock-ref "$broker_addr:$control_port" -o "$out/shard-$i" --quiet >"$out/shard-$i.log" 2>&1 &
  shard_pids+=($!)
  pids+=($!)
done
: >"$out/status.txt"
failed=0
for ((i = 0; i < shards; i++)); do
  code=0
  wait "${shard_pids[$i]}" || code=$?
  echo "shard $i exit $code" >>"$out/status.txt"
  if [ "$code" != 0 ]; then failed=1; echo "netns-shards: shard $i exited $code: $(tail -3 "$out/shard-$i.log")" >&2; fi
done

# What the broker holds: the high watermarks of every partition, read over the virtual network.
total=0
for ((p = 0; p < partitions; p++)); do
  line=$(ip netns exec "$tag-s0" kcat -b "$bootstrap" -Q -t "$topic:$p:-1" 2>&1) || fail "kcat -Q $topic:$p failed: $line"
  offset=$(sed -n 's/.* offset \([0-9-]*\).*/\1/p' <<<"$line" | head -1)
  [[ "$offset" =~ ^[0-9]+$ ]] || fail "kcat -Q $topic:$p said '$line'"
  total=$((total + offset))
done
echo "$total" >"$out/watermarks.txt"

dirs=()
for ((i = 0; i < shards; i++)); do dirs+=("$out/shard-$i"); done
code=0
"$k2" bench merge "${dirs[@]}" -o "$out/merged" >"$out/merge.log" 2>&1 || code=$?
echo "merge exit $code" >>"$out/status.txt"
echo "netns-shards: $shards shards against $bootstrap (start at @$start_at), broker high watermarks $total; merged report in $out/merged"
if [ "$failed" != 0 ] || [ "$code" != 0 ]; then exit 1; fi
