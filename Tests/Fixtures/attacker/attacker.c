/* What a workload can try from inside its container, reported one word per line: an inherited
 * descriptor (fd 7), the host's cgroup limits opened for writing, the environment of its
 * parent and of pid 1 (policyc's or its init's), its controlling terminal. No libc, a handful
 * of raw syscalls, so that it runs under every shipped policy, strict's filter included.
 * EscapeTests builds it with gcc and runs it as the container's command. */

#if defined(__x86_64__)
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_openat 257
#define NR_newfstatat 262
#define NR_exit_group 231
#elif defined(__aarch64__)
#define NR_read 63
#define NR_write 64
#define NR_close 57
#define NR_openat 56
#define NR_newfstatat 79
#define NR_exit_group 94
#else
#error "attacker: x86_64 and aarch64 only"
#endif
#include "raw_syscall.h"   /* Tools/init/ */

#define AT_FDCWD -100
#define O_WRONLY 1

static char buf[65536];
static char stat_buf[128];

static long length(const char *s) { long n = 0; while (s[n]) n++; return n; }
static void say(const char *s) { sys(NR_write, 1, (long)s, length(s), 0); sys(NR_write, 1, (long)"\n", 1, 0); }

static long slurp(const char *path, char *into, long size) {
    long fd = sys(NR_openat, AT_FDCWD, (long)path, 0, 0);
    if (fd < 0) return -1;
    long total = 0, n;
    while (total < size - 1 && (n = sys(NR_read, fd, (long)(into + total), size - 1 - total, 0)) > 0) total += n;
    sys(NR_close, fd, 0, 0, 0);
    into[total] = 0;
    return total;
}

static int contains(const char *hay, long n, const char *needle) {
    long m = length(needle);
    for (long i = 0; i + m <= n; i++) {
        long j = 0;
        while (j < m && hay[i + j] == needle[j]) j++;
        if (j == m) return 1;
    }
    return 0;
}

/* "/proc/" + decimal pid + "/environ" */
static void environ_path(char *out, long pid) {
    const char *p = "/proc/";
    int n = 0;
    while (*p) out[n++] = *p++;
    char digits[24];
    int k = 0;
    do { digits[k++] = (char)('0' + pid % 10); pid /= 10; } while (pid > 0);
    while (k) out[n++] = digits[--k];
    p = "/environ";
    while (*p) out[n++] = *p++;
    out[n] = 0;
}

/* Field `index` (1-based, as proc(5) counts) of /proc/self/stat, after the command name. */
static long stat_field(const char *stat, int index) {
    const char *p = stat, *close = 0;
    for (; *p; p++) if (*p == ')') close = p;
    if (!close) return -1;
    p = close + 2;
    for (int field = 3; field < index && *p; p++) if (*p == ' ') field++;
    long value = 0, sign = 1;
    if (*p == '-') { sign = -1; p++; }
    while (*p >= '0' && *p <= '9') value = value * 10 + (*p++ - '0');
    return sign * value;
}

__attribute__((used)) void start(long *stack) {
    (void)stack;
    char st[256];
    say(sys(NR_newfstatat, AT_FDCWD, (long)"/proc/self/fd/7", (long)st, 0) == 0 ? "fd=leaked" : "fd=closed");

    /* Limits (v1, and v2 below the root) and membership (v1 and v2 at any level: the root
     * cgroup has no limit files), opened for writing only, never written. */
    static const char *limits[] = { "/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max",
                                    "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max",
                                    "/sys/fs/cgroup/cgroup.procs", "/sys/fs/cgroup/pids/cgroup.procs",
                                    "/sys/fs/cgroup/memory/cgroup.procs" };
    int writable = 0;
    for (unsigned i = 0; i < sizeof limits / sizeof *limits; i++) {
        long fd = sys(NR_openat, AT_FDCWD, (long)limits[i], O_WRONLY, 0);
        if (fd >= 0) { writable = 1; sys(NR_close, fd, 0, 0, 0); }
    }
    say(writable ? "cgroup=writable" : "cgroup=ro");

    long stat_len = slurp("/proc/self/stat", stat_buf, sizeof stat_buf);
    long ppid = stat_len > 0 ? stat_field(stat_buf, 4) : -1, tty = stat_len > 0 ? stat_field(stat_buf, 7) : -1;
    int leaked = 0;
    long pids[2] = { ppid, 1 };
    for (int i = 0; i < 2; i++) {
        if (pids[i] <= 0) continue;
        char path[48];
        environ_path(path, pids[i]);
        long n = slurp(path, buf, sizeof buf);
        if (n > 0 && contains(buf, n, "POLICYC_SECRET")) leaked = 1;
    }
    say(leaked ? "secret=leaked" : "secret=absent");
    say(stat_len <= 0 ? "tty=unknown" : tty == 0 ? "tty=none" : "tty=own");
    sys(NR_exit_group, 0, 0, 0, 0);
}
