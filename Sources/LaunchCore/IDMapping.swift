import SystemLayer

/// The host ids a user namespace started by root maps the container's 0-65535 to: root's
/// range in /etc/subuid and /etc/subgid (as Podman's --userns=auto takes its ranges from
/// there), else policyc's documented default, 2147352576 (0x7FFE0000) and up: far above the
/// ids that useradd hands out, so container root owns nothing on the host.
public struct IDMapping: Equatable, Sendable {
    public var uidBase: UInt32
    public var gidBase: UInt32
    public var count: UInt32

    public static let defaultBase: UInt32 = 0x7FFE_0000
    public static let size: UInt32 = 65536

    public static func forRoot() -> IDMapping {
        IDMapping(uidBase: range(in: System.readSmallFile("/etc/subuid")) ?? defaultBase,
                  gidBase: range(in: System.readSmallFile("/etc/subgid")) ?? defaultBase, count: size)
    }

    /// The start of the first `root:START:COUNT` line with COUNT >= 65536 and START > 0.
    static func range(in text: String?) -> UInt32? {
        for line in (text ?? "").split(separator: "\n") {
            let f = line.split(separator: ":")
            guard f.count == 3, f[0] == "root" || f[0] == "0", let start = UInt32(f[1]), let count = UInt32(f[2]),
                  start > 0, count >= size, start <= UInt32.max - size else { continue }
            return start
        }
        return nil
    }
}
