/* SPDX-License-Identifier: MIT */
/*
 * x86: the x86_64 personality and the i386 one (native on an i386 build,
 * compat on an x86_64 build). Both restart interrupted syscalls after the
 * stop: the tracer sees ax = -ERESTART*, orig_ax = nr and the PC just past
 * the two-byte syscall instruction.
 *
 * The i386 table is hand-written: it is also the compat table of x86_64
 * builds, which have no header for it (tests/unit checks it against
 * <asm/unistd_32.h> where the compiler has one).
 */
#include <elf.h>
#if defined(__x86_64__)
#include <asm/unistd_64.h>
#endif

#include "arch-impl.h"

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
        .elf_machine = EM_386,
        .syscall_insn_len = sizeof(int80),
        .syscall_insn = int80,
        .insn_align = 1,
        .red_zone = 0,
        .mmap_pgoff = true,
        .epoll_event_packed = true,
        .restart_style = ARCH_RESTART_AFTER_STOP,
        .syscalls = i386_syscalls,
        .get_pc = i386_get_pc,
        .set_pc = i386_set_pc,
        .get_sp = i386_get_sp,
        .prepare_call = i386_prepare_call,
        .result = i386_result,
        .normalise_restart = i386_normalise_restart,
};

#if defined(__x86_64__)
/* ---- x86_64 (user_regs_struct of 27 64-bit words) ---- */

/* clang-format off */
enum {
        X64_R15, X64_R14, X64_R13, X64_R12, X64_RBP, X64_RBX, X64_R11, X64_R10,
        X64_R9, X64_R8, X64_RAX, X64_RCX, X64_RDX, X64_RSI, X64_RDI, X64_ORIG_RAX,
        X64_RIP, X64_CS, X64_EFLAGS, X64_RSP, X64_SS, X64_FS_BASE, X64_GS_BASE,
        X64_DS, X64_ES, X64_FS, X64_GS, X64_NREGS,
};
/* clang-format on */

static const long x86_64_syscalls[_ARCH_SYS_MAX] = ARCH_NATIVE64_SYSCALLS;

static const unsigned char syscall_insn[] = {0x0f, 0x05};

static uint64_t x64_get_pc(const struct arch_regs *r) { return r->u64[X64_RIP]; }
static void x64_set_pc(struct arch_regs *r, uint64_t pc) { r->u64[X64_RIP] = pc; }
static uint64_t x64_get_sp(const struct arch_regs *r) { return r->u64[X64_RSP]; }

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
        .elf_machine = EM_X86_64,
        .syscall_insn_len = sizeof(syscall_insn),
        .syscall_insn = syscall_insn,
        .insn_align = 1,
        .red_zone = 128,
        .mmap_pgoff = false,
        .epoll_event_packed = true,
        .restart_style = ARCH_RESTART_AFTER_STOP,
        .syscalls = x86_64_syscalls,
        .get_pc = x64_get_pc,
        .set_pc = x64_set_pc,
        .get_sp = x64_get_sp,
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
