import ArgumentParser
import Foundation
import PolicyCompiler
import PolicyModel

public struct Policyc: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "policyc",
        abstract: "Compile container security policies to seccomp filters and friends.",
        version: "0.1.0 (syscall tables: Linux \(SyscallTable.tablesKernel))",
        subcommands: [Compile.self, Check.self, Explain.self, Disasm.self, Groups.self])

    public init() {}

    /// Runs the command line; exits 0, 1 (invalid policy, failed test) or 2 (usage).
    public static func entry(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty { FileHandle.standardError.write(Data((message + "\n").utf8)) }
            if code == .success { Foundation.exit(0) }
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
        let diagnostics = DiagnosticBag()
        let loader = PolicyLoader(includeDirs: includeDirs, shipped: ShippedPolicies.all, diagnostics: diagnostics)
        let filter = loader.load(path: path).flatMap { CompiledFilter.compile($0, diagnostics: diagnostics) }
        report(diagnostics.items)
        guard let filter, !diagnostics.hasErrors else { throw ExitCode(1) }
        return filter
    }
}

func report(_ diagnostics: [Diagnostic]) {
    guard !diagnostics.isEmpty else { return }
    FileHandle.standardError.write(Data(diagnostics.map { $0.description + "\n" }.joined().utf8))
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
    static let configuration = CommandConfiguration(abstract: "Validate a policy and run its tests without writing anything.")

    @OptionGroup var options: PolicyOptions
    @Argument(help: "Policy file (YAML) or Docker/OCI seccomp profile (JSON).") var file: String

    func run() throws {
        let filter = try options.compile(file)
        try runTests(filter)
        printOut("\(filter.policy.name): ok, \(filter.policy.tests.count) tests passed\n")
    }
}

struct Groups: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the syscall groups (@name), or the syscalls of one.")

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
