/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the arch layer (arch/arch.h) for the personalities this build
 * can adopt: x86_64 with its i386 compat personality on 64-bit builds, i386
 * alone on -m32 builds.
 *
 * Register layouts are never taken from arch/x86.c: the native one comes from
 * struct user_regs_struct in <sys/user.h> (what the kernel's NT_PRSTATUS
 * regset is), the compat i386 one is written out here from the kernel's
 * struct user_regs_struct of arch/x86/include/asm/user_32.h, because a 64-bit
 * <sys/user.h> has no 32-bit variant. Syscall numbers come from the uapi
 * headers through tests/unit/meson.build.
 */
#include <assert.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs these before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "arch.h"

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Where each register a remote syscall needs lives in a regset, in bytes. */
struct regs_layout {
        const char *source;
        size_t word; /* bytes per register */
        size_t size; /* bytes in the NT_PRSTATUS regset */
        size_t nr, orig_nr, pc, sp;
        size_t args[6];
};

/* The only architecture test in this file: the field names of
 * user_regs_struct differ per architecture, so they cannot be spelled
 * generically. Everything below uses the table. */
#define UREG(f) offsetof(struct user_regs_struct, f)
#if defined(__x86_64__)
static const struct regs_layout native_layout = {
        .source = "x86_64 struct user_regs_struct",
        .word = sizeof(((struct user_regs_struct *)0)->rax),
        .size = sizeof(struct user_regs_struct),
        .nr = UREG(rax),
        .orig_nr = UREG(orig_rax),
        .pc = UREG(rip),
        .sp = UREG(rsp),
        .args = {UREG(rdi), UREG(rsi), UREG(rdx), UREG(r10), UREG(r8), UREG(r9)},
};
#elif defined(__i386__)
static const struct regs_layout native_layout = {
        .source = "i386 struct user_regs_struct",
        .word = sizeof(((struct user_regs_struct *)0)->eax),
        .size = sizeof(struct user_regs_struct),
        .nr = UREG(eax),
        .orig_nr = UREG(orig_eax),
        .pc = UREG(eip),
        .sp = UREG(esp),
        .args = {UREG(ebx), UREG(ecx), UREG(edx), UREG(esi), UREG(edi), UREG(ebp)},
};
#else
#error "tests/unit/test-arch.c knows the user_regs_struct of x86 only"
#endif

/* The 17 32-bit words of an i386 regset, as a compat (32-bit) task on an
 * x86_64 kernel and a native i386 kernel both return it. */
/* clang-format off */
enum {
        I386_EBX, I386_ECX, I386_EDX, I386_ESI, I386_EDI, I386_EBP,
        I386_EAX, I386_DS, I386_ES, I386_FS, I386_GS, I386_ORIG_EAX,
        I386_EIP, I386_CS, I386_EFLAGS, I386_ESP, I386_SS, I386_NREGS,
};
/* clang-format on */

static const struct regs_layout i386_layout = {
        .source = "hard-coded i386 layout (17 u32)",
        .word = 4,
        .size = I386_NREGS * 4,
        .nr = I386_EAX * 4,
        .orig_nr = I386_ORIG_EAX * 4,
        .pc = I386_EIP * 4,
        .sp = I386_ESP * 4,
        .args = {I386_EBX * 4, I386_ECX * 4, I386_EDX * 4, I386_ESI * 4, I386_EDI * 4,
                 I386_EBP * 4},
};

/* The kernel's -ERESTART* values: internal, so no uapi header has them. */
static const long restart_errors[] = {-512 /* ERESTARTSYS */, -513 /* ERESTARTNOINTR */,
                                      -514 /* ERESTARTNOHAND */};
#define ERESTART_RESTARTBLOCK 516

static const char *const arch_sys_names[_ARCH_SYS_MAX] = {
        [ARCH_SYS_OPENAT] = "openat",
        [ARCH_SYS_CLOSE] = "close",
        [ARCH_SYS_DUP2] = "dup2",
        [ARCH_SYS_DUP3] = "dup3",
        [ARCH_SYS_FCNTL] = "fcntl",
        [ARCH_SYS_IOCTL] = "ioctl",
        [ARCH_SYS_SETSID] = "setsid",
        [ARCH_SYS_SETPGID] = "setpgid",
        [ARCH_SYS_GETSID] = "getsid",
        [ARCH_SYS_RT_SIGACTION] = "rt_sigaction",
        [ARCH_SYS_MMAP] = "mmap",
        [ARCH_SYS_MUNMAP] = "munmap",
        [ARCH_SYS_CLONE] = "clone",
        [ARCH_SYS_WAIT4] = "wait4",
        [ARCH_SYS_KILL] = "kill",
        [ARCH_SYS_EPOLL_CTL] = "epoll_ctl",
        [ARCH_SYS_RT_TGSIGQUEUEINFO] = "rt_tgsigqueueinfo",
        [ARCH_SYS_RESTART_SYSCALL] = "restart_syscall",
        [ARCH_SYS_GETPID] = "getpid",
        [ARCH_SYS_CLOSE_RANGE] = "close_range",
};

/* Numbers read from the uapi headers by meson, in enum arch_sys order. */
#ifdef UNISTD_64_NRS
static const long unistd_64_nrs[] = {UNISTD_64_NRS};
static_assert(ELEMENTSOF(unistd_64_nrs) == _ARCH_SYS_MAX,
              "tests/unit/meson.build lists one name per enum arch_sys");
#endif
#ifdef UNISTD_32_NRS
static const long unistd_32_nrs[] = {UNISTD_32_NRS};
static_assert(ELEMENTSOF(unistd_32_nrs) == _ARCH_SYS_MAX,
              "tests/unit/meson.build lists one name per enum arch_sys");
#endif

static const struct arch_personality *personality_named(const char *name) {
        for (size_t i = 0; arch_personalities[i]; i++)
                if (strcmp(arch_personalities[i]->name, name) == 0)
                        return arch_personalities[i];
        return NULL;
}

/* The layout a personality's regset must have, or NULL if this file does not
 * know it (a new personality then fails the tests that need one). */
static const struct regs_layout *layout_of(const struct arch_personality *p) {
        if (p == arch_personalities[0])
                return &native_layout;
        if (strcmp(p->name, "i386") == 0)
                return &i386_layout;
        return NULL;
}

static uint64_t reg_read(const struct arch_regs *r, const struct regs_layout *l, size_t off) {
        if (l->word == 8) {
                uint64_t v;
                memcpy(&v, r->bytes + off, sizeof(v));
                return v;
        }
        uint32_t v;
        memcpy(&v, r->bytes + off, sizeof(v));
        return v;
}

/* Stores the low l->word bytes of v, as the kernel keeps a 32-bit register. */
static void reg_write(struct arch_regs *r, const struct regs_layout *l, size_t off, uint64_t v) {
        if (l->word == 8) {
                memcpy(r->bytes + off, &v, sizeof(v));
                return;
        }
        uint32_t v32 = (uint32_t)v;
        memcpy(r->bytes + off, &v32, sizeof(v32));
}

/* What the engine must count as a failed remote syscall: the kernel returns
 * errors as -1..-4095 in the result register, everything else is a value. */
static bool is_syscall_error(long result) { return result < 0 && result >= -4095; }

static const struct arch_personality *require_personality(const char *name) {
        const struct arch_personality *p = personality_named(name);

        if (!p) {
                print_message("SKIP: this %s build has no %s personality\n", arch_build_name, name);
                skip();
        }
        return p;
}

/* ---- personality detection ---- */

static void native_personality_matches_this_build(void **state) {
        const struct arch_personality *native = arch_personalities[0];

        assert_non_null(native);
        assert_string_equal(native->name, arch_build_name);
        assert_int_equal(native->word_size, sizeof(void *));
        assert_int_equal(native->regset_size, sizeof(struct user_regs_struct));
}

static void regset_of_216_bytes_is_x86_64_on_64bit_builds(void **state) {
        const struct arch_personality *p = arch_personality_from_regset_size(216);

        if (sizeof(void *) == 8) {
                assert_non_null(p);
                assert_string_equal(p->name, "x86_64");
        } else {
                /* A 32-bit tracer only ever sees 32-bit tracees. */
                assert_null(p);
        }
}

static void regset_of_68_bytes_is_i386(void **state) {
        const struct arch_personality *p = arch_personality_from_regset_size(68);

        assert_non_null(p);
        assert_string_equal(p->name, "i386");
        assert_int_equal(p->word_size, 4);
}

static void regset_of_other_sizes_is_unknown(void **state) {
        /* 0, off-by-one neighbours of both x86 sizes, aarch64 (272), arm (72)
         * and the whole buffer. */
        static const size_t sizes[] = {0, 4, 67, 69, 72, 215, 217, 272, 512};

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                if (arch_personality_from_regset_size(sizes[i]))
                        print_message("regset size %zu was recognised\n", sizes[i]);
                assert_null(arch_personality_from_regset_size(sizes[i]));
        }
}

static void every_personality_is_found_by_its_regset_size(void **state) {
        for (size_t i = 0; arch_personalities[i]; i++)
                assert_ptr_equal(
                        arch_personality_from_regset_size(arch_personalities[i]->regset_size),
                        arch_personalities[i]);
}

static void make_ehdr64(Elf64_Ehdr *h, uint16_t machine) {
        memset(h, 0, sizeof(*h));
        memcpy(h->e_ident, ELFMAG, SELFMAG);
        h->e_ident[EI_CLASS] = ELFCLASS64;
        h->e_ident[EI_DATA] = ELFDATA2LSB;
        h->e_ident[EI_VERSION] = EV_CURRENT;
        h->e_type = ET_DYN;
        h->e_machine = machine; /* little-endian host: stored as the file has it */
        h->e_version = EV_CURRENT;
}

static void make_ehdr32(Elf32_Ehdr *h, uint16_t machine) {
        memset(h, 0, sizeof(*h));
        memcpy(h->e_ident, ELFMAG, SELFMAG);
        h->e_ident[EI_CLASS] = ELFCLASS32;
        h->e_ident[EI_DATA] = ELFDATA2LSB;
        h->e_ident[EI_VERSION] = EV_CURRENT;
        h->e_type = ET_EXEC;
        h->e_machine = machine;
        h->e_version = EV_CURRENT;
}

static void elf64_x86_64_is_x86_64_where_adoptable(void **state) {
        Elf64_Ehdr h;
        const struct arch_personality *p;

        make_ehdr64(&h, EM_X86_64);
        p = arch_personality_from_elf((const unsigned char *)&h, sizeof(h));
        if (personality_named("x86_64")) {
                assert_non_null(p);
                assert_string_equal(p->name, "x86_64");
        } else {
                /* An i386 build cannot trace a 64-bit task: refuse it early. */
                assert_null(p);
        }
}

static void elf32_i386_is_i386(void **state) {
        Elf32_Ehdr h;
        const struct arch_personality *p;

        make_ehdr32(&h, EM_386);
        p = arch_personality_from_elf((const unsigned char *)&h, sizeof(h));
        assert_non_null(p);
        assert_string_equal(p->name, "i386");
}

static void elf_needs_only_the_first_20_bytes(void **state) {
        Elf32_Ehdr h;

        make_ehdr32(&h, EM_386);
        assert_non_null(arch_personality_from_elf((const unsigned char *)&h, 20));
        assert_null(arch_personality_from_elf((const unsigned char *)&h, 19));
}

static void elf_of_other_machines_is_refused(void **state) {
        Elf64_Ehdr h64;
        Elf32_Ehdr h32;

        make_ehdr32(&h32, EM_ARM);
        assert_null(arch_personality_from_elf((const unsigned char *)&h32, sizeof(h32)));
        make_ehdr64(&h64, EM_AARCH64);
        assert_null(arch_personality_from_elf((const unsigned char *)&h64, sizeof(h64)));
        make_ehdr64(&h64, EM_RISCV);
        assert_null(arch_personality_from_elf((const unsigned char *)&h64, sizeof(h64)));

        /* x32: 32-bit class with the x86_64 machine; its registers look like
         * x86_64 but its syscall numbers carry __X32_SYSCALL_BIT. */
        make_ehdr32(&h32, EM_X86_64);
        assert_null(arch_personality_from_elf((const unsigned char *)&h32, sizeof(h32)));

        /* Mismatched class and machine. */
        make_ehdr64(&h64, EM_386);
        assert_null(arch_personality_from_elf((const unsigned char *)&h64, sizeof(h64)));

        /* Big-endian data encoding. */
        make_ehdr32(&h32, EM_386);
        h32.e_ident[EI_DATA] = ELFDATA2MSB;
        assert_null(arch_personality_from_elf((const unsigned char *)&h32, sizeof(h32)));
}

static void elf_short_or_garbage_is_refused(void **state) {
        static const unsigned char script[] = "#!/bin/sh\nexec sleep 1000\n";
        unsigned char zeros[64] = {0}, ones[64];
        Elf32_Ehdr h;

        memset(ones, 0xff, sizeof(ones));
        assert_null(arch_personality_from_elf(zeros, 0));
        assert_null(arch_personality_from_elf(zeros, sizeof(zeros)));
        assert_null(arch_personality_from_elf(ones, sizeof(ones)));
        assert_null(arch_personality_from_elf(script, sizeof(script) - 1));

        /* Only the magic is ELF. */
        make_ehdr32(&h, EM_386);
        assert_null(arch_personality_from_elf((const unsigned char *)&h, SELFMAG));
        h.e_ident[EI_CLASS] = ELFCLASSNONE;
        assert_null(arch_personality_from_elf((const unsigned char *)&h, sizeof(h)));
        make_ehdr32(&h, EM_386);
        h.e_ident[EI_MAG1] = 'e';
        assert_null(arch_personality_from_elf((const unsigned char *)&h, sizeof(h)));
}

static void elf_of_this_test_is_the_native_personality(void **state) {
        unsigned char ehdr[64];
        ssize_t n;
        int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

        assert_true(fd >= 0);
        n = read(fd, ehdr, sizeof(ehdr));
        close(fd);
        assert_true(n >= 20);
        assert_ptr_equal(arch_personality_from_elf(ehdr, (size_t)n), arch_personalities[0]);
}

static void personality_constants_match_the_abi(void **state) {
        for (size_t i = 0; arch_personalities[i]; i++) {
                const struct arch_personality *p = arch_personalities[i];

                assert_int_equal(p->syscall_insn_len, 2);
                assert_int_equal(p->restart_style, ARCH_RESTART_AFTER_STOP);
                assert_non_null(p->syscalls);
                if (strcmp(p->name, "x86_64") == 0) {
                        assert_int_equal(p->word_size, 8);
                        assert_int_equal(p->regset_size, 27 * 8);
                        assert_memory_equal(p->syscall_insn, "\x0f\x05", 2); /* syscall */
                        assert_int_equal(p->red_zone, 128);
                        assert_false(p->mmap_pgoff);
                } else if (strcmp(p->name, "i386") == 0) {
                        assert_int_equal(p->word_size, 4);
                        assert_int_equal(p->regset_size, 17 * 4);
                        assert_memory_equal(p->syscall_insn, "\xcd\x80", 2); /* int $0x80 */
                        assert_int_equal(p->red_zone, 0);
                        assert_true(p->mmap_pgoff); /* mmap2 */
                } else {
                        fail_msg("no expectations for personality %s", p->name);
                }
                /* x86_64 packs struct epoll_event so that it is 12 bytes like
                 * i386's; a wrong flag corrupts re-added epoll registrations. */
                assert_true(p->epoll_event_packed);
        }
        assert_int_equal(sizeof(struct epoll_event), 12);
}

/* ---- register marshalling ---- */

static void check_prepare_call(const struct arch_personality *p, const struct regs_layout *l) {
        struct arch_regs r, expected;
        uint64_t args[6];
        long nr = arch_sysno(p, ARCH_SYS_OPENAT);

        print_message("%s against %s\n", p->name, l->source);
        assert_int_equal(p->regset_size, l->size);

        /* Distinct values with the high half set, so a swapped, shifted or
         * (for 32-bit) badly truncated argument shows. */
        for (int i = 0; i < 6; i++)
                args[i] = 0xa1a2a3a4b0b1b2b0ULL + (uint64_t)i;
        memset(r.bytes, 0x5a, sizeof(r.bytes));
        r.size = l->size;
        expected = r;

        p->prepare_call(&r, nr, args);

        reg_write(&expected, l, l->nr, (uint64_t)nr);
        reg_write(&expected, l, l->orig_nr, UINT64_MAX);
        for (int i = 0; i < 6; i++)
                reg_write(&expected, l, l->args[i], args[i]);
        assert_int_equal(reg_read(&r, l, l->nr), nr);
        for (int i = 0; i < 6; i++)
                assert_int_equal(reg_read(&r, l, l->args[i]), reg_read(&expected, l, l->args[i]));
        /* orig_ax = -1 keeps the kernel's restart logic away from our call,
         * and the thread then reads as "not in a syscall". */
        assert_int_equal(reg_read(&r, l, l->orig_nr), reg_read(&expected, l, l->orig_nr));
        assert_int_equal(p->syscall_nr(&r), -1);
        /* Nothing else moved: PC, SP, flags and segments stay as saved. */
        assert_memory_equal(r.bytes, expected.bytes, sizeof(r.bytes));
        assert_int_equal(r.size, l->size);
}

static void native_prepare_call_matches_user_regs_struct(void **state) {
        check_prepare_call(arch_personalities[0], &native_layout);
}

static void i386_prepare_call_matches_the_17_word_layout(void **state) {
        check_prepare_call(require_personality("i386"), &i386_layout);
}

static void pc_and_sp_accessors_use_the_layout(void **state) {
        for (size_t i = 0; arch_personalities[i]; i++) {
                const struct arch_personality *p = arch_personalities[i];
                const struct regs_layout *l = layout_of(p);
                struct arch_regs r, expected;
                /* High user addresses: an i386 PC above 2 GiB must come back
                 * zero-extended, never sign-extended. */
                uint64_t pc = l->word == 8 ? 0x7ffff7a0b123 : 0xf7f0b123;
                uint64_t sp = l->word == 8 ? 0x7ffffffde000 : 0xffffd000;

                assert_non_null(l);
                memset(&r, 0, sizeof(r));
                reg_write(&r, l, l->pc, pc);
                reg_write(&r, l, l->sp, sp);
                assert_int_equal(p->get_pc(&r), pc);
                assert_int_equal(p->get_sp(&r), sp);

                expected = r;
                p->set_pc(&r, pc + 0x1000);
                reg_write(&expected, l, l->pc, pc + 0x1000);
                assert_memory_equal(r.bytes, expected.bytes, sizeof(r.bytes));
                assert_int_equal(p->get_pc(&r), pc + 0x1000);
        }
}

/* ---- results ---- */

static void i386_result_sign_extends_errno(void **state) {
        const struct arch_personality *p = require_personality("i386");
        struct arch_regs r = {.size = 68};

        r.u32[I386_EAX] = 0xfffffff2; /* -EFAULT as the 32-bit register holds it */
        assert_int_equal(p->result(&r), -EFAULT);
        assert_true(is_syscall_error(p->result(&r)));

        r.u32[I386_EAX] = 0xfffff001; /* -4095, the largest errno */
        assert_int_equal(p->result(&r), -4095);
        assert_true(is_syscall_error(p->result(&r)));

        r.u32[I386_EAX] = 3;
        assert_int_equal(p->result(&r), 3);
        r.u32[I386_EAX] = 0x7fff0000;
        assert_int_equal(p->result(&r), 0x7fff0000);
}

/* Documents a trap for the engine: result() sign-extends 32-bit values (the
 * contract says so), so an i386 mmap2 that returns an address above 2 GiB
 * (common: a compat task's mappings sit just below 4 GiB) decodes as a
 * negative long. Only -4095..-1 are errors; the address itself comes back by
 * truncating to the personality's word size. Testing `result < 0` for
 * failure would reject a successful mmap. */
static void i386_result_of_address_above_2gib_is_negative_but_no_error(void **state) {
        const struct arch_personality *p = require_personality("i386");
        struct arch_regs r = {.size = 68};
        long result;

        r.u32[I386_EAX] = 0xf7f00000;
        result = p->result(&r);
        assert_true(result < 0);
        assert_false(is_syscall_error(result));
        assert_int_equal((uint32_t)result, 0xf7f00000);

        /* -4096 is page-aligned but a page no user mapping can have. */
        r.u32[I386_EAX] = 0xfffff000;
        assert_false(is_syscall_error(p->result(&r)));
}

static void x86_64_result_is_rax(void **state) {
        const struct arch_personality *p = require_personality("x86_64");
        const struct regs_layout *l = layout_of(p);
        struct arch_regs r = {.size = 216};

        reg_write(&r, l, l->nr, (uint64_t)-EFAULT);
        assert_int_equal(p->result(&r), -EFAULT);
        reg_write(&r, l, l->nr, 0x7ffff7fc0000);
        assert_int_equal(p->result(&r), 0x7ffff7fc0000);
        assert_false(is_syscall_error(p->result(&r)));
}

/* ---- restart normalisation ---- */

/* Registers as the tracer sees them at a stop right after `nr` was
 * interrupted with `ax`: PC past the syscall instruction. */
static struct arch_regs interrupted_regs(const struct regs_layout *l, long nr, long ax) {
        struct arch_regs r;

        memset(r.bytes, 0x33, sizeof(r.bytes));
        r.size = l->size;
        reg_write(&r, l, l->nr, (uint64_t)ax);
        reg_write(&r, l, l->orig_nr, (uint64_t)nr);
        reg_write(&r, l, l->pc, 0x8049002);
        reg_write(&r, l, l->sp, 0xbfff0000);
        return r;
}

static void restart_errors_rewind_pc_and_reload_nr(void **state) {
        for (size_t i = 0; arch_personalities[i]; i++) {
                const struct arch_personality *p = arch_personalities[i];
                const struct regs_layout *l = layout_of(p);
                long nr = arch_sysno(p, ARCH_SYS_WAIT4);

                assert_non_null(l);
                for (size_t j = 0; j < ELEMENTSOF(restart_errors); j++) {
                        struct arch_regs r = interrupted_regs(l, nr, restart_errors[j]);
                        struct arch_regs expected = r;

                        print_message("%s: ax = %ld\n", p->name, restart_errors[j]);
                        assert_int_equal(p->syscall_nr(&r), nr);
                        assert_true(p->normalise_restart(&r));
                        reg_write(&expected, l, l->pc, 0x8049002 - p->syscall_insn_len);
                        reg_write(&expected, l, l->nr, (uint64_t)nr);
                        reg_write(&expected, l, l->orig_nr, UINT64_MAX);
                        assert_int_equal(p->get_pc(&r), 0x8049000);
                        assert_int_equal(reg_read(&r, l, l->nr), nr);
                        assert_int_equal(p->syscall_nr(&r), -1);
                        assert_memory_equal(r.bytes, expected.bytes, sizeof(r.bytes));
                }
        }
}

static void restart_block_runs_restart_syscall(void **state) {
        for (size_t i = 0; arch_personalities[i]; i++) {
                const struct arch_personality *p = arch_personalities[i];
                const struct regs_layout *l = layout_of(p);
                /* Written out rather than taken from the table under test. */
                long restart_nr = strcmp(p->name, "x86_64") == 0 ? 219 : 0;
                long nr = arch_sysno(p, ARCH_SYS_WAIT4);
                struct arch_regs r = interrupted_regs(l, nr, -ERESTART_RESTARTBLOCK);

                assert_true(p->normalise_restart(&r));
                assert_int_equal(p->get_pc(&r), 0x8049000);
                assert_int_equal(reg_read(&r, l, l->nr), restart_nr);
                assert_int_equal(p->syscall_nr(&r), -1);
        }
}

static void completed_or_eintr_syscall_is_left_alone(void **state) {
        /* -EINTR: a handler ran, or SA_RESTART was off; the program sees it. */
        static const long results[] = {-EINTR, 0, 5, -EAGAIN, -511, -515, -517};

        for (size_t i = 0; arch_personalities[i]; i++) {
                const struct arch_personality *p = arch_personalities[i];
                const struct regs_layout *l = layout_of(p);

                for (size_t j = 0; j < ELEMENTSOF(results); j++) {
                        struct arch_regs r =
                                interrupted_regs(l, arch_sysno(p, ARCH_SYS_WAIT4), results[j]);
                        struct arch_regs saved = r;

                        assert_false(p->normalise_restart(&r));
                        assert_memory_equal(r.bytes, saved.bytes, sizeof(r.bytes));
                }
        }
}

static void stop_outside_a_syscall_is_left_alone(void **state) {
        /* orig_ax = -1: the thread was stopped in user code (or is running
         * one of our calls); an ax that looks like -ERESTART* is just data. */
        for (size_t i = 0; arch_personalities[i]; i++) {
                const struct arch_personality *p = arch_personalities[i];
                const struct regs_layout *l = layout_of(p);

                for (size_t j = 0; j < ELEMENTSOF(restart_errors); j++) {
                        struct arch_regs r = interrupted_regs(l, -1, restart_errors[j]);
                        struct arch_regs saved = r;

                        assert_int_equal(p->syscall_nr(&r), -1);
                        assert_false(p->normalise_restart(&r));
                        assert_memory_equal(r.bytes, saved.bytes, sizeof(r.bytes));
                }
        }
}

/* ---- syscall tables ---- */

static void check_table(const struct arch_personality *p, const long *want, const char *header) {
        int mismatches = 0;

        for (int s = 0; s < _ARCH_SYS_MAX; s++) {
                if (arch_sysno(p, s) == want[s])
                        continue;
                print_message("%s %s: table has %ld, %s has %ld\n", p->name, arch_sys_names[s],
                              arch_sysno(p, s), header, want[s]);
                mismatches++;
        }
        assert_int_equal(mismatches, 0);
}

static void x86_64_syscalls_match_unistd_64(void **state) {
        const struct arch_personality *p = require_personality("x86_64");

#ifdef UNISTD_64_NRS
        check_table(p, unistd_64_nrs, "<asm/unistd_64.h>");
#else
        (void)p;
        print_message("SKIP: the compiler finds no <asm/unistd_64.h>\n");
        skip();
#endif
}

static void i386_syscalls_match_unistd_32(void **state) {
        const struct arch_personality *p = require_personality("i386");

#ifdef UNISTD_32_NRS
        check_table(p, unistd_32_nrs, "<asm/unistd_32.h>");
#else
        (void)p;
        print_message("SKIP: the compiler finds no <asm/unistd_32.h>\n");
        skip();
#endif
}

/* ---- live: a stopped child of this test ---- */

static pid_t live_child = -1;

/* A child stopped in a signal-delivery stop, traced by us. It stops with
 * kill() rather than raise(): glibc's raise() blocks all signals around
 * tgkill, so the stop would come on return from rt_sigprocmask; kill() is one
 * syscall, so the stop shows orig_ax = kill and its result 0. */
static pid_t start_stopped_child(void) {
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
                        _exit(77);
                kill(getpid(), SIGSTOP);
                _exit(0);
        }
        live_child = pid;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
                live_child = -1;
                print_message("SKIP: PTRACE_TRACEME is not permitted here "
                              "(seccomp or a container policy)\n");
                skip();
        }
        assert_true(WIFSTOPPED(status));
        assert_int_equal(WSTOPSIG(status), SIGSTOP);
        return pid;
}

static int reap_live_child(void **state) {
        if (live_child > 0) {
                kill(live_child, SIGKILL);
                while (waitpid(live_child, NULL, 0) < 0 && errno == EINTR)
                        ;
                live_child = -1;
        }
        return 0;
}

static void live_stopped_child_has_the_native_regset(void **state) {
        pid_t pid = start_stopped_child();
        const struct arch_personality *p = NULL;
        struct arch_regs r;

        assert_int_equal(arch_get_regs(pid, &r, &p), 0);
        assert_ptr_equal(p, arch_personalities[0]);
        assert_int_equal(r.size, p->regset_size);
        /* Stopped on the way out of kill(getpid(), SIGSTOP). */
        assert_int_equal(p->syscall_nr(&r), arch_sysno(p, ARCH_SYS_KILL));
        assert_int_equal(p->result(&r), 0);
}

/* The gadget assumption: after a syscall the PC is just past a syscall
 * instruction the engine can point a thread back at. On i386 that holds even
 * for calls through the vDSO's sysenter: the kernel returns to just past the
 * int $0x80 in __kernel_vsyscall. */
static void live_pc_is_just_past_a_syscall_instruction(void **state) {
        pid_t pid = start_stopped_child();
        const struct arch_personality *p = NULL;
        struct arch_regs r;
        unsigned char insn[2 * sizeof(long)];
        uintptr_t at, aligned;

        assert_int_equal(arch_get_regs(pid, &r, &p), 0);
        at = (uintptr_t)(p->get_pc(&r) - p->syscall_insn_len);
        /* PEEKDATA reads aligned words: fetch the two that may hold it. */
        aligned = at & ~(uintptr_t)(sizeof(long) - 1);
        for (size_t i = 0; i < 2; i++) {
                long word;

                errno = 0;
                word = ptrace(PTRACE_PEEKDATA, pid, (void *)(aligned + i * sizeof(long)), NULL);
                assert_int_equal(errno, 0);
                memcpy(insn + i * sizeof(long), &word, sizeof(long));
        }
        assert_memory_equal(insn + (at - aligned), p->syscall_insn, p->syscall_insn_len);
}

static void live_set_regs_round_trips(void **state) {
        pid_t pid = start_stopped_child();
        const struct arch_personality *p = NULL;
        struct arch_regs saved, moved, back;

        assert_int_equal(arch_get_regs(pid, &saved, &p), 0);

        /* A real change first, so a set_regs that writes nothing fails. */
        moved = saved;
        p->set_pc(&moved, p->get_pc(&saved) - p->syscall_insn_len);
        assert_int_equal(arch_set_regs(pid, &moved), 0);
        assert_int_equal(arch_get_regs(pid, &back, NULL), 0);
        assert_int_equal(back.size, saved.size);
        assert_int_equal(p->get_pc(&back), p->get_pc(&saved) - p->syscall_insn_len);
        assert_memory_equal(back.bytes, moved.bytes, back.size);

        assert_int_equal(arch_set_regs(pid, &saved), 0);
        assert_int_equal(arch_get_regs(pid, &back, NULL), 0);
        assert_memory_equal(back.bytes, saved.bytes, saved.size);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(native_personality_matches_this_build),
                cmocka_unit_test(regset_of_216_bytes_is_x86_64_on_64bit_builds),
                cmocka_unit_test(regset_of_68_bytes_is_i386),
                cmocka_unit_test(regset_of_other_sizes_is_unknown),
                cmocka_unit_test(every_personality_is_found_by_its_regset_size),
                cmocka_unit_test(elf64_x86_64_is_x86_64_where_adoptable),
                cmocka_unit_test(elf32_i386_is_i386),
                cmocka_unit_test(elf_needs_only_the_first_20_bytes),
                cmocka_unit_test(elf_of_other_machines_is_refused),
                cmocka_unit_test(elf_short_or_garbage_is_refused),
                cmocka_unit_test(elf_of_this_test_is_the_native_personality),
                cmocka_unit_test(personality_constants_match_the_abi),
                cmocka_unit_test(native_prepare_call_matches_user_regs_struct),
                cmocka_unit_test(i386_prepare_call_matches_the_17_word_layout),
                cmocka_unit_test(pc_and_sp_accessors_use_the_layout),
                cmocka_unit_test(i386_result_sign_extends_errno),
                cmocka_unit_test(i386_result_of_address_above_2gib_is_negative_but_no_error),
                cmocka_unit_test(x86_64_result_is_rax),
                cmocka_unit_test(restart_errors_rewind_pc_and_reload_nr),
                cmocka_unit_test(restart_block_runs_restart_syscall),
                cmocka_unit_test(completed_or_eintr_syscall_is_left_alone),
                cmocka_unit_test(stop_outside_a_syscall_is_left_alone),
                cmocka_unit_test(x86_64_syscalls_match_unistd_64),
                cmocka_unit_test(i386_syscalls_match_unistd_32),
                cmocka_unit_test_teardown(live_stopped_child_has_the_native_regset,
                                          reap_live_child),
                cmocka_unit_test_teardown(live_pc_is_just_past_a_syscall_instruction,
                                          reap_live_child),
                cmocka_unit_test_teardown(live_set_regs_round_trips, reap_live_child),
        };

        return cmocka_run_group_tests_name("arch", tests, NULL, NULL);
}
