import ArgumentParser
import Foundation
import Launcher
import PolicyCompiler
import PolicyModel
import SystemLayer

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command in a container under a policy; exits with the command's status.")

    @OptionGroup var options: PolicyOptions
    @Option(help: "Policy file (default: the shipped default policy).") var policy: String?
    @Option(help: "Root filesystem: a directory, or 'host' for a read-only view of the host's.") var rootfs: String?
    @Option(help: "An OCI bundle: its config.json gives the rootfs, and the command, environment, cwd and hostname unless given here.") var bundle: String?
    @Flag(help: "Run without an AppArmor or SELinux label the policy asks for when the kernel lacks that LSM.") var lsmOptional = false
    @Flag(name: .shortAndLong, help: "Give the command a pseudo-terminal relayed to this one.") var tty = false
    @Flag(name: .customLong("init"), help: "Run a minimal init as pid 1 that reaps zombies and forwards signals.") var initProcess = false
    @Flag(help: "Compile the policy even when the profile cache has it unchanged (see POLICYC_CACHE_DIR).") var noCache = false
    @Flag(help: "Let the command run, but report every syscall the policy would deny, with its arguments, and suggest a policy allowing them.") var audit = false
    @Option(help: ArgumentHelp("With --audit: write each reported call to FILE as JSON Lines as it happens (Docs/audit-record.schema.json), a summary record at the end.", valueName: "file")) var auditReport: String?
    @Option(help: "Pass descriptors 3 to 3+N-1 to the command, as runc does; every other one is closed.") var preserveFds: Int32 = 0
    @Option(help: "The container's name: its cgroup is policyc-NAME, refused while one of that name exists.") var name: String?
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

    /// The same request the quick path makes.
    var request: RunRequest {
        var r = RunRequest()
        (r.includeDirs, r.policy, r.rootfs, r.bundle, r.lsmOptional) = (options.includeDirs, policy, rootfs, bundle, lsmOptional)
        (r.tty, r.initProcess, r.noCache, r.audit, r.auditReport) = (tty, initProcess, noCache, audit, auditReport)
        (r.preserveFDs, r.name, r.command) = (preserveFds, name, command)
        return r
    }

    func validate() throws {
        if let message = request.validationError { throw ValidationError(message) }
    }

    func run() throws { try request.run() }
}

/// The rest of a run that only policyc-full can do: compile a policy the cache lacks, read an
/// OCI bundle's config.json, audit.
extension RunRequest {
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

    var policyOptions: PolicyOptions {
        var options = PolicyOptions()
        options.includeDirs = includeDirs
        return options
    }

    /// `--audit` compiles afresh: the report names the rule behind each verdict.
    func auditLog() throws -> AuditLog {
        AuditLog(filter: try policyOptions.compileRecordingInputs(policy).filter)
    }

    func auditProfile(_ filter: CompiledFilter) throws -> RunProfile {
        var profile = RunProfile(filter)
        do {
            profile.setSeccompFilter(try filter.auditProgram())
        } catch {
            System.writeStderr("policyc: the audit filter: \(error)\n")
            throw ExitCode(1)
        }
        return profile
    }

    /// The text summary and the suggested policy, which extends the audited one by its
    /// absolute path, so that it loads wherever it is saved.
    func auditText(_ audit: AuditLog) -> String {
        let parent = policy.map { $0.hasPrefix("/") ? $0 : (System.currentDirectory() ?? ".") + "/" + $0 } ?? "default"
        guard let suggestion = audit.suggestion(extending: parent) else { return audit.report() }
        return audit.report() + "A policy that allows what ran:\n\n" + suggestion
    }

    /// The compiled profile: from the cache when the policy and everything it extends are
    /// unchanged, else compiled (and cached). Warnings are printed either way.
    func profile() throws -> RunProfile {
        let slot = cacheSlot()
        if let profile = cachedProfile(in: slot) { return profile }
        let (filter, inputs, warnings) = try policyOptions.compileRecordingInputs(policy)
        let profile = RunProfile(filter)
        slot.map { $0.cache.store(key: $0.key, inputs: inputs, entry: .init(profile: profile, warnings: warnings)) }
        return profile
    }

    /// The rootfs and command: from the bundle where one is given, whose env, cwd and hostname
    /// also fill what the policy leaves open.
    func resolveBundle(into profile: inout RunProfile) throws -> (rootfs: String?, command: [String]) {
        guard let bundle else { return (rootfs, command) }
        let config = try readBundle(bundle)
        profile.container.env = profile.container.env ?? config.env
        profile.container.cwd = profile.container.cwd ?? config.cwd
        profile.container.hostname = profile.container.hostname ?? config.hostname
        let command = self.command.isEmpty ? config.args : self.command
        guard !command.isEmpty else { throw ValidationError("the bundle's process.args is empty; give the command after --") }
        return (config.rootfs, command)
    }

    func run() throws {
        let audit = try self.audit ? AuditSink(log: auditLog(), file: auditReport.map { try RecordFile(path: $0) }) : nil
        var profile = try audit.map { try auditProfile($0.log.filter) } ?? profile()
        let (rootfs, command) = try resolveBundle(into: &profile)
        do {
            let status = try launch(profile, rootfs: rootfs, command: command, onDenied: audit.map { sink in { sink.onCall($0) } })
            if let audit {
                audit.finish(exitStatus: status)
                System.writeStderr(auditText(audit.log))
                if let error = audit.writeError {
                    System.writeStderr("policyc: the audit report \(auditReport ?? ""): \(error)\n")
                    throw ExitCode(1)
                }
            }
            throw ExitCode(status)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            System.writeStderr("policyc: \(error)\n")
            throw ExitCode(1)
        }
    }
}
