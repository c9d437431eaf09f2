import PolicyCore
import SystemLayer

/// What `policyc run` was asked to do: read here from a plain command line by both
/// executables, or by ArgumentParser in policyc-full (its `Run` command).
public struct RunRequest: Equatable, Sendable {
    public var includeDirs: [String] = []
    public var policy: String?
    public var rootfs: String?
    public var bundle: String?
    public var lsmOptional = false
    public var tty = false
    public var initProcess = false
    public var noCache = false
    public var audit = false
    public var auditReport: String?
    public var preserveFDs: Int32 = 0
    public var name: String?
    public var command: [String] = []

    public init() {}

    /// Why the request cannot run, in ArgumentParser's words for `validate()`; nil when it can.
    public var validationError: String? {
        if preserveFDs < 0 || preserveFDs > 1 << 20 { return "--preserve-fds takes a count from 0 up" }
        if let name, name.isEmpty || name.utf8.count > 64 || !name.utf8.allSatisfy(Self.isNameByte) || name.hasPrefix(".") {
            return "--name takes 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'"
        }
        if command.isEmpty && bundle == nil { return "give the command to run after --, e.g. policyc run -- /bin/sh -c id" }
        if bundle != nil && rootfs != nil { return "--bundle brings its own rootfs; drop --rootfs" }
        if auditReport != nil && !audit { return "--audit-report records an audit: add --audit" }
        return nil
    }

    private static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A) || b == 0x2D || b == 0x5F || b == 0x2E
    }

    /// `policyc run` is on the path of every container start, and ArgumentParser's reflection
    /// costs about a millisecond of it; a plain command line (each option once, values as
    /// separate words, the command after `--`) is read here instead. Anything else (help,
    /// `--name=value`, a repeated or unknown option, no `--`, what validation refuses) gives
    /// nil and goes through ArgumentParser, and a test holds the two to the same result.
    public static func parseQuickly(_ arguments: ArraySlice<String>) -> RunRequest? {
        var request = RunRequest()
        var rest = arguments
        while let word = rest.popFirst() {
            switch word {
            case "--":
                request.command = Array(rest)
                return request.validationError == nil ? request : nil
            case "-I":
                guard let value = rest.popFirst(), !value.hasPrefix("-") else { return nil }
                request.includeDirs.append(value)
            case "--preserve-fds":
                guard let value = rest.popFirst(), let count = Int32(value), request.preserveFDs == 0, count > 0 else { return nil }
                request.preserveFDs = count
            case "--name":
                guard let value = rest.popFirst(), !value.hasPrefix("-"), request.name == nil else { return nil }
                request.name = value
            case "--policy", "--rootfs", "--bundle":
                guard let value = rest.popFirst(), !value.hasPrefix("-"), request.setOnce(word, value) else { return nil }
            case "--lsm-optional", "--tty", "-t", "--init", "--no-cache":
                guard request.setOnce(word, nil) else { return nil }
            default:
                return nil
            }
        }
        return nil
    }

    /// Sets the option `name` (a flag when `value` is nil); false when it was set already.
    private mutating func setOnce(_ name: String, _ value: String?) -> Bool {
        func once<T>(_ field: inout T, _ unset: T, _ new: T) -> Bool where T: Equatable {
            guard field == unset else { return false }
            field = new
            return true
        }
        switch name {
        case "--policy": return once(&policy, nil, value)
        case "--rootfs": return once(&rootfs, nil, value)
        case "--bundle": return once(&bundle, nil, value)
        case "--lsm-optional": return once(&lsmOptional, false, true)
        case "--init": return once(&initProcess, false, true)
        case "--no-cache": return once(&noCache, false, true)
        default: return once(&tty, false, true)
        }
    }

    /// The profile cache and this request's key in it; nil with `--no-cache` or no cache.
    public func cacheSlot() -> (cache: ProfileCache, key: String)? {
        guard !noCache, let cache = ProfileCache.standard(),
              let key = ProfileCache.key(policy: policy ?? "<shipped>/default", includeDirs: includeDirs) else { return nil }
        return (cache, key)
    }

    /// The compiled profile when `slot` has it for unchanged inputs (its warnings printed).
    public func cachedProfile(in slot: (cache: ProfileCache, key: String)?) -> RunProfile? {
        guard let (cache, key) = slot, let entry = cache.lookup(key: key) else { return nil }
        System.writeStderr(entry.warnings)
        return entry.profile
    }

    /// Starts the container and supervises it; its exit status. Errors of the launch are
    /// `ContainerRunner.RunError`, `PlanError` or `SystemError`.
    public func launch(_ profile: RunProfile, rootfs: String?, command: [String],
                       onDenied: ((SeccompNotification) -> () -> Void)? = nil) throws -> Int32 {
        var options = RunOptions(rootfs: rootfs, command: command, lsmOptional: lsmOptional, initProcess: initProcess)
        options.preserveDescriptors = preserveFDs
        options.name = name
        return try ContainerRunner(profile: profile, options: options).run(tty: tty, onDenied: onDenied)
    }

    /// `policyc run ARGS` where the small executable can do it all: a plain command line, no
    /// bundle to read, and the profile in the cache. nil leaves the run to policyc-full.
    public static func runFromCache(_ arguments: ArraySlice<String>) -> Int32? {
        guard let request = parseQuickly(arguments), request.bundle == nil,
              let profile = request.cachedProfile(in: request.cacheSlot()) else { return nil }
        do {
            return try request.launch(profile, rootfs: request.rootfs, command: request.command)
        } catch {
            System.writeStderr("policyc: \(error)\n")
            return 1
        }
    }
}
