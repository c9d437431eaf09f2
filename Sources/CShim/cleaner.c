#define _GNU_SOURCE
#include "CLaunch.h"
#include "message.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The cleaner shares policyc's memory (CLONE_VM): no page tables to copy and no copy-on-write
 * faults on either side, which a fork of policyc costs the launch. It therefore touches nothing
 * of policyc's but what `pc_spawn_cleaner` copied into its own region, and makes every syscall
 * raw: glibc's wrappers would write errno in policyc's thread. */

#if defined(__x86_64__)
static long rsys(long n, long a, long b, long c, long d, long e, long f) {
    long ret;
    register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
}
#elif defined(__aarch64__)
static long rsys(long n, long a, long b, long c, long d, long e, long f) {
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d, x4 __asm__("x4") = e, x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
}
#else
#error "the cleaner's raw syscalls are written for x86_64 and aarch64"
#endif

#define SYS0(n) rsys(n, 0, 0, 0, 0, 0, 0)
#define SYS1(n, a) rsys(n, (long)(a), 0, 0, 0, 0, 0)
#define SYS2(n, a, b) rsys(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define SYS3(n, a, b, c) rsys(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define SYS4(n, a, b, c, d) rsys(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

#define CLEANER_STACK (128 * 1024)
#define CLEANER_TEXT (64 * 1024)

/* What the cleaner works from, in a region of its own that policyc never unmaps. */
typedef struct {
    int channel;            /* its end of the socket pair; EOF once policyc has exited */
    int count, base_count;
    const char *dirs[64];
    const char *bases[16];
    char text[];            /* the strings `dirs` and `bases` point into */
} cleaner_plan;

static size_t length(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/* path + suffix in buf; 0 when it does not fit. */
static int joined(char *buf, size_t size, const char *path, const char *suffix) {
    size_t n = length(path), m = length(suffix);
    if (n + m + 1 > size) return 0;
    memcpy(buf, path, n);
    memcpy(buf + n, suffix, m + 1);
    return 1;
}

static long read_procs(const char *dir, char *buf, size_t size) {
    char path[4096];
    if (!joined(path, sizeof path, dir, "/cgroup.procs")) return -1;
    long fd = SYS4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0) return -1;
    long r = SYS3(SYS_read, fd, buf, size);
    SYS1(SYS_close, fd);
    return r;
}

static void kill_members(const char *buf, long r) {
    long pid = 0;
    for (long i = 0; i < r; i++) {
        if (buf[i] == '\n') {
            if (pid > 0) SYS2(SYS_kill, pid, SIGKILL);
            pid = 0;
        } else {
            pid = pid * 10 + (buf[i] - '0');
        }
    }
}

struct cleaner_dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* rmdir of every policyc-* cgroup under `base` made over a minute ago: a live container's
 * cgroup always has processes, and the kernel refuses (EBUSY) to remove those, so only the
 * leftovers of runs whose policyc and cleaner were both killed go. Names are random, so the age
 * stands in for an owner that cannot be known across pid namespaces. */
static void sweep_stale(const char *base) {
    long dir = SYS4(SYS_openat, AT_FDCWD, base, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dir < 0) return;
    struct timespec now;
    SYS2(SYS_clock_gettime, CLOCK_REALTIME, &now);
    char buf[8192] __attribute__((aligned(8)));
    long n;
    while ((n = SYS3(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct cleaner_dirent64 *d = (struct cleaner_dirent64 *)(buf + off);
            off += d->reclen;
            if (memcmp(d->name, "policyc-", 8) != 0) continue;
            struct stat st;
            if (SYS4(SYS_newfstatat, dir, d->name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
            if (now.tv_sec - st.st_mtim.tv_sec < 60) continue;
            SYS3(SYS_unlinkat, dir, d->name, AT_REMOVEDIR);
        }
    }
    SYS1(SYS_close, dir);
}

/* Takes what policyc sends (descriptors to hold, such as the container's mount namespace,
 * whose teardown then happens here rather than in the container's exit, which policyc
 * waits for) until policyc is gone. */
static void hold_until_eof(int channel) {
    for (;;) {
        char byte;
        char control[CMSG_SPACE(sizeof(int) * 4)];
        struct iovec iov = { &byte, 1 };
        struct msghdr msg = pc_message(&iov, control, sizeof control);
        long r = SYS3(SYS_recvmsg, channel, &msg, MSG_CMSG_CLOEXEC);
        if (r == -EINTR) continue;
        if (r <= 0) return;   /* the descriptors received stay open until the cleaner exits */
    }
}

static int cleaner_main(void *arg) {
    cleaner_plan *plan = arg;
    /* Nothing of policyc's (a terminal, pipes to its parent) may be kept alive by this process,
     * and no signal of policyc's process group reaches it. */
    long null = SYS4(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR, 0);
    for (int fd = 0; fd < 3; fd++) if (null >= 0 && null != fd) SYS3(SYS_dup3, null, fd, 0);
    if (plan->channel != 3) { SYS3(SYS_dup3, plan->channel, 3, 0); plan->channel = 3; }
    SYS3(SYS_close_range, 4, ~0U, 0);
    SYS0(SYS_setsid);
    hold_until_eof(plan->channel);
    struct timespec tick = { 0, 10000000 };
    char buf[64];
    for (int round = 0; round < 500; round++) {
        int left = 0;
        for (int i = 0; i < plan->count; i++) {
            long r = read_procs(plan->dirs[i], buf, sizeof buf);
            if (r > 0) { kill_members(buf, r); left++; continue; }
            long rc = SYS3(SYS_unlinkat, AT_FDCWD, plan->dirs[i], AT_REMOVEDIR);
            if (rc != 0 && rc != -ENOENT) left++;
        }
        if (!left) break;
        SYS2(SYS_nanosleep, &tick, 0);
    }
    for (int i = 0; i < plan->base_count; i++) sweep_stale(plan->bases[i]);
    SYS1(SYS_exit_group, 0);
    return 0;
}

/* Copies `s` into the plan's text at *used; NULL when it does not fit. */
static const char *keep(cleaner_plan *plan, size_t *used, const char *s) {
    size_t n = length(s) + 1;
    if (*used + n > CLEANER_TEXT - sizeof(cleaner_plan)) return NULL;
    char *p = plan->text + *used;
    memcpy(p, s, n);
    *used += n;
    return p;
}

pid_t pc_spawn_cleaner(int channel, const char *const *cgroup_dirs, int count,
                       const char *const *stale_bases, int base_count) {
    if (count > 64 || base_count > 16) return -EINVAL;
    char *region = mmap(NULL, CLEANER_TEXT + CLEANER_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED) return -errno;
    cleaner_plan *plan = (cleaner_plan *)region;
    size_t used = 0;
    plan->channel = channel;
    plan->count = count;
    plan->base_count = base_count;
    for (int i = 0; i < count; i++) if (!(plan->dirs[i] = keep(plan, &used, cgroup_dirs[i]))) return -ENAMETOOLONG;
    for (int i = 0; i < base_count; i++) if (!(plan->bases[i] = keep(plan, &used, stale_bases[i]))) return -ENAMETOOLONG;
    /* Born with every signal blocked: policyc's handlers would run on shared memory. */
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t pid = clone(cleaner_main, region + CLEANER_TEXT + CLEANER_STACK, CLONE_VM | SIGCHLD, plan);
    int err = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    /* The region stays mapped: the cleaner runs on it after policyc is gone. */
    return pid < 0 ? -err : pid;
}

int pc_cleaner_hold(int channel, int fd) {
    char byte = 0;
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct iovec iov = { &byte, 1 };
    struct msghdr msg = pc_message(&iov, control, sizeof control);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(channel, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}
