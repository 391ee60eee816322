#!/usr/bin/env bash
# Installs what k2 needs on Debian 12 (run as root): C libraries, the zstd and kcat peers,
# ClickHouse for integration tests. Idempotent and quick when everything is present.
set -euo pipefail

PACKAGES=(
  libzstd-dev zstd             # capture format
  zlib1g-dev                   # CRC-32, HdrHistogram log compression
  librdkafka-dev kcat          # Kafka sink, embedded broker, the producing peer
  libjemalloc-dev              # k2's allocator (docs/sinks.md, "Allocator")
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

# A current ClickHouse engine in-process (PyPI chdb-core: a ~181 MB wheel, ~10 s to install from
# pip's cache) for scripts/conformance-current.py, which test.sh runs: k2's SQL and RowBinary on
# a current release next to the 18.16 server.
if ! python3 -c "import chdb" 2>/dev/null; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3 python3-pip >/dev/null
  fi
  echo "k2: installing chdb-core (pip)" >&2
  # Debian's own python3 refuses pip installs without this (PEP 668); other pythons ignore it.
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "chdb-core==26.9.0" >&2
fi

command -v swift >/dev/null || { echo "k2: swift is not on PATH; install Swift 6.1 or newer (swift.org) and retry" >&2; exit 2; }
