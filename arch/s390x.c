/* SPDX-License-Identifier: MIT */
/*
 * s390x (big-endian). `svc N` takes the syscall number from its immediate
 * when N is not 0 (glibc uses that for numbers below 256), from r1 when it
 * is `svc 0`: only `svc 0` can run any call, so it is the gadget. The
 * regset (psw, r0-r15, access registers, orig_gpr2) shows orig_gpr2, the
 * first argument, so an interrupted call (r2 = -ERESTART*, restarted by the
 * kernel after the stop) is normalised by putting it back and moving the
 * PSW onto the svc again. -ERESTART_RESTARTBLOCK re-runs the original call
 * (a `svc N` cannot be pointed at restart_syscall): a sleep starts over.
 * Plain mmap is the old one-pointer form (its six arguments in memory).
 */
#include <asm/unistd.h>
#include <elf.h>

#include "arch-impl.h"

/* In 64-bit words: psw mask and address, r0-r15; then 16 32-bit access
 * registers (8 words) and orig_gpr2. */
enum { S390_PSWADDR = 1, S390_R1 = 3, S390_R2 = 4, S390_R15 = 17, S390_ORIG_R2 = 26 };
#define S390_REGSET_SIZE (27 * 8)

static const long s390x_syscalls[_ARCH_SYS_MAX] = ARCH_NATIVE64_SYSCALLS;

static const unsigned char svc0[] = {0x0a, 0x00};

static uint64_t s390_get_pc(const struct arch_regs *r) { return r->u64[S390_PSWADDR]; }
static void s390_set_pc(struct arch_regs *r, uint64_t pc) { r->u64[S390_PSWADDR] = pc; }
static uint64_t s390_get_sp(const struct arch_regs *r) { return r->u64[S390_R15]; }

static void s390_prepare_call(struct arch_regs *r, long nr, const uint64_t args[6]) {
        r->u64[S390_R1] = (uint64_t)nr;
        for (int i = 0; i < 6; i++)
                r->u64[S390_R2 + i] = args[i];
        r->u64[S390_ORIG_R2] = args[0];
}

static long s390_result(const struct arch_regs *r) { return (long)r->u64[S390_R2]; }

static bool s390_normalise_restart(struct arch_regs *r) {
        if (!arch_restart_code((long)r->u64[S390_R2]))
                return false;
        r->u64[S390_R2] = r->u64[S390_ORIG_R2];
        r->u64[S390_PSWADDR] -= sizeof(svc0);
        return true;
}

static const struct arch_personality pers_s390x = {
        .name = "s390x",
        .word_size = 8,
        .regset_size = S390_REGSET_SIZE,
        .elf_machine = EM_S390,
        .syscall_insn_len = sizeof(svc0),
        .syscall_insn = svc0,
        .insn_align = 2,
        .red_zone = 0,
        .mmap_pgoff = false,
        .mmap_args_in_memory = true,
        .epoll_event_packed = false,
        .restart_style = ARCH_RESTART_AFTER_STOP,
        .syscalls = s390x_syscalls,
        .get_pc = s390_get_pc,
        .set_pc = s390_set_pc,
        .get_sp = s390_get_sp,
        .prepare_call = s390_prepare_call,
        .result = s390_result,
        .normalise_restart = s390_normalise_restart,
};

const struct arch_personality *const arch_personalities[] = {&pers_s390x, NULL};
const char arch_build_name[] = "s390x";
