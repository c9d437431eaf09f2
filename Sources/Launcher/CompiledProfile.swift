// The launch itself (LaunchCore) knows nothing of the compiler; here a compiled policy becomes
// the profile it runs. Users of Launcher see LaunchCore as part of it.
@_exported import LaunchCore
import PolicyCompiler
import PolicyModel

extension RunProfile {
    static let seccompFlagBits: [String: UInt32] = ["SECCOMP_FILTER_FLAG_TSYNC": 1, "SECCOMP_FILTER_FLAG_LOG": 2,
                                                    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 32]

    public init(_ filter: CompiledFilter) {
        let policy = filter.policy
        self.init(
            name: policy.name,
            namespaces: OCIFragmentEmitter.defaultNamespaces(policy),
            container: policy.container,
            noNewPrivileges: policy.noNewPrivileges ?? true,
            filesystem: policy.filesystem.map { PathRules(read: $0.read.map(\.value), write: $0.write.map(\.value), exec: $0.exec.map(\.value), deny: $0.deny.map(\.value)) },
            tcpBind: policy.network?.tcpBind.map(\.value) ?? [],
            tcpConnect: policy.network?.tcpConnect.map(\.value) ?? [],
            landlockMinimumAbi: policy.landlock?.minimumAbi,
            landlockRequired: policy.landlock?.required,
            apparmorRequested: policy.apparmor != nil,
            apparmorProfile: OCIFragmentEmitter(filter).apparmorProfile,
            selinuxRequested: policy.selinux != nil,
            selinuxContext: SELinuxLabel(policy: policy).context,
            seccompFilter: filter.program.bytes,
            seccompFlags: filter.ir.flags.reduce(0) { $0 | (Self.seccompFlagBits[$1] ?? 0) },
            execveDenial: Self.execveDenial(filter.program),
            initFilter: InitFilter.program().bytes,
            capabilities: filter.capabilities)
    }

    /// Replaces the filter (`--audit` loads an audit program instead of the policy's), with
    /// the execve check that goes with it.
    public mutating func setSeccompFilter(_ program: BPFProgram) {
        seccompFilter = program.bytes
        execveDenial = Self.execveDenial(program)
    }

    static func execveDenial(_ program: BPFProgram) -> String? { CompiledFilter.execveDenial(program).map { "\($0)" } }
}

extension LaunchPlanner {
    public init(filter: CompiledFilter, options: RunOptions, host: HostFacts) {
        self.init(profile: RunProfile(filter), options: options, host: host)
    }
}
