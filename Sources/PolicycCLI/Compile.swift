import ArgumentParser
import Foundation
import LibseccompBackend
import PolicyCompiler
import PolicyModel
import PolicySemantics
import SystemLayer

struct Compile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile a policy, after running its tests: NAME.bpf, NAME.seccomp.json, NAME.oci.json, NAME.apparmor, NAME.cil, NAME.k8s.yaml.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case bpf
        case seccompJSON = "seccomp-json"
        case oci
        case apparmor
        case selinux
        case k8s

        var suffix: String {
            switch self {
            case .bpf: return "bpf"
            case .seccompJSON: return "seccomp.json"
            case .oci: return "oci.json"
            case .apparmor: return "apparmor"
            case .selinux: return "cil"
            case .k8s: return "k8s.yaml"
            }
        }

        var carriesSeccompJSON: Bool { self == .seccompJSON || self == .oci || self == .k8s }
    }

    enum Backend: String, ExpressibleByArgument, CaseIterable {
        case policyc
        case libseccomp
    }

    @OptionGroup var options: PolicyOptions
    @Argument(help: "Policy file (YAML) or Docker/OCI seccomp profile (JSON).") var file: String
    @Option(name: .shortAndLong, help: "Output directory, or the output file with --format.") var output: String?
    @Option(help: "Write only this output.") var format: Format?
    @Option(help: "Code generator for NAME.bpf: policyc's own, or libseccomp's (reference).") var backend: Backend = .policyc
    @Flag(help: "Print program length and instructions executed per syscall, per architecture.") var stats = false
    @Option(help: "Namespace of the Pod in NAME.k8s.yaml (its SeccompProfile is cluster-scoped).") var namespace: String?
    @OptionGroup var agent: AgentAuditOptions

    func validate() throws {
        try agent.validate()
        if let namespace, !Self.isDNSLabel(namespace) {
            throw ValidationError("--namespace \(namespace): a Kubernetes namespace is a DNS label (lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit)")
        }
        if format == nil, output == "-" {
            throw ValidationError("-o - writes one output to standard output; give --format")
        }
        if format == nil, let output, output.hasSuffix(".bpf") || output.hasSuffix(".json") {
            throw ValidationError("-o \(output) looks like a file; give --format, or a directory for all outputs")
        }
    }

    func run() throws {
        let policyFilter = try options.compile(file)
        try runTests(policyFilter)
        let filter = agent.applied(to: policyFilter)
        let program = try bpf(filter)
        // Only what is asked for is rendered; one output that cannot be written stops none
        // of the others, and the command fails at the end.
        var failed = false
        let runc = runcReading(filter, formats: format.map { [$0] } ?? Format.allCases)
        if let format {
            if let bytes = render(format, filter, program: program, runc: runc) {
                try writeOutput(bytes, to: output ?? "\(filter.policy.name).\(format.suffix)")
            } else { failed = true }
        } else {
            let dir = output ?? "."
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
                System.writeStderr("policyc: cannot make the output directory \(dir)\n")
                throw ExitCode(1)
            }
            for format in Format.allCases {
                if let bytes = render(format, filter, program: program, runc: runc) {
                    try writeOutput(bytes, to: "\(dir)/\(filter.policy.name).\(format.suffix)")
                } else { failed = true }
            }
        }
        if stats { printOut(Self.statsTable(program, arches: filter.ir.arches.map(\.arch))) }
        if failed { throw ExitCode(1) }
    }

    private func bpf(_ filter: CompiledFilter) throws -> BPFProgram {
        switch backend {
        case .policyc: return filter.program
        case .libseccomp:
            do { return try LibseccompBackend.compile(filter.ir) } catch {
                report([Diagnostic(.error, SourceLocation(file: filter.policy.file, line: 1, column: 1), "libseccomp backend: \(error)")])
                throw ExitCode(1)
            }
        }
    }

    /// The filter whose seccomp JSON runc builds into NAME.bpf's verdicts, or why there is
    /// none, when an asked-for output carries it; checked once for all of them.
    private func runcReading(_ filter: CompiledFilter, formats: [Format]) -> Result<CompiledFilter, SeccompJSONEmitter.EmitError> {
        guard formats.contains(where: \.carriesSeccompJSON) else { return .success(filter) }
        do { return .success(try RuncReading.readable(filter)) } catch { return .failure(error) }
    }

    /// One output's bytes, or nil with the reason reported at the rule it cannot carry.
    private func render(_ format: Format, _ compiled: CompiledFilter, program: BPFProgram,
                        runc: Result<CompiledFilter, SeccompJSONEmitter.EmitError>) -> [UInt8]? {
        let filter = format.carriesSeccompJSON ? ((try? runc.get()) ?? compiled) : compiled
        do throws(SeccompJSONEmitter.EmitError) {
            if format.carriesSeccompJSON, case .failure(let error) = runc { throw error }
            switch format {
            case .bpf: return program.bytes
            case .seccompJSON: return Array((try SeccompJSONEmitter(filter).object().render() + "\n").utf8)
            case .oci: return Array((try OCIFragmentEmitter(filter).object().render() + "\n").utf8)
            case .apparmor: return Array(AppArmorEmitter(filter).render().utf8)
            case .selinux: return Array(SELinuxEmitter(filter).render().utf8)
            case .k8s:
                let kubernetes = KubernetesEmitter(filter, namespace: namespace)
                try RuncReading.check(kubernetes.spec(), means: filter, cause: KubernetesEmitter.int64Cause)
                return Array(try kubernetes.render().utf8)
            }
        } catch {
            let at = error.location ?? SourceLocation(file: filter.policy.file, line: 1, column: 1)
            report([Diagnostic(.error, at, "cannot write \(filter.policy.name).\(format.suffix) (it carries the seccomp JSON): \(error)")])
            return nil
        }
    }


    static func isDNSLabel(_ name: String) -> Bool {
        let chars = Array(name.utf8)
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }
        return (1...63).contains(chars.count) && alnum(chars.first!) && alnum(chars.last!) && chars.allSatisfy { alnum($0) || $0 == 0x2d }
    }

    static func statsTable(_ program: BPFProgram, arches: [Arch]) -> String {
        var text = "arch      length  mean   max  (instructions executed per syscall)\n"
        for arch in arches {
            let s = FilterStats.measure(program, arch: arch)
            text += "\(arch.rawValue.padding(9)) \(String(s.length).padding(7)) \(String(format: "%.2f", s.mean).padding(6)) \(s.max)\n"
        }
        return text
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Show the verdict for one syscall and the rule that decides it.")

    @OptionGroup var options: PolicyOptions
    @Argument(help: "Policy file or profile.") var file: String
    @Option(help: "The call, e.g. \"socket(AF_NETLINK, SOCK_RAW, 0)\".") var call: String
    @Option(help: "Architecture of the caller (default: native).") var arch: Arch?

    func run() throws {
        let filter = try options.compile(file)
        let arch = arch ?? PolicyTestRunner(filter).defaultArch
        let resolved: PolicyTestRunner.Call
        do { resolved = try PolicyTestRunner.resolve(call, arch: arch) } catch { throw ValidationError(error.description) }
        let outcome = filter.run(arch: arch, nr: resolved.number, args: resolved.args)
        let (_, verdict) = filter.ir.verdict(auditArch: arch.auditArch, nr: resolved.number, args: resolved.args)
        printOut("""
            \(call) on \(arch.rawValue) (syscall \(resolved.number)): \(outcome.action)
              decided by: \(PolicyTestRunner.describe(verdict, policy: filter.policy))
            \(regionLines(filter, arch: arch, nr: resolved.number & ~Arch.x32SyscallBit, args: resolved.args))  BPF instructions executed: \(outcome.executed)\(outcome.readArguments ? " (reads arguments)" : "")

            """)
    }

    /// The region of the semantic engine the call falls in, and the syscall's other regions.
    func regionLines(_ filter: CompiledFilter, arch: Arch, nr: UInt32, args: [UInt64]) -> String {
        let p = Semantics.partition([filter.ir], arch: arch, nr: nr)
        guard p.regions.count > 1 else { return "  the same for every argument\n" }
        let mine = p.region(containing: args)
        var out = ""
        for region in p.regions {
            out += "  \(mine?.atoms == region.atoms ? "this call:" : "otherwise:") \(p.describe(region)) → \(region.outcomes[0].action)\n"
        }
        return out
    }
}

struct Disasm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disasm",
        abstract: "Print a filter as readable BPF.")

    @OptionGroup var options: PolicyOptions
    @Argument(help: "A raw filter (.bpf) or a policy to compile.") var file: String

    func run() throws {
        let program: BPFProgram
        if file.hasSuffix(".bpf") {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            guard let p = BPFProgram(bytes: Array(data)) else {
                report([Diagnostic(.error, SourceLocation(file: file, line: 1, column: 1), "not a BPF program: \(data.count) bytes is not a whole number of 8-byte instructions")])
                throw ExitCode(1)
            }
            program = p
        } else {
            program = try options.compile(file).program
        }
        printOut(Disassembler(program).render())
    }
}

/// `--audit --listener SOCKET`: the outputs send what the policy would deny to a seccomp agent
/// (`policyc agent`) instead of denying it.
struct AgentAuditOptions: ParsableArguments {
    @Flag(help: "With --listener: what the policy denies becomes SCMP_ACT_NOTIFY to the agent at --listener; the rest is unchanged.") var audit = false
    @Option(help: ArgumentHelp("The seccomp agent's socket (OCI linux.seccomp.listenerPath), for --audit.", valueName: "socket")) var listener: String?
    @Option(help: "listenerMetadata passed to the agent with each container.") var listenerMetadata: String?

    func validate() throws {
        if audit && listener == nil { throw ValidationError("--audit needs --listener SOCKET, the agent's socket (policyc agent --listen SOCKET)") }
        if listener != nil && !audit { throw ValidationError("--listener is for --audit") }
        if let listener, !listener.hasPrefix("/") { throw ValidationError("--listener takes an absolute path: the runtime connects to it from its own directory") }
    }

    func applied(to filter: CompiledFilter) -> CompiledFilter {
        guard audit, let listener else { return filter }
        return filter.agentAudit(listener: listener, metadata: listenerMetadata)
    }
}
