/* SPDX-License-Identifier: MIT */
/*
 * What the personality files share and generic code never needs: the
 * kernel's internal restart codes and the table of native syscall numbers.
 */
#pragma once

#include "arch.h"

/* The kernel's -ERESTART* values: internal, so no uapi header has them. */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* The restart code an interrupted syscall left in its result register, or
 * 0 if the value is none of them. */
static inline int arch_restart_code(long v) {
        switch (v) {
        case -ERESTARTSYS:
        case -ERESTARTNOINTR:
        case -ERESTARTNOHAND:
        case -ERESTART_RESTARTBLOCK:
                return (int)-v;
        default:
                return 0;
        }
}

/* The syscall table of a 64-bit native personality, from the uapi header
 * <asm/unistd.h> of the architecture being built (include it first). The
 * generic table (aarch64, riscv64) has no dup2; every 64-bit ABI has plain
 * mmap and fcntl. */
#ifdef __NR_dup2
#define ARCH_NR_DUP2 __NR_dup2
#else
#define ARCH_NR_DUP2 (-1)
#endif
#define ARCH_NATIVE64_SYSCALLS                                                                     \
        {                                                                                          \
                [ARCH_SYS_OPENAT] = __NR_openat, [ARCH_SYS_CLOSE] = __NR_close,                    \
                [ARCH_SYS_DUP2] = ARCH_NR_DUP2, [ARCH_SYS_DUP3] = __NR_dup3,                       \
                [ARCH_SYS_FCNTL] = __NR_fcntl, [ARCH_SYS_IOCTL] = __NR_ioctl,                      \
                [ARCH_SYS_SETSID] = __NR_setsid, [ARCH_SYS_SETPGID] = __NR_setpgid,                \
                [ARCH_SYS_GETSID] = __NR_getsid, [ARCH_SYS_RT_SIGACTION] = __NR_rt_sigaction,      \
                [ARCH_SYS_MMAP] = __NR_mmap, [ARCH_SYS_MUNMAP] = __NR_munmap,                      \
                [ARCH_SYS_CLONE] = __NR_clone, [ARCH_SYS_WAIT4] = __NR_wait4,                      \
                [ARCH_SYS_KILL] = __NR_kill, [ARCH_SYS_EPOLL_CTL] = __NR_epoll_ctl,                \
                [ARCH_SYS_RT_TGSIGQUEUEINFO] = __NR_rt_tgsigqueueinfo,                             \
                [ARCH_SYS_RESTART_SYSCALL] = __NR_restart_syscall,                                 \
                [ARCH_SYS_GETPID] = __NR_getpid, [ARCH_SYS_CLOSE_RANGE] = __NR_close_range,        \
                [ARCH_SYS_RT_SIGTIMEDWAIT] = __NR_rt_sigtimedwait,                                 \
        }
