/* SPDX-License-Identifier: MIT */
/*
 * arm: the AArch32 EABI personality (native on an arm build, compat on an
 * aarch64 build: 32-bit arm programs on an arm64 kernel) and the aarch64
 * one. Both fix an interrupted syscall up before the tracer's stop: the PC
 * is already back on the svc and r0/x0 holds the first argument again, so
 * the saved registers restart the call as they are.
 *
 * The syscall instruction used for AArch32 is the Thumb `svc #0`: armhf
 * code (glibc included) is Thumb-2, so the thread's own syscall usually
 * sits just before its PC, and a call prepared here always runs in Thumb
 * state. The aarch64 kernel keeps the syscall number out of the regset
 * (NT_ARM_SYSTEM_CALL); a call loads it into x8 before the svc instead.
 *
 * The AArch32 table is hand-written: it is also the compat table of aarch64
 * builds, which have no header for it (tests/unit checks it against the
 * arm-linux-gnueabihf <asm/unistd-eabi.h> where that is installed).
 */
#include <elf.h>
#if defined(__aarch64__)
#include <asm/unistd.h>
#endif

#include "arch-impl.h"

/* ---- AArch32 (18 32-bit words: r0-r15, cpsr, orig_r0) ---- */
enum { ARM_R0 = 0, ARM_R7 = 7, ARM_SP = 13, ARM_PC = 15, ARM_CPSR = 16, ARM_NREGS = 18 };

#define CPSR_T (1U << 5)
/* If-Then state (bits 10-15, 25-26): our svc is not inside an IT block. */
#define CPSR_IT ((0x3fU << 10) | (0x3U << 25))

/* clang-format off */
static const long arm_syscalls[_ARCH_SYS_MAX] = {
        [ARCH_SYS_OPENAT] = 322,
        [ARCH_SYS_CLOSE] = 6,
        [ARCH_SYS_DUP2] = 63,
        [ARCH_SYS_DUP3] = 358,
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
        [ARCH_SYS_EPOLL_CTL] = 251,
        [ARCH_SYS_RT_TGSIGQUEUEINFO] = 363,
        [ARCH_SYS_RESTART_SYSCALL] = 0,
        [ARCH_SYS_GETPID] = 20,
        [ARCH_SYS_CLOSE_RANGE] = 436,
        [ARCH_SYS_RT_SIGTIMEDWAIT] = 177,
};
/* clang-format on */

static const unsigned char thumb_svc0[] = {0x00, 0xdf};

static uint64_t arm_get_pc(const struct arch_regs *r) { return r->u32[ARM_PC]; }
static void arm_set_pc(struct arch_regs *r, uint64_t pc) { r->u32[ARM_PC] = (uint32_t)pc; }
static uint64_t arm_get_sp(const struct arch_regs *r) { return r->u32[ARM_SP]; }

static void arm_prepare_call(struct arch_regs *r, long nr, const uint64_t args[6]) {
        r->u32[ARM_R7] = (uint32_t)nr;
        for (int i = 0; i < 6; i++)
                r->u32[ARM_R0 + i] = (uint32_t)args[i];
        r->u32[ARM_CPSR] = (r->u32[ARM_CPSR] | CPSR_T) & ~CPSR_IT;
}

static long arm_result(const struct arch_regs *r) { return (long)(int32_t)r->u32[ARM_R0]; }

static bool arm_normalise_restart(struct arch_regs *r) { return false; }

static const struct arch_personality pers_arm = {
        .name = "arm",
        .word_size = 4,
        .regset_size = ARM_NREGS * 4,
        .elf_machine = EM_ARM,
        .syscall_insn_len = sizeof(thumb_svc0),
        .syscall_insn = thumb_svc0,
        .insn_align = 2,
        .red_zone = 0,
        .mmap_pgoff = true,
        .epoll_event_packed = false,
        .restart_style = ARCH_RESTART_BEFORE_STOP,
        .syscalls = arm_syscalls,
        .get_pc = arm_get_pc,
        .set_pc = arm_set_pc,
        .get_sp = arm_get_sp,
        .prepare_call = arm_prepare_call,
        .result = arm_result,
        .normalise_restart = arm_normalise_restart,
};

#if defined(__aarch64__)
/* ---- aarch64 (user_pt_regs: x0-x30, sp, pc, pstate) ---- */
enum { A64_X0 = 0, A64_X8 = 8, A64_SP = 31, A64_PC = 32, A64_NREGS = 34 };

static const long aarch64_syscalls[_ARCH_SYS_MAX] = ARCH_NATIVE64_SYSCALLS;

static const unsigned char svc0[] = {0x01, 0x00, 0x00, 0xd4};

static uint64_t a64_get_pc(const struct arch_regs *r) { return r->u64[A64_PC]; }
static void a64_set_pc(struct arch_regs *r, uint64_t pc) { r->u64[A64_PC] = pc; }
static uint64_t a64_get_sp(const struct arch_regs *r) { return r->u64[A64_SP]; }

static void a64_prepare_call(struct arch_regs *r, long nr, const uint64_t args[6]) {
        r->u64[A64_X8] = (uint64_t)nr;
        for (int i = 0; i < 6; i++)
                r->u64[A64_X0 + i] = args[i];
}

static long a64_result(const struct arch_regs *r) { return (long)r->u64[A64_X0]; }

static const struct arch_personality pers_aarch64 = {
        .name = "aarch64",
        .word_size = 8,
        .regset_size = A64_NREGS * 8,
        .elf_machine = EM_AARCH64,
        .syscall_insn_len = sizeof(svc0),
        .syscall_insn = svc0,
        .insn_align = 4,
        .red_zone = 0,
        .mmap_pgoff = false,
        .epoll_event_packed = false,
        .restart_style = ARCH_RESTART_BEFORE_STOP,
        .syscalls = aarch64_syscalls,
        .get_pc = a64_get_pc,
        .set_pc = a64_set_pc,
        .get_sp = a64_get_sp,
        .prepare_call = a64_prepare_call,
        .result = a64_result,
        .normalise_restart = arm_normalise_restart,
};

const struct arch_personality *const arch_personalities[] = {&pers_aarch64, &pers_arm, NULL};
const char arch_build_name[] = "aarch64";
#elif defined(__arm__)
const struct arch_personality *const arch_personalities[] = {&pers_arm, NULL};
const char arch_build_name[] = "arm";
#else
#error "arch/arm.c built for a non-arm target"
#endif
