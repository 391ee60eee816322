import Foundation

/// Starting long-running helper servers (ClickHouse, kcat …) with `posix_spawn`: a clean
/// signal state (the parent may block signals the child relies on), stdin from /dev/null,
/// stdout/stderr to files, and — where `setpriv` exists — death with the parent.
///
/// Not Foundation.Process: its child monitor blocks in wait4() on a long-running child, which
/// stalls every other Process in the same program.
public enum ChildProcess {
    public struct SpawnError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Spawns `args` (args[0] an absolute path). `stdoutPath`/`stderrPath` nil → /dev/null.
    /// With `dieWithParent`, the child gets SIGKILL when this process exits (via `setpriv --pdeathsig`).
    public static func spawn(_ args: [String], stdoutPath: String? = nil, stderrPath: String? = nil,
                             dieWithParent: Bool = true) throws -> pid_t {
        var argv = args
        if dieWithParent, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") {
            argv = ["/usr/bin/setpriv", "--pdeathsig", "KILL"] + argv
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
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
        defer { for a in cargs { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, argv[0], &actions, &attr, &cargs, environ)
        guard rc == 0 else {
            throw SpawnError(description: "cannot start \(args[0]): \(String(cString: strerror(rc)))")
        }
        return child
    }

    /// Whether `pid` has exited (reaps it); its wait status in `status`.
    public static func exited(_ pid: pid_t, status: inout Int32) -> Bool {
        waitpid(pid, &status, WNOHANG) == pid
    }

    /// SIGTERM, up to `graceSeconds` to exit, then SIGKILL; always reaps.
    public static func terminate(_ pid: pid_t, graceSeconds: Double = 10) {
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
    public static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}

/// Free TCP ports on 127.0.0.1 (bound to port 0, read back, released).
public enum FreePort {
    public static func next() -> Int {
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
