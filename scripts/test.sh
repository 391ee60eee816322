#!/usr/bin/env bash
# The whole test suite: unit tests, integration tests against real servers (ClickHouse,
# the embedded Kafka-protocol broker), and the bounded fuzz run. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# Formatting: swift-format (from the toolchain) with .swift-format; scripts/format.sh fixes it (docs/style.md).
if ! swift format lint --strict --recursive --parallel Sources Tests Fuzz Package.swift; then
  echo "k2: swift format lint found the lines above; run scripts/format.sh and commit" >&2
  exit 1
fi

# Build once, failing on any warning in the project's own code (Swift 6, no warnings).
log=$(mktemp)
set +e
swift build --build-tests 2>&1 | tee "$log" | grep -E "error:|warning:|Build complete"
status=${PIPESTATUS[0]}
set -e
if [ "$status" != 0 ]; then echo "k2: the build failed (above)" >&2; exit 1; fi
if grep -E "/(Sources|Tests)/[^ ]*: warning:" "$log" >/dev/null; then
  echo "k2: the build has warnings in the project's code (above); fix them" >&2
  exit 1
fi
rm -f "$log"

swift test --skip-build --no-parallel

# k2's SQL (pipeline schema, query sets, --create-tables DDL) and RowBinary inserts on a current
# ClickHouse release (chdb-core, in-process; ~15 s): scripts/conformance-current.py.
python3 scripts/conformance-current.py --k2 "$(swift build --show-bin-path)/k2"

# The benchmark regression gate (~2 min, ~3 with a confirming re-run): CI workloads vs reports/baselines/ (docs/bench.md).
scripts/bench-gate.sh

# The fuzz targets (libFuzzer: capture reader, import lines, payload fields, WebSocket frames,
# profile YAML), bounded in total; fails the suite on a crash.
scripts/fuzz.sh "${K2_FUZZ_SECONDS:-60}"
