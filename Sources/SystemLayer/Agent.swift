import CShim
import Glibc

/// The seccomp-agent side of the OCI runtime spec: a socket runtimes connect to with a
/// container's state and its seccomp notification descriptor (SCM_RIGHTS).
public final class AgentSocket: @unchecked Sendable {
    public let fd: Int32

    public init(listeningAt path: String) throws(SystemError) {
        let fd = pc_unix_listen(path)
        guard fd >= 0 else { throw SystemError("listen on \(path)", -fd) }
        self.fd = fd
    }

    /// The next connection, or nil when the socket is closed.
    public func accept() -> Int32? {
        while true {
            let c = pc_accept(fd)
            if c >= 0 { return c }
            if c == -EINTR || c == -ECONNABORTED { continue }
            return nil
        }
    }

    /// What a connected runtime sends: the state's bytes and the descriptor passed with it.
    public static func receive(_ connection: Int32, limit: Int = 1 << 20, timeoutMilliseconds: Int32 = 5000) -> (bytes: [UInt8], fd: Int32?)? {
        var buffer = [UInt8](repeating: 0, count: limit)
        var passed: Int32 = -1
        let n = buffer.withUnsafeMutableBytes { pc_recv_state(connection, $0.baseAddress!.assumingMemoryBound(to: CChar.self), limit, &passed, timeoutMilliseconds) }
        guard n >= 0 else { if passed >= 0 { Glibc.close(passed) }; return nil }
        return (Array(buffer.prefix(n)), passed >= 0 ? passed : nil)
    }

    /// Answers every notification of `listener` with CONTINUE, handing each to `onCall` while
    /// the caller waits and running what it returns after, until every process that carries
    /// the filter is gone. Whether `listener` is a seccomp listener at all is its first answer.
    public static func serve(_ listener: Int32, onCall: (SeccompNotification) -> () -> Void) {
        AuditListener.serve(listener, onCall: onCall)
    }

    deinit { Glibc.close(fd) }
}
