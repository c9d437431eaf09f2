// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "policyc",
    products: [
        .executable(name: "policyc", targets: ["policyc"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // Pure Swift: YAML/JSON front end with source locations, syscall tables, constants, IR.
        .target(name: "PolicyModel", dependencies: ["Yams"]),
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
        // policyc run: plans the launch sequence, manages cgroups, supervises the container.
        .target(name: "Launcher", dependencies: ["PolicyModel", "PolicyCompiler", "SystemLayer"]),
        .target(
            name: "PolicycCLI",
            dependencies: [
                "PolicyModel", "PolicyCompiler", "PolicySemantics", "LibseccompBackend", "SystemLayer", "Launcher",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "policyc",
            dependencies: ["PolicycCLI"]
        ),
        .executableTarget(
            name: "policyc-bench",
            dependencies: ["PolicyModel", "PolicyCompiler", "LibseccompBackend", "SystemLayer"]
        ),
        .testTarget(
            name: "PolicycTests",
            dependencies: ["PolicyModel", "PolicyCompiler", "PolicySemantics", "LibseccompBackend", "SystemLayer", "PolicycCLI", "Launcher", "Yams"],
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
