import Foundation

/// A ClickHouse server version as `SELECT version()` answers it (`18.16.1`, `26.9.2.1`):
/// numeric components compared in order, missing ones counting as 0 (`19.14` = `19.14.0.0`).
public struct ClickHouseVersion: Sendable, Comparable, CustomStringConvertible {
    public let components: [Int]

    /// `text` as dot-separated numbers (at least one); nil otherwise.
    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ".", omittingEmptySubsequences: false)
        var numbers: [Int] = []
        for part in parts {
            guard !part.isEmpty, part.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let number = Int(part) else { return nil }
            numbers.append(number)
        }
        guard !numbers.isEmpty else { return nil }
        components = numbers
    }

    public var description: String { components.map(String.init).joined(separator: ".") }

    public static func < (lhs: ClickHouseVersion, rhs: ClickHouseVersion) -> Bool {
        for index in 0..<max(lhs.components.count, rhs.components.count) {
            let left = index < lhs.components.count ? lhs.components[index] : 0
            let right = index < rhs.components.count ? rhs.components[index] : 0
            if left != right { return left < right }
        }
        return false
    }

    public static func == (lhs: ClickHouseVersion, rhs: ClickHouseVersion) -> Bool { !(lhs < rhs) && !(rhs < lhs) }
}
