#define _GNU_SOURCE
#include "CShim.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Only raw syscalls and stack data in the child: no malloc, no locks. */
static void child_probe(int fd, const void *filter, uint16_t count, long nr, const uint64_t *args) {
    pc_probe_result r = {0};
    struct sock_fprog prog = { .len = count, .filter = (struct sock_filter *)filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        r.setup_errno = errno;
        (void)!write(fd, &r, sizeof r);
        _exit(111);
    }
    errno = 0;
    r.ret = syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
    r.err = r.ret == -1 ? errno : 0;
    (void)!write(fd, &r, sizeof r);
    _exit(0);
}

int pc_probe_syscall(const void *filter, uint16_t count, long nr, const uint64_t args[6],
                     pc_probe_result *result) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -errno;
    pid_t pid = fork();
    if (pid < 0) { int e = errno; close(fds[0]); close(fds[1]); return -e; }
    if (pid == 0) { close(fds[0]); child_probe(fds[1], filter, count, nr, args); }
    close(fds[1]);
    pc_probe_result r = {0};
    ssize_t n;
    do { n = read(fds[0], &r, sizeof r); } while (n < 0 && errno == EINTR);
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (n != (ssize_t)sizeof r) {
        r.ret = -1;
        r.err = 0;
    }
    r.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    *result = r;
    return 0;
}

int pc_action_available(uint32_t action) {
    return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0 ? 0 : errno;
}

int pc_memfd_create(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}
