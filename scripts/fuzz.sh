#!/usr/bin/env bash
# Builds the libFuzzer targets (libFuzzer + AddressSanitizer) with swiftc, apart from the
# SwiftPM build, and runs each for a share of a bounded time. Exits non-zero when libFuzzer
# finds a crash (the reproducer is left in .build-fuzz/<target>/).
# Usage: scripts/fuzz.sh [seconds for all targets, default 60] [target …]
# Targets: capture-reader import-lines payload-fields websocket-frame profile-yaml (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
all=(capture-reader import-lines payload-fields websocket-frame profile-yaml)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
out=.build-fuzz
mkdir -p "$out"
flags=(-O -g -parse-as-library -swift-version 6 -package-name k2 -sanitize=fuzzer,address -enable-upcoming-feature ExistentialAny)
incs=(-I Sources/CZstd -I Sources/CZlib -I "$out")
yams=.build/checkouts/Yams/Sources
# swift-log's Logging (K2Core's log handler, K2Sim's exchange options), built as its package does.
logging=.build/checkouts/swift-log/Sources/Logging
stamp="$out/.built"

# A static library and module from Swift sources: lib NAME [swiftc flags…] -- sources…
lib() {
  local name=$1; shift
  local extra=()
  while [ "$1" != "--" ]; do extra+=("$1"); shift; done
  shift
  swiftc "${extra[@]}" "${incs[@]}" -emit-library -static -emit-module -module-name "$name" \
    -emit-module-path "$out/$name.swiftmodule" -o "$out/lib$name.a" "$@" 2>&1 | grep -E "error" || true
  test -f "$out/lib$name.a" || { echo "fuzz: building $name failed" >&2; exit 1; }
}

# An executable target: exe NAME [sources and libraries…]
exe() {
  local name=$1; shift
  swiftc "${flags[@]}" "${incs[@]}" -o "$out/$name-fuzz" "$@" 2>&1 | grep -E "error" || true
  test -x "$out/$name-fuzz" || { echo "fuzz: building the $name target failed" >&2; exit 1; }
}

# K2Sim without the files that need NIO (the exchange server), for the profile loader.
simSources=$(grep -L -E "^import (K2Net|NIO)" $(find Sources/K2Sim -name '*.swift' | sort))
sources=$(find Sources/K2Core Sources/K2Capture Sources/K2Config Sources/K2Sim Fuzz -name '*.swift' | sort)
if [ ! -f "$stamp" ] || [ -n "$(find $sources Sources/K2Net/WebSocketFrameHeader.swift scripts/fuzz.sh -newer "$stamp" 2>/dev/null | head -1)" ]; then
  echo "fuzz: building the fuzz targets (swiftc -sanitize=fuzzer,address; two at a time)"
  rm -f "$stamp" "$out"/*-fuzz "$out"/*.a
  # Yams' C part (libyaml) with the same instrumentation, then Yams itself.
  yamsLib() {
    mkdir -p "$out/cyaml"
    for c in "$yams"/CYaml/src/*.c; do
      clang -c -O1 -g -fsanitize=fuzzer-no-link,address -DYAML_DECLARE_EXPORT -I "$yams/CYaml/include" \
        -o "$out/cyaml/$(basename "$c" .c).o" "$c"
    done
    ar rcs "$out/libCYaml.a" "$out"/cyaml/*.o
    lib Yams -O -g -parse-as-library -swift-version 5 -sanitize=fuzzer,address -D SWIFT_PACKAGE -I "$yams/CYaml/include" -- "$yams"/Yams/*.swift
  }
  # Runs its arguments as jobs, two at a time (this machine has two cores), failing if any fails.
  parallel() {
    local pids=() failed=0
    for job in "$@"; do
      eval "$job" &
      pids+=($!)
      if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}" || failed=1; pids=("${pids[@]:1}"); fi
    done
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    [ "$failed" = 0 ] || exit 1
  }
  parallel 'lib Logging "${flags[@]}" -enable-upcoming-feature MemberImportVisibility -enable-upcoming-feature InternalImportsByDefault -- $(find "$logging" -name "*.swift" | sort)' yamsLib
  lib K2Core "${flags[@]}" -- Sources/K2Core/*.swift
  # -enable-testing: the import target drives the internal line parser (`@testable import`).
  # The frame header parser is NIO-free: compiled into its target with it.
  parallel 'lib K2Capture "${flags[@]}" -enable-testing -- $(find Sources/K2Capture -name "*.swift" | sort)' \
    'lib K2Config "${flags[@]}" -- Sources/K2Config/*.swift' \
    'exe websocket-frame -module-name K2NetFrameFuzz Fuzz/WebSocketFrameFuzz.swift Sources/K2Net/WebSocketFrameHeader.swift'
  captureLibs=("$out/libK2Capture.a" "$out/libK2Core.a" "$out/libLogging.a" -lzstd -lz)
  parallel 'lib K2Sim "${flags[@]}" -- $simSources' \
    'exe capture-reader Fuzz/CaptureReaderFuzz.swift "${captureLibs[@]}"' \
    'exe import-lines Fuzz/ImportLinesFuzz.swift "${captureLibs[@]}"' \
    'exe payload-fields Fuzz/PayloadFieldsFuzz.swift "${captureLibs[@]}"'
  exe profile-yaml Fuzz/ProfileYAMLFuzz.swift "$out/libK2Sim.a" "$out/libK2Config.a" "$out/libYams.a" "$out/libCYaml.a" "${captureLibs[@]}"
  touch "$stamp"
fi

# Seeds; libFuzzer mutates from there. Each target keeps its corpus in .build-fuzz/<target>/corpus.
seed() { mkdir -p "$out/$1/corpus"; printf '%b' "$3" > "$out/$1/corpus/$2"; }
# capture-reader: the start of the shipped sample (header + frames, then a torn tail), the
# whole index end, a slice.
mkdir -p "$out/capture-reader/corpus"
head -c 65536 captures/binance-sample.k2cap > "$out/capture-reader/corpus/sample-head"
tail -c 4096 captures/binance-sample.k2cap > "$out/capture-reader/corpus/sample-tail"
if [ -x .build/debug/k2 ]; then
  .build/debug/k2 capture slice captures/binance-sample.k2cap -o "$out/capture-reader/corpus/sample-slice" --from +1s --to +1.02s >/dev/null 2>&1 || true
fi
# import-lines: the first byte picks the format (0 cryptofeed, 1 cryptofeed-v3, 2 tardis, 3 ndjson).
seed import-lines cryptofeed '\x00configuration: {"exchanges":{}}\nwss://ws.kraken.com <-> 1618678132.368\nwss://ws.kraken.com <- 1618678132.4: {"event":"subscribe"}\n1618678133.02: [0,[["1.0","2.0","1.5","b","m",""]],"trade","XBT/USD"]\nhttps://api.binance.com/api/v3/depth -> 1618678134.5: {"lastUpdateId":1}\n'
seed import-lines cryptofeed-v3 '\x01{"t":"header","format":2,"exchange":"KRAKEN"}\n{"conn":"KRAKEN.ws.1","ts":1618678132.91,"t":"recv","data":"{\\"event\\":\\"heartbeat\\"}"}\n{"conn":"KRAKEN.ws.1","ts":1618678133.5,"t":"recv","b64":"H4sIAAAAAAAA/w=="}\n{"conn":"KRAKEN.ws.1","ts":1618678133.6,"t":"send","data":"{}"}\n'
seed import-lines tardis '\x022024-03-01T00:00:00.0056353Z {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":3456000001}}\n\n2024-03-01T00:00:03.5000001Z {"e":"trade"}\n'
seed import-lines ndjson '\x03{"kind":"recv","ts_ns":1709251200005635300,"conn":0,"data":"{\\"e\\":\\"trade\\"}"}\n{"kind":"connect","ts_ns":1709251200000000000,"conn":1,"url":"wss://x","data":""}\n{"kind":"recv","ts_ns":1,"conn":0,"binary":true,"b64":"AAEC"}\n'
# payload-fields: one message of each venue layout.
seed payload-fields binance '{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":157,"u":160,"b":[["1.0","2"]],"a":[]}}'
seed payload-fields binance-raw '{"e":"trade","E":1,"s":"BNBUSDT","t":12345,"p":"1.0","q":"2","T":1,"m":true,"M":true}'
seed payload-fields kraken '[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]'
seed payload-fields coinbase '{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":0,"events":[{"type":"snapshot","trades":[{"trade_id":"1","product_id":"ETH-USD"}]}]}'
# websocket-frame: the first byte picks the size limit; then frames (text, masked text,
# 16-bit and 64-bit lengths, fragmented, ping, close).
seed websocket-frame frames '\x03\x81\x05hello\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\x01\x03abc\x80\x02de\x89\x00\x88\x02\x03\xe8'
seed websocket-frame long16 '\x03\x82\x7e\x00\x7e'"$(head -c 126 /dev/zero | tr '\0' 'x')"
seed websocket-frame long64 '\x04\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x01z'
# profile-yaml: the shipped profiles.
mkdir -p "$out/profile-yaml/corpus"
cp captures/profiles/*.yaml "$out/profile-yaml/corpus/"
# The input that once overflowed the YAML parser's stack (2,000 nested `{`): K2Config refuses it now.
seed profile-yaml deep-nesting "$(printf '{%.0s' $(seq 2000))"
# …and the one that slipped past a textual check of it: a comment ended by U+2029 (a YAML line
# break), then the braces. The parse runs on a thread with room for it now (K2Config/StrictMap).
seed profile-yaml dressed-nesting "$(printf '# a comment\xe2\x80\xa9'; printf '{%.0s' $(seq 2000))"

share=$(( secs / ${#targets[@]} ))
[ "$share" -ge 5 ] || share=5
failed=0
for t in "${targets[@]}"; do
  echo "fuzz: $t for ${share}s"
  set +e
  (cd "$out/$t" && "../$t-fuzz" corpus -max_total_time="$share" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix=./ -print_final_stats=1 2> fuzz.log)
  status=$?
  set -e
  rm -f /dev/shm/k2-fuzz-*
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|Test unit written" "$out/$t/fuzz.log" | sed "s/^/  /" || true
  if [ "$status" != 0 ]; then
    echo "fuzz: $t: libFuzzer found a problem (exit $status); see $out/$t/fuzz.log and the crash-* file in $out/$t/" >&2
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
echo "fuzz: no crash in ${#targets[@]} targets, ${share}s each"
