#define _GNU_SOURCE
#include "CLaunch.h"
#include "message.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <termios.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#endif
#define LANDLOCK_RULE_PATH_BENEATH 1
#define LANDLOCK_RULE_NET_PORT 2
#define RESOLVE_NO_SYMLINKS_FLAG 0x04

struct ll_ruleset_attr { uint64_t handled_access_fs, handled_access_net, scoped; };
struct ll_path_attr { uint64_t allowed_access; int32_t parent_fd; } __attribute__((packed));
struct ll_port_attr { uint64_t allowed_access; uint64_t port; };

static void fail(int fd, int index, int err) {
    pc_launch_error e = { index, err };
    (void)!write(fd, &e, sizeof e);
    _exit(127);
}

#ifndef RESOLVE_NO_MAGICLINKS
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_IN_ROOT 0x10
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

struct pc_open_how { uint64_t flags, mode, resolve; };
struct pc_mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };

/* What the child keeps between steps. */
typedef struct {
    int root_fd;      /* PC_OPEN_ROOT */
    int landlock_fd;  /* PC_LANDLOCK_CREATE */
} child_state;

static int openat2_in(int dir, const char *path, uint64_t flags) {
    struct pc_open_how how = { flags | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
    return (int)syscall(SYS_openat2, dir, path, &how, sizeof how);
}

/* Makes the last component of `path` (a copy the caller may cut) in its parent, resolved in the
 * root: a directory, or an empty file created exclusively, so that nothing existing (a FIFO, a
 * device) is ever opened for writing. */
static int create_in_root(int root, char *path, size_t end, int as_file) {
    size_t slash = end;
    while (slash > 0 && path[slash - 1] != '/') slash--;
    int parent;
    if (slash == 0) {
        parent = openat2_in(root, ".", O_PATH | O_DIRECTORY);
    } else {
        path[slash - 1] = 0;
        parent = openat2_in(root, path, O_PATH | O_DIRECTORY);
        path[slash - 1] = '/';
    }
    if (parent < 0) return -1;
    int rc;
    if (as_file) {
        int fd = openat(parent, path + slash, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        rc = fd < 0 && errno != EEXIST ? -1 : 0;
        if (fd >= 0) close(fd);
    } else {
        rc = mkdirat(parent, path + slash, 0755) != 0 && errno != EEXIST ? -1 : 0;
    }
    int e = errno;
    close(parent);
    errno = e;
    return rc;
}

/* An O_PATH descriptor of `path` (absolute, beneath the root) resolved as if the root were "/":
 * symlinks and ".." never leave it. With `create` (PC_CREATE_DIR or PC_CREATE_FILE) missing
 * directories on the way, and the last component, are made. */
static int open_in_root(int root, const char *path, int create) {
    while (*path == '/') path++;
    if (*path == 0) return openat2_in(root, ".", O_PATH);
    int fd = openat2_in(root, path, O_PATH);
    if (fd >= 0 || errno != ENOENT || !create) return fd;
    char buf[4096];
    size_t n = strlen(path);
    if (n >= sizeof buf) { errno = ENAMETOOLONG; return -1; }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (i < n && buf[i] != '/') continue;
        char saved = buf[i];
        buf[i] = 0;
        int last = i == n;
        int part = openat2_in(root, buf, O_PATH);
        if (part < 0 && errno == ENOENT) {
            if (create_in_root(root, buf, i, last && (create & PC_CREATE_FILE)) != 0) return -1;
            part = openat2_in(root, buf, O_PATH);
        }
        buf[i] = saved;
        if (part < 0) return -1;
        if (last) return part;
        close(part);
    }
    errno = ENOENT;
    return -1;
}

/* "/proc/self/fd/N": a path the kernel resolves to exactly what fd N is. */
static const char *fd_path(char buf[32], int fd) {
    static const char prefix[] = "/proc/self/fd/";
    memcpy(buf, prefix, sizeof prefix - 1);
    char digits[12];
    int n = 0;
    do { digits[n++] = (char)('0' + fd % 10); fd /= 10; } while (fd > 0);
    char *p = buf + sizeof prefix - 1;
    while (n > 0) *p++ = digits[--n];
    *p = 0;
    return buf;
}

/* A step's path, resolved: `in_root` ones become /proc/self/fd/N of a descriptor kept in *fd. */
static const char *resolve(const child_state *st, const char *path, int in_root, int create, int *fd, char buf[32]) {
    *fd = -1;
    if (!in_root || !path) return path;
    if (st->root_fd < 0) { errno = EBADF; return NULL; }
    *fd = open_in_root(st->root_fd, path, create);
    return *fd < 0 ? NULL : fd_path(buf, *fd);
}

static int close_keeping_errno(int rc, int fd1, int fd2) {
    int e = errno;
    if (fd1 >= 0) close(fd1);
    if (fd2 >= 0) close(fd2);
    errno = e;
    return rc;
}

static int mount_step(const pc_step *s, const child_state *st) {
    char sbuf[32], tbuf[32];
    int sfd, tfd;
    const char *source = resolve(st, s->a, s->flags & PC_SOURCE_IN_ROOT, 0, &sfd, sbuf);
    if ((s->flags & PC_SOURCE_IN_ROOT) && !source) return -1;
    const char *target = resolve(st, s->b, s->flags & PC_IN_ROOT, s->flags & (PC_CREATE_DIR | PC_CREATE_FILE), &tfd, tbuf);
    if (!target) return close_keeping_errno(-1, sfd, -1);
    return close_keeping_errno(mount(source, target, s->c, (unsigned long)s->x, s->d), sfd, tfd);
}

static int setattr_step(const pc_step *s, const child_state *st) {
    char buf[32];
    int fd;
    const char *path = resolve(st, s->a, s->flags & PC_IN_ROOT, 0, &fd, buf);
    if (!path) return -1;
    struct pc_mount_attr attr = { s->x, s->y, 0, 0 };
    /* On the resolved descriptor itself: no walk through /proc/self/fd. */
    int rc = fd >= 0 ? (int)syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr)
                     : (int)syscall(SYS_mount_setattr, AT_FDCWD, path, AT_RECURSIVE, &attr, sizeof attr);
    return close_keeping_errno(rc, fd, -1);
}

/* A bind mount of `name` in `dir` onto itself: a mount of its own, whose flags (no nodev) stay
 * when the directory's mount changes them. */
static int bind_onto_itself(int dir, const char *name) {
    int node = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (node < 0) return -1;
    char buf[32];
    const char *path = fd_path(buf, node);
    return close_keeping_errno(mount(path, path, NULL, MS_BIND, NULL), node, -1);
}

/* Runs `op` on step a's path, resolved in the root where flagged. */
static int path_step(const pc_step *s, const child_state *st) {
    char buf[32];
    int in_root = s->flags & PC_IN_ROOT;
    if (in_root && (s->op == PC_MKDIR || s->op == PC_TOUCH)) {
        int fd = open_in_root(st->root_fd, s->a, s->op == PC_MKDIR ? PC_CREATE_DIR : PC_CREATE_FILE);
        return close_keeping_errno(fd < 0 ? -1 : 0, fd, -1);
    }
    if (in_root && (s->op == PC_SYMLINK || s->op == PC_MKNOD)) {
        /* Made in the resolved parent directory, never through a symlink of the image. */
        const char *p = s->op == PC_SYMLINK ? s->b : s->a;
        const char *slash = strrchr(p, '/');
        if (!slash) { errno = EINVAL; return -1; }
        char dir[4096];
        size_t n = (size_t)(slash - p);
        if (n >= sizeof dir) { errno = ENAMETOOLONG; return -1; }
        memcpy(dir, p, n);
        dir[n] = 0;
        /* An O_PATH descriptor serves as the dirfd of the *at calls that create. */
        int real = open_in_root(st->root_fd, n ? dir : "/", PC_CREATE_DIR);
        if (real < 0) return -1;
        int rc;
        if (s->op == PC_SYMLINK) {
            rc = symlinkat(s->a, real, slash + 1) == 0 || errno == EEXIST ? 0 : -1;
        } else {
            /* The exact mode at once (no umask), so no chmod through /proc afterwards. */
            mode_t umask_was = umask(0);
            rc = mknodat(real, slash + 1, (mode_t)s->y, makedev((unsigned)s->x, (unsigned)s->z));
            int err = errno;
            umask(umask_was);
            errno = err;
            if (rc != 0 && errno == EEXIST) rc = fchmodat(real, slash + 1, (mode_t)s->y & 07777, AT_SYMLINK_NOFOLLOW) == 0 || errno == EOPNOTSUPP ? 0 : -1;
            if (rc == 0 && s->d) {
                uid_t uid = 0; gid_t gid = 0;
                const char *q = s->d;
                while (*q >= '0' && *q <= '9') uid = uid * 10 + (uid_t)(*q++ - '0');
                if (*q == ':') q++;
                while (*q >= '0' && *q <= '9') gid = gid * 10 + (gid_t)(*q++ - '0');
                rc = fchownat(real, slash + 1, uid, gid, AT_SYMLINK_NOFOLLOW);
            }
            if (rc == 0 && (s->flags & PC_BIND_SELF)) rc = bind_onto_itself(real, slash + 1);
        }
        return close_keeping_errno(rc, real, -1);
    }
    int fd;
    const char *path = resolve(st, s->a, in_root, 0, &fd, buf);
    if (!path) return -1;
    int rc = -1;
    switch (s->op) {
    case PC_MKDIR: rc = mkdir(path, (mode_t)s->x) == 0 || errno == EEXIST ? 0 : -1; break;
    case PC_SYMLINK: rc = symlink(s->a, s->b) == 0 || errno == EEXIST ? 0 : -1; break;
    case PC_MKNOD:
        rc = mknod(path, (mode_t)s->y, makedev((unsigned)s->x, (unsigned)s->z));
        if (rc == 0 || errno == EEXIST) rc = chmod(path, (mode_t)s->y & 07777);
        break;
    case PC_TOUCH: {
        int f = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        rc = f < 0 ? -1 : 0;
        if (f >= 0) close(f);
        break;
    }
    case PC_MASK: {
        struct stat sb;
        if ((fd >= 0 ? fstat(fd, &sb) : stat(path, &sb)) != 0) break;
        char nbuf[32];
        int nfd;
        const char *null = resolve(st, s->b, in_root, 0, &nfd, nbuf);
        if (!null) break;
        rc = S_ISDIR(sb.st_mode) ? mount("tmpfs", path, "tmpfs", MS_RDONLY, "size=0") : mount(null, path, NULL, MS_BIND, NULL);
        close_keeping_errno(0, nfd, -1);
        break;
    }
    }
    return close_keeping_errno(rc, fd, -1);
}

static int loopback_up(void) {
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return -1;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    int rc = ioctl(sock, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(sock, SIOCSIFFLAGS, &ifr);
    }
    return close_keeping_errno(rc, sock, -1);
}

static int run_step(const pc_step *s, child_state *st) {
    switch (s->op) {
    case PC_MOUNT: return mount_step(s, st);
    case PC_MKDIR: case PC_SYMLINK: case PC_MKNOD: case PC_TOUCH: case PC_MASK:
        return path_step(s, st);
    case PC_SETATTR: return setattr_step(s, st);
    case PC_OPEN_ROOT:
        st->root_fd = open(s->a, O_PATH | O_DIRECTORY | O_CLOEXEC);
        return st->root_fd < 0 ? -1 : 0;
    case PC_CLOSE_FDS: return (int)syscall(SYS_close_range, (unsigned)s->x, ~0U, CLOSE_RANGE_CLOEXEC);
    case PC_SETSID: return setsid() < 0 ? -1 : 0;
    case PC_LOOPBACK_UP: return loopback_up();
    case PC_DUMPABLE: return prctl(PR_SET_DUMPABLE, (unsigned long)s->x, 0, 0, 0);
    case PC_PIVOT_ROOT:
        if (chdir(s->a) != 0 || syscall(SYS_pivot_root, ".", ".") != 0) return -1;
        if (umount2(".", MNT_DETACH) != 0) return -1;
        if (st->root_fd >= 0) { close(st->root_fd); st->root_fd = -1; }
        return chdir("/");
    case PC_CHDIR: return chdir(s->a);
    case PC_SETHOSTNAME: return sethostname(s->a, strlen(s->a));
    case PC_SETRLIMIT: {
        struct rlimit r = { s->y, s->z };
        return prlimit(0, (int)s->x, &r, NULL);
    }
    case PC_CAPBSET_DROP:
        for (int cap = 0; cap < 64; cap++) {
            if (s->x & (1ULL << cap)) continue;
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) return errno == EINVAL ? 0 : -1;  /* past the last */
        }
        return 0;
    case PC_SETGROUPS: return syscall(SYS_setgroups, 0, NULL);
    case PC_SETGID: return syscall(SYS_setresgid, (gid_t)s->x, (gid_t)s->x, (gid_t)s->x);
    case PC_KEEPCAPS: return prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
    case PC_SETUID: return syscall(SYS_setresuid, (uid_t)s->x, (uid_t)s->x, (uid_t)s->x);
    case PC_CAPSET: {
        struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct d[2] = {
            { (uint32_t)s->x, (uint32_t)s->y, (uint32_t)s->z },
            { (uint32_t)(s->x >> 32), (uint32_t)(s->y >> 32), (uint32_t)(s->z >> 32) },
        };
        return syscall(SYS_capset, &h, d);
    }
    case PC_AMBIENT:
        for (int cap = 0; cap < 64; cap++) {
            if ((s->x & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) != 0) return -1;
        }
        return 0;
    case PC_NO_NEW_PRIVS: return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    case PC_LANDLOCK_CREATE: {
        struct ll_ruleset_attr attr = { s->x, s->y, s->z };
        int fd = (int)syscall(SYS_landlock_create_ruleset, &attr, (size_t)s->len, 0);
        if (fd < 0) return -1;
        st->landlock_fd = fd;
        return 0;
    }
    case PC_LANDLOCK_PATH: {
        /* Exactly the path named: a symlink anywhere on it is refused (ELOOP), not followed. */
        struct pc_open_how how = { O_PATH | O_CLOEXEC, 0, RESOLVE_NO_SYMLINKS_FLAG };
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, s->a, &how, sizeof how);
        if (fd < 0) return -1;
        struct ll_path_attr attr = { s->x, fd };
        int rc = (int)syscall(SYS_landlock_add_rule, st->landlock_fd, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
        return close_keeping_errno(rc, fd, -1);
    }
    case PC_LANDLOCK_PORT: {
        struct ll_port_attr attr = { s->y, s->x };
        return (int)syscall(SYS_landlock_add_rule, st->landlock_fd, LANDLOCK_RULE_NET_PORT, &attr, 0);
    }
    case PC_LANDLOCK_RESTRICT: {
        int rc = (int)syscall(SYS_landlock_restrict_self, st->landlock_fd, 0);
        return close_keeping_errno(rc, st->landlock_fd, -1);
    }
    case PC_WRITE_FILE: {
        int fd = open(s->b, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        ssize_t n = write(fd, s->a, strlen(s->a));
        return close_keeping_errno(n < 0 ? -1 : 0, fd, -1);
    }
    case PC_SECCOMP: {
        struct sock_fprog prog = { (unsigned short)s->len, (struct sock_filter *)s->data };
        return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)s->x, &prog);
    }
    case PC_EXEC: return execve(s->a, s->argv, s->envp);
    case PC_TTY: {
        int fd = (int)s->x;
        if (setsid() < 0 || ioctl(fd, TIOCSCTTY, 0) != 0) return -1;
        for (int target = 0; target < 3; target++) {
            if (dup2(fd, target) < 0) return -1;
        }
        if (fd > 2) close(fd);
        return 0;
    }
    case PC_UNSHARE: return unshare((int)s->x);
    }
    errno = EINVAL;
    return -1;
}

/* The init (PC_INIT's parent side): NNP and its own small filter, then the sealed init binary,
 * which reaps and forwards signals to `command`. Nothing of policyc's memory or environment
 * survives the execve. */
static void exec_init(const pc_step *init, pid_t command, int error_fd, int index) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) fail(error_fd, index, errno);
    struct sock_fprog prog = { (unsigned short)init->len, (struct sock_filter *)init->data };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) fail(error_fd, index, errno);
    char pid[16], path[32];
    int n = 0;
    char digits[12];
    do { digits[n++] = (char)('0' + command % 10); command /= 10; } while (command > 0);
    int i = 0;
    while (n > 0) pid[i++] = digits[--n];
    pid[i] = 0;
    char *argv[] = { "policyc-init", pid, NULL };
    char *envp[] = { NULL };
    execve(fd_path(path, (int)init->x), argv, envp);
    fail(error_fd, index, errno);
}

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x80
#endif

struct pc_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size, cgroup;
};

/* Fork-like (no new stack): clone3 where the kernel has it, else clone when nothing needs clone3.
 * Sets *into_cgroup when the child starts in spec->cgroup_fd. */
static pid_t clone_child(const pc_clone_spec *spec, int *into_cgroup) {
    struct pc_clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = spec->flags;
    args.exit_signal = SIGCHLD;
    if (spec->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)spec->cgroup_fd;
    }
    *into_cgroup = spec->cgroup_fd >= 0;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    /* ENOSYS: an old kernel, or a seccomp profile (Docker's) that hides clone3. */
    if (pid >= 0 || errno != ENOSYS || (spec->flags & CLONE_NEWTIME)) return (pid_t)pid;
    *into_cgroup = 0;
    return (pid_t)syscall(SYS_clone, (unsigned long)spec->flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

static void wait_for_parent(int sync_fd) {
    char go;
    if (read(sync_fd, &go, 1) != 1) _exit(127);
}

/* Set by policyc once it holds a copy of the listener: a page shared with the child (mapped
 * before the clone), so that the child waits without a syscall. Any syscall after the filter
 * is in place would be reported as the workload's; the listener itself is close-on-exec, so
 * the exec that follows closes the child's copy. */
static volatile uint32_t *audit_go;

static void wait_for_listener_copy(void) {
    while (!__atomic_load_n(audit_go, __ATOMIC_ACQUIRE)) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ volatile("yield");
#endif
    }
}

void pc_audit_go(void) {
    if (audit_go) __atomic_store_n(audit_go, 1, __ATOMIC_RELEASE);
}

/* The listener's descriptor is the lowest free one, found before the filter is in place: once
 * it is, any syscall the policy denies would wait for a listener policyc does not have yet.
 * The filter is asked to wait killably once a notification is received, so that signals
 * neither interrupt a reported call (EINTR) nor make it report twice (restart); kernels
 * before 5.19 lack the flag and the filter loads without it. */
static void load_filter_with_listener(const pc_step *s, int index, int error_fd) {
    int next = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (next < 0) fail(error_fd, index, errno);
    close(next);
    pc_launch_error at = { PC_LISTENER_AT, next };
    if (write(error_fd, &at, sizeof at) != sizeof at) fail(error_fd, index, errno);
    struct sock_fprog prog = { (unsigned short)s->len, (struct sock_filter *)s->data };
    long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)s->x | PC_WAIT_KILLABLE_RECV, &prog);
    if (listener < 0 && errno == EINVAL) listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)s->x, &prog);
    if (listener < 0) fail(error_fd, index, errno);
    if (listener != next) fail(error_fd, index, EBADF);
    wait_for_listener_copy();
}

/* "0" through v1's `tasks` moves just this single-threaded child and skips the global
 * threadgroup lock whose RCU grace period makes a cgroup.procs write take 5-20 ms; v2 without
 * clone3 falls back to cgroup.procs. */
static void join_cgroup(const pc_step *s, int index, int error_fd, int into_cgroup, child_state *st) {
    if (into_cgroup) return;
    pc_step write_zero = *s;
    write_zero.op = PC_WRITE_FILE;
    write_zero.b = s->a;
    write_zero.a = "0";
    if (run_step(&write_zero, st) != 0) fail(error_fd, index, errno);
}

static int skippable(const pc_step *s, int err) {
    if (!(s->flags & PC_STEP_OPTIONAL)) return 0;
    return err == ENOENT || (s->op == PC_LANDLOCK_PATH && err == ELOOP);
}

static void run_child(const pc_step *steps, int count, int error_fd, int sync_fd, int into_cgroup) {
    child_state st = { -1, -1 };
    pid_t command = 0;
    const pc_step *init = NULL;
    int init_index = 0;
    for (int i = 0; i < count; i++) {
        const pc_step *s = &steps[i];
        switch (s->op) {
        case PC_WAIT: wait_for_parent(sync_fd); continue;
        case PC_JOIN_CGROUP: join_cgroup(s, i, error_fd, into_cgroup, &st); continue;
        case PC_INIT: {
            /* The signals the init forwards are held from before the fork, so that it inherits
             * them held across its execve: one sent as soon as the command runs would find a
             * pid 1 without a handler, and the kernel drops those. The command lets them go.
             * The set is Tools/init/init.c's `forwarded` and SIGCHLD (a separate program: the
             * two lists are kept alike by hand). */
            sigset_t held, previous;
            sigemptyset(&held);
            static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH, SIGCHLD };
            for (unsigned k = 0; k < sizeof forwarded / sizeof forwarded[0]; k++) sigaddset(&held, forwarded[k]);
            sigprocmask(SIG_BLOCK, &held, &previous);
            command = fork();
            if (command < 0) fail(error_fd, i, errno);
            if (command == 0) sigprocmask(SIG_SETMASK, &previous, NULL);
            init = s;
            init_index = i;
            continue;
        }
        case PC_SECCOMP:
            if (command > 0) continue;   /* the init loads a filter of its own */
            if (s->x & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
                load_filter_with_listener(s, i, error_fd);
                continue;
            }
            break;
        case PC_EXEC:
            if (command > 0) exec_init(init, command, error_fd, init_index);
            break;
        }
        if (run_step(s, &st) != 0) {
            if (skippable(s, errno)) continue;
            fail(error_fd, i, errno);
        }
    }
    fail(error_fd, count, ENOEXEC);
}

pid_t pc_launch(const pc_clone_spec *spec, const pc_step *steps, int count, int *error_fd, int *sync_fd) {
    int errors[2], sync[2] = { -1, -1 };
    if (pipe2(errors, O_CLOEXEC) != 0) return -errno;
    if (spec->wait && pipe2(sync, O_CLOEXEC) != 0) { int e = errno; close(errors[0]); close(errors[1]); return -e; }
    pid_t parent = getpid();
    if (!audit_go) {
        void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (page == MAP_FAILED) { int e = errno; close(errors[0]); close(errors[1]); if (spec->wait) { close(sync[0]); close(sync[1]); } return -e; }
        audit_go = page;
    }
    *audit_go = 0;
    int into_cgroup = 0;
    pid_t pid = clone_child(spec, &into_cgroup);
    if (pid < 0) {
        int e = errno;
        close(errors[0]); close(errors[1]);
        if (spec->wait) { close(sync[0]); close(sync[1]); }
        return -e;
    }
    if (pid == 0) {
        close(errors[0]);
        /* The container dies with policyc; nothing may outlive it unsupervised. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != parent && !(spec->flags & CLONE_NEWPID)) _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (spec->wait) close(sync[1]);
        run_child(steps, count, errors[1], sync[0], into_cgroup);
    }
    close(errors[1]);
    if (spec->wait) close(sync[0]);
    *error_fd = errors[0];
    *sync_fd = sync[1];
    return pid;
}

static volatile pid_t forward_to = 0;
static volatile sig_atomic_t setup_finished = 0, pending = 0;

/* During the setup a signal waits: the child may already have exec'd the workload (which is
 * then owed the signal), or be stuck in a step (which the shortened wait then ends). */
static void forward(int sig) {
    if (!setup_finished) { pending = sig; return; }
    if (forward_to > 0) kill(forward_to, sig);
}

void pc_setup_finished(void) {
    setup_finished = 1;
    if (pending && forward_to > 0) kill(forward_to, pending);
}

#define PC_SIGNAL_GRACE_MS 1000

int pc_read_launch_error(int fd, pc_launch_error *e, int timeout_ms) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (pending && timeout_ms - spent > PC_SIGNAL_GRACE_MS) timeout_ms = (int)spent + PC_SIGNAL_GRACE_MS;
        if (spent >= timeout_ms) return pending ? -EINTR : -ETIMEDOUT;
        struct pollfd p = { fd, POLLIN, 0 };
        int r = poll(&p, 1, (int)(timeout_ms - spent));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -errno;
        if (r == 0) return -ETIMEDOUT;
        ssize_t n = read(fd, e, sizeof *e);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) return 0;
        return n == (ssize_t)sizeof *e ? 1 : -EIO;
    }
}

long pc_write_no_sigpipe(int fd, const void *buf, size_t len) {
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t n;
    do n = write(fd, buf, len); while (n < 0 && errno == EINTR);
    int e = errno;
    /* The SIGPIPE this write raised is pending on this thread: taken here, not on unblocking. */
    if (n < 0 && e == EPIPE && !sigismember(&old, SIGPIPE)) {
        struct timespec zero = { 0, 0 };
        sigtimedwait(&pipe_only, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return n;
}

#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 2
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 1
#define F_SEAL_SHRINK 2
#define F_SEAL_GROW 4
#define F_SEAL_WRITE 8
#endif

int pc_sealed_memfd(const char *name, const void *data, size_t len) {
    int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -errno;
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { int e = w < 0 ? errno : EIO; close(fd); return -e; }
        p += w;
        left -= (size_t)w;
    }
    if (fchmod(fd, 0555) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

void pc_forward_signals(pid_t pid) {
    forward_to = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    /* A parent may have started policyc with these blocked. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int pc_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int is_seccomp_listener(int fd) {
    char path[64], target[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) return 0;
    target[n] = 0;
    return strcmp(target, "anon_inode:seccomp notify") == 0;
}

int pc_pidfd_open(pid_t pid) {
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    return pidfd < 0 ? -errno : pidfd;
}

int pc_take_listener(int pidfd, int fd, int wait_ms) {
    struct timespec tick = { 0, 100000 };
    int result = -ETIMEDOUT;
    for (int round = 0; round < wait_ms * 10; round++) {
        int copy = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
        if (copy < 0 && errno == ESRCH) { result = -ESRCH; break; }
        if (copy >= 0) {
            if (is_seccomp_listener(copy)) { result = copy; break; }
            close(copy);
        }
        nanosleep(&tick, NULL);
    }
    return result;
}

/* How long pc_audit_next polls without sleeping after a notification: a workload that makes one
 * denied call usually makes the next soon, and a signal that arrives before policyc has taken
 * a notification interrupts the call (EINTR) — the kernel's wait is killable only once the
 * notification is received. Spinning keeps that window to the time policyc needs. */
#define PC_AUDIT_SPIN_NS 200000L

static long elapsed_ns(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000000000L + (now.tv_nsec - since->tv_nsec);
}

int pc_audit_next(int listener, int error_fd, int pidfd, pc_notification *n, int wait) {
    struct timespec last;
    clock_gettime(CLOCK_MONOTONIC, &last);
    for (;;) {
        struct pollfd fds[3] = { { listener, POLLIN, 0 }, { error_fd, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
        /* poll ignores negative descriptors: a watch that ended. */
        int ready = poll(fds, 3, 0);
        if (ready == 0 && !wait) return 4;
        if (ready == 0 && elapsed_ns(&last) < PC_AUDIT_SPIN_NS) continue;
        if (ready == 0) ready = poll(fds, 3, -1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (fds[0].revents & POLLIN) {
            struct seccomp_notif notif;
            memset(&notif, 0, sizeof notif);
            if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &notif) != 0) {
                if (errno == ENOENT || errno == EINTR) continue;   /* the caller died meanwhile */
                return -errno;
            }
            n->id = notif.id;
            n->pid = notif.pid;
            n->arch = notif.data.arch;
            n->nr = notif.data.nr;
            for (int i = 0; i < 6; i++) n->args[i] = notif.data.args[i];
            return 1;
        }
        if (error_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) return 2;
        if (fds[0].revents & POLLHUP) return 0;
        if (pidfd >= 0 && (fds[2].revents & POLLIN)) return 3;
    }
}

int pc_notify_continue(int listener, uint64_t id) {
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = id;
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0) return errno == ENOENT ? 0 : -errno;
    return 0;
}

int pc_landlock_abi(void) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1 /* LANDLOCK_CREATE_RULESET_VERSION */);
    return abi < 0 ? 0 : (int)abi;
}

int pc_open_pty(int like, int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -errno;
    char name[128];
    if (grantpt(m) != 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof name) != 0) { int e = errno; close(m); return -e; }
    int s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) { int e = errno; close(m); return -e; }
    struct winsize ws;
    if (ioctl(like, TIOCGWINSZ, &ws) == 0) ioctl(m, TIOCSWINSZ, &ws);
    *master = m;
    *slave = s;
    return 0;
}

static volatile sig_atomic_t winch = 0;
static void on_winch(int sig) { (void)sig; winch = 1; }

static int write_all(int fd, const char *buf, ssize_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, (size_t)n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        buf += w;
        n -= w;
    }
    return 0;
}

void pc_relay_pty(int master) {
    struct termios saved;
    int raw = tcgetattr(0, &saved) == 0;
    if (raw) {
        struct termios t = saved;
        cfmakeraw(&t);
        tcsetattr(0, TCSANOW, &t);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, NULL);
    struct pollfd fds[2] = { { 0, POLLIN, 0 }, { master, POLLIN, 0 } };
    char buf[8192];
    int input_open = 1;
    for (;;) {
        if (winch) {
            winch = 0;
            struct winsize ws;
            if (ioctl(0, TIOCGWINSZ, &ws) == 0) ioctl(master, TIOCSWINSZ, &ws);
        }
        fds[0].fd = input_open ? 0 : -1;
        int n = poll(fds, 2, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(master, buf, sizeof buf);
            if (r <= 0 && errno != EINTR) break;   /* EIO: every slave fd is closed */
            if (r > 0 && write_all(1, buf, r) != 0) break;
        }
        if (input_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(0, buf, sizeof buf);
            if (r <= 0) {
                input_open = 0;
                char eof = 4;   /* ^D: end of input for the container's terminal */
                (void)!write(master, &eof, 1);
            } else if (write_all(master, buf, r) != 0) {
                break;
            }
        }
    }
    if (raw) tcsetattr(0, TCSANOW, &saved);
}

struct pc_relay {
    pthread_t thread;
    int master;
};

static void *relay_thread(void *raw) {
    pc_relay_pty(((struct pc_relay *)raw)->master);
    return NULL;
}

pc_relay *pc_relay_pty_start(int master) {
    struct pc_relay *relay = calloc(1, sizeof *relay);
    if (!relay) return NULL;
    relay->master = master;
    if (pthread_create(&relay->thread, NULL, relay_thread, relay) != 0) { free(relay); return NULL; }
    return relay;
}

void pc_relay_pty_join(pc_relay *relay) {
    pthread_join(relay->thread, NULL);
    free(relay);
}

int pc_not_dumpable(void) { return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -errno; }

int pc_random(void *buf, size_t len) {
    size_t filled = 0;
    while (filled < len) {
        long n = syscall(SYS_getrandom, (char *)buf + filled, len - filled, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -errno;
        filled += (size_t)n;
    }
    return 0;
}

/* bpf(2) by hand: the uapi header's union is large and only these fields are needed. */
struct pc_bpf_prog_load {
    uint32_t prog_type, insn_cnt;
    uint64_t insns, license;
    uint32_t log_level, log_size;
    uint64_t log_buf;
    uint32_t kern_version, prog_flags;
};
struct pc_bpf_prog_attach {
    uint32_t target_fd, attach_bpf_fd, attach_type, attach_flags;
};
#define PC_BPF_PROG_LOAD 5
#define PC_BPF_PROG_ATTACH 8
#define PC_BPF_PROG_TYPE_CGROUP_DEVICE 15
#define PC_BPF_CGROUP_DEVICE 6
#define PC_BPF_F_ALLOW_MULTI 2

int pc_attach_device_program(int cgroup_fd, const void *insns, unsigned count, char *log, unsigned log_size) {
    static const char license[] = "Apache-2.0";
    struct pc_bpf_prog_load load;
    memset(&load, 0, sizeof load);
    load.prog_type = PC_BPF_PROG_TYPE_CGROUP_DEVICE;
    load.insn_cnt = count;
    load.insns = (uint64_t)(uintptr_t)insns;
    load.license = (uint64_t)(uintptr_t)license;
    int prog = (int)syscall(SYS_bpf, PC_BPF_PROG_LOAD, &load, sizeof load);
    if (prog < 0) {
        int e = errno;
        /* Again with the verifier's log, only to say why (a full log fails with ENOSPC). */
        if (log && log_size) {
            load.log_level = 1; load.log_size = log_size; load.log_buf = (uint64_t)(uintptr_t)log; log[0] = 0;
            int again = (int)syscall(SYS_bpf, PC_BPF_PROG_LOAD, &load, sizeof load);
            if (again >= 0) close(again);
        }
        return -e;
    }
    struct pc_bpf_prog_attach attach = { (uint32_t)cgroup_fd, (uint32_t)prog, PC_BPF_CGROUP_DEVICE, PC_BPF_F_ALLOW_MULTI };
    int r = (int)syscall(SYS_bpf, PC_BPF_PROG_ATTACH, &attach, sizeof attach);
    int e = errno;
    close(prog);
    return r < 0 ? -e : 0;
}

/* ---- policyc agent: the runtime-spec seccomp-agent socket ---- */
#include <sys/un.h>

int pc_unix_listen(const char *path) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) return -ENAMETOOLONG;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    unlink(path);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || chmod(path, 0600) != 0 || listen(fd, 64) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int pc_accept(int fd) {
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    return c < 0 ? -errno : c;
}

/* Reads what a peer sends until it closes, `limit` bytes or `timeout_ms` without data, keeping
 * the first descriptor passed with SCM_RIGHTS in *fd (-1 if none; others are closed). Returns
 * the bytes read, or -errno (-E2BIG past the limit). */
long pc_recv_state(int sock, char *buf, long limit, int *fd, int timeout_ms) {
    long total = 0;
    *fd = -1;
    for (;;) {
        struct pollfd p = { sock, POLLIN, 0 };
        int ready = poll(&p, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) return ready == 0 ? (total > 0 ? total : -ETIMEDOUT) : -errno;
        char control[CMSG_SPACE(sizeof(int) * 8)];
        struct iovec io = { buf + total, (size_t)(limit - total) };
        struct msghdr m = pc_message(&io, control, sizeof control);
        ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            int *fds = (int *)CMSG_DATA(c);
            for (int i = 0; i < count; i++) {
                if (*fd < 0) *fd = fds[i]; else close(fds[i]);
            }
        }
        if (n == 0) return total;
        total += n;
        if (total >= limit) return -E2BIG;
        /* The state is one JSON object: done once it closes (runc keeps the socket open). */
        if (buf[total - 1] == '}' || buf[total - 1] == '\n') {
            int depth = 0, in_string = 0, escaped = 0, complete = 0;
            for (long i = 0; i < total; i++) {
                char ch = buf[i];
                if (in_string) { if (escaped) escaped = 0; else if (ch == '\\') escaped = 1; else if (ch == '"') in_string = 0; continue; }
                if (ch == '"') in_string = 1;
                else if (ch == '{') depth++;
                else if (ch == '}' && --depth == 0) complete = 1;
            }
            if (complete) return total;
        }
    }
}
