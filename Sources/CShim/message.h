#ifndef POLICYC_MESSAGE_H
#define POLICYC_MESSAGE_H
#include <string.h>
#include <sys/socket.h>

/* A msghdr of one buffer and room for SCM_RIGHTS descriptors, for sendmsg and recvmsg. Touches
 * nothing but its arguments: the cleaner, which shares policyc's memory, uses it too. */
static inline struct msghdr pc_message(struct iovec *iov, void *control, size_t control_size) {
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = control_size;
    return m;
}
#endif
