import ArgumentParser
import Foundation
import Launcher
import LibseccompBackend
import PolicyCompiler
import PolicyModel
import SystemLayer

public struct Policyc: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "policyc",
        abstract: "Compile container security policies to seccomp filters and friends.",
        version: "0.1.0 (syscall tables: Linux \(SyscallTable.tablesKernel))",
        subcommands: [Compile.self, Check.self, Bundle.self, Run.self, SuggestCommand.self, DiffCommand.self, LintCommand.self, ReportCommand.self, AgentCommand.self, Explain.self, Disasm.self, Groups.self])

    public init() {}

    /// Runs the command line; exits 0, 1 (invalid policy, failed test) or 2 (usage).
    public static func entry(_ arguments: [String]? = nil) -> Never {
        let arguments = arguments ?? Array(CommandLine.arguments.dropFirst())
        do {
            if arguments.first == "run", let run = RunRequest.parseQuickly(arguments.dropFirst()) {
                try run.run()
                Foundation.exit(0)
            }
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            // Help, --version and completion scripts are what was asked for: standard output.
            if code == .success {
                if !message.isEmpty { FileHandle.standardOutput.write(Data((message + "\n").utf8)) }
                Foundation.exit(0)
            }
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            Foundation.exit(code == .validationFailure || code.rawValue == 64 ? 2 : code.rawValue)
        }
    }
}

/// `-I DIR` and the policy file, shared by every command that reads a policy.
struct PolicyOptions: ParsableArguments {
    @Option(name: .customShort("I"), help: ArgumentHelp("Directory searched for `extends` names (repeatable).", valueName: "DIR"))
    var includeDirs: [String] = []

    /// Loads and compiles, printing every diagnostic; exits 1 on errors.
    func compile(_ path: String) throws -> CompiledFilter {
        try compileRecordingInputs(path).filter
    }

    /// `compile`, also giving the files read (for the profile cache) and the warnings printed;
    /// nil `path` is the shipped default policy.
    func compileRecordingInputs(_ path: String?) throws -> (filter: CompiledFilter, inputs: [PolicyInput], warnings: String) {
        let diagnostics = DiagnosticBag()
        let loader = PolicyLoader(includeDirs: includeDirs, shipped: ShippedPolicies.all, diagnostics: diagnostics)
        let policy = path.map { loader.load(path: $0) } ?? loader.load(text: ShippedPolicies.all["default"]!, label: "Policies/default.yaml")
        let filter = policy.flatMap { CompiledFilter.compile($0, diagnostics: diagnostics) }
        report(diagnostics.items)
        guard let filter, !diagnostics.hasErrors else { throw ExitCode(1) }
        return (filter, loader.inputs, diagnostics.items.map { $0.description + "\n" }.joined())
    }
}

func report(_ diagnostics: [Diagnostic]) {
    guard !diagnostics.isEmpty else { return }
    System.writeStderr(diagnostics.map { $0.description + "\n" }.joined())
}

/// An output file (`-` is standard output); one that cannot be written ends the command with
/// exit 1 and one line saying why.
func writeOutput(_ bytes: [UInt8], to path: String) throws {
    do { try System.writeOutput(path, bytes) } catch {
        System.writeStderr("policyc: cannot write \(path): \(String(cString: strerror(error.errno)))\n")
        throw ExitCode(1)
    }
}

func printOut(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// Runs a policy's tests; prints failures and exits 1 when any fails.
func runTests(_ filter: CompiledFilter) throws {
    let failures = PolicyTestRunner(filter).run()
    report(failures)
    if !failures.isEmpty { throw ExitCode(1) }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a policy and run its tests without writing anything.")

    @OptionGroup var options: PolicyOptions
    @Argument(help: "Policy file (YAML) or Docker/OCI seccomp profile (JSON).") var file: String

    func run() throws {
        let filter = try options.compile(file)
        try runTests(filter)
        printOut("\(filter.policy.name): ok, \(filter.policy.tests.count) tests passed\n")
    }
}

struct Bundle: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bundle",
        abstract: "Write an OCI bundle config (BUNDLE/config.json) that runc runs as is.")

    @OptionGroup var options: PolicyOptions
    @Argument(help: "Policy file.") var file: String
    @Option(help: "The container's root filesystem (absolute, or relative to the bundle).") var rootfs: String
    @Option(name: .shortAndLong, help: "Bundle directory to write config.json into.") var output: String
    @Flag(help: "Leave out LSM labels the policy asks for when this kernel lacks that LSM (the bundle then runs here).") var lsmOptional = false
    @OptionGroup var agent: AgentAuditOptions
    @Argument(parsing: .postTerminator, help: "The command to run (default /bin/sh).") var command: [String] = []

    func validate() throws { try agent.validate() }

    func run() throws {
        let policyFilter = try options.compile(file)
        try runTests(policyFilter)
        let filter = agent.applied(to: policyFilter)
        let runcCalls = BundleConfig.deniedRuncCalls(filter)
        if !runcCalls.isEmpty {
            report([Diagnostic(.warning, BundleConfig.firstRule(of: runcCalls, in: filter) ?? SourceLocation(file: file, line: 1, column: 1),
                               "the bundle's filter allows \(runcCalls.joined(separator: ", ")), which the policy denies: runc makes them after loading it (its exec fifo, closing descriptors); see Docs/outputs.md")])
        }
        let json: String
        do {
            var config = BundleConfig(filter, rootfs: rootfs, args: command, withoutLabels: try unavailableLabels(filter.policy))
            config.seccompFilter = try RuncReading.readable(config.seccompFilter)
            json = try config.object().render() + "\n"
        } catch let exit as ExitCode {
            throw exit
        } catch let error as SeccompJSONEmitter.EmitError {
            report([Diagnostic(.error, error.location ?? SourceLocation(file: file, line: 1, column: 1), "cannot write the bundle: \(error)")])
            throw ExitCode(1)
        } catch {
            report([Diagnostic(.error, SourceLocation(file: file, line: 1, column: 1), "cannot write the bundle: \(error)")])
            throw ExitCode(1)
        }
        do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
            System.writeStderr("policyc: cannot make the bundle directory \(output)\n")
            throw ExitCode(1)
        }
        try writeOutput(Array(json.utf8), to: output + "/config.json")
    }

    /// Labels of LSMs this kernel lacks: left out when the policy only has the default. A
    /// label the policy asks for is written, for the host the bundle is for, with a warning
    /// that runc here refuses it; `--lsm-optional` leaves it out so the bundle runs here.
    private func unavailableLabels(_ policy: Policy) throws -> Set<String> {
        var omitted = Set<String>()
        for lsm in LSM.allCases where !lsm.isEnabled {
            let field = lsm == .apparmor ? "apparmorProfile" : "selinuxLabel"
            let requested = lsm == .apparmor ? policy.apparmor != nil : policy.selinux != nil
            if requested && !lsmOptional {
                report([Diagnostic(.warning, SourceLocation(file: policy.file, line: 1, column: 1),
                                   "the bundle carries the \(lsm.rawValue) label the policy asks for, which this host's kernel has not enabled: runc refuses it here, not on a host with \(lsm.rawValue); --lsm-optional leaves it out")])
                continue
            }
            omitted.insert(field)
        }
        return omitted
    }
}

struct Groups: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups",
        abstract: "List the syscall groups (@name), or the syscalls of one.")

    @Argument(help: "A group, e.g. @network-io.") var name: String?

    func run() throws {
        guard let name else {
            for group in SyscallGroups.all {
                printOut("\(group.name.padding(16)) \(group.summary) (\(SyscallGroups.expand(group.name)!.count) syscalls)\n")
            }
            return
        }
        let key = name.hasPrefix("@") ? name : "@" + name
        guard let members = SyscallGroups.expand(key) else {
            throw ValidationError(Suggest.unknown("group", name, among: SyscallGroups.names))
        }
        printOut(members.joined(separator: "\n") + "\n")
    }
}

extension Arch: ExpressibleByArgument {
    public init?(argument: String) {
        guard let arch = Arch.named(argument) else { return nil }
        self = arch
    }

    public static var allValueStrings: [String] { allCases.map(\.rawValue) }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
