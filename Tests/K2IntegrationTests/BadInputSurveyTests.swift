import K2Core
import K2TestSupport
import Testing

/// Issue 17, "bad input gets a clear error": a survey of bad inputs across every command, run
/// through the built `k2`. Each must end with exit 2 and exactly one `k2:` line that names the
/// problem (its `needle`), never a crash, and never print a secret given in the input. The test
/// prints the tally for the closing note.
@Suite(.serialized)
struct BadInputSurveyTests {
    struct Case: CustomStringConvertible {
        var arguments: String
        var needle: String
        var description: String { arguments }
    }

    static let capture = Built.root + "/captures/binance-sample.k2cap"

    static let cases: [Case] = {
        let cap = capture
        let replay = "replay '\(cap)'"
        return [
            // capture
            Case(arguments: "capture inspect /nonexistent.k2cap", needle: "no such file"),
            Case(arguments: "capture inspect notcap.k2cap", needle: "file ends inside the capture header"),
            Case(arguments: "capture inspect /tmp", needle: "Is a directory"),
            Case(arguments: "capture cat '\(cap)' --from nonsense", needle: "is not a time"),
            Case(arguments: "capture cat '\(cap)' --kind banana", needle: "unknown record kind 'banana'"),
            Case(arguments: "capture slice '\(cap)' -o s.k2cap --from 10x", needle: "'10x' is not a time"),
            Case(arguments: "capture slice '\(cap)'", needle: "--output"),
            Case(arguments: "capture merge", needle: "<inputs>"),
            Case(arguments: "capture import /nonexistent --format ndjson -o x.k2cap", needle: "no such file"),
            Case(arguments: "capture import notcap.k2cap --format nope -o x.k2cap", needle: "'nope' is invalid for '--format"),
            Case(arguments: "capture export '\(cap)' --format nope", needle: "'nope' is invalid for '--format"),
            Case(arguments: "capture verify /nonexistent", needle: "no such file"),
            Case(arguments: "capture sort /nonexistent -o x.k2cap", needle: "no such file"),
            Case(arguments: "capture reindex /nonexistent", needle: "no such file"),
            // replay
            Case(arguments: "replay /nonexistent.k2cap --sink mock://", needle: "no such file"),
            Case(arguments: replay, needle: "no --sink given"),
            Case(arguments: "\(replay) --sink nope://x", needle: "unknown sink scheme 'nope'"),
            Case(arguments: "\(replay) --sink mock:// --speed 0", needle: "--speed '0' must be a positive multiplier"),
            Case(arguments: "\(replay) --sink mock:// --speed=-2", needle: "--speed '-2'"),
            Case(arguments: "\(replay) --sink mock:// --speed 0x", needle: "--speed '0x'"),
            Case(arguments: "\(replay) --sink mock:// --rate 0", needle: "--rate '0'"),
            Case(arguments: "\(replay) --sink mock:// --rate 1e30", needle: "above 1e9 msg/s"),
            Case(arguments: "\(replay) --sink mock:// --rate 0.000000000001", needle: "below 0.000001 msg/s"),
            Case(arguments: "\(replay) --sink mock:// --loop 1000000000", needle: "more than 146 years"),
            Case(arguments: "\(replay) --sink mock:// --loop 0", needle: "--loop 0 is out of range"),
            Case(arguments: "\(replay) --sink mock:// --from banana", needle: "'banana' is not a time"),
            Case(arguments: "\(replay) --sink mock:// --metrics-port 70000", needle: "'70000' is not a TCP port"),
            Case(arguments: "\(replay) --sink mock:// --shard 3/2", needle: "--shard '3/2'"),
            Case(arguments: "\(replay) --sink 'mock://?capacity=abc'", needle: "capacity=abc is not a positive number"),
            Case(arguments: "\(replay) --sink file:", needle: "file sink without a path"),
            Case(arguments: "\(replay) --sink kafka://127.0.0.1:9", needle: "no Kafka broker answered"),
            Case(arguments: "\(replay) --sink 'kafka://127.0.0.1:9?topic=t' -X no.such.property=1", needle: "bad -X property"),
            Case(arguments: "\(replay) --sink 'kafka://127.0.0.1:9?topic=t' -X linger.ms=banana", needle: "linger.ms=banana"),
            Case(arguments: "\(replay) --sink 'kafka://127.0.0.1:9?topic=t' -X novalue", needle: "novalue"),
            Case(arguments: "\(replay) --sink 'kafka://user:hunter2@127.0.0.1:9?topic=t' -X sasl.pasword=hunter2", needle: "sasl.pasword"),
            Case(arguments: "\(replay) --sink 'clickhouse://h:99999/db'", needle: "bad port '99999'"),
            Case(arguments: "\(replay) --sink 'clickhouse://h:8123/db?mode=weird'", needle: "unknown mode 'weird'"),
            Case(arguments: "\(replay) --sink 'clickhouse://user:hunter2@127.0.0.1:9/db?mode=nope'", needle: "unknown mode 'nope'"),
            Case(arguments: "\(replay) --sink 'clickhouse://127.0.0.1:9/db?batch=0'", needle: "batch=0"),
            Case(arguments: "\(replay) --sink ws://127.0.0.1", needle: "ws:// needs HOST:PORT"),
            Case(arguments: "\(replay) --sink ws://127.0.0.1:70000", needle: "port 70000 is not a TCP port"),
            Case(arguments: "\(replay) --sink 'ws://127.0.0.1:0?wait=x'", needle: "wait=x is not a count"),
            Case(arguments: "\(replay) --sink 'ws://127.0.0.1:0?venue=nyse'", needle: "venue=nyse"),
            // record
            Case(arguments: "record --venue nope --symbols X -o r.k2cap", needle: "unknown venue 'nope'"),
            Case(arguments: "record --url notaurl -o r.k2cap", needle: "not a URL"),
            Case(arguments: "record --venue binance --symbols BTCUSDT --duration banana -o r.k2cap", needle: "'banana' is not a duration"),
            Case(arguments: "record --venue binance --symbols '' -o r.k2cap", needle: "no symbols for binance"),
            Case(arguments: "record --venue binance --symbols BTCUSDT --channels nope -o r.k2cap", needle: "unknown channel nope"),
            Case(arguments: "record --venue binance --symbols BTCUSDT --url ws://127.0.0.1:9 -o r.k2cap --duration 2s", needle: "cannot connect"),
            // sim
            Case(arguments: "sim generate --rate 1e30 -o g.k2cap", needle: "above 1e9 msg/s"),
            Case(arguments: "sim generate --profile /nonexistent -o g.k2cap", needle: "cannot read the file"),
            Case(arguments: "sim generate --duration 0s -o g.k2cap", needle: "must be longer than zero"),
            Case(arguments: "sim generate --seed abc -o g.k2cap", needle: "'abc' is invalid for '--seed"),
            Case(arguments: "sim exchange --port 70000", needle: "'70000' is not a TCP port"),
            Case(arguments: "sim exchange --venue nope", needle: "unknown venue 'nope'"),
            // broker
            Case(arguments: "broker --port 70000", needle: "'70000' is not a TCP port"),
            Case(arguments: "broker --partitions 0", needle: "--partitions must be 1…1024"),
            Case(arguments: "broker --brokers 0", needle: "--brokers must be 1…16"),
            Case(arguments: "broker --host 999.1.1.1", needle: "is not an IPv4 address"),
            // bench
            Case(arguments: "bench run /nonexistent.yaml", needle: "cannot read the file"),
            Case(arguments: "bench run broken.yaml", needle: "not valid YAML"),
            Case(arguments: "bench run typo.yaml", needle: "did you mean 'source'"),
            Case(arguments: "bench run good.yaml --shard 0/0", needle: "--shard '0/0'"),
            Case(arguments: "bench run good.yaml --start-at yesterday", needle: "'yesterday' is not a time"),
            Case(arguments: "bench run good.yaml --clock-ref nohost", needle: "is not HOST:PORT"),
            Case(arguments: "bench run good.yaml --duration banana", needle: "banana"),
            Case(arguments: "bench verify /nonexistent", needle: "no report here"),
            Case(arguments: "bench compare /nonexistent /nonexistent2", needle: "no report here"),
            Case(arguments: "bench merge", needle: "<reports>"),
            Case(arguments: "bench sweep /nonexistent.yaml", needle: "cannot read the file"),
            Case(arguments: "bench schema /nonexistent.sql --clickhouse http://127.0.0.1:9", needle: "cannot read the ClickHouse schema file"),
            Case(arguments: "bench clock --port 70000", needle: "'70000' is not a TCP port"),
        ]
    }()

    @Test func everyBadInputIsOneClearLineAndExit2() throws {
        let k2 = try Built.k2()
        let dir = TemporaryDirectory()
        try Shell.run(
            """
            cd '\(dir.path)'
            echo hello > notcap.k2cap
            printf 'name: [x\\n' > broken.yaml
            printf 'name: x\\nsourse: {}\\n' > typo.yaml
            printf 'name: x\\nsource: {captures: [\(Self.capture)]}\\nrate: 10\\nduration: 1s\\nsinks: [mock://]\\n' > good.yaml
            """)
        var clear = 0
        var crashes = 0
        var unclear: [String] = []
        for badInput in Self.cases {
            let (status, _, err) = try Shell.execute("cd '\(dir.path)' && timeout 30 '\(k2)' \(badInput.arguments) < /dev/null")
            let errorLines = err.split(separator: "\n").filter { $0.hasPrefix("k2:") }
            let crashed = status > 128 || status == 124 || err.contains("Fatal error") || err.contains("Program crashed")
            if crashed { crashes += 1 }
            let leaked = err.contains("hunter2")
            if status == 2, errorLines.count == 1, errorLines[0].contains(badInput.needle), !leaked {
                clear += 1
            } else {
                unclear.append("\(badInput): exit \(status), leaked secret \(leaked): \(err.suffix(300))")
            }
        }
        print("bad inputs: \(Self.cases.count) tried, \(clear) gave one clear k2: line and exit 2, \(crashes) crashed")
        #expect(crashes == 0)
        #expect(unclear.isEmpty, "\(unclear.joined(separator: "\n"))")
    }
}
