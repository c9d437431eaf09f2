// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "policyc",
    products: [
        // policyc starts cached profiles itself and hands everything else to policyc-full,
        // installed beside it.
        .executable(name: "policyc", targets: ["policyc"]),
        .executable(name: "policyc-full", targets: ["policyc-full"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // The container model the launch needs (no Foundation): container spec, capability
        // sets, device rules, default masked paths.
        .target(name: "PolicyCore"),
        // Pure Swift: YAML/JSON front end with source locations, syscall tables, constants, IR.
        .target(name: "PolicyModel", dependencies: ["PolicyCore", "Yams"]),
        // The exact meaning of filters: per ABI and syscall, the argument space in regions with
        // verdict and deciding rule (explain, diff, lint, suggest read it).
        .target(name: "PolicySemantics", dependencies: ["PolicyModel"]),
        // seccomp code generation, BPF interpreter, disassembler, emitters.
        .target(name: "PolicyCompiler", dependencies: ["PolicyModel"]),
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        // libseccomp as a second backend: differential tests and `--backend libseccomp`.
        .target(name: "LibseccompBackend", dependencies: ["PolicyModel", "PolicyCompiler", "CSeccomp", "SystemLayer"]),
        // What Swift cannot do safely after fork: the child side of filter probes.
        .target(name: "CShim"),
        // The only place that touches Glibc and raw syscalls.
        .target(name: "SystemLayer", dependencies: ["CShim"]),
        // policyc run without the compiler: the profile cache, the launch plan, cgroups,
        // supervision. No Foundation: the small `policyc` executable is this and SystemLayer.
        .target(name: "LaunchCore", dependencies: ["PolicyCore", "SystemLayer"]),
        // A compiled policy as a run profile, and the audit.
        .target(name: "Launcher", dependencies: ["LaunchCore", "PolicyModel", "PolicyCompiler", "SystemLayer"]),
        .target(
            name: "PolicycCLI",
            dependencies: [
                "PolicyModel", "PolicyCompiler", "PolicySemantics", "LibseccompBackend", "SystemLayer", "Launcher",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "policyc",
            dependencies: ["LaunchCore", "SystemLayer"]
        ),
        .executableTarget(
            name: "policyc-full",
            dependencies: ["PolicycCLI"]
        ),
        .executableTarget(
            name: "policyc-bench",
            dependencies: ["PolicyModel", "PolicyCompiler", "LibseccompBackend", "SystemLayer"]
        ),
        .testTarget(
            name: "PolicycTests",
            dependencies: ["PolicyCore", "PolicyModel", "PolicyCompiler", "PolicySemantics", "LibseccompBackend", "SystemLayer", "PolicycCLI", "LaunchCore", "Launcher", "Yams"],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
