#!/usr/bin/env bash
# Capture read/write benchmark on a release build: k2 next to `zstd -d` and `zstdcat | wc -l`
# on the same file, plus the peak RSS of a read and of a slice.
# Usage: scripts/bench-capture.sh [records, default 1000000] [dir, default /tmp]
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
dir=${2:-/tmp}
swift build -c release --product k2 2>&1 | grep -E "error|warning: |Build complete" || true
test -x .build/release/k2 || { echo "bench: the release build failed (run 'swift build -c release')" >&2; exit 1; }
.build/release/k2 capture bench --records "$records" --dir "$dir"
