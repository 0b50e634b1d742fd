/* SPDX-License-Identifier: MIT */
/*
 * x86: the x86_64 personality and the i386 one (native on an i386 build,
 * compat on an x86_64 build). Both restart interrupted syscalls after the
 * stop: the tracer sees ax = -ERESTART*, orig_ax = nr and the PC just past
 * the two-byte syscall instruction.
 */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include "arch.h"

#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* ---- i386 (user_regs_struct of 17 32-bit words) ---- */
/* clang-format off */
enum {
        I386_EBX, I386_ECX, I386_EDX, I386_ESI, I386_EDI, I386_EBP, I386_EAX,
        I386_DS, I386_ES, I386_FS, I386_GS, I386_ORIG_EAX, I386_EIP, I386_CS,
        I386_EFLAGS, I386_ESP, I386_SS, I386_NREGS,
};
/* clang-format on */

/* Hand-written: this table is also the compat table of x86_64 builds, where
 * no kernel header for it is available. Numbers from arch/x86/entry/syscalls/
 * syscall_32.tbl. */
/* clang-format off */
static const long i386_syscalls[_ARCH_SYS_MAX] = {
        [ARCH_SYS_OPENAT] = 295,
        [ARCH_SYS_CLOSE] = 6,
        [ARCH_SYS_DUP2] = 63,
        [ARCH_SYS_DUP3] = 330,
        [ARCH_SYS_FCNTL] = 221, /* fcntl64 */
        [ARCH_SYS_IOCTL] = 54,
        [ARCH_SYS_SETSID] = 66,
        [ARCH_SYS_SETPGID] = 57,
        [ARCH_SYS_GETSID] = 147,
        [ARCH_SYS_RT_SIGACTION] = 174,
        [ARCH_SYS_MMAP] = 192, /* mmap2 */
        [ARCH_SYS_MUNMAP] = 91,
        [ARCH_SYS_CLONE] = 120,
        [ARCH_SYS_WAIT4] = 114,
        [ARCH_SYS_KILL] = 37,
        [ARCH_SYS_EPOLL_CTL] = 255,
        [ARCH_SYS_RT_TGSIGQUEUEINFO] = 335,
        [ARCH_SYS_RESTART_SYSCALL] = 0,
        [ARCH_SYS_GETPID] = 20,
        [ARCH_SYS_CLOSE_RANGE] = 436,
        [ARCH_SYS_RT_SIGTIMEDWAIT] = 177,
};
/* clang-format on */

static const unsigned char int80[] = {0xcd, 0x80};

static uint64_t i386_get_pc(const struct arch_regs *r) { return r->u32[I386_EIP]; }
static void i386_set_pc(struct arch_regs *r, uint64_t pc) { r->u32[I386_EIP] = (uint32_t)pc; }
static uint64_t i386_get_sp(const struct arch_regs *r) { return r->u32[I386_ESP]; }
static long i386_syscall_nr(const struct arch_regs *r) { return (int32_t)r->u32[I386_ORIG_EAX]; }

static void i386_prepare_call(struct arch_regs *r, long nr, const uint64_t args[6]) {
        static const int argreg[6] = {I386_EBX, I386_ECX, I386_EDX, I386_ESI, I386_EDI, I386_EBP};
        r->u32[I386_EAX] = (uint32_t)nr;
        r->u32[I386_ORIG_EAX] = (uint32_t)-1;
        for (int i = 0; i < 6; i++)
                r->u32[argreg[i]] = (uint32_t)args[i];
}

static long i386_result(const struct arch_regs *r) { return (long)(int32_t)r->u32[I386_EAX]; }

static bool i386_normalise_restart(struct arch_regs *r) {
        int32_t nr = (int32_t)r->u32[I386_ORIG_EAX];
        int32_t ax = (int32_t)r->u32[I386_EAX];

        if (nr < 0)
                return false;
        switch (-ax) {
        case ERESTARTSYS:
        case ERESTARTNOINTR:
        case ERESTARTNOHAND:
                r->u32[I386_EAX] = (uint32_t)nr;
                break;
        case ERESTART_RESTARTBLOCK:
                r->u32[I386_EAX] = (uint32_t)i386_syscalls[ARCH_SYS_RESTART_SYSCALL];
                break;
        default:
                return false;
        }
        r->u32[I386_EIP] -= sizeof(int80);
        r->u32[I386_ORIG_EAX] = (uint32_t)-1;
        return true;
}

static const struct arch_personality pers_i386 = {
        .name = "i386",
        .word_size = 4,
        .regset_size = I386_NREGS * 4,
        .syscall_insn_len = sizeof(int80),
        .syscall_insn = int80,
        .red_zone = 0,
        .mmap_pgoff = true,
        .epoll_event_packed = true,
        .restart_style = ARCH_RESTART_AFTER_STOP,
        .syscalls = i386_syscalls,
        .get_pc = i386_get_pc,
        .set_pc = i386_set_pc,
        .get_sp = i386_get_sp,
        .syscall_nr = i386_syscall_nr,
        .prepare_call = i386_prepare_call,
        .result = i386_result,
        .normalise_restart = i386_normalise_restart,
};

#if defined(__x86_64__)
/* ---- x86_64 (user_regs_struct of 27 64-bit words) ---- */
#include <asm/unistd_64.h>

/* clang-format off */
enum {
        X64_R15, X64_R14, X64_R13, X64_R12, X64_RBP, X64_RBX, X64_R11, X64_R10,
        X64_R9, X64_R8, X64_RAX, X64_RCX, X64_RDX, X64_RSI, X64_RDI, X64_ORIG_RAX,
        X64_RIP, X64_CS, X64_EFLAGS, X64_RSP, X64_SS, X64_FS_BASE, X64_GS_BASE,
        X64_DS, X64_ES, X64_FS, X64_GS, X64_NREGS,
};
/* clang-format on */

static const long x86_64_syscalls[_ARCH_SYS_MAX] = {
        [ARCH_SYS_OPENAT] = __NR_openat,
        [ARCH_SYS_CLOSE] = __NR_close,
        [ARCH_SYS_DUP2] = __NR_dup2,
        [ARCH_SYS_DUP3] = __NR_dup3,
        [ARCH_SYS_FCNTL] = __NR_fcntl,
        [ARCH_SYS_IOCTL] = __NR_ioctl,
        [ARCH_SYS_SETSID] = __NR_setsid,
        [ARCH_SYS_SETPGID] = __NR_setpgid,
        [ARCH_SYS_GETSID] = __NR_getsid,
        [ARCH_SYS_RT_SIGACTION] = __NR_rt_sigaction,
        [ARCH_SYS_MMAP] = __NR_mmap,
        [ARCH_SYS_MUNMAP] = __NR_munmap,
        [ARCH_SYS_CLONE] = __NR_clone,
        [ARCH_SYS_WAIT4] = __NR_wait4,
        [ARCH_SYS_KILL] = __NR_kill,
        [ARCH_SYS_EPOLL_CTL] = __NR_epoll_ctl,
        [ARCH_SYS_RT_TGSIGQUEUEINFO] = __NR_rt_tgsigqueueinfo,
        [ARCH_SYS_RESTART_SYSCALL] = __NR_restart_syscall,
        [ARCH_SYS_GETPID] = __NR_getpid,
        [ARCH_SYS_CLOSE_RANGE] = __NR_close_range,
        [ARCH_SYS_RT_SIGTIMEDWAIT] = __NR_rt_sigtimedwait,
};

static const unsigned char syscall_insn[] = {0x0f, 0x05};

static uint64_t x64_get_pc(const struct arch_regs *r) { return r->u64[X64_RIP]; }
static void x64_set_pc(struct arch_regs *r, uint64_t pc) { r->u64[X64_RIP] = pc; }
static uint64_t x64_get_sp(const struct arch_regs *r) { return r->u64[X64_RSP]; }
static long x64_syscall_nr(const struct arch_regs *r) { return (long)r->u64[X64_ORIG_RAX]; }

static void x64_prepare_call(struct arch_regs *r, long nr, const uint64_t args[6]) {
        static const int argreg[6] = {X64_RDI, X64_RSI, X64_RDX, X64_R10, X64_R8, X64_R9};
        r->u64[X64_RAX] = (uint64_t)nr;
        r->u64[X64_ORIG_RAX] = (uint64_t)-1;
        for (int i = 0; i < 6; i++)
                r->u64[argreg[i]] = args[i];
}

static long x64_result(const struct arch_regs *r) { return (long)r->u64[X64_RAX]; }

static bool x64_normalise_restart(struct arch_regs *r) {
        long nr = (long)r->u64[X64_ORIG_RAX];
        long ax = (long)r->u64[X64_RAX];

        if (nr < 0)
                return false;
        switch (-ax) {
        case ERESTARTSYS:
        case ERESTARTNOINTR:
        case ERESTARTNOHAND:
                r->u64[X64_RAX] = (uint64_t)nr;
                break;
        case ERESTART_RESTARTBLOCK:
                r->u64[X64_RAX] = __NR_restart_syscall;
                break;
        default:
                return false;
        }
        r->u64[X64_RIP] -= sizeof(syscall_insn);
        r->u64[X64_ORIG_RAX] = (uint64_t)-1;
        return true;
}

static const struct arch_personality pers_x86_64 = {
        .name = "x86_64",
        .word_size = 8,
        .regset_size = X64_NREGS * 8,
        .syscall_insn_len = sizeof(syscall_insn),
        .syscall_insn = syscall_insn,
        .red_zone = 128,
        .mmap_pgoff = false,
        .epoll_event_packed = true,
        .restart_style = ARCH_RESTART_AFTER_STOP,
        .syscalls = x86_64_syscalls,
        .get_pc = x64_get_pc,
        .set_pc = x64_set_pc,
        .get_sp = x64_get_sp,
        .syscall_nr = x64_syscall_nr,
        .prepare_call = x64_prepare_call,
        .result = x64_result,
        .normalise_restart = x64_normalise_restart,
};

const struct arch_personality *const arch_personalities[] = {&pers_x86_64, &pers_i386, NULL};
const char arch_build_name[] = "x86_64";
#elif defined(__i386__)
const struct arch_personality *const arch_personalities[] = {&pers_i386, NULL};
const char arch_build_name[] = "i386";
#else
#error "arch/x86.c built for a non-x86 target"
#endif

const struct arch_personality *arch_personality_from_regset_size(size_t size) {
        for (size_t i = 0; arch_personalities[i]; i++)
                if (arch_personalities[i]->regset_size == size)
                        return arch_personalities[i];
        return NULL;
}

const struct arch_personality *arch_personality_from_elf(const unsigned char *ehdr, size_t len) {
        uint16_t machine;

        if (len < 20 || memcmp(ehdr, ELFMAG, SELFMAG) != 0 || ehdr[EI_DATA] != ELFDATA2LSB)
                return NULL;
        machine = (uint16_t)(ehdr[18] | ehdr[19] << 8);
        for (size_t i = 0; arch_personalities[i]; i++) {
                const struct arch_personality *p = arch_personalities[i];
                if (ehdr[EI_CLASS] == ELFCLASS64 && machine == EM_X86_64 && p->word_size == 8)
                        return p;
                if (ehdr[EI_CLASS] == ELFCLASS32 && machine == EM_386 && p->word_size == 4)
                        return p;
        }
        return NULL;
}

int arch_get_regs(pid_t tid, struct arch_regs *r, const struct arch_personality **pers) {
        struct iovec iov = {.iov_base = r->bytes, .iov_len = sizeof(r->bytes)};
        const struct arch_personality *p;

        if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
                return -errno;
        r->size = iov.iov_len;
        p = arch_personality_from_regset_size(r->size);
        if (!p)
                return -ENOEXEC;
        if (pers)
                *pers = p;
        return 0;
}

int arch_set_regs(pid_t tid, const struct arch_regs *r) {
        struct iovec iov = {.iov_base = (void *)r->bytes, .iov_len = r->size};

        if (ptrace(PTRACE_SETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
                return -errno;
        return 0;
}
