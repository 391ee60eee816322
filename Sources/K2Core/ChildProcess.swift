import Foundation

/// The one way k2 starts other programs (ClickHouse, kcat, zstd, git, shells in tests), with
/// `posix_spawn`: a clean signal state (the parent may block signals the child relies on),
/// stdin from /dev/null, stdout/stderr where the caller says, and — where `setpriv` exists —
/// death with the parent.
///
/// Not Foundation.Process: its child monitor blocks in wait4() on a long-running child, which
/// stalls every other Process in the same program.
package enum ChildProcess {
    /// Where a child's stdout or stderr goes.
    package enum Destination: Sendable, Equatable {
        /// This process's own stream.
        case inherit
        /// /dev/null.
        case null
        /// A file, created or truncated.
        case file(String)
        /// A pipe whose read end the caller gets in `Started` (and must close).
        case pipe
    }

    /// A started child: its pid and the read ends of the streams asked for as `.pipe`.
    package struct Started: Sendable {
        package let pid: pid_t
        package let stdout: Int32?
        package let stderr: Int32?
    }

    /// What a child that ran to its end left: exit code (128 + signal when killed) and output.
    package struct Finished: Sendable {
        package let status: Int32
        package let stdout: String
        package let stderr: String
    }

    /// Spawns `args` (args[0] an absolute path, or a name looked up on PATH). With
    /// `dieWithParent`, the child gets SIGKILL when this process exits (via `setpriv --pdeathsig`).
    package static func start(
        _ args: [String], stdout: Destination = .null, stderr: Destination = .null,
        dieWithParent: Bool = true
    ) throws(CoreError) -> Started {
        guard let program = args.first else { throw CoreError.spawnFailed("cannot start a program: no command given") }
        guard let path = program.contains("/") ? program : which(program) else {
            throw CoreError.spawnFailed("cannot start \(program): not found on PATH")
        }
        var argv = [path] + args.dropFirst()
        if dieWithParent, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            argv = ["/usr/bin/setpriv", "--pdeathsig", "KILL"] + argv
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var readEnds: [Int32?] = [nil, nil]
        var writeEnds: [Int32] = []
        defer { for fd in writeEnds { close(fd) } }
        for (index, destination) in [stdout, stderr].enumerated() {
            let target = Int32(index + 1)
            switch destination {
            case .inherit: break
            case .null: posix_spawn_file_actions_addopen(&actions, target, "/dev/null", O_WRONLY, 0)
            case .file(let file): posix_spawn_file_actions_addopen(&actions, target, file, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            case .pipe:
                var fds: [Int32] = [0, 0]
                guard pipe(&fds) == 0 else {
                    for fd in readEnds.compactMap({ $0 }) { close(fd) }
                    throw CoreError.spawnFailed("cannot start \(program): cannot create a pipe: \(String(cString: strerror(errno)))")
                }
                // Neither end leaks into other children; dup2 gives the child a plain copy.
                _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
                _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
                posix_spawn_file_actions_adddup2(&actions, fds[1], target)
                readEnds[index] = fds[0]
                writeEnds.append(fds[1])
            }
        }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        sigdelset(&all, SIGKILL)
        sigdelset(&all, SIGSTOP)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for arg in cargs { free(arg) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, &attr, &cargs, environ)
        guard rc == 0 else {
            for fd in readEnds.compactMap({ $0 }) { close(fd) }
            throw CoreError.spawnFailed("cannot start \(program): \(String(cString: strerror(rc)))")
        }
        return Started(pid: child, stdout: readEnds[0], stderr: readEnds[1])
    }

    /// Spawns `args` (args[0] an absolute path). `stdoutPath`/`stderrPath` nil → /dev/null.
    /// With `dieWithParent`, the child gets SIGKILL when this process exits (via `setpriv --pdeathsig`).
    package static func spawn(
        _ args: [String], stdoutPath: String? = nil, stderrPath: String? = nil,
        dieWithParent: Bool = true
    ) throws(CoreError) -> pid_t {
        try start(
            args, stdout: stdoutPath.map { .file($0) } ?? .null, stderr: stderrPath.map { .file($0) } ?? .null,
            dieWithParent: dieWithParent
        ).pid
    }

    /// Runs `args` to its end with stdout and stderr collected (read together, so neither pipe
    /// can fill up and stall the child).
    package static func run(_ args: [String], dieWithParent: Bool = true) throws(CoreError) -> Finished {
        let child = try start(args, stdout: .pipe, stderr: .pipe, dieWithParent: dieWithParent)
        var collected: [[UInt8]] = [[], []]
        var polled = [child.stdout, child.stderr].map { pollfd(fd: $0 ?? -1, events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 65536)
        while polled.contains(where: { $0.fd >= 0 }) {
            if poll(&polled, nfds_t(polled.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for index in polled.indices where polled[index].fd >= 0 && polled[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(polled[index].fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    collected[index].append(contentsOf: buffer[0..<count])
                } else if count == 0 || errno != EINTR {
                    close(polled[index].fd)
                    polled[index].fd = -1
                }
            }
        }
        for fd in polled.map(\.fd) where fd >= 0 { close(fd) }
        let status = wait(child.pid)
        return Finished(
            status: status, stdout: String(decoding: collected[0], as: UTF8.self),
            stderr: String(decoding: collected[1], as: UTF8.self))
    }

    /// Waits for `pid` to exit (reaps it): its exit code, 128 + the signal when a signal ended
    /// it (as shells report it), -1 when it cannot be waited for.
    package static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// Whether `pid` has exited (reaps it); its wait status in `status`.
    package static func exited(_ pid: pid_t, status: inout Int32) -> Bool {
        waitpid(pid, &status, WNOHANG) == pid
    }

    /// SIGTERM, up to `graceSeconds` to exit, then SIGKILL; always reaps.
    package static func terminate(_ pid: pid_t, graceSeconds: Double = 10) {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        let steps = max(1, Int(graceSeconds * 10))
        for _ in 0..<steps {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(100_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    /// The first executable named `name` on PATH.
    package static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

/// Free TCP ports on 127.0.0.1 (bound to port 0, read back, released).
package enum FreePort {
    package static func next() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
