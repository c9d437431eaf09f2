import SystemLayer

/// policyc is two executables side by side: `policyc`, small (no Foundation), which starts a
/// container from a cached profile by itself, and `policyc-full` beside it, which does
/// everything else (it compiles, so it is most of the size). `policyc` hands every other
/// command line to `policyc-full` unchanged.
public enum Installation {
    public static let smallName = "policyc"
    public static let fullName = "policyc-full"

    /// The directory of the running executable.
    static var directory: String? {
        guard let exe = System.symlinkTarget("/proc/self/exe"), let slash = exe.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        return String(exe[..<slash])
    }

    /// Both executables' paths, beside the running one (which may be either, or a test).
    public static var executables: [String] {
        guard let directory else { return [] }
        return [directory + "/" + smallName, directory + "/" + fullName]
    }

    /// Replaces this process with policyc-full, given `arguments` (argv, its first the name
    /// called); returns only when that fails, with the reason.
    public static func execFull(_ arguments: [String]) -> String {
        guard let directory else { return "cannot find the policyc executable (/proc/self/exe)" }
        let full = directory + "/" + fullName
        let error = System.exec(full, arguments)
        return "cannot run \(full): \(error)"
    }
}
