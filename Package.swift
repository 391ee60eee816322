// swift-tools-version: 6.1
// k2 — the K2 replay, simulation and benchmark harness.
import PackageDescription

/// One settings list for every target: Swift 6 language mode (set below), strict concurrency,
/// explicit `any` for existentials.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

/// swift-log's `Logger`, for the modules that log (docs/errors.md).
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

/// Release builds on Linux link the Swift runtime and Foundation into `k2`, the executable only
/// (an unsafe flag on a library target would stop it from being used as a versioned dependency).
/// Compile and link both: the compile step picks the static libraries' link entries
/// (CoreFoundation, _FoundationICU), without which the static link fails.
let staticStdlib = "-static-stdlib"

let package = Package(
    name: "k2",
    // macOS 15: Synchronization.Atomic (the stop flags, K2Core/StopFlag.swift).
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "k2", targets: ["k2"]),
        // The one library for users: reading and writing .k2cap captures (its public API is
        // Sources/K2Capture/Format/; docs/style.md). The other modules are `package` to k2.
        .library(name: "K2Capture", targets: ["K2Capture"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.30.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        // Library diagnostics (`Logger`); the executable bootstraps K2Core's K2LogHandler.
        // 1.16: the `log(event:)` LogHandler API.
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // C libraries: module maps only; the thin safe wrappers live in the Swift modules.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // jemalloc, the `k2` executable's allocator (linked into it only; docs/sinks.md, "Allocator").
        .systemLibrary(name: "CJemalloc", pkgConfig: "jemalloc", providers: [.apt(["libjemalloc-dev"])]),

        // Shared small pieces: clocks, JSON bytes, durations, histograms, byte output.
        .target(
            name: "K2Core",
            dependencies: ["CZlib", logging],
            swiftSettings: strict
        ),
        // Strict YAML reading (unknown keys with did-you-mean, types, ranges; file:line:col
        // messages) for workloads, targets and simulator profiles.
        .target(name: "K2Config", dependencies: ["K2Core", .product(name: "Yams", package: "Yams")], swiftSettings: strict),
        // The .k2cap capture format and the capture tools.
        .target(name: "K2Capture", dependencies: ["K2Core", "CZstd", "CZlib"], swiftSettings: strict),
        // WebSocket/HTTP client and server on SwiftNIO (used by record, sim exchange, ws sink).
        .target(
            name: "K2Net",
            dependencies: [
                "K2Core",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: strict + [.define("K2_TLS")]
        ),
        // Paced replay engine and sinks (mock, file, kafka, clickhouse, ws) + embedded broker.
        // (The replay sources K2Sim adapts to live in K2Capture, so K2Sim does not pull librdkafka
        // and libcurl in through K2Replay.)
        .target(
            name: "K2Replay",
            dependencies: ["K2Core", "K2Capture", "K2Net", "CRdKafka", "CCurl", logging],
            swiftSettings: strict
        ),
        // Synthetic markets, load shapes, exchange simulators.
        .target(
            name: "K2Sim",
            dependencies: ["K2Core", "K2Config", "K2Capture", "K2Net", logging],
            swiftSettings: strict
        ),
        // Recording raw exchange WebSocket traffic.
        .target(name: "K2Record", dependencies: ["K2Core", "K2Capture", "K2Net", logging], swiftSettings: strict),
        // Workloads, measurement, reports, verdicts, regression gate, capacity planning, and the
        // local pipeline (embedded ClickHouse, schema, freshness probes).
        .target(
            name: "K2Bench",
            dependencies: ["K2Core", "K2Config", "K2Capture", "K2Net", "K2Replay", "K2Sim"],
            swiftSettings: strict
        ),
        // The command line: parses arguments and prints; the libraries hold the logic.
        .executableTarget(
            name: "k2",
            dependencies: [
                "K2Core", "K2Config", "K2Capture", "K2Net", "K2Replay", "K2Sim", "K2Record", "K2Bench",
                .target(name: "CJemalloc", condition: .when(platforms: [.linux])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                logging,
            ],
            // Release: the Swift runtime and Foundation linked in (no 25 shared libraries to load and
            // relocate): start-up 22 → 13 ms, 5–10% of a short `--speed max` replay (docs/replay.md).
            // Debug builds (the tests) stay dynamic.
            swiftSettings: strict + [.unsafeFlags([staticStdlib], .when(platforms: [.linux], configuration: .release))],
            linkerSettings: [.unsafeFlags([staticStdlib], .when(platforms: [.linux], configuration: .release))]
        ),
        // Test doubles and server launchers shared by the test targets.
        .target(name: "K2TestSupport", dependencies: ["K2Core", "K2Capture", "K2Replay", "K2Bench", logging], swiftSettings: strict),

        .testTarget(name: "K2CoreTests", dependencies: ["K2Core", "K2TestSupport", logging], swiftSettings: strict),
        .testTarget(name: "K2CaptureTests", dependencies: ["K2Capture", "K2TestSupport"], swiftSettings: strict),
        .testTarget(name: "K2NetTests", dependencies: ["K2Net", "K2TestSupport"], swiftSettings: strict),
        .testTarget(name: "K2ReplayTests", dependencies: ["K2Replay", "K2TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "K2SimTests", dependencies: ["K2Sim", "K2Config", "K2Replay", "K2TestSupport"], exclude: ["Fixtures", "Golden"],
            swiftSettings: strict),
        .testTarget(name: "K2RecordTests", dependencies: ["K2Record", "K2Sim", "K2TestSupport", logging], swiftSettings: strict),
        .testTarget(name: "K2BenchTests", dependencies: ["K2Bench", "K2Config", "K2Net", "K2TestSupport"], swiftSettings: strict),
        // The command line's argument types (`@testable import k2`).
        .testTarget(name: "K2CLITests", dependencies: ["k2"], swiftSettings: strict),
        .testTarget(
            name: "K2IntegrationTests",
            dependencies: ["K2Replay", "K2Net", "K2Sim", "K2Record", "K2Bench", "K2TestSupport"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
