#ifndef POLICYC_CSHIM_H
#define POLICYC_CSHIM_H
#include <stdint.h>
#include <stddef.h>
#include "CLaunch.h"

/// Outcome of one syscall made by a child that installed a filter first.
typedef struct {
    int64_t ret;     ///< the syscall's return value, or -1
    int32_t err;     ///< errno after it, 0 if it succeeded
    int32_t signal;  ///< the signal that ended the child, 0 if it exited
    int32_t setup_errno; ///< non-zero when installing the filter failed
} pc_probe_result;

/// Forks; the child sets no_new_privs, installs `filter` (sock_filter array of `count`
/// instructions) and makes syscall `nr` with `args`, reporting through a close-on-exec pipe.
/// The child runs only async-signal-safe code.
int pc_probe_syscall(const void *filter, uint16_t count, long nr, const uint64_t args[6],
                     pc_probe_result *result);

/// The same through `int $0x80`, so the kernel sees an i386 syscall (AUDIT_ARCH_I386).
/// Five arguments: the sixth would need ebp. x86_64 only; elsewhere returns -ENOSYS.
int pc_probe_syscall_i386(const void *filter, uint16_t count, long nr, const uint64_t args[6],
                          pc_probe_result *result);

/// seccomp(SECCOMP_GET_ACTION_AVAIL) for one action: 0 when the kernel supports it.
int pc_action_available(uint32_t action);


/// memfd_create(name, MFD_CLOEXEC); glibc declares it only under _GNU_SOURCE.
int pc_memfd_create(const char *name);
#endif
