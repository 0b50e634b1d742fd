/* SPDX-License-Identifier: MIT */
/*
 * riscv64. The regset (user_regs_struct: pc, then x1-x31) has no orig_a0,
 * the first argument an interrupted syscall is restarted with; kernels
 * before 6.7 apply the restart after the tracer's stop, so a stopped
 * thread's registers show a0 = -ERESTART* and the argument is lost to the
 * tracer. Such a call is replayed (ARCH_RESTART_REPLAY, see arch.h): the
 * kernel restarts it, the tracer sees its entry with all arguments, cancels
 * it and has it executed again when it leaves. Since 6.7 (and in stable
 * kernels that took that change, Debian's 6.1.176 among them) the kernel
 * fixes the registers up before the stop: a0 already holds the argument
 * again, normalise_restart() sees no restart code, and nothing is replayed.
 */
#include <asm/unistd.h>
#include <elf.h>

#include "arch-impl.h"

enum { RV_PC = 0, RV_SP = 2, RV_A0 = 10, RV_A7 = 17, RV_NREGS = 32 };

static const long riscv64_syscalls[_ARCH_SYS_MAX] = ARCH_NATIVE64_SYSCALLS;

static const unsigned char ecall[] = {0x73, 0x00, 0x00, 0x00};

static uint64_t rv_get_pc(const struct arch_regs *r) { return r->u64[RV_PC]; }
static void rv_set_pc(struct arch_regs *r, uint64_t pc) { r->u64[RV_PC] = pc; }
static uint64_t rv_get_sp(const struct arch_regs *r) { return r->u64[RV_SP]; }

static void rv_prepare_call(struct arch_regs *r, long nr, const uint64_t args[6]) {
        r->u64[RV_A7] = (uint64_t)nr;
        for (int i = 0; i < 6; i++)
                r->u64[RV_A0 + i] = args[i];
}

static long rv_result(const struct arch_regs *r) { return (long)r->u64[RV_A0]; }

static bool rv_normalise_restart(struct arch_regs *r) {
        return arch_restart_code((long)r->u64[RV_A0]) != 0;
}

static const struct arch_personality pers_riscv64 = {
        .name = "riscv64",
        .word_size = 8,
        .regset_size = RV_NREGS * 8,
        .elf_machine = EM_RISCV,
        .syscall_insn_len = sizeof(ecall),
        .syscall_insn = ecall,
        .insn_align = 2, /* compressed code puts 4-byte instructions on 2 */
        .red_zone = 0,
        .mmap_pgoff = false,
        .epoll_event_packed = false,
        .restart_style = ARCH_RESTART_REPLAY,
        .syscalls = riscv64_syscalls,
        .get_pc = rv_get_pc,
        .set_pc = rv_set_pc,
        .get_sp = rv_get_sp,
        .prepare_call = rv_prepare_call,
        .result = rv_result,
        .normalise_restart = rv_normalise_restart,
};

const struct arch_personality *const arch_personalities[] = {&pers_riscv64, NULL};
const char arch_build_name[] = "riscv64";
