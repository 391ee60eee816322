/// What a capture record is. Stored as one byte; readers of the same major version keep
/// kinds they do not know (a later minor version may add some) and print them as `kindN`.
public struct RecordKind: RawRepresentable, Hashable, Sendable, CustomStringConvertible, CaseIterable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// A connection was opened; the record's `url` is the address.
    public static let connect = RecordKind(rawValue: 1)
    /// A frame the client sent (e.g. a subscription).
    public static let send = RecordKind(rawValue: 2)
    /// A frame received from the venue: what replay sends by default.
    public static let recv = RecordKind(rawValue: 3)
    /// The connection closed; the payload says why (JSON `{"code":…,"reason":…}` when known).
    public static let disconnect = RecordKind(rawValue: 4)
    /// An HTTP response (e.g. a REST order-book snapshot); `url` is the request, payload the body.
    public static let http = RecordKind(rawValue: 5)
    /// A note from the tool: gap detected, reconnect, rotation, …; the payload is the note.
    public static let marker = RecordKind(rawValue: 6)

    public static let allCases: [RecordKind] = [.connect, .send, .recv, .disconnect, .http, .marker]

    public var name: String {
        switch rawValue {
        case 1: return "connect"
        case 2: return "send"
        case 3: return "recv"
        case 4: return "disconnect"
        case 5: return "http"
        case 6: return "marker"
        default: return "kind\(rawValue)"
        }
    }

    public var description: String { name }

    /// Parses a kind name as `capture cat` prints it (`recv`, `kind9`).
    public init?(name: String) {
        if let known = RecordKind.allCases.first(where: { $0.name == name }) {
            self = known
        } else if name.hasPrefix("kind"), let number = UInt8(name.dropFirst(4)), number > 0 {
            self.init(rawValue: number)
        } else {
            return nil
        }
    }
}
