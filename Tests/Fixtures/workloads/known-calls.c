/* A workload whose every syscall is known, for the audit's ground truth: no libc, raw calls
 * only (Tools/init/raw_syscall.h). AuditTests builds it with gcc and runs it as the container's
 * command; the first argument picks what it does:
 *   getppid   two getppid calls, then exit_group(0)
 *   signals   SIGALRM every 50 us (a handler, without SA_RESTART) while it makes 100 000 getppid
 *             calls; prints eintr=N, the calls that failed (getppid never fails)
 *   restarted the same with SA_RESTART
 *   later     sleeps 300 ms, then three getppid calls; prints ok=N as orphan does
 *   many      100 000 getppid calls, no signals (the bench's cost per reported call)
 *   orphan    forks; the parent exits at once, the child sleeps 300 ms, makes three getppid
 *             calls and prints ok=N, how many returned a pid (not -ENOSYS) */

#if defined(__x86_64__)
#define NR_write 1
#define NR_rt_sigaction 13
#define NR_rt_sigreturn 15
#define NR_nanosleep 35
#define NR_setitimer 38
#define NR_fork 57
#define NR_getppid 110
#define NR_exit_group 231
#else
#error "known-calls: x86_64 only"
#endif
#include "raw_syscall.h"

#define SIGALRM 14
#define SA_RESTORER 0x04000000
#define SA_RESTART 0x10000000

static void say(const char *label, long n) {
    char buf[64];
    int i = 0;
    for (; label[i]; i++) buf[i] = label[i];
    char digits[24];
    int d = 0;
    if (n == 0) digits[d++] = '0';
    for (; n > 0; n /= 10) digits[d++] = (char)('0' + n % 10);
    while (d > 0) buf[i++] = digits[--d];
    buf[i++] = '\n';
    sys(NR_write, 1, (long)buf, i, 0);
}

static int same(const char *a, const char *b) {
    while (*a && *a == *b) { a++; b++; }
    return *a == *b;
}

static void on_alarm(int sig) { (void)sig; }
__asm__(".text\nrestore:\n  mov $15, %rax\n  syscall\n");
extern void restore(void);

struct kernel_sigaction { void (*handler)(int); unsigned long flags; void (*restorer)(void); unsigned long mask; };
struct timeval { long sec, usec; };
struct itimerval { struct timeval interval, value; };
struct timespec { long sec, nsec; };

static _Noreturn void leave(int status) { for (;;) sys(NR_exit_group, status, 0, 0, 0); }

static void signals(unsigned long flags) {
    struct kernel_sigaction act = { on_alarm, SA_RESTORER | flags, restore, 0 };
    sys(NR_rt_sigaction, SIGALRM, (long)&act, 0, 8);
    struct itimerval every = { { 0, 50 }, { 0, 50 } };
    sys(NR_setitimer, 0, (long)&every, 0, 0);
    long failed = 0;
    for (long i = 0; i < 100000; i++) if (sys(NR_getppid, 0, 0, 0, 0) < 0) failed++;
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    sys(NR_setitimer, 0, (long)&off, 0, 0);
    say("eintr=", failed);
}

static void orphan(void) {
    if (sys(NR_fork, 0, 0, 0, 0) != 0) leave(0);
    struct timespec pause = { 0, 300000000 };
    sys(NR_nanosleep, (long)&pause, 0, 0, 0);
    long ok = 0;
    for (int i = 0; i < 3; i++) if (sys(NR_getppid, 0, 0, 0, 0) > 0) ok++;
    say("ok=", ok);
}

void start(long *stack) {
    const char *mode = stack[0] > 1 ? (const char *)stack[2] : "getppid";
    if (same(mode, "signals")) signals(0);
    else if (same(mode, "restarted")) signals(SA_RESTART);
    else if (same(mode, "orphan")) orphan();
    else if (same(mode, "later")) {
        struct timespec pause = { 0, 300000000 };
        sys(NR_nanosleep, (long)&pause, 0, 0, 0);
        long ok = 0;
        for (int i = 0; i < 3; i++) if (sys(NR_getppid, 0, 0, 0, 0) > 0) ok++;
        say("ok=", ok);
    }
    else if (same(mode, "many")) { for (long i = 0; i < 100000; i++) sys(NR_getppid, 0, 0, 0, 0); }
    else { sys(NR_getppid, 0, 0, 0, 0); sys(NR_getppid, 0, 0, 0, 0); }
    leave(0);
}
