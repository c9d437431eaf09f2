/* THREADS threads each making CALLS getppid calls at once (argv[1], argv[2]); prints the calls
 * that failed. AuditRecordTests counts the audit's record of them against THREADS x CALLS. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static long calls;
static long failed;

static void *work(void *unused) {
    (void)unused;
    for (long i = 0; i < calls; i++) if (syscall(SYS_getppid) < 0) __atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 4;
    calls = argc > 2 ? atol(argv[2]) : 1000;
    pthread_t ids[256];
    if (threads > 256) threads = 256;
    for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, work, NULL);
    for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    printf("failed=%ld\n", failed);
    return 0;
}
