/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "proc.h"
#include "remote.h"
#include "util.h"

int remote_read(struct remote *r, uint64_t addr, void *buf, size_t len) {
        struct iovec local = {.iov_base = buf, .iov_len = len};
        struct iovec rem = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
        ssize_t n;

        if ((uint64_t)(uintptr_t)addr != addr)
                return -EFAULT;
        n = process_vm_readv(r->tracee->pid, &local, 1, &rem, 1, 0);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EFAULT;
}

int remote_write(struct remote *r, uint64_t addr, const void *buf, size_t len) {
        struct iovec local = {.iov_base = (void *)buf, .iov_len = len};
        struct iovec rem = {.iov_base = (void *)(uintptr_t)addr, .iov_len = len};
        ssize_t n;

        if ((uint64_t)(uintptr_t)addr != addr)
                return -EFAULT;
        n = process_vm_writev(r->tracee->pid, &local, 1, &rem, 1, 0);
        if (n < 0)
                return -errno;
        return (size_t)n == len ? 0 : -EFAULT;
}

static bool insn_at(struct remote *r, uint64_t addr) {
        unsigned char buf[8];

        if (r->pers->syscall_insn_len > sizeof(buf) ||
            remote_read(r, addr, buf, r->pers->syscall_insn_len) < 0)
                return false;
        return memcmp(buf, r->pers->syscall_insn, r->pers->syscall_insn_len) == 0;
}

/* Any address whose bytes decode as the syscall instruction will do:
 * execution starts exactly there and stops at the syscall's entry, so what
 * the surrounding bytes mean does not matter, as long as an instruction may
 * start there. The kernel's own pages are searched: the vDSO, and the
 * signal-return page that 32-bit arm tasks get instead where the kernel has
 * no compat vDSO. */
static int find_gadget_in(struct remote *r, const char *maps, const char *name) {
        unsigned long long start = 0, end = 0;
        unsigned char code[64 * 1024];
        unsigned align = r->pers->insn_align ? r->pers->insn_align : 1;
        size_t len;
        const char *line = strstr(maps, name);

        if (!line)
                return -ENOENT;
        while (line > maps && line[-1] != '\n')
                line--;
        if (sscanf(line, "%llx-%llx", &start, &end) != 2 || end <= start)
                return -ENOENT;
        len = end - start < sizeof(code) ? (size_t)(end - start) : sizeof(code);
        if (remote_read(r, start, code, len) < 0)
                return -ENOENT;
        for (size_t i = 0; i + r->pers->syscall_insn_len <= len; i += align)
                if (memcmp(code + i, r->pers->syscall_insn, r->pers->syscall_insn_len) == 0) {
                        r->gadget = start + i;
                        return 0;
                }
        return -ENOENT;
}

static int find_gadget_in_vdso(struct remote *r) {
        char maps[64 * 1024];

        if (proc_read(r->tracee->dirfd, "maps", maps, sizeof(maps)) < 0)
                return -ENOENT;
        if (find_gadget_in(r, maps, "[vdso]") == 0)
                return 0;
        return find_gadget_in(r, maps, "[sigpage]");
}

/* The thread was stopped in a syscall the kernel will restart, on an
 * architecture whose regset lacks the first argument of that call
 * (ARCH_RESTART_REPLAY): let the kernel restart it up to its entry stop,
 * where every argument is in place, keep those registers (PC back on the
 * instruction: what resuming must execute again), and cancel that entry. */
static int replay_restart(struct remote *r) {
        static const uint64_t none[6] = {0};
        pid_t tid = tracee_work_tid(r->tracee);
        int e;

        if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) < 0)
                return -errno;
        e = tracee_wait_syscall(r->tracee, PTRACE_SYSCALL);
        if (e < 0)
                return e;
        e = arch_get_regs(tid, &r->saved, NULL);
        if (e < 0)
                return e;
        r->work = r->saved;
        r->pers->set_pc(&r->saved, r->pers->get_pc(&r->saved) - r->pers->syscall_insn_len);
        r->pers->prepare_call(&r->work, -1, none);
        e = arch_set_regs(tid, &r->work);
        if (e < 0)
                return e;
        r->regs_dirty = true;
        if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) < 0)
                return -errno;
        return tracee_wait_syscall(r->tracee, PTRACE_SYSCALL);
}

int remote_init(struct remote *r, struct tracee *t) {
        struct arch_regs probe;
        bool replayed = false;
        uint64_t pc;
        int e;

        memset(r, 0, sizeof(*r));
        r->tracee = t;
        e = arch_get_regs(tracee_work_tid(t), &r->saved, &r->pers);
        if (e < 0)
                return e;
        probe = r->saved;
        if (r->pers->restart_style == ARCH_RESTART_REPLAY && r->pers->normalise_restart(&probe)) {
                e = replay_restart(r);
                if (e < 0)
                        return e;
                replayed = true;
        }
        r->work = r->saved;

        /* A thread stopped in (or right after) a syscall has the syscall
         * instruction just before its PC; a replayed one is back on it. */
        pc = r->pers->get_pc(&r->saved);
        if (replayed) {
                r->gadget = pc;
                /* Its own call again, right away: see remote_syscall(). */
                return remote_restore(r);
        }
        if (pc >= r->pers->syscall_insn_len && insn_at(r, pc - r->pers->syscall_insn_len))
                r->gadget = pc - r->pers->syscall_insn_len;
        else if ((e = find_gadget_in_vdso(r)) < 0)
                return e;
        return 0;
}

/* ptrace answers ESRCH for a thread we hold in a stop only once it has been
 * killed: from then on the target is gone, whatever else we try. */
static int gone_if_esrch(struct remote *r, int e) {
        if (e == -ESRCH)
                r->tracee->gone = true;
        return e;
}

long remote_syscall(struct remote *r, enum arch_sys sys, uint64_t a0, uint64_t a1, uint64_t a2,
                    uint64_t a3, uint64_t a4, uint64_t a5) {
        const uint64_t args[6] = {a0, a1, a2, a3, a4, a5};
        pid_t tid = tracee_work_tid(r->tracee);
        long nr = arch_sysno(r->pers, sys);
        int e;

        if (nr < 0)
                return -ENOSYS;
        if (r->tracee->gone)
                return -ESRCH;

        r->work = r->saved;
        r->pers->set_pc(&r->work, r->gadget);
        r->pers->prepare_call(&r->work, nr, args);
        e = arch_set_regs(tid, &r->work);
        if (e < 0)
                return gone_if_esrch(r, e);
        r->regs_dirty = true;
        r->moved = true;

        /* To the entry stop, then to the exit stop. */
        for (int stop = 0; stop < 2; stop++) {
                if (ptrace(PTRACE_SYSCALL, tid, NULL, NULL) < 0)
                        return gone_if_esrch(r, -errno);
                e = tracee_wait_syscall(r->tracee, PTRACE_SYSCALL);
                if (e < 0)
                        return e;
        }
        e = arch_get_regs(tid, &r->work, NULL);
        if (e < 0)
                return gone_if_esrch(r, e);
        /* Put its own registers back right away: should we die before the
         * next call (a crash, kill -9), the kernel lets it go from here and
         * it carries on with its interrupted call instead of with ours.
         * Only the time inside one of our calls remains unsafe. */
        (void)remote_restore(r);
        return r->pers->result(&r->work);
}

int remote_scratch_map(struct remote *r) {
        const uint64_t args[6] = {
                0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0};
        long v;

        if (r->pers->mmap_args_in_memory) {
                /* The old mmap (s390x) reads its six words from memory, and
                 * we have none yet: borrow the unused stack below the red
                 * zone while the thread is stopped, and put it back. */
                unsigned char block[6 * 8], kept[sizeof(block)];
                size_t w = r->pers->word_size, n = 6 * w;
                uint64_t at =
                        (r->pers->get_sp(&r->saved) - r->pers->red_zone - sizeof(block)) & ~15ULL;
                int e;

                for (size_t i = 0; i < 6; i++) {
                        uint32_t a32 = (uint32_t)args[i];
                        memcpy(block + i * w, w == 8 ? (const void *)&args[i] : (const void *)&a32,
                               w);
                }
                if ((e = remote_read(r, at, kept, n)) < 0 ||
                    (e = remote_write(r, at, block, n)) < 0)
                        return e;
                v = remote_syscall(r, ARCH_SYS_MMAP, at, 0, 0, 0, 0, 0);
                if ((e = remote_write(r, at, kept, n)) < 0 && !remote_failed(v))
                        v = e;
        } else {
                v = remote_syscall(r, ARCH_SYS_MMAP, args[0], args[1], args[2], args[3], args[4],
                                   args[5]);
        }
        if (remote_failed(v))
                return (int)v;
        /* 32-bit personalities sign-extend; addresses are unsigned. */
        r->scratch = r->pers->word_size == 4 ? (uint32_t)v : (uint64_t)v;
        r->scratch_size = 4096;
        return 0;
}

int remote_scratch_unmap(struct remote *r) {
        long v;

        if (!r->scratch)
                return 0;
        v = remote_syscall(r, ARCH_SYS_MUNMAP, r->scratch, r->scratch_size, 0, 0, 0, 0);
        if (remote_failed(v))
                return (int)v;
        r->scratch = 0;
        return 0;
}

int remote_restore(struct remote *r) {
        struct arch_regs regs = r->saved;
        int e;

        if (!r->regs_dirty)
                return 0;
        /* We resume from a syscall-exit stop, not through the signal path,
         * so the kernel will not apply its own restart fix-up: do it here
         * (a blocked read continues instead of returning errno 512). */
        if (r->pers->restart_style == ARCH_RESTART_AFTER_STOP)
                r->pers->normalise_restart(&regs);
        e = arch_set_regs(tracee_work_tid(r->tracee), &regs);
        if (e < 0)
                return e;
        r->regs_dirty = false;
        return 0;
}

int remote_finish(struct remote *r) {
        struct tracee *t = r->tracee;
        pid_t tid = tracee_work_tid(t);
        int status, e;

        if (t->gone)
                return -ESRCH;
        if (r->pers->restart_style != ARCH_RESTART_AFTER_STOP)
                return remote_restore(r);
        if (!r->moved)
                return remote_restore(r); /* still in its first stop, untouched */
        /* From the exit stop of our last call, into the signal code: the
         * interrupt is handled there before any signal is dequeued. */
        if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0 ||
            ptrace(PTRACE_CONT, tid, NULL, NULL) < 0)
                return gone_if_esrch(r, -errno);
        for (;;) {
                int ev;

                e = tracee_wait_tid(tid, &status);
                if (e < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
                        t->threads[t->work].dead = e == 0;
                        t->threads[t->work].stopped = false;
                        t->gone = true;
                        return -ESRCH;
                }
                ev = status >> 16;
                if (ev == PTRACE_EVENT_STOP)
                        break;
                if (ev == 0) {
                        /* A signal-delivery stop is in the signal code as
                         * well: the signal is handed back on release and
                         * delivered with the registers restored below. */
                        t->threads[t->work].stop_sig = WSTOPSIG(status);
                        break;
                }
                if (ev == PTRACE_EVENT_EXEC) {
                        t->execd = true;
                        return -ESTALE;
                }
                if (ptrace(PTRACE_CONT, tid, NULL, NULL) < 0)
                        return gone_if_esrch(r, -errno);
        }
        e = arch_set_regs(tid, &r->saved);
        if (e < 0)
                return gone_if_esrch(r, e);
        r->regs_dirty = false;
        r->moved = false;
        return 0;
}

int remote_requeue_deferred(struct remote *r) {
        struct tracee *t = r->tracee;
        pid_t tid = tracee_work_tid(t);
        uint64_t own, held;
        size_t done = 0;
        bool mapped = false;
        int e = 0;

        if (t->n_deferred == 0 || t->gone)
                return 0;
        if (ptrace(PTRACE_GETSIGMASK, tid, (void *)sizeof(own), &own) < 0)
                return -errno;
        /* Between two of our calls the thread takes whatever is pending and
         * not blocked: hold the signals blocked while they are queued.
         * Signals may keep arriving meanwhile: each round holds and queues
         * those that came during the one before. */
        held = own | tracee_deferred_mask(t);
        if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(held), &held) < 0)
                return -errno;
        if (!r->scratch) {
                e = remote_scratch_map(r);
                if (e < 0)
                        goto out;
                mapped = true;
        }
        while (done < t->n_deferred && !t->gone) {
                size_t end = t->n_deferred;

                held = own | tracee_deferred_mask(t);
                if (ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(held), &held) < 0) {
                        e = -errno;
                        break;
                }
                for (; done < end && !t->gone; done++) {
                        const siginfo_t *si = &t->deferred[done];
                        long v;

                        e = remote_write(r, r->scratch, si, sizeof(*si));
                        if (e < 0)
                                goto out;
                        v = remote_syscall(r, ARCH_SYS_RT_TGSIGQUEUEINFO, (uint64_t)t->self_pid,
                                           (uint64_t)t->self_pid, (uint64_t)si->si_signo,
                                           r->scratch, 0, 0);
                        if (remote_failed(v))
                                e = (int)v;
                }
        }
out:
        if (mapped)
                (void)remote_scratch_unmap(r);
        t->n_deferred = 0;
        if (!t->gone)
                (void)ptrace(PTRACE_SETSIGMASK, tid, (void *)sizeof(own), &own);
        return e;
}

int remote_write_epoll_event(struct remote *r, uint64_t addr, uint32_t events, uint64_t data) {
        unsigned char ev[16] = {0};

        memcpy(ev, &events, 4);
        /* x86 packs struct epoll_event to 12 bytes; others align data. */
        memcpy(ev + (r->pers->epoll_event_packed ? 4 : 8), &data, 8);
        return remote_write(r, addr, ev, r->pers->epoll_event_packed ? 12 : 16);
}
