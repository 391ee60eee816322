#!/usr/bin/env bash
# Installs what k2 needs on Debian 12 (run as root): C libraries, the zstd and kcat peers,
# ClickHouse for integration tests. Idempotent and quick when everything is present.
set -euo pipefail

PACKAGES=(
  libzstd-dev zstd             # capture format
  zlib1g-dev                   # CRC-32, HdrHistogram log compression
  librdkafka-dev kcat          # Kafka sink, embedded broker, the producing peer
  libcurl4-openssl-dev curl    # ClickHouse sink, REST snapshots
  clickhouse-server clickhouse-client
  pkg-config
  openssl                      # self-signed certificates for the wss:// tests
  iproute2                     # network namespaces of the multi-host shard test (scripts/netns-shards.sh)
  binutils                     # readelf: scripts/check-image.sh reads the binary's libraries
  python3-websockets           # an independent WebSocket client for the ws:// sink's tests (/usr/bin/python3)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "k2: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || { echo "k2: swift is not on PATH; install Swift 6.1 or newer (swift.org) and retry" >&2; exit 2; }
