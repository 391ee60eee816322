import K2TestSupport
import Testing

/// Issue 17, "Out-of-range numbers kill the process": every numeric flag of every subcommand,
/// given a value out of range, negative, nan, inf or huge, through the built `k2` binary: exit
/// 2, exactly one line on stderr that starts with `k2:` and names the flag, never a trap
/// (SIGILL was exit 132). Nothing here runs long: every command line is refused before work.
@Suite struct NumericFlagsCLITests {
    static let sample = Built.root + "/captures/binance-sample.k2cap"
    static let workload = Built.root + "/reports/workloads/ci.yaml"
    static let replay = "replay '\(sample)' --sink mock:// --quiet"
    static let simRun = "sim run --sink mock:// --quiet --rate 10 --duration 1s"
    static let generate = "sim generate -o /nonexistent/g.k2cap"
    static let exchange = "sim exchange --venue binance --quiet"
    static let record = "record --venue binance --symbols BTCUSDT -o /nonexistent/r.k2cap --quiet"
    static let sweep = "bench sweep '\(workload)' --search --quiet -o /nonexistent/sweep"

    /// (arguments, the flag the line must name, another fragment it must contain).
    static let cases: [(String, String, String)] = [
        // The command lines of the issue (all trapped with SIGILL, or listened on port 4464).
        (replay + " --loop 1000000000", "--loop", "at most --loop"),
        (replay + " --rate 0.000000000001", "--rate", "0.000001 msg/s"),
        (replay + " --rate 1e30", "--rate", "1e9 msg/s"),
        (generate + " --rate 1e30 --duration 1s", "--rate", "1e9 msg/s"),
        ("broker --port 70000", "--port", "1–65535"),
        (exchange + " --port 70000", "--port", "1–65535"),
        // k2 replay
        (replay + " --speed 0", "--speed", "positive"),
        (replay + " --speed=-2", "--speed", "positive"),
        (replay + " --speed nan", "--speed", "not a multiplier"),
        (replay + " --speed inf", "--speed", "max"),
        (replay + " --speed 1e300", "--speed", "1e9"),
        (replay + " --speed 0.0000000001", "--speed", "0.000001"),
        (replay + " --rate 0", "--rate", "more than 0"),
        (replay + " --rate -5", "--rate", "more than 0"),
        (replay + " --rate nan", "--rate", "not a rate"),
        (replay + " --rate inf", "--rate", "not a rate"),
        (replay + " --speed 2 --rate 5", "--speed", "--rate"),
        (replay + " --loop 0", "--loop", "at least 1"),
        (replay + " --loop -3", "--loop", "at least 1"),
        (replay + " --loop nan", "--loop", "invalid"),
        (replay + " --loop 99999999999999999999", "--loop", "invalid"),
        (replay + " --realtime 0", "--realtime", "1…99"),
        (replay + " --realtime 100", "--realtime", "1…99"),
        (replay + " --realtime 99999999999", "--realtime", "invalid"),
        (replay + " --metrics-port 70000", "--metrics-port", "1–65535"),
        (replay + " --metrics-port -1", "--metrics-port", "1–65535"),
        (replay + " --metrics-port inf", "--metrics-port", "not a port"),
        (replay + " --shard 4/4", "--shard", "0 ≤ i < N"),
        (replay + " --shard -1/4", "--shard", "0 ≤ i < N"),
        (replay + " --shard 0/0", "--shard", "0 ≤ i < N"),
        (replay + " --shard 0/99999999999999999999", "--shard", "0 ≤ i < N"),
        (replay + " --from +100000d", "--from", "2262"),
        (replay + " --to 9999-01-01T00:00:00Z", "--to", "not a time"),
        ("replay synth-capture /nonexistent/s.k2cap --rate 1e30", "--rate", "1e9"),
        ("replay synth-capture /nonexistent/s.k2cap --duration 0s", "--duration", "longer than zero"),
        ("replay synth-capture /nonexistent/s.k2cap --duration 1000000d", "--duration", "not a duration"),
        ("replay synth-capture /nonexistent/s.k2cap --duration 40000d", "--duration", "100 years"),
        ("replay synth-capture /nonexistent/s.k2cap --seed=-1", "--seed", "invalid"),
        // k2 sim
        (generate + " --rate -1 --duration 1s", "--rate", "more than 0"),
        (generate + " --rate nan --duration 1s", "--rate", "not a rate"),
        (generate + " --rate 10 --duration inf", "--duration", "not a duration"),
        (generate + " --rate 1e9 --duration 30d", "--rate", "1e15 messages"),
        (generate + " --rate 10 --duration 1s --symbols 0", "--symbols", "1…100000"),
        (generate + " --rate 10 --duration 1s --symbols 99999999999", "--symbols", "1…100000"),
        (simRun + " --loop 0", "--loop", "at least 1"),
        (simRun + " --speed 1e30", "--speed", "1e9"),
        (simRun + " --metrics-port 65536", "--metrics-port", "1–65535"),
        (simRun + " --realtime 0", "--realtime", "1…99"),
        (simRun + " --from nan", "--from", "not a time"),
        ("sim bench --messages 0", "--messages", "1…"),
        ("sim bench --messages 99999999999999", "--messages", "1…"),
        (exchange + " --port -1", "--port", "1–65535"),
        (exchange + " --rate 1e30", "--rate", "1e9"),
        (exchange + " --rate=-1", "--rate", "more than 0"),
        (exchange + " --rate nan", "--rate", "not a rate"),
        (exchange + " --symbols 0", "--symbols", "1…100000"),
        (exchange + " --gap-every=-1", "--gap-every", "at least 0"),
        (exchange + " --malformed-every=-5", "--malformed-every", "at least 0"),
        (exchange + " --drop-every 1000000d", "--drop-every", "not a duration"),
        (exchange + " --stall-for 0", "--stall-for", "longer than zero"),
        (exchange + " --close-after nan", "--close-after", "not a duration"),
        (exchange + " --ping-every=-1s", "--ping-every", "not a duration"),
        (exchange + " --heartbeat-every 0", "--heartbeat-every", "longer than zero"),
        (exchange + " --duration 40000d", "--duration", "100 years"),
        // k2 broker
        ("broker --port -1", "--port", "0 for none"),
        ("broker --partitions 0", "--partitions", "1…1024"),
        ("broker --partitions 99999999999999999999", "--partitions", "invalid"),
        ("broker --brokers 17", "--brokers", "1…16"),
        // k2 record
        (record + " --connections 0", "--connections", "1…10000"),
        (record + " --connections 1000000000000", "--connections", "1…10000"),
        (record + " --rotate 0", "--rotate", "interval"),
        (record + " --rotate 1e30GB", "--rotate", "interval"),
        (record + " --rotate 99999999999999999999", "--rotate", "interval"),
        (record + " --duration nan", "--duration", "not a duration"),
        (record + " --flush-interval 0", "--flush-interval", "longer than zero"),
        (record + " --backoff inf", "--backoff", "not a duration"),
        (record + " --max-backoff=-1s", "--max-backoff", "not a duration"),
        (record + " --connect-timeout 99999999d", "--connect-timeout", "not a duration"),
        // k2 capture
        ("capture inspect '\(sample)' --top=-1", "--top", "at least 0"),
        ("capture inspect '\(sample)' --gaps=-1", "--gaps", "at least 0"),
        ("capture merge '\(sample)' -o /nonexistent/m.k2cap --level 99", "--level", "1 and 19"),
        ("capture slice '\(sample)' -o /nonexistent/s.k2cap --level 0", "--level", "1 and 19"),
        ("capture bench --records 0", "--records", "1…"),
        ("capture bench --level 40", "--level", "1 and 19"),
        // k2 bench
        ("bench run '\(workload)' --shard 2/2", "--shard", "0 ≤ i < N"),
        ("bench run '\(workload)' --metrics-port 99999", "--metrics-port", "1–65535"),
        ("bench run '\(workload)' --duration 0s", "--duration", "longer than zero"),
        ("bench run '\(workload)' --duration inf", "--duration", "not a duration"),
        ("bench compare a b --threshold nan", "--threshold", "relative threshold"),
        ("bench compare a b --threshold 'x='", "--threshold", "relative threshold"),
        ("bench compare a b --threshold 10%,-1", "--threshold", "absolute threshold"),
        ("bench compare a b --alpha 2", "--alpha", "between 0 and 1"),
        ("bench compare a b --alpha nan", "--alpha", "between 0 and 1"),
        ("bench compare a b --min-samples=-1", "--min-samples", "at least 0"),
        (sweep + " --min 1e30", "--min", "1e9"),
        (sweep + " --max inf", "--max", "not a rate"),
        (sweep + " --precision 0", "--precision", "100%"),
        (sweep + " --precision nan", "--precision", "not a share"),
        (sweep + " --min-achieved 150%", "--min-achieved", "100%"),
        (sweep + " --max-steps 0", "--max-steps", "1…1000"),
        (sweep + " --repetitions 99999999999", "--repetitions", "1…1000"),
        (sweep + " --slo 0", "--slo", "longer than zero"),
        (sweep + " --max-backlog inf", "--max-backlog", "not a duration"),
        (sweep + " --duration=-1s", "--duration", "not a duration"),
        (sweep + " --warmup 1e30", "--warmup", "not a duration"),
        (sweep + " --budget 0", "--budget", "more than 0"),
        (sweep + " --budget inf", "--budget", "more than 0"),
        ("bench sweep '\(workload)' --rates 1k,1e30", "--rates", "1e9"),
        ("bench sweep '\(workload)' --rates 1k --project=-5", "--project", "more than 0"),
    ]

    @Test(arguments: cases)
    func badNumberIsOneLineAndExit2(arguments: String, flag: String, fragment: String) throws {
        let (status, _, err) = try Shell.execute("'\(try Built.k2())' \(arguments)")
        let lines = err.split(separator: "\n")
        #expect(status < 128, "trapped (exit \(status)): \(arguments)\n\(err)")
        #expect(status == 2, "exit \(status): \(arguments)\n\(err)")
        #expect(lines.count == 1, "not one line: \(arguments)\n\(err)")
        #expect(err.hasPrefix("k2: "), "\(arguments)\n\(err)")
        #expect(err.contains(flag), "flag \(flag) not named: \(arguments)\n\(err)")
        #expect(err.contains(fragment), "'\(fragment)' missing: \(arguments)\n\(err)")
    }
}
