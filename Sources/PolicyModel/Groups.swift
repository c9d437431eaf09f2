/// Named syscall sets (`@name`), in the spirit of systemd's `SystemCallFilter=` groups.
/// A group may name other groups. Names an architecture lacks are skipped there.
public enum SyscallGroups {
    public struct Group: Sendable {
        public let name: String
        public let summary: String
        public let members: [String]
    }

    public static let all: [Group] = [
        Group(name: "@aio", summary: "Asynchronous I/O (io_* and io_uring)", members: words("""
            io_cancel io_destroy io_getevents io_pgetevents io_pgetevents_time64 io_setup io_submit
            io_uring_enter io_uring_register io_uring_setup
            """)),
        Group(name: "@basic-io", summary: "Reading and writing open file descriptors", members: words("""
            _llseek close close_range dup dup2 dup3 lseek pread64 preadv preadv2 pwrite64 pwritev
            pwritev2 read readv write writev
            """)),
        Group(name: "@chown", summary: "Changing file ownership", members: words("""
            chown chown32 fchown fchown32 fchownat lchown lchown32
            """)),
        Group(name: "@clock", summary: "Setting the system clock", members: words("""
            adjtimex clock_adjtime clock_adjtime64 clock_settime clock_settime64 settimeofday stime
            """)),
        Group(name: "@cpu-emulation", summary: "CPU emulation (vm86, LDT)", members: words("""
            modify_ldt vm86 vm86old
            """)),
        Group(name: "@debug", summary: "Debugging, tracing and performance monitoring", members: words("""
            lookup_dcookie perf_event_open pidfd_getfd ptrace process_vm_readv process_vm_writev kcmp
            """)),
        Group(name: "@file-system", summary: "File system access: paths, metadata, directories", members: words("""
            access chdir chmod close creat faccessat faccessat2 fallocate fchdir fchmod fchmodat
            fchmodat2 fcntl fcntl64 fgetxattr flistxattr fremovexattr fsetxattr fstat fstat64
            fstatat64 fstatfs fstatfs64 ftruncate ftruncate64 futimesat getcwd getdents getdents64
            getxattr getxattrat inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
            lgetxattr link linkat listxattr listxattrat llistxattr lremovexattr lsetxattr lstat
            lstat64 mkdir mkdirat mknod mknodat newfstatat oldfstat oldlstat oldstat open openat
            openat2 readlink readlinkat removexattr removexattrat rename renameat renameat2 rmdir
            setxattr setxattrat stat stat64 statfs statfs64 statx symlink symlinkat truncate
            truncate64 unlink unlinkat utime utimensat utimensat_time64 utimes file_getattr
            file_setattr
            """)),
        Group(name: "@io-event", summary: "Waiting for events on file descriptors", members: words("""
            _newselect epoll_create epoll_create1 epoll_ctl epoll_pwait epoll_pwait2 epoll_wait
            eventfd eventfd2 poll ppoll ppoll_time64 pselect6 pselect6_time64 select
            """)),
        Group(name: "@ipc", summary: "Pipes, SysV IPC, POSIX message queues, cross-process memory", members: words("""
            ipc memfd_create mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64
            mq_timedsend mq_timedsend_time64 mq_unlink msgctl msgget msgrcv msgsnd pipe pipe2
            process_madvise process_vm_readv process_vm_writev semctl semget semop semtimedop
            semtimedop_time64 shmat shmctl shmdt shmget
            """)),
        Group(name: "@keyring", summary: "Kernel keyring", members: words("add_key keyctl request_key")),
        Group(name: "@memlock", summary: "Locking memory", members: words("mlock mlock2 mlockall munlock munlockall")),
        Group(name: "@module", summary: "Loading and unloading kernel modules", members: words("""
            delete_module finit_module init_module create_module
            """)),
        Group(name: "@mount", summary: "Mounting and changing the root", members: words("""
            chroot fsconfig fsmount fsopen fspick mount mount_setattr move_mount open_tree
            open_tree_attr pivot_root umount umount2 listmount statmount
            """)),
        Group(name: "@network-io", summary: "Sockets", members: words("""
            accept accept4 bind connect getpeername getsockname getsockopt listen recv recvfrom
            recvmmsg recvmmsg_time64 recvmsg send sendmmsg sendmsg sendto setsockopt shutdown socket
            socketcall socketpair
            """)),
        Group(name: "@obsolete", summary: "Unused or removed syscalls", members: words("""
            _sysctl afs_syscall bdflush create_module get_kernel_syms getpmsg idle putpmsg
            query_module security sgetmask ssetmask stime sysfs tuxcall uselib ustat vserver
            """)),
        Group(name: "@pkey", summary: "Memory protection keys", members: words("pkey_alloc pkey_free pkey_mprotect")),
        Group(name: "@privileged", summary: "Syscalls that need privileges", members: words("""
            @chown @clock @module @raw-io @reboot @swap _sysctl acct bpf capset chroot fanotify_init
            fanotify_mark nfsservctl open_by_handle_at pivot_root quotactl quotactl_fd setdomainname
            setfsuid setfsuid32 setgroups setgroups32 sethostname setresuid setresuid32 setreuid
            setreuid32 setuid setuid32 vhangup
            """)),
        Group(name: "@process", summary: "Creating, running and signalling processes", members: words("""
            capget clone clone3 execve execveat fork getrusage kill pidfd_open pidfd_send_signal prctl
            rt_sigqueueinfo rt_tgsigqueueinfo setns tgkill times tkill unshare vfork wait4 waitid
            waitpid
            """)),
        Group(name: "@raw-io", summary: "Raw I/O port access", members: words("ioperm iopl")),
        Group(name: "@reboot", summary: "Rebooting and loading new kernels", members: words("kexec_file_load kexec_load reboot")),
        Group(name: "@resources", summary: "Changing resource limits, scheduling and NUMA policy", members: words("""
            ioprio_set mbind migrate_pages move_pages nice sched_setaffinity sched_setattr
            sched_setparam sched_setscheduler set_mempolicy set_mempolicy_home_node setpriority
            setrlimit
            """)),
        Group(name: "@sandbox", summary: "Sandboxing (seccomp, Landlock)", members: words("""
            landlock_add_rule landlock_create_ruleset landlock_restrict_self seccomp
            """)),
        Group(name: "@setuid", summary: "Changing user and group ids", members: words("""
            setgid setgid32 setgroups setgroups32 setregid setregid32 setresgid setresgid32
            setresuid setresuid32 setreuid setreuid32 setuid setuid32
            """)),
        Group(name: "@signal", summary: "Signal handling", members: words("""
            rt_sigaction rt_sigpending rt_sigprocmask rt_sigsuspend rt_sigtimedwait
            rt_sigtimedwait_time64 sigaction sigaltstack signal signalfd signalfd4 sigpending
            sigprocmask sigsuspend
            """)),
        Group(name: "@swap", summary: "Enabling and disabling swap", members: words("swapoff swapon")),
        Group(name: "@sync", summary: "Syncing files and memory to disk", members: words("""
            fdatasync fsync msync sync sync_file_range arm_sync_file_range syncfs
            """)),
        Group(name: "@timer", summary: "Timers and alarms", members: words("""
            alarm getitimer setitimer timer_create timer_delete timer_getoverrun timer_gettime
            timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime
            timerfd_gettime64 timerfd_settime timerfd_settime64 times
            """)),
    ]

    private static let byName: [String: Group] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    public static func group(named name: String) -> Group? { byName[name] }
    public static var names: [String] { all.map(\.name) }

    /// The syscall names of a group, nested groups expanded, sorted.
    public static func expand(_ name: String) -> [String]? {
        guard byName[name] != nil else { return nil }
        var seen = Set<String>()
        var result = Set<String>()
        func visit(_ group: String) {
            guard seen.insert(group).inserted, let g = byName[group] else { return }
            for member in g.members {
                if member.hasPrefix("@") { visit(member) } else { result.insert(member) }
            }
        }
        visit(name)
        return result.sorted()
    }

    private static func words(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }
}
