import K2Core
import Testing

// The one rendering of an error line (`K2Error`).

/// An error of the shape every module's error type has.
struct SampleError: K2Error {
    var what: String
    var place = ""
    var remedy = ""
}

@Test(arguments: [
    (
        SampleError(what: "unknown key 'rat'", place: "w.yaml:3:5", remedy: "did you mean 'rate'?"),
        "w.yaml:3:5: unknown key 'rat' — did you mean 'rate'?"
    ),
    (SampleError(what: "nothing to record", remedy: "give --venue"), "nothing to record — give --venue"),
    (SampleError(what: "no such file", place: "a.k2cap"), "a.k2cap: no such file"),
    (SampleError(what: "stopped"), "stopped"),
])
func errorLineLeavesOutEmptyParts(error: SampleError, line: String) {
    #expect(error.description == line)
    #expect("\(error)" == line)
    #expect(error.exitCode == 2)
}

@Test func coreErrorsKeepTheirText() {
    let json = CoreError.invalidJSON(offset: 7, reason: "unexpected end")
    #expect(json.description == "invalid JSON at byte 7: unexpected end")
    #expect(CoreError.badHistogram("header truncated").description == "histogram decoding failed: header truncated")
    #expect((json as any Error as? any K2Error)?.exitCode == 2)
}
