/* SPDX-License-Identifier: MIT */
/*
 * What every architecture shares: reading and writing the NT_PRSTATUS
 * regset, telling personalities apart by its size, by an ELF header and by
 * the layout of an auxiliary vector. Nothing here knows a register or an
 * instruction, and nothing assumes a byte order: multi-byte fields are read
 * in the order of the machine this runs on, which is the order of every
 * process it can trace (s390x is big-endian).
 */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include "arch.h"

#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define ELFDATA_NATIVE ELFDATA2MSB
#else
#define ELFDATA_NATIVE ELFDATA2LSB
#endif

const struct arch_personality *arch_personality_from_regset_size(size_t size) {
        for (size_t i = 0; arch_personalities[i]; i++)
                if (arch_personalities[i]->regset_size == size)
                        return arch_personalities[i];
        return NULL;
}

const struct arch_personality *arch_personality_from_elf(const unsigned char *ehdr, size_t len) {
        uint16_t machine;
        unsigned word;

        if (len < 20 || memcmp(ehdr, ELFMAG, SELFMAG) != 0 || ehdr[EI_DATA] != ELFDATA_NATIVE)
                return NULL;
        if (ehdr[EI_CLASS] == ELFCLASS64)
                word = 8;
        else if (ehdr[EI_CLASS] == ELFCLASS32)
                word = 4;
        else
                return NULL;
        memcpy(&machine, ehdr + 18, sizeof(machine)); /* e_machine, in the file's order */
        for (size_t i = 0; arch_personalities[i]; i++) {
                const struct arch_personality *p = arch_personalities[i];
                if (p->elf_machine == machine && p->word_size == word)
                        return p;
        }
        return NULL;
}

unsigned arch_auxv_word_size(const unsigned char *buf, size_t len) {
        for (unsigned w = 8; w >= 4; w -= 4) {
                for (size_t off = 0; off + 2 * w <= len; off += 2 * w) {
                        uint64_t type;
                        if (w == 8) {
                                memcpy(&type, buf + off, 8);
                        } else {
                                uint32_t t32;
                                memcpy(&t32, buf + off, 4);
                                type = t32;
                        }
                        if (type == 0)
                                return w;
                        if (type > 255)
                                break; /* no AT_* is that big: wrong width */
                }
        }
        return 0;
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
