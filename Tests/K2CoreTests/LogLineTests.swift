import K2Core
import K2TestSupport
import Logging
import Testing

// The one log line style (`K2LogHandler`): events as key=value lines, sentences as `k2: …`.

/// 2025-12-06T00:00:00.123Z
private let stamp: Int64 = 1_764_979_200_123_000_000

@Test(arguments: [
    ("connect", ["conn": "0", "url": "wss://x/ws"] as Logger.Metadata, "ts=2025-12-06T00:00:00.123Z level=info event=connect conn=0 url=wss://x/ws"),
    ("disconnect", ["reason": "", "code": "1006"], #"ts=2025-12-06T00:00:00.123Z level=info event=disconnect code=1006 reason="""#),
    (
        "connect_failed", ["error": "a b", "x": #"say "hi""#, "y": "k=v"],
        #"ts=2025-12-06T00:00:00.123Z level=info event=connect_failed error="a b" x="say \"hi\"" y="k=v""#
    ),
    ("cannot write: disk full", [:], "k2: cannot write: disk full"),
])
func logLines(message: String, fields: Logger.Metadata, line: String) {
    #expect(K2LogHandler.line(level: .info, message: message, fields: fields, wallNanos: stamp) == line)
}

@Test func loggerEntriesBecomeLinesAtTheirLevel() {
    let log = LogLines(wallNanos: stamp)
    var logger = log.logger()
    logger.debug("not shown at the default level (info)")
    logger.error("x.k2cap: cannot write — free disk space")
    logger.warning("gap", metadata: ["conn": "2"])
    logger[metadataKey: "conn"] = "3"
    logger.info("stop", metadata: ["reason": "SIGINT"])
    #expect(
        log.lines == [
            "k2: x.k2cap: cannot write — free disk space",
            "ts=2025-12-06T00:00:00.123Z level=warning event=gap conn=2",
            "ts=2025-12-06T00:00:00.123Z level=info event=stop conn=3 reason=SIGINT",
        ])
}
