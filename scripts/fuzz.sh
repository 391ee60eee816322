#!/usr/bin/env bash
# Builds the capture-reader fuzz target (libFuzzer + AddressSanitizer) with swiftc, apart from
# the SwiftPM build, and runs it for a bounded time. Exits non-zero when libFuzzer finds a crash
# (the reproducer is left in .build-fuzz/). Usage: scripts/fuzz.sh [seconds, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
out=.build-fuzz
mkdir -p "$out/corpus"
flags=(-O -g -parse-as-library -swift-version 6 -package-name k2 -sanitize=fuzzer,address -enable-upcoming-feature ExistentialAny)
incs=(-I Sources/CZstd -I Sources/CZlib -I "$out")
stamp="$out/.built"
sources=$(find Sources/K2Core Sources/K2Capture Fuzz -name '*.swift' | sort)
if [ ! -f "$stamp" ] || [ -n "$(find $sources -newer "$stamp" 2>/dev/null | head -1)" ]; then
  echo "fuzz: building the reader fuzz target (swiftc -sanitize=fuzzer,address)"
  rm -f "$out/capture-reader-fuzz" "$stamp"
  swiftc "${flags[@]}" "${incs[@]}" -emit-library -static -emit-module -module-name K2Core \
    -emit-module-path "$out/K2Core.swiftmodule" -o "$out/libK2Core.a" Sources/K2Core/*.swift 2>&1 | grep -E "error" || true
  swiftc "${flags[@]}" "${incs[@]}" -emit-library -static -emit-module -module-name K2Capture \
    -emit-module-path "$out/K2Capture.swiftmodule" -o "$out/libK2Capture.a" $(find Sources/K2Capture -name '*.swift' | sort) 2>&1 | grep -E "error" || true
  swiftc "${flags[@]}" "${incs[@]}" -o "$out/capture-reader-fuzz" Fuzz/CaptureReaderFuzz.swift \
    "$out/libK2Capture.a" "$out/libK2Core.a" -lzstd -lz 2>&1 | grep -E "error" || true
  test -x "$out/capture-reader-fuzz" || { echo "fuzz: the build failed" >&2; exit 1; }
  touch "$stamp"
fi
# Seeds: the start of the shipped sample (header + frames, then a torn tail), the whole index
# end, and garbage-ish neighbours; libFuzzer mutates from there.
head -c 65536 captures/binance-sample.k2cap > "$out/corpus/sample-head"
tail -c 4096 captures/binance-sample.k2cap > "$out/corpus/sample-tail"
if [ -x .build/debug/k2 ]; then
  .build/debug/k2 capture slice captures/binance-sample.k2cap -o "$out/corpus/sample-slice" --from +1s --to +1.02s >/dev/null 2>&1 || true
fi
echo "fuzz: running for ${secs}s"
set +e
"$out/capture-reader-fuzz" "$out/corpus" -max_total_time="$secs" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
  -artifact_prefix="$out/" -print_final_stats=1 2> "$out/fuzz.log"
status=$?
set -e
rm -f /dev/shm/k2-fuzz-*.k2cap
grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|Test unit written" "$out/fuzz.log" || true
if [ "$status" != 0 ]; then
  echo "fuzz: libFuzzer found a problem (exit $status); see $out/fuzz.log and the crash-* file in $out/" >&2
  exit 1
fi
echo "fuzz: no crash in ${secs}s"
