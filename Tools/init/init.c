/* policyc-init: pid 1 of a container started with `policyc run --init`.
 *
 * policyc execs it from a sealed memfd (nothing in the container can write it), with an empty
 * environment and argv = { "policyc-init", PID }, PID being the command it forked. It makes itself
 * non-dumpable (so /proc/1/mem, /proc/1/environ and /proc/1/exe stay closed to the container),
 * forwards the usual signals to the command, reaps every child, and exits with the command's
 * status (128 + signal when it was killed). No libc: a few raw syscalls, no signal handlers
 * (signals are taken synchronously with rt_sigtimedwait), so policyc can hold it to a filter of
 * seven syscalls. Built by Tools/gen-init.sh into Sources/LaunchCore/Generated/InitBinary.swift. */

#if defined(__x86_64__)
#define NR_rt_sigprocmask 14
#define NR_kill 62
#define NR_wait4 61
#define NR_prctl 157
#define NR_rt_sigtimedwait 128
#define NR_exit_group 231
#elif defined(__aarch64__)
#define NR_rt_sigprocmask 135
#define NR_kill 129
#define NR_wait4 260
#define NR_prctl 167
#define NR_rt_sigtimedwait 137
#define NR_exit_group 94
#else
#error "policyc-init: x86_64 and aarch64 only"
#endif
#include "raw_syscall.h"

#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGUSR1 10
#define SIGUSR2 12
#define SIGTERM 15
#define SIGCHLD 17
#define SIGWINCH 28
#define SIG_BLOCK 0
#define WNOHANG 1
#define EINTR 4
#define EAGAIN 11
#define PR_SET_DUMPABLE 4
#define PR_SET_NAME 15

/* launch.c holds these (and SIGCHLD) from before the fork that makes this process: keep alike. */
static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH };

static _Noreturn void leave(int status) {
    for (;;) sys(NR_exit_group, status, 0, 0, 0);
}

static long parse_pid(const char *s) {
    long pid = 0;
    if (!s || !*s) return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || pid > 1 << 22) return -1;
        pid = pid * 10 + (*s - '0');
    }
    return pid;
}

/* Reaps whatever has ended; returns when the command itself has, with its status in *status. */
static int reap(long command, int *status) {
    for (;;) {
        int st = 0;
        long pid = sys(NR_wait4, -1, (long)&st, WNOHANG, 0);
        if (pid <= 0) return 0;
        if (pid == command) {
            *status = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f);
            return 1;
        }
    }
}

__attribute__((used)) _Noreturn void start(long *stack) {
    sys(NR_prctl, PR_SET_DUMPABLE, 0, 0, 0);
    /* Exec'd from a descriptor, its comm would be the descriptor's number: ps shows its name. */
    static const char name[] = "policyc-init";
    sys(NR_prctl, PR_SET_NAME, (long)name, 0, 0);
    long argc = stack[0];
    char **argv = (char **)(stack + 1);
    long command = argc == 2 ? parse_pid(argv[1]) : -1;
    if (command <= 0) leave(127);
    unsigned long set = 1UL << (SIGCHLD - 1);
    for (unsigned i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) set |= 1UL << (forwarded[i] - 1);
    if (sys(NR_rt_sigprocmask, SIG_BLOCK, (long)&set, 0, 8) != 0) leave(127);
    int status;
    /* A SIGCHLD may have come before the mask: reap once first. */
    if (reap(command, &status)) leave(status);
    for (;;) {
        struct { int signo, err, code, pad[29]; } info;
        long sig = sys(NR_rt_sigtimedwait, (long)&set, (long)&info, 0, 8);
        if (sig == -EINTR || sig == -EAGAIN) continue;
        if (sig < 0) leave(127);
        if (sig == SIGCHLD) {
            if (reap(command, &status)) leave(status);
        } else {
            sys(NR_kill, command, sig, 0, 0);
        }
    }
}
