import Foundation
import K2Core
import Yams

/// One YAML mapping read strictly: every key must be one the caller expects, every value must
/// have the expected type and range, and every error names the file, line, column and key.
/// Workloads, targets and simulator profiles are read through this, so that a typo is an
/// error, never a silently ignored setting, and the messages read the same for all three.
package struct StrictMap {
    package let file: String
    /// Dotted path of this mapping inside the document (`sinks[0]`, `source`), for messages.
    package let path: String
    /// The document that lists the keys (`docs/workloads.md`), named in remedies.
    package let guide: String
    let node: Node
    let pairs: [(key: String, keyNode: Node, value: Node)]

    /// Reads `file` and returns its root mapping.
    package static func load(file: String, guide: String) throws(ConfigError) -> StrictMap {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError(.fileNotFound, path: file, what: "cannot read the file", remedy: "check the path")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: file, guide: guide)
    }

    /// Parses YAML text (named `file` in messages) and returns its root mapping.
    package static func parse(_ text: String, file: String, guide: String) throws(ConfigError) -> StrictMap {
        guard let root = try composeBounded(text, file: file) else {
            throw ConfigError(path: file, line: 1, what: "the file is empty", remedy: "see \(guide) for the keys")
        }
        return try StrictMap(node: root, file: file, path: "", guide: guide)
    }

    /// The deepest nesting a configuration may have. k2's files nest 4–5 levels.
    static let maxNesting = 64
    /// The largest configuration file read; k2's own are a few KiB.
    static let maxBytes = 256 << 10
    /// The YAML parser (Yams) composes recursively, once per nesting level: 2,000 `{` in a row
    /// overflowed the stack (a crash the profile fuzz target found), and so did deep nesting
    /// dressed up to slip past a textual pre-check (a second finding). So the parse runs on a
    /// thread whose stack holds the deepest nesting `maxBytes` can spell (at most one level a
    /// byte; under 2 KiB of stack a level even with AddressSanitizer), and a tree deeper than
    /// `maxNesting` is refused there, and released there.
    static let parseStackBytes = 512 << 20
    /// The most flow brackets (`{`, `[`, counted anywhere, quoted or not) a file may hold: the
    /// parser's time grows with the square of the flow nesting (20,000 levels took 2.9 s), and
    /// k2's own files hold under 100.
    static let maxFlowBrackets = 4_096

    /// What the parsing thread hands back.
    private final class ComposeOutcome: @unchecked Sendable {
        // unchecked: written by the parsing thread before its body returns, read after `join`.
        var result: Result<Node?, ConfigError> = .success(nil)
    }

    /// `Yams.compose` on a thread with room for any nesting a file within `maxBytes` holds;
    /// nil for an empty document.
    static func composeBounded(_ text: String, file: String) throws(ConfigError) -> Node? {
        let size = text.utf8.count
        guard size <= maxBytes else {
            throw ConfigError(
                path: file, what: "the file is \(size >> 10) KiB; configuration files are read up to \(maxBytes >> 10) KiB",
                remedy: "check that this is the workload, profile or targets file meant (k2's are a few KiB)")
        }
        var brackets = 0
        for byte in text.utf8 where byte == 123 || byte == 91 { brackets += 1 }
        guard brackets <= maxFlowBrackets else {
            throw ConfigError(
                path: file, what: "the file holds \(brackets) '{' and '[' (at most \(maxFlowBrackets) are read)",
                remedy: "check that this is the workload, profile or targets file meant (k2's hold under 100)")
        }
        let outcome = ComposeOutcome()
        let parsing = JoinableThread.start(stackBytes: parseStackBytes) {
            do {
                guard let root = try Yams.compose(yaml: text) else { return }
                if let deep = firstNodeDeeper(than: maxNesting, in: root) {
                    outcome.result = .failure(
                        ConfigError(
                            path: file, line: deep.mark?.line, column: deep.mark?.column,
                            what: "nested deeper than \(maxNesting) levels",
                            remedy: "k2's configuration files nest a few levels; check the file (docs/workloads.md, docs/sim-profiles.md)"))
                    return
                }
                outcome.result = .success(root)
            } catch let e as YamlError {
                outcome.result = .failure(syntaxError(e, file: file))
            } catch {
                outcome.result = .failure(ConfigError(path: file, what: "not valid YAML: \(error)", remedy: "fix the syntax"))
            }
        }
        guard let parsing else {
            throw ConfigError(path: file, what: "no thread to parse the file on", remedy: "the system is out of threads or memory; try again")
        }
        parsing.join()
        return try outcome.result.get()
    }

    /// The first node found below `limit` levels (the root is level 1), without recursing.
    static func firstNodeDeeper(than limit: Int, in root: Node) -> Node? {
        var pending: [(node: Node, depth: Int)] = [(root, 1)]
        while let (node, depth) = pending.popLast() {
            if depth > limit { return node }
            switch node {
            case .mapping(let mapping):
                for (key, value) in mapping {
                    pending.append((key, depth + 1))
                    pending.append((value, depth + 1))
                }
            case .sequence(let sequence):
                for element in sequence { pending.append((element, depth + 1)) }
            default: break
            }
        }
        return nil
    }

    static func syntaxError(_ e: YamlError, file: String) -> ConfigError {
        switch e {
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return ConfigError(
                path: file, line: mark.line, column: mark.column,
                what: "not valid YAML: \(problem)", remedy: "fix the syntax")
        default:
            let first = "\(e)".split(separator: "\n").first.map(String.init) ?? "\(e)"
            return ConfigError(path: file, what: "not valid YAML: \(first)", remedy: "fix the syntax")
        }
    }

    init(node: Node, file: String, path: String, guide: String) throws(ConfigError) {
        self.node = node
        self.file = file
        self.path = path
        self.guide = guide
        guard case let .mapping(mapping) = node else {
            throw ConfigError(
                path: file, line: node.mark?.line, column: node.mark?.column,
                what: "\(path.isEmpty ? "the document" : "'\(path)'") must be a mapping (key: value lines)",
                remedy: "see \(guide)")
        }
        var list: [(String, Node, Node)] = []
        var seen = Set<String>()
        for (keyNode, valueNode) in mapping {
            guard case let .scalar(scalar) = keyNode else {
                throw ConfigError(path: file, line: keyNode.mark?.line, what: "keys must be plain words", remedy: "")
            }
            if !seen.insert(scalar.string).inserted {
                throw ConfigError(
                    path: file, line: keyNode.mark?.line, column: keyNode.mark?.column,
                    what: "key '\(Self.join(path, scalar.string))' appears twice", remedy: "keep one")
            }
            list.append((scalar.string, keyNode, valueNode))
        }
        pairs = list
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// The line of this mapping (1-based), for messages about missing keys.
    package var line: Int? { node.mark?.line }
    package var keys: [String] { pairs.map(\.key) }

    /// Fails on the first key that is not in `allowed`, suggesting the closest allowed key.
    package func expectKeys(_ allowed: [String]) throws(ConfigError) {
        for pair in pairs where !allowed.contains(pair.key) {
            let near = allowed.min(by: { Self.distance($0, pair.key) < Self.distance($1, pair.key) })
            let hint = near.flatMap { Self.distance($0, pair.key) <= 3 ? "did you mean '\($0)'? " : nil } ?? ""
            throw ConfigError(
                path: file, line: pair.keyNode.mark?.line, column: pair.keyNode.mark?.column,
                what: "unknown key '\(Self.join(path, pair.key))'",
                remedy: hint + "allowed here: \(allowed.joined(separator: ", "))")
        }
    }

    func value(_ key: String) -> Node? {
        guard let found = pairs.first(where: { $0.key == key })?.value else { return nil }
        if case let .scalar(scalar) = found, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return nil }
        return found
    }

    func typeError(_ key: String, _ node: Node, _ expected: String) -> ConfigError {
        ConfigError(
            path: file, line: node.mark?.line, column: node.mark?.column,
            what: "key '\(Self.join(path, key))' must be \(expected), not '\(Self.show(node))'",
            remedy: "see \(guide)")
    }

    package func missing(_ key: String, _ expected: String) -> ConfigError {
        ConfigError(
            path: file, line: line, column: node.mark?.column,
            what: "missing key '\(Self.join(path, key))' (\(expected))", remedy: "add it; see \(guide)")
    }

    /// A plain error at `key`'s value (or at this mapping when the key is absent).
    package func error(at key: String, _ what: String, remedy: String = "") -> ConfigError {
        let target = value(key) ?? node
        return ConfigError(
            path: file, line: target.mark?.line, column: target.mark?.column,
            what: "key '\(Self.join(path, key))': \(what)", remedy: remedy)
    }

    static func show(_ node: Node) -> String {
        switch node {
        case let .scalar(scalar): return scalar.string
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        }
    }

    // MARK: typed getters (nil when absent)

    /// Whether `key` holds a plain value (not a mapping or list).
    package func isScalar(_ key: String) -> Bool {
        if let found = value(key), case .scalar = found { return true }
        return false
    }

    package func string(_ key: String) throws(ConfigError) -> String? {
        guard let found = value(key) else { return nil }
        guard case let .scalar(scalar) = found else { throw typeError(key, found, "text") }
        return scalar.string
    }

    package func double(_ key: String) throws(ConfigError) -> Double? {
        guard let found = value(key) else { return nil }
        guard case let .scalar(scalar) = found, let number = Self.number(scalar.string) else { throw typeError(key, found, "a number") }
        return number
    }

    package func int(_ key: String) throws(ConfigError) -> Int? {
        guard let found = value(key) else { return nil }
        guard case let .scalar(scalar) = found, let number = Self.number(scalar.string), number == number.rounded(), abs(number) < 9e15 else {
            throw typeError(key, found, "a whole number")
        }
        return Int(number)
    }

    package func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard let found = value(key) else { return nil }
        guard case let .scalar(scalar) = found else { throw typeError(key, found, "true or false") }
        switch scalar.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw typeError(key, found, "true or false")
        }
    }

    /// A duration: `30s`, `250ms`, `1m30s`, or a bare number of seconds. Returns nanoseconds.
    package func duration(_ key: String) throws(ConfigError) -> Int64? {
        guard let found = value(key) else { return nil }
        guard case let .scalar(scalar) = found, let nanos = TimeText.parseDuration(scalar.string.trimmingSpaces()), nanos >= 0 else {
            throw typeError(key, found, "a duration such as 30s, 250ms or 2m")
        }
        return nanos
    }

    /// A rate: `5000`, `5k`, `1.5k`, `1m` (per second). Returns messages per second.
    package func rate(_ key: String) throws(ConfigError) -> Double? {
        guard let found = value(key) else { return nil }
        guard case let .scalar(scalar) = found, let perSecond = Self.parseRate(scalar.string), perSecond > 0 else {
            throw typeError(key, found, "a positive rate such as 5000, 5k or 1m (messages per second)")
        }
        return perSecond
    }

    /// A whole number ≥ 0 up to UInt64.max (seeds).
    package func uint64(_ key: String) throws(ConfigError) -> UInt64? {
        guard let found = value(key) else { return nil }
        guard case let .scalar(scalar) = found, let parsed = UInt64(scalar.string.trimmingSpaces().replacingOccurrences(of: "_", with: "")) else {
            throw typeError(key, found, "a whole number ≥ 0")
        }
        return parsed
    }

    // MARK: range-checked getters (nil when absent)
    //
    // Every number a file gives is checked against the range the program can run with: a value
    // outside it (negative, huge, NaN, infinite) is one error naming the range, never a trap in
    // a conversion later.

    package func double(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let number = try double(key) else { return nil }
        guard range.contains(number) else { throw rangeError(key, Self.format(range.lowerBound), Self.format(range.upperBound)) }
        return number
    }

    package func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let number = try int(key) else { return nil }
        guard range.contains(number) else { throw rangeError(key, "\(range.lowerBound)", "\(range.upperBound)") }
        return number
    }

    package func duration(_ key: String, in range: ClosedRange<Int64>) throws(ConfigError) -> Int64? {
        guard let nanos = try duration(key) else { return nil }
        guard range.contains(nanos) else {
            throw rangeError(key, Self.formatDuration(range.lowerBound), Self.formatDuration(range.upperBound))
        }
        return nanos
    }

    package func rate(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> Double? {
        guard let rate = try rate(key) else { return nil }
        guard range.contains(rate) else { throw rangeError(key, Self.format(range.lowerBound), Self.format(range.upperBound)) }
        return rate
    }

    /// One number or a list of numbers, each within `range`.
    package func doubles(_ key: String, in range: ClosedRange<Double>) throws(ConfigError) -> [Double]? {
        guard let found = value(key) else { return nil }
        let items: [Node]
        switch found {
        case .scalar: items = [found]
        case let .sequence(seq): items = Array(seq)
        default: throw typeError(key, found, "a number or a list of numbers")
        }
        var out: [Double] = []
        for item in items {
            guard case let .scalar(scalar) = item, let number = Self.number(scalar.string) else { throw typeError(key, item, "a list of numbers") }
            guard range.contains(number) else {
                throw ConfigError(
                    path: file, line: item.mark?.line, column: item.mark?.column,
                    what:
                        "key '\(Self.join(path, key))' must hold numbers from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound)), not '\(scalar.string)'",
                    remedy: "see \(guide)")
            }
            out.append(number)
        }
        return out
    }

    func rangeError(_ key: String, _ lower: String, _ upper: String) -> ConfigError {
        let target = value(key) ?? node
        return ConfigError(
            path: file, line: target.mark?.line, column: target.mark?.column,
            what: "key '\(Self.join(path, key))' must be from \(lower) to \(upper), not '\(Self.show(target))'",
            remedy: "see \(guide)")
    }

    /// `1000`, `0.5`, `1e+09`: integers without a fraction, others as Swift prints them.
    static func format(_ number: Double) -> String {
        if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
        return "\(number)"
    }

    /// A range bound of a duration: `0s`, `10ms`, `365d`.
    static func formatDuration(_ nanos: Int64) -> String {
        let units: [(Int64, String)] = [
            (86_400_000_000_000, "d"), (3_600_000_000_000, "h"), (60_000_000_000, "m"),
            (1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us"),
        ]
        for (scale, unit) in units where nanos != 0 && nanos % scale == 0 { return "\(nanos / scale)\(unit)" }
        return nanos == 0 ? "0s" : "\(nanos)ns"
    }

    /// One text or a list of texts.
    package func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let found = value(key) else { return nil }
        switch found {
        case let .scalar(scalar): return [scalar.string]
        case let .sequence(seq):
            var out: [String] = []
            for item in seq {
                guard case let .scalar(scalar) = item else { throw typeError(key, item, "a list of texts") }
                out.append(scalar.string)
            }
            return out
        default: throw typeError(key, found, "a text or a list of texts")
        }
    }

    package func map(_ key: String) throws(ConfigError) -> StrictMap? {
        guard let found = value(key) else { return nil }
        guard case .mapping = found else { throw typeError(key, found, "a mapping") }
        return try StrictMap(node: found, file: file, path: Self.join(path, key), guide: guide)
    }

    /// A list of mappings (`- key: value` items).
    package func maps(_ key: String) throws(ConfigError) -> [StrictMap]? {
        guard let found = value(key) else { return nil }
        guard case let .sequence(seq) = found else { throw typeError(key, found, "a list") }
        var out: [StrictMap] = []
        for (i, item) in seq.enumerated() {
            let itemPath = Self.join(path, key) + "[\(i)]"
            guard case .mapping = item else {
                throw ConfigError(
                    path: file, line: item.mark?.line, column: item.mark?.column,
                    what: "'\(itemPath)' must be a mapping, not '\(Self.show(item))'", remedy: "see \(guide)")
            }
            out.append(try StrictMap(node: item, file: file, path: itemPath, guide: guide))
        }
        return out
    }

    /// A list whose items are either texts or mappings (e.g. `sinks: [mock://, {uri: ...}]`).
    package func items(_ key: String) throws(ConfigError) -> [Either]? {
        guard let found = value(key) else { return nil }
        let seq: [Node]
        switch found {
        case let .sequence(list): seq = Array(list)
        case .scalar: seq = [found]
        default: throw typeError(key, found, "a list")
        }
        var out: [Either] = []
        for (i, item) in seq.enumerated() {
            switch item {
            case let .scalar(scalar): out.append(.text(scalar.string, line: item.mark?.line))
            case .mapping: out.append(.map(try StrictMap(node: item, file: file, path: Self.join(path, key) + "[\(i)]", guide: guide)))
            default: throw typeError(key, item, "a list of texts or mappings")
            }
        }
        return out
    }

    package enum Either {
        case text(String, line: Int?)
        case map(StrictMap)
    }

    // MARK: number parsing

    /// A number as YAML files write it (`10_000`, `1.5`); nil when not a finite number.
    package static func number(_ text: String) -> Double? {
        let cleaned = text.trimmingSpaces().replacingOccurrences(of: "_", with: "")
        guard !cleaned.isEmpty, let number = Double(cleaned), number.isFinite else { return nil }
        return number
    }

    /// `5000`, `5k`, `5K`, `1.5m`, `1M`, `10_000`, optionally followed by `/s` or `msg/s`.
    package static func parseRate(_ text: String) -> Double? {
        var cleaned = text.trimmingSpaces().lowercased().replacingOccurrences(of: "_", with: "").replacingOccurrences(of: ",", with: "")
        for suffix in ["msg/s", "/s"] where cleaned.hasSuffix(suffix) { cleaned = String(cleaned.dropLast(suffix.count)).trimmingSpaces() }
        var scale = 1.0
        if cleaned.hasSuffix("k") { scale = 1e3; cleaned.removeLast() } else if cleaned.hasSuffix("m") { scale = 1e6; cleaned.removeLast() }
        guard let number = Double(cleaned), number.isFinite else { return nil }
        return number * scale
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let lhs = Array(a), rhs = Array(b)
        if lhs.isEmpty { return rhs.count }
        if rhs.isEmpty { return lhs.count }
        var prev = Array(0...rhs.count)
        for i in 1...lhs.count {
            var cur = [i] + Array(repeating: 0, count: rhs.count)
            for j in 1...rhs.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (lhs[i - 1] == rhs[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[rhs.count]
    }
}
