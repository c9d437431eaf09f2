import ArgumentParser
import Foundation
import Launcher
import PolicyCompiler
import PolicyModel

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a command in a container under a policy; exits with the command's status.")

    @OptionGroup var options: PolicyOptions
    @Option(help: "Policy file (default: the shipped default policy).") var policy: String?
    @Option(help: "Root filesystem: a directory, or 'host' for a read-only view of the host's.") var rootfs: String?
    @Flag(help: "Run without an AppArmor or SELinux label the policy asks for when the kernel lacks that LSM.") var lsmOptional = false
    @Flag(name: .customLong("init"), help: "Run a minimal init as pid 1 that reaps zombies and forwards signals.") var initProcess = false
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

    func validate() throws {
        if command.isEmpty { throw ValidationError("give the command to run after --, e.g. policyc run -- /bin/sh -c id") }
    }

    func run() throws {
        let filter: CompiledFilter
        if let policy {
            filter = try options.compile(policy)
        } else {
            let bag = DiagnosticBag()
            let loader = PolicyLoader(includeDirs: options.includeDirs, shipped: ShippedPolicies.all, diagnostics: bag)
            guard let compiled = loader.load(text: ShippedPolicies.all["default"]!, label: "Policies/default.yaml")
                .flatMap({ CompiledFilter.compile($0, diagnostics: bag) }) else {
                report(bag.items)
                throw ExitCode(1)
            }
            filter = compiled
        }
        let runner = ContainerRunner(filter: filter, options: RunOptions(rootfs: rootfs, command: command, lsmOptional: lsmOptional, initProcess: initProcess))
        do {
            throw ExitCode(try runner.run())
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("policyc: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
