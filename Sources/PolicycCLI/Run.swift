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
    @Option(help: "An OCI bundle: its config.json gives the rootfs, and the command, environment, cwd and hostname unless given here.") var bundle: String?
    @Flag(help: "Run without an AppArmor or SELinux label the policy asks for when the kernel lacks that LSM.") var lsmOptional = false
    @Flag(name: .shortAndLong, help: "Give the command a pseudo-terminal relayed to this one.") var tty = false
    @Flag(name: .customLong("init"), help: "Run a minimal init as pid 1 that reaps zombies and forwards signals.") var initProcess = false
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

    func validate() throws {
        if command.isEmpty && bundle == nil { throw ValidationError("give the command to run after --, e.g. policyc run -- /bin/sh -c id") }
        if bundle != nil && rootfs != nil { throw ValidationError("--bundle brings its own rootfs; drop --rootfs") }
    }

    /// What an OCI bundle's config.json says about the process and its root.
    struct BundleProcess {
        var rootfs: String
        var args: [String]
        var env: [(String, String)]?
        var cwd: String?
        var hostname: String?
    }

    func readBundle(_ dir: String) throws -> BundleProcess {
        guard let data = FileManager.default.contents(atPath: dir + "/config.json"),
              let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let root = (config["root"] as? [String: Any])?["path"] as? String else {
            throw ValidationError("\(dir)/config.json is not an OCI runtime config with root.path")
        }
        let process = config["process"] as? [String: Any]
        let env = (process?["env"] as? [String])?.map { entry -> (String, String) in
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            return (parts[0], parts.count > 1 ? parts[1] : "")
        }
        return BundleProcess(rootfs: root.hasPrefix("/") ? root : dir + "/" + root, args: process?["args"] as? [String] ?? [],
                             env: env, cwd: process?["cwd"] as? String, hostname: config["hostname"] as? String)
    }

    func run() throws {
        let compiled: CompiledFilter
        if let policy {
            compiled = try options.compile(policy)
        } else {
            let bag = DiagnosticBag()
            let loader = PolicyLoader(includeDirs: options.includeDirs, shipped: ShippedPolicies.all, diagnostics: bag)
            guard let loaded = loader.load(text: ShippedPolicies.all["default"]!, label: "Policies/default.yaml")
                .flatMap({ CompiledFilter.compile($0, diagnostics: bag) }) else {
                report(bag.items)
                throw ExitCode(1)
            }
            compiled = loaded
        }
        var filter = compiled
        var rootfs = self.rootfs, command = self.command
        if let bundle {
            let config = try readBundle(bundle)
            var policy = filter.policy
            rootfs = config.rootfs
            if command.isEmpty { command = config.args }
            policy.container.env = policy.container.env ?? config.env
            policy.container.cwd = policy.container.cwd ?? config.cwd
            policy.container.hostname = policy.container.hostname ?? config.hostname
            filter = CompiledFilter(policy: policy, ir: filter.ir, program: filter.program, capabilities: filter.capabilities)
            guard !command.isEmpty else { throw ValidationError("the bundle's process.args is empty; give the command after --") }
        }
        let runner = ContainerRunner(filter: filter, options: RunOptions(rootfs: rootfs, command: command, lsmOptional: lsmOptional, initProcess: initProcess))
        do {
            throw ExitCode(try runner.run(tty: tty))
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("policyc: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
