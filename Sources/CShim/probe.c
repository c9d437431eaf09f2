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
#include <time.h>
#include <unistd.h>

typedef struct {
    volatile int done;
    pc_probe_result result;
} shared_probe;

static long native_syscall(long nr, const uint64_t *a) {
    errno = 0;
    long ret = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    return ret == -1 ? -errno : ret;
}

#if defined(__x86_64__)
static long i386_syscall(long nr, const uint64_t *a) {
    long ret;
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
                     /* the compat entry returns with r8-r15 cleared */
                     : "memory", "cc", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15");
    return (long)(int)ret;
}
#endif

typedef long (*syscall_fn)(long, const uint64_t *);

/* Runs under the filter, which may deny even write and exit: the result goes to shared memory
 * (no syscall needed) and the parent ends the child. Only stack data and raw syscalls here. */
static void child_probe(shared_probe *shared, const void *filter, uint16_t count, long nr,
                        const uint64_t *args, syscall_fn call) {
    /* Handlers inherited from the test process must not run in the child. */
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    for (int sig = 1; sig < 32; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
    }
    struct sock_fprog prog = { .len = count, .filter = (struct sock_filter *)filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        shared->result.setup_errno = errno;
        __atomic_store_n(&shared->done, 1, __ATOMIC_SEQ_CST);
        _exit(111);
    }
    long ret = call(nr, args);
    shared->result.ret = ret < 0 && ret > -4096 ? -1 : ret;
    shared->result.err = ret < 0 && ret > -4096 ? (int32_t)-ret : 0;
    __atomic_store_n(&shared->done, 1, __ATOMIC_SEQ_CST);
    _exit(0);
}

static int probe(const void *filter, uint16_t count, long nr, const uint64_t args[6],
                 pc_probe_result *result, syscall_fn call) {
    shared_probe *shared = mmap(NULL, sizeof(shared_probe), PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) return -errno;
    pid_t pid = fork();
    if (pid < 0) { int e = errno; munmap(shared, sizeof *shared); return -e; }
    if (pid == 0) child_probe(shared, filter, count, nr, args, call);
    int status = 0;
    struct timespec tick = { 0, 200000 };
    for (int waited = 0;; waited++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        /* Done but unable to exit (exit denied), or stuck: end it. */
        if (__atomic_load_n(&shared->done, __ATOMIC_SEQ_CST) || waited > 25000) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            break;
        }
        nanosleep(&tick, NULL);
    }
    pc_probe_result r = shared->result;
    int done = shared->done;
    munmap(shared, sizeof *shared);
    if (!done) { r.ret = -1; r.err = 0; }
    r.signal = WIFSIGNALED(status) && !done ? WTERMSIG(status) : 0;
    *result = r;
    return 0;
}

int pc_probe_syscall(const void *filter, uint16_t count, long nr, const uint64_t args[6],
                     pc_probe_result *result) {
    return probe(filter, count, nr, args, result, native_syscall);
}

int pc_probe_syscall_i386(const void *filter, uint16_t count, long nr, const uint64_t args[6],
                          pc_probe_result *result) {
#if defined(__x86_64__)
    return probe(filter, count, nr, args, result, i386_syscall);
#else
    (void)filter; (void)count; (void)nr; (void)args; (void)result;
    return -ENOSYS;
#endif
}

int pc_action_available(uint32_t action) {
    return syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action) == 0 ? 0 : errno;
}

int pc_memfd_create(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}
