// libFuzzer target for `k2 capture import`'s line parsers: the first byte picks the format
// (ndjson, cryptofeed, cryptofeed-v3, tardis), the rest is split into lines and fed to a fresh
// `ImportParser` as the importer does, into one shared `ImportSink` (a capture in /dev/shm,
// restarted every 100,000 records). Every 64th input (by size) also goes through
// `CaptureImporter.run` from a file (LineReader, header, sort: slow under ASan). Thrown
// CaptureErrors are the expected outcome for garbage; any crash or sanitizer report is a bug.
// Built and run by scripts/fuzz.sh.

@testable import K2Capture

#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var sharedSink: ImportSink?
nonisolated(unsafe) var inputPath = ""

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImportLines(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size > 0 else { return 0 }
    let formats = ImportFormat.allCases
    let format = formats[Int(data[0]) % formats.count]
    if inputPath.isEmpty { inputPath = "/dev/shm/k2-fuzz-import-\(getpid())" }
    if sharedSink == nil || sharedSink!.records > 100_000 {
        sharedSink?.abandon()
        sharedSink = ImportSink(path: inputPath + ".k2cap", options: .init())
    }
    let body = UnsafeRawBufferPointer(start: data + 1, count: size - 1)
    var parser = ImportParser(format: format, path: "fuzz-input")
    var start = 0
    var number = 0
    do {
        while start < body.count {
            var end = start
            while end < body.count, body[end] != 10 { end += 1 }
            number += 1
            try parser.consume(UnsafeRawBufferPointer(rebasing: body[start..<end]), number: number, sink: sharedSink!)
            start = end + 1
        }
    } catch {
        _ = error.description
    }
    _ = ImportFormat.guess(body)
    _ = DecimalTime.nanos(fromSeconds: body)
    if size % 64 == 0 {
        let fd = open(inputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return 0 }
        var written = 0
        while written < body.count {
            let n = write(fd, body.baseAddress! + written, body.count - written)
            if n <= 0 { break }
            written += n
        }
        close(fd)
        do {
            _ = try CaptureImporter.run(format: format, inputs: [inputPath], output: inputPath + ".run.k2cap")
        } catch {
            _ = error.description
        }
        unlink(inputPath + ".run.k2cap")
    }
    return 0
}
