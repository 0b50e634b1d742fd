/* SPDX-License-Identifier: MIT */
/*
 * ppc64 (little-endian, ELFv2). Syscalls enter with `sc` (errors: CR0.SO
 * set, r3 the positive errno) or, since POWER9 and Linux 5.9, `scv 0`
 * (errors: r3 = -errno), which glibc prefers where the kernel offers it.
 * Calls prepared here always use `sc`; a stopped thread may have been in
 * either, which the regset's trap word tells (0xc00 or 0x3000). The kernel
 * applies the restart of an interrupted call after the tracer's stop.
 */
#include <asm/unistd.h>
#include <elf.h>

#include "arch-impl.h"

/* struct pt_regs as the regset holds it (48 words, the last 4 unused). */
enum {
        PPC_R0 = 0,
        PPC_R1 = 1,
        PPC_R3 = 3,
        PPC_NIP = 32,
        PPC_ORIG_R3 = 34,
        PPC_CCR = 38,
        PPC_TRAP = 40,
        PPC_RESULT = 43,
        PPC_NREGS = 48,
};

#define CR0_SO 0x10000000UL
#define TRAP_SC 0xc00
#define TRAP_SCV 0x3000

static const long ppc64_syscalls[_ARCH_SYS_MAX] = ARCH_NATIVE64_SYSCALLS;

static const unsigned char sc[] = {0x02, 0x00, 0x00, 0x44};

static uint64_t ppc_get_pc(const struct arch_regs *r) { return r->u64[PPC_NIP]; }
static void ppc_set_pc(struct arch_regs *r, uint64_t pc) { r->u64[PPC_NIP] = pc; }
static uint64_t ppc_get_sp(const struct arch_regs *r) { return r->u64[PPC_R1]; }

static void ppc_prepare_call(struct arch_regs *r, long nr, const uint64_t args[6]) {
        r->u64[PPC_R0] = (uint64_t)nr;
        for (int i = 0; i < 6; i++)
                r->u64[PPC_R3 + i] = args[i];
        r->u64[PPC_ORIG_R3] = args[0];
        /* A clear summary-overflow bit reads as "no error" to the kernel's
         * restart check, which runs on these registers when the thread
         * leaves the stop it was interrupted in. */
        r->u64[PPC_CCR] &= ~CR0_SO;
}

static long ppc_result(const struct arch_regs *r) {
        if (r->u64[PPC_CCR] & CR0_SO)
                return -(long)r->u64[PPC_R3];
        return (long)r->u64[PPC_R3];
}

static bool ppc_normalise_restart(struct arch_regs *r) {
        uint64_t trap = r->u64[PPC_TRAP] & ~0xfULL;
        long ret;

        if (trap == TRAP_SC && (r->u64[PPC_CCR] & CR0_SO))
                ret = -(long)r->u64[PPC_R3];
        else if (trap == TRAP_SCV)
                ret = (long)r->u64[PPC_R3];
        else
                return false;
        switch (arch_restart_code(ret)) {
        case ERESTARTSYS:
        case ERESTARTNOINTR:
        case ERESTARTNOHAND:
                break;
        case ERESTART_RESTARTBLOCK:
                r->u64[PPC_R0] = __NR_restart_syscall;
                break;
        default:
                return false;
        }
        r->u64[PPC_R3] = r->u64[PPC_ORIG_R3];
        r->u64[PPC_NIP] -= 4; /* sc and scv are both 4 bytes */
        r->u64[PPC_CCR] &= ~CR0_SO;
        r->u64[PPC_RESULT] = 0;
        return true;
}

static const struct arch_personality pers_ppc64le = {
        .name = "ppc64le",
        .word_size = 8,
        .regset_size = PPC_NREGS * 8,
        .elf_machine = EM_PPC64,
        .syscall_insn_len = sizeof(sc),
        .syscall_insn = sc,
        .insn_align = 4,
        .red_zone = 288, /* ELFv2 */
        .mmap_pgoff = false,
        .epoll_event_packed = false,
        .restart_style = ARCH_RESTART_AFTER_STOP,
        .syscalls = ppc64_syscalls,
        .get_pc = ppc_get_pc,
        .set_pc = ppc_set_pc,
        .get_sp = ppc_get_sp,
        .prepare_call = ppc_prepare_call,
        .result = ppc_result,
        .normalise_restart = ppc_normalise_restart,
};

const struct arch_personality *const arch_personalities[] = {&pers_ppc64le, NULL};
const char arch_build_name[] = "ppc64le";
