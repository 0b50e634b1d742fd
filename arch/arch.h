/* SPDX-License-Identifier: MIT */
/*
 * The architecture contract.
 *
 * Generic code (the engine in helper/) never tests an architecture macro: it
 * asks this layer for the personality of a stopped thread, then reads and
 * writes registers, prepares remote syscalls and decodes their results only
 * through a struct arch_personality. arch/common.c holds what every
 * architecture shares (reading the regset, telling personalities apart by
 * regset size, ELF header and auxiliary vector); one small file per
 * architecture family holds its personalities (arch/x86.c: x86_64 and i386,
 * arch/arm.c: aarch64 and AArch32, arch/ppc64.c, arch/s390x.c,
 * arch/riscv64.c). meson builds exactly one family file.
 *
 * A remote syscall is run by pointing the program counter of a stopped
 * tracee at an existing syscall instruction (a "gadget"), loading number and
 * arguments, and letting the tracee run to its syscall-exit stop with
 * PTRACE_SYSCALL. Everything needed for that is below; nothing is written
 * into the target's code.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Syscalls the engine runs inside a target; the value is an index into a
 * personality's syscall table, whose entries are -1 where the call does not
 * exist for that personality. The engine only runs calls every supported
 * personality has (dup3, never dup2; clone, never fork); the tables still
 * list dup2 where it exists, checked against the kernel's headers. */
enum arch_sys {
        ARCH_SYS_OPENAT,
        ARCH_SYS_CLOSE,
        ARCH_SYS_DUP2,
        ARCH_SYS_DUP3,
        ARCH_SYS_FCNTL,
        ARCH_SYS_IOCTL,
        ARCH_SYS_SETSID,
        ARCH_SYS_SETPGID,
        ARCH_SYS_GETSID,
        ARCH_SYS_RT_SIGACTION,
        ARCH_SYS_MMAP, /* mmap2 where `mmap_pgoff` is set */
        ARCH_SYS_MUNMAP,
        ARCH_SYS_CLONE,
        ARCH_SYS_WAIT4,
        ARCH_SYS_KILL,
        ARCH_SYS_EPOLL_CTL,
        ARCH_SYS_RT_TGSIGQUEUEINFO,
        ARCH_SYS_RESTART_SYSCALL,
        ARCH_SYS_GETPID,
        ARCH_SYS_CLOSE_RANGE,
        ARCH_SYS_RT_SIGTIMEDWAIT, /* with a time_t of the personality's width */
        _ARCH_SYS_MAX,
};

/* Raw register image as PTRACE_GETREGSET(NT_PRSTATUS) returns it, in the
 * byte order of the machine. Big enough for every supported architecture's
 * general purpose set (ppc64 is the largest at 384 bytes). */
struct arch_regs {
        union {
                uint64_t u64[64];
                uint32_t u32[128];
                unsigned char bytes[512];
        };
        size_t size; /* bytes the kernel returned */
};

/* When the kernel's restart fix-up of an interrupted syscall (-ERESTART*)
 * happens relative to the stop a tracer sees. */
enum arch_restart_style {
        /* x86, ppc, s390: after the stop; the registers show -ERESTART* and
         * the PC after the instruction: normalise_restart() fixes them. */
        ARCH_RESTART_AFTER_STOP,
        /* arm64, arm, riscv >= 6.7: before the stop; the PC is already back
         * on the instruction and the first argument register restored. */
        ARCH_RESTART_BEFORE_STOP,
        /* riscv < 6.7: after the stop, but the register that held the first
         * argument (orig_a0) is not in the regset, so the tracer cannot
         * normalise by itself: it lets the kernel restart the call, stops
         * the thread at the restarted call's entry (where the arguments are
         * visible), cancels it and replays it when leaving.
         * normalise_restart() only says whether this is needed. */
        ARCH_RESTART_REPLAY,
};

struct arch_personality {
        const char *name;     /* "x86_64", "i386", "aarch64", "arm", ... */
        unsigned word_size;   /* bytes in a target pointer / long */
        size_t regset_size;   /* NT_PRSTATUS size that identifies it */
        uint16_t elf_machine; /* e_machine of its programs (EM_*) */
        unsigned syscall_insn_len;
        const unsigned char *syscall_insn; /* bytes as they sit in memory */
        unsigned insn_align;               /* an instruction starts at a multiple */
        size_t red_zone;                   /* bytes below SP the ABI lets code use */
        bool mmap_pgoff;                   /* ARCH_SYS_MMAP takes the offset in pages */
        bool mmap_args_in_memory;          /* ARCH_SYS_MMAP takes a pointer to its 6 args */
        bool epoll_event_packed;           /* struct epoll_event is 12 bytes */
        enum arch_restart_style restart_style;
        const long *syscalls; /* [_ARCH_SYS_MAX], -1 = absent */

        uint64_t (*get_pc)(const struct arch_regs *r);
        void (*set_pc)(struct arch_regs *r, uint64_t pc);
        uint64_t (*get_sp)(const struct arch_regs *r);

        /* Load number and up to six arguments so that executing the syscall
         * instruction at PC performs exactly this call, and make sure the
         * kernel's restart logic will not rewrite the registers of our call
         * (x86: orig_ax = -1). nr -1 cancels a call at its entry stop. */
        void (*prepare_call)(struct arch_regs *r, long nr, const uint64_t args[6]);

        /* The result at a syscall-exit stop as a long: >= 0 success, or
         * -errno (sign-extended for 32-bit personalities). */
        long (*result)(const struct arch_regs *r);

        /* ARCH_RESTART_AFTER_STOP: turn registers saved at a stop after an
         * interrupted syscall into registers that re-execute that syscall
         * when the thread resumes without passing through the signal path
         * (-ERESTARTSYS, NOINTR, NOHAND re-run the same call;
         * -ERESTART_RESTARTBLOCK runs restart_syscall where the instruction
         * takes its number from a register). Registers of a thread that was
         * not in a syscall or whose syscall completed are left unchanged.
         * ARCH_RESTART_REPLAY: changes nothing, tells whether a replay is
         * needed. ARCH_RESTART_BEFORE_STOP: nothing to do, false.
         * Returns true if the registers show an interrupted syscall. */
        bool (*normalise_restart)(struct arch_regs *r);
};

/* The personality whose NT_PRSTATUS regset has this size, or NULL. */
const struct arch_personality *arch_personality_from_regset_size(size_t size);

/* The personalities this build can adopt, NULL-terminated; the first one is
 * the native personality of this build. */
extern const struct arch_personality *const arch_personalities[];

/* Name of the architecture this build runs on ("x86_64", "aarch64", ...). */
extern const char arch_build_name[];

/* Read a stopped thread's general purpose registers and tell its
 * personality. Returns 0 or -errno (-ENOEXEC: a regset of unknown size). */
int arch_get_regs(pid_t tid, struct arch_regs *r, const struct arch_personality **pers);

/* Write registers back (the same size that was read). 0 or -errno. */
int arch_set_regs(pid_t tid, const struct arch_regs *r);

/* Syscall number for `sys` or -1. */
static inline long arch_sysno(const struct arch_personality *p, enum arch_sys sys) {
        return p->syscalls[sys];
}

/* The personality an ELF header (at least 20 bytes of it) describes, if this
 * build can adopt it; NULL otherwise. Used to refuse a target before it is
 * touched; the regset size decides again once it is stopped. */
const struct arch_personality *arch_personality_from_elf(const unsigned char *ehdr, size_t len);

/* The word size of a process from the layout of its auxiliary vector
 * (/proc/PID/auxv: pairs of words in this machine's byte order, ending with
 * a zero type): 8 or 4, 0 if neither fits. */
unsigned arch_auxv_word_size(const unsigned char *buf, size_t len);
