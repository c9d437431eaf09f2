#define _GNU_SOURCE
#include "CLaunch.h"
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
#include <sys/mount.h>
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

struct ll_ruleset_attr { uint64_t handled_access_fs, handled_access_net, scoped; };
struct ll_path_attr { uint64_t allowed_access; int32_t parent_fd; } __attribute__((packed));
struct ll_port_attr { uint64_t allowed_access; uint64_t port; };

static void fail(int fd, int index, int err) {
    pc_launch_error e = { index, err };
    (void)!write(fd, &e, sizeof e);
    _exit(127);
}

static int run_step(const pc_step *s, int *landlock_fd) {
    switch (s->op) {
    case PC_MOUNT: return mount(s->a, s->b, s->c, (unsigned long)s->x, s->d);
    case PC_MKDIR: return mkdir(s->a, (mode_t)s->x) == 0 || errno == EEXIST ? 0 : -1;
    case PC_SYMLINK: return symlink(s->a, s->b) == 0 || errno == EEXIST ? 0 : -1;
    case PC_PIVOT_ROOT:
        if (chdir(s->a) != 0 || syscall(SYS_pivot_root, ".", ".") != 0) return -1;
        if (umount2(".", MNT_DETACH) != 0) return -1;
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
        *landlock_fd = fd;
        return 0;
    }
    case PC_LANDLOCK_PATH: {
        int fd = open(s->a, O_PATH | O_CLOEXEC);
        if (fd < 0) return -1;
        struct ll_path_attr attr = { s->x, fd };
        int rc = (int)syscall(SYS_landlock_add_rule, *landlock_fd, LANDLOCK_RULE_PATH_BENEATH, &attr, 0);
        int e = errno;
        close(fd);
        errno = e;
        return rc;
    }
    case PC_LANDLOCK_PORT: {
        struct ll_port_attr attr = { s->y, s->x };
        return (int)syscall(SYS_landlock_add_rule, *landlock_fd, LANDLOCK_RULE_NET_PORT, &attr, 0);
    }
    case PC_LANDLOCK_RESTRICT: {
        int rc = (int)syscall(SYS_landlock_restrict_self, *landlock_fd, 0);
        int e = errno;
        close(*landlock_fd);
        errno = e;
        return rc;
    }
    case PC_WRITE_FILE: {
        int fd = open(s->b, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return -1;
        ssize_t n = write(fd, s->a, strlen(s->a));
        int e = errno;
        close(fd);
        errno = e;
        return n < 0 ? -1 : 0;
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
    case PC_MASK: {
        struct stat st;
        if (stat(s->a, &st) != 0) return -1;
        if (S_ISDIR(st.st_mode)) return mount("tmpfs", s->a, "tmpfs", MS_RDONLY, "size=0");
        return mount(s->b, s->a, NULL, MS_BIND, NULL);
    }
    case PC_MKNOD:
        if (mknod(s->a, S_IFCHR | (mode_t)s->y, makedev((unsigned)s->x, (unsigned)s->z)) != 0 && errno != EEXIST) return -1;
        return chmod(s->a, (mode_t)s->y);
    case PC_TOUCH: {
        int fd = open(s->a, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return -1;
        close(fd);
        return 0;
    }
    }
    errno = EINVAL;
    return -1;
}

static volatile pid_t init_child = 0;

static void init_forward(int sig) {
    if (init_child > 0) kill(init_child, sig);
}

/* pid 1 of the container: forwards signals to the command, reaps every child, and exits with
 * the command's status (128 + signal when it was killed). */
static void init_loop(pid_t child) {
    init_child = child;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = init_forward;
    int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
    for (unsigned i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaction(forwarded[i], &sa, NULL);
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0 && errno == EINTR) continue;
        if (pid < 0) _exit(127);
        if (pid == child) _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    }
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

/* The listener's descriptor is the lowest free one, found before the filter is in place: once
 * it is, any syscall the policy denies would wait for a listener policyc does not have yet. */
static void load_filter_with_listener(const pc_step *s, int index, int error_fd, int sync_fd) {
    int next = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (next < 0) fail(error_fd, index, errno);
    close(next);
    pc_launch_error at = { PC_LISTENER_AT, next };
    if (write(error_fd, &at, sizeof at) != sizeof at) fail(error_fd, index, errno);
    struct sock_fprog prog = { (unsigned short)s->len, (struct sock_filter *)s->data };
    long listener = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)s->x, &prog);
    if (listener < 0) fail(error_fd, index, errno);
    if (listener != next) fail(error_fd, index, EBADF);
    wait_for_parent(sync_fd);
    close((int)listener);
}

/* "0" through v1's `tasks` moves just this single-threaded child and skips the global
 * threadgroup lock whose RCU grace period makes a cgroup.procs write take 5-20 ms; v2 without
 * clone3 falls back to cgroup.procs. */
static void join_cgroup(const pc_step *s, int index, int error_fd, int into_cgroup) {
    if (into_cgroup) return;
    pc_step write_zero = *s;
    write_zero.op = PC_WRITE_FILE;
    write_zero.b = s->a;
    write_zero.a = "0";
    int unused = -1;
    if (run_step(&write_zero, &unused) != 0) fail(error_fd, index, errno);
}

static void run_child(const pc_step *steps, int count, int error_fd, int sync_fd, int into_cgroup) {
    int landlock_fd = -1;
    pid_t command = 0;
    for (int i = 0; i < count; i++) {
        const pc_step *s = &steps[i];
        switch (s->op) {
        case PC_WAIT: wait_for_parent(sync_fd); continue;
        case PC_JOIN_CGROUP: join_cgroup(s, i, error_fd, into_cgroup); continue;
        case PC_INIT:
            command = fork();
            if (command < 0) fail(error_fd, i, errno);
            continue;
        case PC_SECCOMP:
            if (s->x & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
                load_filter_with_listener(s, i, error_fd, sync_fd);
                continue;
            }
            break;
        case PC_EXEC:
            if (command > 0) {   /* the init: the command execs, this process reaps */
                close(error_fd);
                init_loop(command);
            }
            break;
        }
        if (run_step(s, &landlock_fd) != 0) {
            if ((s->flags & PC_STEP_OPTIONAL) && errno == ENOENT) continue;
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

static int cgroup_empty(const char *dir) {
    char path[4096];
    size_t n = strlen(dir);
    if (n + 16 >= sizeof path) return 1;
    memcpy(path, dir, n);
    memcpy(path + n, "/cgroup.procs", 14);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    char buf[64];
    ssize_t r = read(fd, buf, sizeof buf);
    close(fd);
    return r <= 0;
}

static void kill_cgroup(const char *dir) {
    char path[4096], buf[32];
    size_t n = strlen(dir);
    if (n + 16 >= sizeof path) return;
    memcpy(path, dir, n);
    memcpy(path + n, "/cgroup.procs", 14);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    for (ssize_t i = 0, start = 0; i < r; i++) {
        if (buf[i] != '\n') continue;
        long pid = 0;
        for (ssize_t j = start; j < i; j++) pid = pid * 10 + (buf[j] - '0');
        if (pid > 0) kill((pid_t)pid, SIGKILL);
        start = i + 1;
    }
}

struct pc_dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* The PID in "policyc-PID", or -1. */
static long cgroup_owner(const char *name) {
    if (strncmp(name, "policyc-", 8) != 0 || name[8] == 0) return -1;
    long pid = 0;
    for (const char *p = name + 8; *p; p++) {
        if (*p < '0' || *p > '9' || pid > 1 << 22) return -1;
        pid = pid * 10 + (*p - '0');
    }
    return pid;
}

/* rmdir of every policyc-PID cgroup under `base` whose PID is gone; the kernel refuses
 * (EBUSY) any that still has processes, so a live container is never touched. */
static void sweep_stale(const char *base) {
    int dir = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return;
    char buf[8192] __attribute__((aligned(8)));
    long n;
    while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct pc_dirent64 *d = (struct pc_dirent64 *)(buf + off);
            off += d->reclen;
            long pid = cgroup_owner(d->name);
            if (pid <= 0 || kill((pid_t)pid, 0) == 0 || errno == EPERM) continue;
            unlinkat(dir, d->name, AT_REMOVEDIR);
        }
    }
    close(dir);
}

pid_t pc_spawn_cleaner(int watch_fd, int keep_fd, const char *const *cgroup_dirs, int count,
                       const char *const *stale_bases, int base_count) {
    pid_t pid = fork();
    if (pid != 0) return pid < 0 ? -errno : pid;
    /* Only policyc may hold the write end: its death is the signal. Nothing else of policyc's
     * (a terminal, pipes to its parent) may be kept alive by this process either. */
    close(keep_fd);
    if (watch_fd != 3) { dup2(watch_fd, 3); watch_fd = 3; }
    syscall(SYS_close_range, 4, ~0U, 0);
    for (int fd = 0; fd < 3; fd++) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0 && null != fd) { dup2(null, fd); close(null); }
    }
    setsid();
    char byte;
    while (read(watch_fd, &byte, 1) > 0) {}
    struct timespec tick = { 0, 10000000 };
    for (int round = 0; round < 500; round++) {
        int left = 0;
        for (int i = 0; i < count; i++) {
            if (access(cgroup_dirs[i], F_OK) != 0) continue;
            if (!cgroup_empty(cgroup_dirs[i])) { kill_cgroup(cgroup_dirs[i]); left++; continue; }
            if (rmdir(cgroup_dirs[i]) != 0 && errno != ENOENT) left++;
        }
        if (!left) break;
        nanosleep(&tick, NULL);
    }
    for (int i = 0; i < base_count; i++) sweep_stale(stale_bases[i]);
    _exit(0);
}

static volatile pid_t forward_to = 0;

static void forward(int sig) {
    if (forward_to > 0) kill(forward_to, sig);
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

int pc_audit_next(int listener, int error_fd, int pidfd, pc_notification *n) {
    for (;;) {
        struct pollfd fds[3] = { { listener, POLLIN, 0 }, { error_fd, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
        if (poll(fds, 3, -1) < 0) {
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
        if ((fds[2].revents & POLLIN) || (fds[0].revents & POLLHUP)) return 0;
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
