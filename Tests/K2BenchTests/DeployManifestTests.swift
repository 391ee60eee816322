import Foundation
import K2Bench
import K2Config
import K2Core
import K2TestSupport
import Testing

/// The image recipe (deploy/Containerfile) against what needs it, with no container engine:
/// the runtime stage's packages cover every shared library of the built `k2`
/// (scripts/check-image.sh), and the Kubernetes manifests in deploy/ agree with the image — shard
/// arithmetic, paths that exist in the image layout or on a mounted volume, real k2 subcommands
/// and options (checked against the built binary's `--help`).
@Suite(.serialized) struct DeployManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let k2 = root + "/.build/debug/k2"
    let dir = TemporaryDirectory()

    // MARK: the image's libraries

    @Test func runtimeStageInstallsEveryLibraryTheBinaryNeeds() throws {
        let (status, out, err) = try Shell.execute("'\(Self.root)/scripts/check-image.sh' '\(Self.k2)'")
        #expect(status == 0, "\(out)\(err)")
        #expect(out.contains("all from the runtime stage's packages"))
    }

    @Test func aRuntimeStageWithoutLibrdkafkaFailsTheCheck() throws {
        let original = try String(contentsOfFile: Self.root + "/deploy/Containerfile", encoding: .utf8)
        let broken = original.replacingOccurrences(of: " librdkafka1 ", with: " ")
        #expect(broken != original)
        let path = dir.file("Containerfile")
        try broken.write(toFile: path, atomically: true, encoding: .utf8)
        let (status, _, err) = try Shell.execute("'\(Self.root)/scripts/check-image.sh' '\(Self.k2)' '\(path)'")
        #expect(status == 1)
        #expect(err.contains("librdkafka.so.1 (librdkafka1)"), "\(err)")
    }

    // MARK: the manifests against the image

    /// The runtime stage's file layout: image path → repository path it was copied from (nil for
    /// files from another stage or made by RUN), and the working directory.
    struct ImageLayout {
        var copies: [(image: String, source: String?)] = []
        var workdir = "/"
        var entrypoint = ""

        init(containerfile: String) {
            var inRuntime = false
            for raw in containerfile.split(separator: "\n") {
                let words = raw.split(separator: " ").map(String.init)
                guard let instruction = words.first?.uppercased() else { continue }
                if instruction == "FROM" { inRuntime = words.last?.lowercased() == "runtime"; continue }
                guard inRuntime else { continue }
                switch instruction {
                case "WORKDIR": workdir = absolute(words[1])
                case "COPY":
                    let fromStage = words.contains { $0.hasPrefix("--from=") }
                    let operands = words.dropFirst().filter { !$0.hasPrefix("--") }
                    guard let destination = operands.last else { continue }
                    for source in operands.dropLast() {
                        copies.append((absolute(destination).trimmingSuffix("/"), fromStage ? nil : source))
                    }
                case "RUN":
                    if let mkdir = raw.range(of: "mkdir -p ") {
                        for path in raw[mkdir.upperBound...].split(separator: "&").first?.split(separator: " ") ?? [] {
                            copies.append((absolute(String(path)), nil))
                        }
                    }
                case "ENTRYPOINT": entrypoint = raw.dropFirst("ENTRYPOINT".count).trimmingCharacters(in: .whitespaces)
                default: break
                }
            }
        }

        func absolute(_ path: String) -> String {
            if path.hasPrefix("/") { return path }
            let base = workdir.hasSuffix("/") ? workdir : workdir + "/"
            return base + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path).trimmingSuffix("/")
        }

        /// Whether `path` (absolute, or relative to the working directory) is in the image.
        func contains(_ path: String, repository: String) -> Bool {
            let wanted = absolute(path)
            for copy in copies {
                if wanted == copy.image { return true }
                guard wanted.hasPrefix(copy.image + "/"), let source = copy.source else { continue }
                let rest = wanted.dropFirst(copy.image.count + 1)
                if FileManager.default.fileExists(atPath: repository + "/" + source + "/" + rest) { return true }
            }
            return false
        }
    }

    struct Container {
        var image: String
        var script: String
        var mounts: [String]
    }

    /// The Job's spec and its one container (image, the `sh -c` script, mount paths).
    func load(_ name: String) throws -> (completions: Int?, parallelism: Int?, indexed: Bool, container: Container) {
        let root = try StrictMap.load(file: Self.root + "/deploy/" + name, guide: "docs/bench.md")
        #expect(try root.string("kind") == "Job")
        let spec = try #require(try root.map("spec"))
        let pod = try #require(try spec.map("template")?.map("spec"))
        let containers = try #require(try pod.maps("containers"))
        #expect(containers.count == 1)
        let container = containers[0]
        #expect(try container.strings("command") == ["/bin/sh", "-c"])
        let args = try #require(try container.strings("args"))
        let mounts = try (container.maps("volumeMounts") ?? []).compactMap { try $0.string("mountPath") }
        return (
            try spec.int("completions"), try spec.int("parallelism"), try spec.string("completionMode") == "Indexed",
            Container(image: try #require(try container.string("image")), script: args.joined(separator: " "), mounts: mounts)
        )
    }

    /// Shell words of a one-line script (quotes removed, `${JOB_COMPLETION_INDEX}` set to `index`).
    static func words(_ script: String, index: Int) -> [String] {
        let text = script.replacingOccurrences(of: "${JOB_COMPLETION_INDEX}", with: String(index))
        var words: [String] = []
        var current = ""
        var quote: Character?
        var inWord = false
        for ch in text {
            if let openQuote = quote {
                if ch == openQuote { quote = nil } else { current.append(ch) }
            } else if ch == "\"" || ch == "'" {
                quote = ch
                inWord = true
            } else if ch == " " || ch == "\n" {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(ch)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// Checks one `k2 …` command line against the built binary: the subcommand exists and every
    /// option it uses is one its `--help` lists. Returns the words after the subcommand.
    func checkCommand(_ words: [String]) throws -> (subcommand: [String], rest: [String]) {
        try #require(words.first == "k2", "the script must run k2: \(words)")
        var subcommand: [String] = []
        var help = ""
        for word in words.dropFirst() {
            guard word.allSatisfy({ $0.isLetter }) else { break }
            let (status, out, _) = try Shell.execute("'\(Self.k2)' \((subcommand + [word]).joined(separator: " ")) --help")
            guard status == 0, !out.contains("Error") else { break }
            subcommand.append(word)
            help = out
        }
        try #require(!subcommand.isEmpty, "not a k2 subcommand: \(words)")
        let rest = Array(words.dropFirst(1 + subcommand.count))
        for option in rest where option.hasPrefix("-") {
            let listed = help.range(of: option + "[ ,<=\n]", options: .regularExpression) != nil
            #expect(listed, "k2 \(subcommand.joined(separator: " ")) has no option \(option)")
        }
        return (subcommand, rest)
    }

    func value(after option: String, long: String? = nil, in words: [String]) -> String? {
        guard let position = words.firstIndex(where: { $0 == option || $0 == long }), position + 1 < words.count else { return nil }
        return words[position + 1]
    }

    @Test func shardJobAndMergeJobAgreeWithTheImage() throws {
        let containerfile = try String(contentsOfFile: Self.root + "/deploy/Containerfile", encoding: .utf8)
        let layout = ImageLayout(containerfile: containerfile)
        #expect(layout.workdir == "/k2")
        #expect(layout.entrypoint == #"["k2"]"#)
        #expect(layout.contains("/usr/local/bin/k2", repository: Self.root))
        #expect(layout.contains("captures/binance-sample.k2cap", repository: Self.root))
        #expect(layout.contains("reports/targets/k2-v2.yaml", repository: Self.root))
        #expect(!layout.contains("reports/targets/nothing.yaml", repository: Self.root))

        let job = try load("k2-bench-job.yaml")
        let merge = try load("k2-bench-merge-job.yaml")
        let shards = try #require(job.completions)
        #expect(job.indexed)
        #expect(job.parallelism == shards, "parallelism must equal completions: the shards must run at the same time")
        // One image, the version this tree builds.
        #expect(job.container.image == merge.container.image)
        #expect(job.container.image.hasSuffix("/k2:" + K2Version.number), "\(job.container.image)")

        func checkPaths(_ words: [String], _ container: Container) {
            for word in words where word.hasPrefix("/") || word.hasPrefix("captures/") || word.hasPrefix("reports/") {
                let mounted = container.mounts.contains { word == $0 || word.hasPrefix($0 + "/") }
                #expect(mounted || layout.contains(word, repository: Self.root), "\(word) is neither in the image nor on a mounted volume")
            }
        }

        // Each shard: a real `k2 bench run … --shard i/N` with N = completions, writing its own directory.
        var outputs: [String] = []
        for index in 0..<shards {
            let words = Self.words(job.container.script, index: index)
            let (subcommand, rest) = try checkCommand(words)
            #expect(subcommand == ["bench", "run"])
            #expect(value(after: "--shard", in: rest) == "\(index)/\(shards)")
            outputs.append(try #require(value(after: "-o", long: "--output", in: rest)))
            checkPaths(rest, job.container)
        }
        #expect(Set(outputs).count == shards)

        // The merge: exactly the shards' directories, on the same volume.
        let words = Self.words(merge.container.script, index: 0)
        let (subcommand, rest) = try checkCommand(words)
        #expect(subcommand == ["bench", "merge"])
        let inputs = rest.prefix { !$0.hasPrefix("-") }
        #expect(Array(inputs) == outputs, "the merge must name the \(shards) shard directories the Job writes")
        checkPaths(rest, merge.container)
        #expect(Set(job.container.mounts) == Set(merge.container.mounts))
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) && count > suffix.count ? String(dropLast(suffix.count)) : self
    }
}
