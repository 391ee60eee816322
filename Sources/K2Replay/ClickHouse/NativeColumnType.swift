/// How a column of ClickHouse's Native format is laid out, enough to step over its values
/// without decoding them: fixed-width values, length-prefixed strings, and the wrappers
/// (Nullable: a null map then the values; Array: cumulative UInt64 offsets then the nested
/// column; Tuple: its elements one after the other).
indirect enum NativeColumnType: Equatable, Sendable {
    /// Fixed width in bytes per value (integers, floats, Date, DateTime, DateTime64, Decimal, FixedString(N), …).
    case fixed(Int)
    /// `String`: a varint length then the bytes, per value.
    case string
    case nullable(NativeColumnType)
    case array(NativeColumnType)
    case tuple([NativeColumnType])

    /// Widths of the plain types, by name.
    private static let widths: [String: Int] = [
        "UInt8": 1, "UInt16": 2, "UInt32": 4, "UInt64": 8, "UInt128": 16, "UInt256": 32,
        "Int8": 1, "Int16": 2, "Int32": 4, "Int64": 8, "Int128": 16, "Int256": 32,
        "Float32": 4, "Float64": 8, "Bool": 1, "Date": 2, "Date32": 4, "DateTime": 4, "DateTime64": 8,
        "Decimal32": 4, "Decimal64": 8, "Decimal128": 16, "Decimal256": 32, "Enum8": 1, "Enum16": 2,
        "UUID": 16, "IPv4": 4, "IPv6": 16, "Nothing": 1,
    ]

    /// Parses a type name as the server sends it (`Nullable(Array(String))`, `DateTime('UTC')`,
    /// `Decimal(18, 4)`); nil for a type k2 cannot step over (LowCardinality, Map, AggregateFunction, …).
    init?(parsing text: String) {
        let name = text[...].trimmingWhitespace
        guard let open = name.firstIndex(of: "(") else {
            if name == "String" {
                self = .string
            } else if let width = Self.widths[String(name)] {
                self = .fixed(width)
            } else {
                return nil
            }
            return
        }
        guard name.last == ")" else { return nil }
        let base = String(name[..<open])
        let arguments = Self.splitArguments(name[name.index(after: open)..<name.index(before: name.endIndex)])
        switch base {
        case "Nullable", "Array":
            guard arguments.count == 1, let inner = NativeColumnType(parsing: arguments[0]) else { return nil }
            self = base == "Nullable" ? .nullable(inner) : .array(inner)
        case "Tuple":
            var elements: [NativeColumnType] = []
            for argument in arguments {
                guard let element = NativeColumnType(parsing: argument) else { return nil }
                elements.append(element)
            }
            self = .tuple(elements)
        case "FixedString":
            guard arguments.count == 1, let width = Int(arguments[0]), width > 0 else { return nil }
            self = .fixed(width)
        case "Decimal":
            // Decimal(P, S): the precision picks the width.
            guard arguments.count == 2, let precision = Int(arguments[0]), (1...76).contains(precision) else { return nil }
            self = .fixed(precision <= 9 ? 4 : precision <= 18 ? 8 : precision <= 38 ? 16 : 32)
        case "DateTime", "DateTime64", "Decimal32", "Decimal64", "Decimal128", "Decimal256", "Enum8", "Enum16":
            // Parameters (time zone, precision, scale, enum values) do not change the width.
            self = .fixed(Self.widths[base]!)
        default:
            return nil
        }
    }

    /// Splits `a, b(c, d), 'e, f'` at its top-level commas.
    private static func splitArguments(_ text: Substring) -> [String] {
        var parts: [String] = []
        var depth = 0
        var quoted = false
        var escaped = false
        var start = text.startIndex
        for index in text.indices {
            let character = text[index]
            if quoted {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "'" {
                    quoted = false
                }
                continue
            }
            switch character {
            case "'": quoted = true
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                parts.append(String(text[start..<index].trimmingWhitespace))
                start = text.index(after: index)
            default: break
            }
        }
        parts.append(String(text[start...].trimmingWhitespace))
        return parts
    }

    /// Steps over `rows` values of this type in `reader`.
    func skip(rows: Int, in reader: NativeReader) throws(NativeReader.Failure) {
        guard rows > 0 else { return }
        switch self {
        case .fixed(let width):
            let (bytes, overflow) = rows.multipliedReportingOverflow(by: width)
            guard !overflow else { throw .malformed("a column of \(rows) values of \(width) bytes") }
            try reader.skip(bytes)
        case .string:
            for _ in 0..<rows { try reader.skip(try reader.length()) }
        case .nullable(let inner):
            try reader.skip(rows)
            try inner.skip(rows: rows, in: reader)
        case .array(let inner):
            // Offsets are cumulative: the last one is the nested column's length.
            try reader.skip((rows - 1) * 8)
            let total = try reader.uint64()
            guard total <= UInt64(Int32.max) else { throw .malformed("an array column of \(total) nested values") }
            try inner.skip(rows: Int(total), in: reader)
        case .tuple(let elements):
            for element in elements { try element.skip(rows: rows, in: reader) }
        }
    }
}

extension Substring {
    fileprivate var trimmingWhitespace: Substring {
        let first = firstIndex { !$0.isWhitespace } ?? endIndex
        let last = lastIndex { !$0.isWhitespace }.map { index(after: $0) } ?? first
        return self[first..<Swift.max(first, last)]
    }
}
