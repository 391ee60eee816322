#!/usr/bin/env bash
# Formats the Swift sources in place with the toolchain's swift-format and the repository's
# .swift-format (docs/style.md). scripts/test.sh lints with the same configuration.
# Usage: scripts/format.sh [paths…]   (default: Sources Tests Fuzz Package.swift)
set -euo pipefail
cd "$(dirname "$0")/.."
paths=("$@")
[ ${#paths[@]} -gt 0 ] || paths=(Sources Tests Fuzz Package.swift)
swift format format --in-place --recursive --parallel "${paths[@]}"
