#!/usr/bin/env python3
"""Generate Sources/PolicyModel/Generated/ConstantTables.swift: the constants `when` expressions use.

Development tool, not part of CI. Values come from the host's C headers (x86_64, glibc + Linux
uapi); the few that differ per architecture are listed in ARCH_OVERRIDES from the kernel's
arch/*/include/uapi headers.
    python3 Tools/gen-constants.py
"""
import os, re, subprocess, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Sources", "PolicyModel", "Generated", "ConstantTables.swift")

HEADERS = """
#define _GNU_SOURCE
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/ptrace.h>
#include <termios.h>
#include <linux/netlink.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <linux/futex.h>
#include <linux/keyctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <sys/random.h>
#include <time.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/kcmp.h>
#include <linux/wait.h>
#include <linux/ioprio.h>
#include <asm/prctl.h>
"""

# Headers that define only errno values: the one place errno names come from, so a flag that
# happens to start with E (ECHO, EPOLLIN) is never an errno.
ERRNO_HEADERS = "#include <errno.h>\n"

PREFIXES = ["AF_", "SOCK_", "CLONE_", "O_", "PROT_", "MAP_", "PR_", "TIOC", "TC", "E",
            "NETLINK_", "MADV_", "FUTEX_", "SIG", "PER_", "ADDR_", "RLIMIT_", "SECCOMP_", "F_",
            "AT_", "PTRACE_", "KEYCTL_", "MSG_", "IPPROTO_", "SOL_", "SO_", "W",
            "IP_", "IPV6_", "TCP_", "MS_", "MOUNT_ATTR_", "S_IF", "EPOLL", "EFD_", "IN_", "TFD_",
            "FIO", "BPF_", "PERF_", "KCMP_", "ARCH_", "P_", "CLOCK_", "GRND_", "MFD_", "RENAME_",
            "SCHED_", "IOPRIO_"]
# Families the headers spell as enum members, not macros: taken from the preprocessed text.
ENUM_PREFIXES = ["BPF_", "PERF_", "KCMP_", "IOPRIO_", "IPPROTO_", "P_", "EPOLL", "EFD_", "MS_"]
SKIP = re.compile(r"^(WCHAR_|WINT_|SIG_|SIGEV_|SIGSTKSZ|SIGRTMIN|SIGRTMAX|E[A-Z]*_H$|EOF|EXIT_|F_OK|F_LOCK|F_TLOCK|F_ULOCK|F_TEST|O_ACCMODE_|TCSA|WCOREFLAG|W_OK|WEXITSTATUS|WIFEXITED|WIFSIGNALED|WIFSTOPPED|WSTOPSIG|WTERMSIG|WCOREDUMP|WIFCONTINUED|W_EXITCODE|W_STOPCODE|TC[A-Z]*_H|SOCK_CLOEXEC_|MAP_HUGE_MASK|PR_SET_PTRACER_ANY|E2BIG_|PTRACE_EVENTMSG_)")

# Values the kernel defines differently on arm/aarch64 (asm/fcntl.h there).
ARM_FCNTL = {"O_TMPFILE": 0o20000000 | 0o40000, "O_DIRECTORY": 0o40000, "O_NOFOLLOW": 0o100000, "O_DIRECT": 0o200000, "O_LARGEFILE": 0o400000}
ARCH_OVERRIDES = {"arm": ARM_FCNTL, "aarch64": ARM_FCNTL}
# glibc hides O_LARGEFILE on x86_64 (0); the kernel and 32-bit callers use the real flag.
# MS_NOUSER is 1 << 31 of the kernel's unsigned long flags, not glibc's negative enum member.
KERNEL_VALUES = {"O_LARGEFILE": 0o100000, "O_TMPFILE": 0o20000000 | 0o200000, "MS_NOUSER": 1 << 31}
X86_64_ONLY = {"MAP_32BIT"}
# arch_prctl codes (asm/prctl.h): x86 only, every x86 ABI.
X86_HEADERS = "#include <asm/prctl.h>\n"


def preprocess(headers, *flags):
    return subprocess.run(["cc", "-E", *flags, "-x", "c", "-"], input=headers, text=True,
                          capture_output=True, check=True).stdout


def macro_names(headers, prefixes):
    names = set()
    for line in preprocess(headers, "-dM").splitlines():
        m = re.match(r"#define ([A-Z][A-Z0-9_]+)\s+(.+)", line)
        if m and any(m.group(1).startswith(p) for p in prefixes) and not SKIP.match(m.group(1)):
            names.add(m.group(1))
    return names


def enum_names(headers, prefixes):
    names = set()
    for body in re.findall(r"\benum\b[^{;]*\{([^}]*)\}", preprocess(headers)):
        for m in re.finditer(r"\b([A-Z][A-Z0-9_]+)\b\s*(?:=[^,]*)?(?:,|$)", body):
            if any(m.group(1).startswith(p) for p in prefixes) and not SKIP.match(m.group(1)):
                names.add(m.group(1))
    return names


def candidate_names():
    return sorted(macro_names(HEADERS, PREFIXES) | enum_names(HEADERS, ENUM_PREFIXES))


def evaluate(names):
    body = "\n".join(f'printf("%s %llu\\n", "{n}", (unsigned long long)({n}));' for n in names)
    src = HEADERS + "\nint main(void) {\n" + body + "\nreturn 0; }\n"
    with tempfile.TemporaryDirectory() as tmp:
        c, exe = os.path.join(tmp, "c.c"), os.path.join(tmp, "c")
        open(c, "w").write(src)
        r = subprocess.run(["cc", "-w", "-o", exe, c], capture_output=True, text=True)
        if r.returncode != 0:
            src_lines = src.splitlines()
            bad = set()
            for number in re.findall(r"c\.c:(\d+):\d+: error", r.stderr):
                m = re.search(r'"([A-Z][A-Z0-9_]+)"', src_lines[int(number) - 1])
                if m:
                    bad.add(m.group(1))
            if not bad:
                raise SystemExit(r.stderr)
            return evaluate([n for n in names if n not in bad])
        out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    return {n: int(v) for n, v in (l.split() for l in out.splitlines())}


def swift_set(name, items):
    body = ",\n".join(f'        "{i}"' for i in items)
    return f"    static let {name}: Set<String> = [\n{body},\n    ]"


def main():
    values = evaluate(candidate_names())
    # Drop function-like spellings and values that are not plain numbers.
    values.update(KERNEL_VALUES)
    lines = ["// Generated by Tools/gen-constants.py. Do not edit.", "",
             "extension Constants {", "    /// name value, the value shared by every architecture.",
             '    static let rawCommon = """']
    lines += [f"    {n} {values[n]}" for n in sorted(values)]
    lines += ['    """', "", "    static let rawOverrides: [Arch: String] = ["]
    for arch, table in sorted(ARCH_OVERRIDES.items()):
        lines.append(f'        .{arch}: """')
        lines += [f"        {n} {v}" for n, v in sorted(table.items())]
        lines.append('        """,')
    x86_only = sorted(macro_names(X86_HEADERS, ["ARCH_"]) & set(values))
    errnos = sorted(n for n in macro_names(ERRNO_HEADERS, ["E"]) if n in values and values[n] < 4096)
    lines += ["    ]", "", swift_set("x86_64Only", sorted(X86_64_ONLY)),
              "    /// arch_prctl codes: every x86 ABI, no other architecture.",
              swift_set("x86Only", x86_only),
              "    /// The names errno.h defines: the only names an errno action accepts.",
              swift_set("errnoNameSet", errnos), "}", ""]
    open(OUT, "w").write("\n".join(lines))
    print(f"wrote {OUT}: {len(values)} constants")


if __name__ == "__main__":
    main()
