import ArgumentParser
import Foundation
import Launcher
import PolicyCompiler
import PolicyModel
import SystemLayer

/// `policyc agent`: a seccomp agent (OCI runtime spec, `linux.seccomp.listenerPath`) that
/// audits containers runc, crun or Kubernetes start with `compile --audit` profiles: each
/// notification is answered CONTINUE and recorded as `run --audit-report` records it.
struct AgentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Serve as the seccomp agent of containers whose profile came from compile/bundle --audit --listener: record every call the policy would deny, one JSON Lines file per container.")

    @OptionGroup var options: PolicyOptions
    @Option(help: "The socket to listen on (the profiles' listenerPath).") var listen: String
    @Option(help: "The policy the verdicts and rules come from (default: the shipped default policy).") var policy: String?
    @Option(help: "Directory for the records, CONTAINER-ID.jsonl each.") var auditReport: String = "."

    func validate() throws {
        if !listen.hasPrefix("/") { throw ValidationError("--listen takes an absolute path") }
    }

    func run() throws {
        let filter = try options.compile(policy)
        guard System.isDirectory(auditReport) || (try? System.makeDirectory(auditReport)) != nil else {
            System.writeStderr("policyc agent: cannot write records in \(auditReport)\n")
            throw ExitCode(1)
        }
        let socket: AgentSocket
        do { socket = try AgentSocket(listeningAt: listen) } catch {
            System.writeStderr("policyc agent: \(error)\n")
            throw ExitCode(1)
        }
        System.writeStderr("policyc agent: listening on \(listen), records in \(auditReport)\n")
        let counter = Counter()
        while let connection = socket.accept() {
            let number = counter.next()
            let dir = auditReport
            Thread.detachNewThread { Self.serve(connection, number: number, filter: filter, dir: dir) }
        }
    }

    /// Process names of runtimes' own code in the container, before it execs the workload.
    static let runtimeNames = ["runc:[", "crun"]

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func next() -> Int { lock.withLock { n += 1; return n } }
    }

    /// One runtime's connection: its state, then its container's notifications until the
    /// container is gone. A peer that sends no state or no descriptor is closed and forgotten.
    static func serve(_ connection: Int32, number: Int, filter: CompiledFilter, dir: String) {
        defer { System.close(connection) }
        guard let (bytes, fd) = AgentSocket.receive(connection) else {
            System.writeStderr("policyc agent: connection \(number): no state within 5 s or more than 1 MiB; closed\n")
            return
        }
        guard let listener = fd else {
            System.writeStderr("policyc agent: connection \(number): no seccomp descriptor with the state; closed\n")
            return
        }
        defer { System.close(listener) }
        let state = ContainerState(bytes) ?? ContainerState(id: "connection-\(number)")
        let path = dir + "/" + state.fileName + ".jsonl"
        let file: RecordFile
        do { file = try RecordFile(path: path) } catch {
            System.writeStderr("policyc agent: \(state.id): \(error)\n")
            return
        }
        try? file.append(Array((state.record.compact() + "\n").utf8))
        let sink = AuditSink(log: AuditLog(filter: filter), file: file)
        // runc's own calls between loading the filter and its execve come from `runc init`,
        // which names itself runc:[2:INIT] (crun: its own name): they are not the workload's.
        AgentSocket.serve(listener) { call in
            if let name = System.processName(of: call.pid), Self.runtimeNames.contains(where: name.hasPrefix) { return {} }
            return sink.onCall(call)
        }
        sink.finish(exitStatus: 0)
        let calls = sink.log.entries.reduce(0) { $0 + $1.calls }
        System.writeStderr("policyc agent: \(state.id): done, \(calls) call\(calls == 1 ? "" : "s") recorded in \(path)\n")
    }
}

/// The OCI container state a runtime sends with the notification descriptor.
struct ContainerState {
    var id: String
    var pid: Int?
    var bundle: String?
    var annotations: [String: String] = [:]
    var metadata: String?

    init(id: String) { self.id = id }

    init?(_ bytes: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] else { return nil }
        let state = object["state"] as? [String: Any] ?? [:]
        guard let id = state["id"] as? String, !id.isEmpty else { return nil }
        self.id = id
        pid = (state["pid"] as? Int) ?? (object["pid"] as? Int)
        bundle = state["bundle"] as? String
        annotations = state["annotations"] as? [String: String] ?? [:]
        metadata = object["metadata"] as? String
    }

    /// The id as a file name: nothing but letters, digits, `.`, `_` and `-`.
    var fileName: String {
        let safe = String(id.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" }.prefix(128))
        return safe.hasPrefix(".") ? "_" + safe : safe
    }

    var record: JSONValue {
        var fields: [(String, JSONValue)] = [("type", .string("container")), ("id", .string(id))]
        if let pid { fields.append(("pid", .number(UInt64(max(0, pid))))) }
        if let bundle { fields.append(("bundle", .string(bundle))) }
        fields.append(("annotations", .object(annotations.keys.sorted().map { ($0, JSONValue.string(annotations[$0]!)) })))
        if let metadata { fields.append(("metadata", .string(metadata))) }
        return .object(fields)
    }
}
