/// What every container gets unless its policy says otherwise, shared by the launcher and the
/// OCI outputs so that `policyc run` and runc hide the same things.
public enum ContainerDefaults {
    /// Docker's masked paths: a directory gets an empty read-only tmpfs, anything else /dev/null.
    public static let maskedPaths = [
        "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
        "/sys/devices/virtual/powercap",
    ]
    /// Docker's read-only paths.
    public static let readonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
}
