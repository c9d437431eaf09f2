import Foundation
import Testing

/// `policyc report`: data first (report.json against Docs/report.schema.json), rendered as
/// Markdown and a self-contained HTML page that a real browser draws.
@Suite(.serialized) struct ReportTests {
    func report(_ policy: String, _ extra: [String] = []) throws -> (dir: String, status: Int32, err: String) {
        let dir = try temporaryDirectory()
        let (status, _, err) = try runPolicyc(["report", policy, "-o", dir + "/out"] + extra)
        return (dir, status, err)
    }

    @Test(arguments: ["default", "webserver"])
    func reportIsValidDataAndItsRenderings(_ name: String) throws {
        let (dir, status, err) = try report(Paths.policies + "/\(name).yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(status == 0, "\(err)")
        let (valid, errors) = try runTool(Paths.root + "/Tools/validate-schema.py", ["json", Paths.root + "/Docs/report.schema.json", dir + "/out/report.json"])
        #expect(valid == 0, "\(errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/out/report.json"))) as? [String: Any])
        let groups = try #require(json["seccompGroups"] as? [[String: Any]])
        #expect(groups.contains { $0["group"] as? String == "@mount" })
        let md = try String(contentsOfFile: dir + "/out/report.md", encoding: .utf8)
        #expect(md.contains("# Security review: policy `\(name)`") && md.contains("| `@mount` |"), "\(md.prefix(400))")
        let html = try String(contentsOfFile: dir + "/out/report.html", encoding: .utf8)
        #expect(!html.contains("<script") && !html.contains("http://") && !html.contains("https://") && html.contains("<svg id=\"groups\""))
    }

    /// Headless Chromium (Debian's) draws the page to a PNG with no console error, and the key
    /// figures are in the page it built.
    @Test func chromiumRendersTheReport() throws {
        let chromium = "/usr/bin/chromium"
        try #require(FileManager.default.isExecutableFile(atPath: chromium), "make setup installs chromium")
        let (dir, status, err) = try report(Paths.policies + "/default.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(status == 0, "\(err)")
        let page = "file://" + dir + "/out/report.html"
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + dir + "/profile"]
        let (shot, shotLog) = try runTool(chromium, flags + ["--screenshot=" + dir + "/report.png", "--window-size=1200,2400", page])
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/report.png"))
        #expect(shot == 0 && png.count > 20_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "\(shotLog)")
        let (dumped, dom) = try runTool(chromium, flags + ["--enable-logging=stderr", "--v=0", "--dump-dom", page])
        #expect(dumped == 0 && !dom.contains("CONSOLE") && !dom.contains("Uncaught"), "\(dom.suffix(600))")
        #expect(dom.contains("0 lint findings") && dom.contains("changes against docker") && dom.contains("errno(EPERM)"), "\(dom.prefix(600))")
    }

    /// Audit records become the evidence section.
    @Test func auditEvidenceIsIncluded() throws {
        let (dir, policy) = try policyFile(AuditTests.policy, named: "audited.yaml")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try runPolicyc(["run", "--audit", "--audit-report", dir + "/r.jsonl", "--policy", policy, "--", "/bin/mkdir", "/tmp/x"])
        let (out, status, err) = try report(policy, ["--audit", dir + "/r.jsonl", "--baseline", "default"])
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(status == 0, "\(err)")
        let md = try String(contentsOfFile: out + "/out/report.md", encoding: .utf8)
        #expect(md.contains("## Audit evidence") && md.contains("| `mkdir` | x86_64 | 1 | errno(EPERM) |"), "\(md)")
    }
}
