/* SPDX-License-Identifier: MIT */
#include "proclist.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "proc.h"

/* Everything read about one /proc entry, before filtering. */
struct raw {
        struct proclist_entry e;
        int pts_index; /* the pty of e.tty, -1 if not a pty */
        bool deleted;  /* a stdio fd on a removed /dev/pts node */
};

void proclist_tty_name(int tty_nr, char *buf, size_t size) {
        unsigned maj = ((unsigned)tty_nr >> 8) & 0xfff;
        unsigned min = ((unsigned)tty_nr & 0xff) | (((unsigned)tty_nr >> 12) & 0xfff00);

        if (tty_nr == 0)
                snprintf(buf, size, "%s", "");
        else if (maj >= 136 && maj <= 143)
                snprintf(buf, size, "/dev/pts/%u", (maj - 136) * 256 + min);
        else if (maj == 4 && min < 64)
                snprintf(buf, size, "/dev/tty%u", min);
        else if (maj == 4)
                snprintf(buf, size, "/dev/ttyS%u", min - 64);
        else
                snprintf(buf, size, "tty %u:%u", maj, min);
}

static int pts_index_of(const char *tty) {
        unsigned idx;
        char end;

        if (sscanf(tty, "/dev/pts/%u%c", &idx, &end) == 1)
                return (int)idx;
        return -1;
}

/* fd 0, 1 or 2 on a pty: its name, and whether the node is gone (the
 * master was closed). Only readable for processes we may ptrace-read. */
static bool stdio_pty(int dirfd, char *tty, size_t size, bool *deleted) {
        for (int fd = 0; fd <= 2; fd++) {
                char name[16], link[256];
                unsigned idx;
                int len = 0;
                ssize_t n;

                snprintf(name, sizeof name, "fd/%d", fd);
                n = readlinkat(dirfd, name, link, sizeof link - 1);
                if (n <= 0)
                        continue;
                link[n] = '\0';
                if (sscanf(link, "/dev/pts/%u%n", &idx, &len) != 1 || len <= 0)
                        continue;
                if (link[len] != '\0' && strcmp(link + len, " (deleted)") != 0)
                        continue;
                snprintf(tty, size, "/dev/pts/%u", idx);
                *deleted = link[len] != '\0';
                return true;
        }
        return false;
}

/* Records, per pty index, one visible process holding its master: the
 * fdinfo of a ptmx fd names the pty ("tty-index"). */
struct holders {
        int *index;
        pid_t *pid;
        size_t n, cap;
};

static void note_holders(int dirfd, pid_t pid, struct holders *h) {
        int fdfd = openat(dirfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fdfd < 0 ? NULL : fdopendir(fdfd);
        struct dirent *de;

        if (!d) {
                if (fdfd >= 0)
                        close(fdfd);
                return;
        }
        while ((de = readdir(d))) {
                char link[64], info[1024], path[300];
                const char *p;
                ssize_t n;
                int idx;

                if (de->d_name[0] == '.')
                        continue;
                n = readlinkat(fdfd, de->d_name, link, sizeof link - 1);
                if (n <= 0)
                        continue;
                link[n] = '\0';
                if (strcmp(link, "/dev/ptmx") != 0 && strcmp(link, "/dev/pts/ptmx") != 0)
                        continue;
                snprintf(path, sizeof path, "fdinfo/%s", de->d_name);
                if (proc_read(dirfd, path, info, sizeof info) <= 0)
                        continue;
                p = strstr(info, "tty-index:");
                if (!p || sscanf(p + 10, "%d", &idx) != 1)
                        continue;
                if (h->n == h->cap) {
                        size_t cap = h->cap ? h->cap * 2 : 16;
                        int *ni = realloc(h->index, cap * sizeof *ni);
                        if (!ni)
                                break;
                        h->index = ni;
                        pid_t *np = realloc(h->pid, cap * sizeof *np);
                        if (!np)
                                break;
                        h->pid = np;
                        h->cap = cap;
                }
                h->index[h->n] = idx;
                h->pid[h->n++] = pid;
        }
        closedir(d);
}

static pid_t holder_of(const struct holders *h, int index) {
        for (size_t i = 0; i < h->n; i++)
                if (h->index[i] == index)
                        return h->pid[i];
        return 0;
}

static void read_user(uid_t uid, char *buf, size_t size) {
        struct passwd pw, *res = NULL;
        char tmp[1024];

        if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res)
                snprintf(buf, size, "%s", res->pw_name);
        else
                snprintf(buf, size, "%u", (unsigned)uid);
}

static void read_command(int dirfd, const char *comm, char *buf, size_t size) {
        ssize_t n = proc_read(dirfd, "cmdline", buf, size);

        if (n <= 0) {
                snprintf(buf, size, "[%s]", comm);
                return;
        }
        while (n > 0 && buf[n - 1] == '\0')
                n--;
        for (ssize_t i = 0; i < n; i++)
                if (buf[i] == '\0')
                        buf[i] = ' ';
        buf[n] = '\0';
}

/* Reads one /proc/PID. Returns false for what vanished or is no process to
 * list (kernel threads). */
static bool read_raw(int procfd, pid_t pid, double uptime, struct raw *r, struct holders *h) {
        char path[32], text[2048];
        struct proc_stat st;
        int dirfd;
        const char *p;
        bool ok = false;

        snprintf(path, sizeof path, "%d", (int)pid);
        dirfd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return false;
        memset(r, 0, sizeof *r);
        r->pts_index = -1;
        r->e.pid = pid;
        if (proc_read(dirfd, "stat", text, sizeof text) <= 0 || proc_parse_stat(text, &st) < 0)
                goto out;
        snprintf(r->e.comm, sizeof r->e.comm, "%s", st.comm);
        r->e.state = st.state;
        r->e.ppid = st.ppid;
        r->e.sid = st.session;
        if (proc_read(dirfd, "status", text, sizeof text) <= 0)
                goto out;
        p = strstr(text, "\nUid:");
        if (!p || sscanf(p + 5, "%u", &r->e.uid) != 1)
                goto out;
        p = strstr(text, "\nSeccomp:");
        r->e.seccomp = p && atoi(p + 9) == 2;
        /* Kernel threads have no address space, hence no VmSize line. */
        if (!strstr(text, "\nVmSize:") && r->e.ppid <= 2)
                goto out;

        proclist_tty_name((int)st.tty_nr, r->e.tty, sizeof r->e.tty);
        if (!r->e.tty[0])
                (void)stdio_pty(dirfd, r->e.tty, sizeof r->e.tty, &r->deleted);
        else {
                /* A ctty whose node is gone is orphaned too (between the
                 * master's close and the hangup). */
                char dummy[64];
                bool deleted = false;
                if (stdio_pty(dirfd, dummy, sizeof dummy, &deleted) && deleted &&
                    strcmp(dummy, r->e.tty) == 0)
                        r->deleted = true;
        }
        r->pts_index = pts_index_of(r->e.tty);
        if (uptime > 0) {
                double age = uptime - (double)st.starttime / (double)sysconf(_SC_CLK_TCK);
                r->e.age_sec = age > 0 ? (uint64_t)age : 0;
        }
        read_command(dirfd, r->e.comm, r->e.command, sizeof r->e.command);
        note_holders(dirfd, pid, h);
        ok = true;
out:
        close(dirfd);
        return ok;
}

static int compare_entries(const void *a, const void *b) {
        const struct proclist_entry *x = a, *y = b;
        int c;

        if (x->orphaned != y->orphaned)
                return x->orphaned ? -1 : 1;
        if (x->own != y->own)
                return x->own ? -1 : 1;
        c = strcmp(x->tty, y->tty);
        if (c)
                return c;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void classify(struct proclist_entry *e) {
        e->adoptable = !e->seccomp;
        e->mode = e->has_children ? "session" : "process";
        if (e->seccomp)
                e->note = "has a seccomp filter: cannot be adopted";
        else if (!e->own)
                e->note = "another user's process: needs an administrator";
        else if (e->has_children)
                e->note = "has children on its terminal: adopt its whole session";
        else if (e->orphaned)
                e->note = "its terminal was closed";
        else if (e->state == 'T')
                e->note = "stopped: stays stopped until continued";
        else
                e->note = "";
}

/* What the walk of /proc gathers: every entry read, and the pty masters. */
struct walk {
        struct raw *raw;
        size_t n, cap;
        struct holders h;
        double uptime;
};

static int walk_one(pid_t pid, int procfd, void *userdata) {
        struct walk *w = userdata;

        if (w->n == w->cap) {
                size_t ncap = w->cap ? w->cap * 2 : 256;
                struct raw *nr = realloc(w->raw, ncap * sizeof *nr);
                if (!nr)
                        return -ENOMEM;
                w->raw = nr;
                w->cap = ncap;
        }
        if (read_raw(procfd, pid, w->uptime, &w->raw[w->n], &w->h))
                w->n++;
        return 0;
}

int proclist_collect(unsigned flags, struct proclist *list) {
        struct walk w = {0};
        struct raw *raw;
        pid_t *chain = NULL;
        size_t n, n_chain = 0;
        char text[128];
        int procfd, r;
        uid_t me = getuid();

        *list = (struct proclist){0};
        procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (procfd < 0)
                return -errno;
        if (proc_read(procfd, "uptime", text, sizeof text) > 0)
                w.uptime = strtod(text, NULL);
        r = proc_for_each_pid(procfd, ".", walk_one, &w);
        close(procfd);
        raw = w.raw;
        n = w.n;
        if (r < 0)
                goto out;

        list->entries = calloc(n ? n : 1, sizeof *list->entries);
        chain = calloc(n + 1, sizeof *chain);
        if (!list->entries || !chain) {
                r = -ENOMEM;
                goto out;
        }
        /* Ourselves and our ancestors: a process cannot be moved by its own
         * descendant. The chain is the same for every entry, so it is found
         * once (at most n + 1 long: the pids of a snapshot can loop). */
        for (pid_t p = getpid(); p > 0 && n_chain <= n;) {
                pid_t next = 0;
                chain[n_chain++] = p;
                for (size_t j = 0; j < n; j++)
                        if (raw[j].e.pid == p)
                                next = raw[j].e.ppid;
                p = next;
        }
        for (size_t i = 0; i < n; i++) {
                struct proclist_entry *e = &raw[i].e;
                bool ancestor = false;

                if (!e->tty[0] || e->state == 'Z' || e->state == 'X')
                        continue;
                for (size_t k = 0; k < n_chain && !ancestor; k++)
                        ancestor = chain[k] == e->pid;
                if (ancestor)
                        continue;
                e->own = e->uid == me;
                if (!e->own && !(flags & PROCLIST_ALL))
                        continue;
                e->session_leader = e->sid == e->pid;
                for (size_t j = 0; j < n; j++)
                        if (raw[j].e.ppid == e->pid && strcmp(raw[j].e.tty, e->tty) == 0 &&
                            raw[j].e.state != 'Z')
                                e->has_children = true;
                if (raw[i].pts_index >= 0) {
                        e->holder = holder_of(&w.h, raw[i].pts_index);
                        e->orphaned = raw[i].deleted;
                        if (e->orphaned)
                                e->holder = 0;
                }
                read_user(e->uid, e->user, sizeof e->user);
                classify(e);
                list->entries[list->n++] = *e;
        }
        qsort(list->entries, list->n, sizeof *list->entries, compare_entries);
out:
        free(chain);
        free(raw);
        free(w.h.index);
        free(w.h.pid);
        if (r < 0)
                proclist_free(list);
        return r;
}

void proclist_free(struct proclist *list) {
        free(list->entries);
        *list = (struct proclist){0};
}

const char *proclist_state_name(char state) {
        switch (state) {
        case 'R':
                return "running";
        case 'S':
                return "sleeping";
        case 'D':
                return "disk-wait";
        case 'T':
                return "stopped";
        case 't':
                return "traced";
        case 'I':
                return "idle";
        case 'Z':
                return "zombie";
        default:
                return "other";
        }
}

const char *proclist_format_age(uint64_t sec, char *buf, size_t size) {
        if (sec < 60)
                snprintf(buf, size, "%" PRIu64 "s", sec);
        else if (sec < 3600)
                snprintf(buf, size, "%" PRIu64 "min", sec / 60);
        else if (sec < 86400)
                snprintf(buf, size, "%" PRIu64 "h %02" PRIu64 "min", sec / 3600, sec / 60 % 60);
        else
                snprintf(buf, size, "%" PRIu64 "d %" PRIu64 "h", sec / 86400, sec / 3600 % 24);
        return buf;
}

/* A process names itself: never let a name drive the terminal. */
static void safe_copy(const char *s, char *out, size_t size) {
        size_t o = 0;

        for (; *s && o + 5 < size; s++) {
                unsigned char c = (unsigned char)*s;
                if (c < 0x20 || c == 0x7f)
                        o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
                else
                        out[o++] = (char)c;
        }
        out[o] = '\0';
}

void proclist_print_table(const struct proclist *list, FILE *f) {
        size_t w_pid = 3, w_user = 4, w_tty = 3, w_state = 5, w_age = 3;
        char buf[64];

        for (size_t i = 0; i < list->n; i++) {
                const struct proclist_entry *e = &list->entries[i];
                size_t l = (size_t)snprintf(buf, sizeof buf, "%d", (int)e->pid);
                w_pid = l > w_pid ? l : w_pid;
                w_user = strlen(e->user) > w_user ? strlen(e->user) : w_user;
                w_tty = strlen(e->tty) > w_tty ? strlen(e->tty) : w_tty;
                l = strlen(proclist_state_name(e->state));
                w_state = l > w_state ? l : w_state;
                l = strlen(proclist_format_age(e->age_sec, buf, sizeof buf));
                w_age = l > w_age ? l : w_age;
        }
        fprintf(f, "%*s %-*s %-*s %-*s %*s %-8s %-7s %s\n", (int)w_pid, "PID", (int)w_user, "USER",
                (int)w_tty, "TTY", (int)w_state, "STATE", (int)w_age, "AGE", "ORPHANED", "MODE",
                "COMMAND");
        for (size_t i = 0; i < list->n; i++) {
                const struct proclist_entry *e = &list->entries[i];
                char cmd[sizeof e->command * 4], user[sizeof e->user * 4];

                safe_copy(e->command, cmd, sizeof cmd);
                safe_copy(e->user, user, sizeof user);
                fprintf(f, "%*d %-*s %-*s %-*s %*s %-8s %-7s %s%s%s%s\n", (int)w_pid, (int)e->pid,
                        (int)w_user, user, (int)w_tty, e->tty, (int)w_state,
                        proclist_state_name(e->state), (int)w_age,
                        proclist_format_age(e->age_sec, buf, sizeof buf),
                        e->orphaned ? "yes" : "no", e->adoptable ? e->mode : "-", cmd,
                        e->note[0] ? " (" : "", e->note, e->note[0] ? ")" : "");
        }
        fprintf(f, "\n%zu process%s listed.\n", list->n, list->n == 1 ? "" : "es");
}

static void json_string(const char *s, FILE *f) {
        fputc('"', f);
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '"' || *p == '\\')
                        fprintf(f, "\\%c", *p);
                else if (*p < 0x20 || *p == 0x7f)
                        fprintf(f, "\\u%04x", *p);
                else if (*p < 0x80)
                        fputc(*p, f);
                else {
                        /* Pass valid UTF-8 through, anything else as U+FFFD. */
                        size_t len = (*p & 0xe0) == 0xc0   ? 2
                                     : (*p & 0xf0) == 0xe0 ? 3
                                     : (*p & 0xf8) == 0xf0 ? 4
                                                           : 0;
                        size_t k = 1;
                        while (len && k < len && (p[k] & 0xc0) == 0x80)
                                k++;
                        if (len && k == len) {
                                fwrite(p, 1, len, f);
                                p += len - 1;
                        } else {
                                fputs("\xef\xbf\xbd", f);
                        }
                }
        }
        fputc('"', f);
}

void proclist_print_json(const struct proclist *list, FILE *f) {
        for (size_t i = 0; i < list->n; i++) {
                const struct proclist_entry *e = &list->entries[i];
                char state[2] = {e->state, 0};

                fprintf(f,
                        "{\"pid\":%d,\"ppid\":%d,\"session\":%d,\"uid\":%u,\"user\":", (int)e->pid,
                        (int)e->ppid, (int)e->sid, (unsigned)e->uid);
                json_string(e->user, f);
                fputs(",\"tty\":", f);
                json_string(e->tty, f);
                fputs(",\"state\":", f);
                json_string(state, f);
                fprintf(f, ",\"state_name\":\"%s\",\"age\":%" PRIu64 ",\"orphaned\":%s,",
                        proclist_state_name(e->state), e->age_sec, e->orphaned ? "true" : "false");
                if (e->holder > 0)
                        fprintf(f, "\"holder\":%d,", (int)e->holder);
                else
                        fputs("\"holder\":null,", f);
                fprintf(f,
                        "\"own\":%s,\"session_leader\":%s,\"has_children\":%s,\"adoptable\":%s,"
                        "\"mode\":\"%s\",\"note\":",
                        e->own ? "true" : "false", e->session_leader ? "true" : "false",
                        e->has_children ? "true" : "false", e->adoptable ? "true" : "false",
                        e->mode);
                json_string(e->note, f);
                fputs(",\"comm\":", f);
                json_string(e->comm, f);
                fputs(",\"command\":", f);
                json_string(e->command, f);
                fputs("}\n", f);
        }
}
