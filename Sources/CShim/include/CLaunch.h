#ifndef POLICYC_CLAUNCH_H
#define POLICYC_CLAUNCH_H
#include <stdint.h>
#include <sys/types.h>
#include <stddef.h>

/* The container's setup is a list of steps prepared by the parent (Swift); after clone the
 * child only walks the list with raw syscalls and reports the first failure as {step, errno}
 * through a close-on-exec pipe. */
enum pc_op {
    PC_MOUNT = 1,        /* mount(a, b, c, x, d) */
    PC_MKDIR,            /* mkdir(a, x) */
    PC_SYMLINK,          /* symlink(a, b) */
    PC_PIVOT_ROOT,       /* chdir(a); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/") */
    PC_CHDIR,            /* chdir(a) */
    PC_SETHOSTNAME,      /* sethostname(a) */
    PC_SETRLIMIT,        /* prlimit(0, x, {y, z}) */
    PC_CAPBSET_DROP,     /* drop every capability not in mask x from the bounding set */
    PC_SETGROUPS,        /* setgroups(0, NULL) */
    PC_SETGID,           /* setresgid(x, x, x) */
    PC_KEEPCAPS,         /* prctl(PR_SET_KEEPCAPS, 1) */
    PC_SETUID,           /* setresuid(x, x, x) */
    PC_CAPSET,           /* capset(effective x, permitted y, inheritable z) */
    PC_AMBIENT,          /* raise ambient capabilities in mask x */
    PC_NO_NEW_PRIVS,     /* prctl(PR_SET_NO_NEW_PRIVS, 1) */
    PC_LANDLOCK_CREATE,  /* landlock_create_ruleset(handled fs x, net y, scoped z; attr size len) */
    PC_LANDLOCK_PATH,    /* openat2(a, O_PATH, RESOLVE_NO_SYMLINKS), or descriptor y when a is
                            NULL; add a path-beneath rule with access x */
    PC_LANDLOCK_PORT,    /* add net-port rule: port x, access y */
    PC_LANDLOCK_RESTRICT,/* landlock_restrict_self */
    PC_WRITE_FILE,       /* write a to file b (LSM exec labels) */
    PC_SECCOMP,          /* seccomp(SECCOMP_SET_MODE_FILTER, x, {len, data}); with
                            SECCOMP_FILTER_FLAG_NEW_LISTENER in x the child first reports the
                            descriptor the listener will get (PC_LISTENER_AT), then waits on
                            the sync pipe until policyc has taken a copy of it */
    PC_EXEC,             /* execve(a, argv, envp) */
    PC_TOUCH,            /* create file a (a bind-mount target) */
    PC_TTY,              /* setsid; make fd x the controlling terminal and stdin/out/err */
    PC_INIT,             /* fork: the child goes on; the parent runs the remaining steps except
                            seccomp and exec, then loads the init's own filter (data, len) and
                            execs the sealed init binary at fd x (argv[1] its child's pid) */
    PC_JOIN_CGROUP,      /* write "0" to file a: the child moves itself into a cgroup; skipped
                            when clone3 already placed it there (CLONE_INTO_CGROUP) */
    PC_UNSHARE,          /* unshare(x) */
    PC_WAIT,             /* wait for the parent's byte on the sync pipe (id maps, cgroup made) */
    PC_MASK,             /* hide path a: an empty read-only tmpfs over a directory, the file b
                            (/dev/null) bound over anything else */
    PC_MKNOD,            /* device node a of type and mode y (S_IFCHR/S_IFBLK | mode, exactly),
                            number x:z (major:minor), owned by "uid:gid" in d (optional);
                            with PC_BIND_SELF bound onto itself */
    PC_OPEN_ROOT,        /* open directory a (O_PATH): every later path flagged PC_IN_ROOT is
                            resolved beneath it with openat2(RESOLVE_IN_ROOT) */
    PC_SETATTR,          /* mount_setattr(a, AT_RECURSIVE, set x, clear y): a whole mount tree */
    PC_CLOSE_FDS,        /* close_range(x, ~0, CLOSE_RANGE_CLOEXEC): nothing inherited past x
                            crosses the execve */
    PC_SETSID,           /* setsid: a session of its own, no controlling terminal */
    PC_LOOPBACK_UP,      /* bring up lo in the new network namespace */
    PC_DUMPABLE,         /* prctl(PR_SET_DUMPABLE, x) */
};

#define PC_STEP_OPTIONAL 1   /* ENOENT is not a failure (masked paths that may not exist) */
#define PC_IN_ROOT 2         /* the step's target (b for mounts, a otherwise) lies in the root */
#define PC_SOURCE_IN_ROOT 4  /* a mount's source (a) lies in the root too */
#define PC_CREATE_DIR 8      /* a mount's target is made as a directory where missing */
#define PC_CREATE_FILE 16    /* a mount's target is made as an empty file where missing */
#define PC_BIND_SELF 32      /* PC_MKNOD: the node is then bound onto itself, a mount of its own */

typedef struct {
    int32_t op;
    int32_t flags;
    const char *a, *b, *c, *d;
    uint64_t x, y, z;
    const void *data;
    uint32_t len;
    char *const *argv;
    char *const *envp;
} pc_step;

typedef struct {
    int32_t step;  /* index of the failed step, or PC_LISTENER_AT */
    int32_t err;   /* its errno, or the listener's descriptor number */
} pc_launch_error;

#define PC_LISTENER_AT (-2)

typedef struct {
    uint64_t flags;       /* CLONE_NEW* namespaces (CLONE_NEWTIME needs clone3) */
    int32_t cgroup_fd;    /* >= 0: a cgroup v2 directory for CLONE_INTO_CGROUP */
    int32_t wait;         /* the steps include PC_WAIT: make the sync pipe */
} pc_clone_spec;

/* Clones a child (clone3, or clone where clone3 is unavailable and not needed) and runs `steps`
 * in it. Returns the pid (or -errno); *error_fd reads pc_launch_error records (EOF once exec
 * succeeded); *sync_fd, when spec->wait, lets the child past PC_WAIT (write a byte, then
 * close), else -1. */
pid_t pc_launch(const pc_clone_spec *spec, const pc_step *steps, int count, int *error_fd, int *sync_fd);

/* A process that outlives policyc, sharing its memory (no fork's copying): when `channel`, its
 * end of a socket pair, reaches EOF (policyc exited, even by SIGKILL), it kills what is left in
 * the cgroup directories and removes them; then it removes empty `policyc-*` cgroups under
 * `stale_bases` over a minute old (earlier runs whose policyc and cleaner were both killed),
 * off the launch's critical path. Descriptors sent to it (pc_cleaner_hold) stay open until it
 * ends. It keeps no other descriptor of policyc's (policyc's end of the channel among them).
 * Returns its pid or -errno. */
pid_t pc_spawn_cleaner(int channel, const char *const *cgroup_dirs, int count,
                       const char *const *stale_bases, int base_count);

/* Hands `fd` to the cleaner behind `channel` (SCM_RIGHTS), which holds it until it ends: the
 * container's mount namespace, so that its teardown is not part of the container's exit, which
 * policyc waits for. 0 or -errno. */
int pc_cleaner_hold(int channel, int fd);

/* Loads a BPF_PROG_TYPE_CGROUP_DEVICE program of `count` eBPF instructions and attaches it to
 * the cgroup v2 directory `cgroup_fd` (BPF_F_ALLOW_MULTI, as runc does); the verifier's log goes
 * to `log`. The program stays while the cgroup does. Returns 0 or -errno. */
int pc_attach_device_program(int cgroup_fd, const void *insns, unsigned count, char *log, unsigned log_size);

/* SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to policyc go to `pid` (0: not yet cloned; they
 * are held until the setup finishes). */
void pc_forward_signals(pid_t pid);

/* A new pseudo-terminal: *master (close-on-exec) and *slave, sized like fd `like` when that is
 * a terminal. Returns 0 or -errno. */
int pc_open_pty(int like, int *master, int *slave);

/* Copies stdin to the master and the master to stdout until the container's side is closed;
 * stdin is put in raw mode meanwhile when it is a terminal, and window size changes follow. */
void pc_relay_pty(int master);

/* pc_relay_pty on a thread of its own, while the calling thread serves an audit; the join waits
 * for the relay to end. Start returns NULL when no thread could be made. */
typedef struct pc_relay pc_relay;
pc_relay *pc_relay_pty_start(int master);
void pc_relay_pty_join(pc_relay *relay);

/* One seccomp user notification, as the audit needs it. */
typedef struct {
    uint64_t id;
    uint32_t pid;
    uint32_t arch;
    int32_t nr;
    uint64_t args[6];
} pc_notification;

/* A SIGINT/SIGTERM/SIGHUP/SIGQUIT that came during the setup is forwarded now, once the
 * workload runs; from now on they are forwarded as they come. */
void pc_setup_finished(void);

/* Reads one pc_launch_error from `fd` within `timeout_ms` (cut to a second's grace once a
 * signal is pending): 1 read, 0 EOF, -ETIMEDOUT, -EINTR (a signal ended the wait), -EIO (a
 * short record), -errno. */
int pc_read_launch_error(int fd, pc_launch_error *e, int timeout_ms);

/* write(2) that returns EPIPE instead of raising SIGPIPE: the child at the other end of the
 * sync pipe may have failed a step and exited before it is let go. Only this thread's mask
 * changes, for the length of the call. */
long pc_write_no_sigpipe(int fd, const void *buf, size_t len);

/* A sealed memfd (no write, grow, shrink or further seals) holding `len` bytes of `data`, named
 * `name`; close-on-exec. Returns the descriptor or -errno. */
int pc_sealed_memfd(const char *name, const void *data, size_t len);

/* prctl(PR_SET_DUMPABLE, 0) for the calling process. */
int pc_not_dumpable(void);

/* getrandom(2), retried on EINTR until `len` bytes are filled; 0 or -errno. */
int pc_random(void *buf, size_t len);

/* pidfd_open(pid): a descriptor of the process, readable once it has exited; or -errno. */
int pc_pidfd_open(pid_t pid);

/* A copy of descriptor `fd` of the process behind `pidfd` once it is a seccomp listener (the
 * child makes it just after reporting its number): pidfd_getfd, retried for up to `wait_ms`.
 * Returns the new close-on-exec descriptor or -errno (-ESRCH: the process is gone). */
int pc_take_listener(int pidfd, int fd, int wait_ms);

/* The next event of an audited container: 1 a notification is in *n (answer it with
 * pc_notify_continue), 2 `error_fd` is readable (skipped when -1), 3 the process behind `pidfd`
 * has exited (skipped when -1), 0 every process that carries the filter is gone, or -errno.
 * With `wait` 0, 4 when nothing is ready now. */
int pc_audit_next(int listener, int error_fd, int pidfd, pc_notification *n, int wait);

/* Tells the audited child, waiting after its filter without a syscall, that policyc holds a
 * copy of its listener. */
void pc_audit_go(void);

/* SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19). */
#define PC_WAIT_KILLABLE_RECV (1U << 5)

/* Lets the notified syscall run as if the filter had allowed it. */
int pc_notify_continue(int listener, uint64_t id);

/* The Landlock ABI the kernel offers, 0 without Landlock. */
int pc_landlock_abi(void);

/* A Unix stream socket listening at `path` (replaced, mode 0600), or -errno. */
int pc_unix_listen(const char *path);

/* accept4(fd, CLOEXEC): the connection, or -errno. */
int pc_accept(int fd);

/* A seccomp agent's message: up to `limit` bytes into buf (one JSON object), the first
 * SCM_RIGHTS descriptor in *fd (-1 if none), waiting at most `timeout_ms` between reads.
 * Returns the length or -errno. */
long pc_recv_state(int sock, char *buf, long limit, int *fd, int timeout_ms);

/* pipe2(fds, O_CLOEXEC); glibc declares it only under _GNU_SOURCE. */
int pc_pipe_cloexec(int fds[2]);
#endif
