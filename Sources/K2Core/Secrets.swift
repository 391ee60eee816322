import Foundation

/// Masking of secrets in everything k2 prints or writes: the one function is `Secrets.mask(_:)`.
///
/// What counts as a secret:
/// - the value of a key that looks secret, whatever its case or spelling: any key starting
///   with `sasl.`, or containing `pass`, `pasw`, `pwd`, `word`, `secret`, `token`, `key`,
///   `cred` or `auth` (so `password`, `sasl.pasword`, `SSL.KEY.PASSWORD`, `api_token` …; a bare
///   `key`, as in a message key or "key=value" in a hint, is not), in
///   `key=value` (`-X`, URI queries) and `key: value` (YAML) forms;
/// - the password of a URI's userinfo (`scheme://user:PASSWORD@host`);
/// - every value registered with `register(_:)` (k2 registers each secret it parses, so a
///   library message that echoes one is masked too).
///
/// Masked values print as `***`.
package enum Secrets {
    package static let masked = "***"

    private static let stems = ["pass", "pasw", "pwd", "word", "secret", "token", "key", "cred", "auth"]
    private static let lock = Lock()
    nonisolated(unsafe) private static var registered: [String] = []

    /// Whether `key` names a secret (see the type's documentation).
    package static func isSecretKey(_ key: some StringProtocol) -> Bool {
        let lowered = key.lowercased()
        // A bare "key" (a message key, "key=value" in a usage hint) is not a secret; "api_key" is.
        guard lowered != "key" else { return false }
        return lowered.hasPrefix("sasl.") || stems.contains { lowered.contains($0) }
    }

    /// Remembers `value` so that `mask` hides it wherever it appears (values shorter than 3
    /// characters are masked only in their structural places: hiding every "ab" would garble text).
    package static func register(_ value: some StringProtocol) {
        let text = String(value)
        guard text.count >= 3, text != masked else { return }
        lock.withLock {
            if !registered.contains(text) { registered.append(text) }
        }
    }

    /// Registers the secrets of a URI (userinfo password, secret-looking query values) and
    /// `key=value` properties, so later messages that echo them are masked.
    package static func registerSecrets(uri: String, properties: [(String, String)] = []) {
        for (key, value) in properties where isSecretKey(key) { register(value) }
        forEachSecret(in: uri) { register($0) }
    }

    /// `text` with every secret masked (see the type's documentation). Use on every line
    /// printed and every report written that can carry a URI or a property.
    package static func mask(_ text: String) -> String {
        var out = Substring(text)
        let values = lock.withLock { registered }
        if !values.isEmpty {
            // Longest first, so a secret containing another is masked whole.
            var replaced = String(out)
            for secret in values.sorted(by: { $0.count > $1.count }) where replaced.contains(secret) {
                replaced = replaced.replacingOccurrences(of: secret, with: masked)
            }
            out = Substring(replaced)
        }
        guard out.contains("=") || out.contains(":") else { return String(out) }
        var result = ""
        result.reserveCapacity(out.count)
        var ranges: [Range<String.Index>] = []
        let partlyMasked = String(out)
        collectSecretRanges(in: partlyMasked) { ranges.append($0) }
        var cursor = partlyMasked.startIndex
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where range.lowerBound >= cursor {
            result += partlyMasked[cursor..<range.lowerBound]
            result += masked
            cursor = range.upperBound
        }
        result += partlyMasked[cursor...]
        return result
    }

    /// Calls `body` with each secret value found structurally in `text`.
    static func forEachSecret(in text: String, _ body: (Substring) -> Void) {
        collectSecretRanges(in: text) { body(text[$0]) }
    }

    /// The ranges of secret values in `text`: userinfo passwords, values of secret-looking keys
    /// after `=` or `: ` (up to `&`, whitespace, a quote, `,`, `;`, `)` or the end).
    private static func collectSecretRanges(in text: String, _ found: (Range<String.Index>) -> Void) {
        let chars = text
        // userinfo: "://" user ":" password "@"
        var search = chars.startIndex
        while let scheme = chars.range(of: "://", range: search..<chars.endIndex) {
            let hostEnd =
                chars[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == " " || $0 == "\"" || $0 == "'" || $0 == "\n" }
                ?? chars.endIndex
            let authority = scheme.upperBound..<hostEnd
            if let at = chars[authority].lastIndex(of: "@"), let colon = chars[scheme.upperBound..<at].firstIndex(of: ":"),
                chars.index(after: colon) < at
            {
                found(chars.index(after: colon)..<at)
            }
            search = scheme.upperBound
        }
        // key=value and key: value
        let terminators: Set<Character> = ["&", " ", "\t", "\n", "\"", "'", ",", ";", ")", "}", "]"]
        var index = chars.startIndex
        while index < chars.endIndex {
            let character = chars[index]
            var valueStart: String.Index?
            if character == "=" {
                valueStart = chars.index(after: index)
            } else if character == ":", chars.index(after: index) < chars.endIndex, chars[chars.index(after: index)] == " " {
                valueStart = chars.index(index, offsetBy: 2)
            }
            guard let start = valueStart else { index = chars.index(after: index); continue }
            // The key: the word before the separator (letters, digits, . _ -).
            var keyStart = index
            while keyStart > chars.startIndex {
                let previous = chars[chars.index(before: keyStart)]
                guard previous.isLetter || previous.isNumber || previous == "." || previous == "_" || previous == "-" else { break }
                keyStart = chars.index(before: keyStart)
            }
            let key = chars[keyStart..<index]
            var end = start
            while end < chars.endIndex, !terminators.contains(chars[end]) { end = chars.index(after: end) }
            if !key.isEmpty, isSecretKey(key), start < end, chars[start..<end] != Substring(masked) {
                found(start..<end)
            }
            index = end > index ? end : chars.index(after: index)
        }
    }
}
