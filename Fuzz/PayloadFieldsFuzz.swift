// libFuzzer target for payload field extraction (PayloadFields: stream, symbol, event, integer
// and string values, the whole-JSON check the recorder trusts before reading a sequence).
// Checks, besides crashes and sanitizer reports: every view lies inside the payload, the
// Binance fast path agrees with the search, and whatever K2Core's JSONParser accepts as an
// object or array `isWholeJSON` accepts too. Built and run by scripts/fuzz.sh.

import K2Core
@testable import K2Capture

let keys: [[UInt8]] = ["\"U\":", "\"u\":", "\"t\":", "\"a\":", "\"sequence_num\":", "\"s\":", "\"e\":", "\"stream\":", "\"c\":", "\""]
    .map { Array($0.utf8) }

func inside(_ view: UnsafeRawBufferPointer?, _ p: UnsafeRawBufferPointer) -> Bool {
    guard let view else { return true }
    guard view.count > 0 else { return true }
    guard let base = p.baseAddress, let start = view.baseAddress else { return false }
    return start >= base && start + view.count <= base + p.count
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPayloadFields(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let p = UnsafeRawBufferPointer(start: data, count: size)
    let fields = PayloadFields.extract(p)
    precondition(inside(fields.stream, p) && inside(fields.symbol, p) && inside(fields.event, p), "a view outside the payload")
    _ = (fields.streamString?.count ?? 0) + (fields.symbolString?.count ?? 0) + (fields.eventString?.count ?? 0)
    if let fast = PayloadFields.binanceCombined(p) {
        let searched = PayloadFields.extractSearching(p)
        precondition(
            fast.streamString == searched.streamString && fast.eventString == searched.eventString
                && fast.symbolString == searched.symbolString, "the Binance fast path disagrees with the search")
    }
    for (i, key) in keys.enumerated() {
        let from = i == 0 ? 0 : size / (i + 1)
        _ = PayloadFields.intValue(p, key: key, from: from)
        precondition(inside(PayloadFields.stringValue(p, key: key, from: from), p), "a string value outside the payload")
        if let at = PayloadFields.find(p, key, from: from) { precondition(at >= key.count && at <= size, "find past the end") }
    }
    if size > 0, let (last, at) = PayloadFields.lastString(p, endingBefore: size) {
        precondition(inside(last, p) && at >= 0 && at < size, "lastString outside the payload")
    }
    let whole = PayloadFields.isWholeJSON(p)
    if !whole, let first = p.firstIndex(where: { $0 != 32 && $0 != 10 && $0 != 13 && $0 != 9 }), p[first] == 123 || p[first] == 91,
        size < 4096, let value = try? JSONParser.parse(Array(p))
    {
        if case .object = value { preconditionFailure("JSONParser reads an object that isWholeJSON rejects") }
        if case .array = value { preconditionFailure("JSONParser reads an array that isWholeJSON rejects") }
    }
    return 0
}
