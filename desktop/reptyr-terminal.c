/* SPDX-License-Identifier: MIT */
/*
 * reptyr-terminal [--session] [PID]: a terminal window for a process that
 * is already running.
 *
 * It asks the reptyrd helper (org.reptyr.Reptyr1 on the system bus) to
 * adopt PID and puts the pty master it returns straight into a VTE widget:
 * no relay process between the program and the screen, so output reaches
 * the window as fast as from a program the terminal started itself. polkit
 * may ask for a password; the call allows interactive authorization, so the
 * desktop's own polkit agent asks in its dialog.
 *
 * VTE only notices the end of a child it spawned; an adopted process is
 * not our child, so its end is watched through its pidfd, and its exit
 * status read as reptyrctl reads it (client/exit-status.c).
 *
 * Without a PID, a picker lists the processes of the user that have a
 * terminal (client/proclist.c, the same list as `reptyrctl list`).
 *
 * A test hook: with REPTYR_TERMINAL_DUMP=FILE in the environment, SIGUSR1
 * writes the window's text (title, status, picker rows, terminal contents)
 * to FILE, atomically.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixfdlist.h>
#include <glib-unix.h>
#include <gtk/gtk.h>
#include <vte/vte.h>

#include "bus-names.h"
#include "engine.h"
#include "exit-status.h"
#include "proc.h"
#include "proclist.h"

#define BUS_NAME REPTYR_BUS_NAME
#define BUS_PATH REPTYR_BUS_PATH
#define BUS_IFACE REPTYR_BUS_INTERFACE
#define ERR_PREFIX REPTYR_BUS_ERROR_PREFIX
/* How long the parent of an exited process may take to reap it before we
 * give up on its status (only when neither source has it yet). */
#define REAP_TIMEOUT_MS 500

#ifndef REPTYR_VERSION
#error "REPTYR_VERSION comes from the top-level meson.build"
#endif

struct app {
        GtkApplication *gtk;
        GtkWindow *window;
        GtkStack *stack;
        /* The status area above the terminal or the picker. */
        GtkWidget *banner;
        GtkLabel *banner_title;
        GtkLabel *banner_text;
        GtkWidget *btn_session, *btn_retry, *btn_continue, *btn_back;
        VteTerminal *term;
        /* The picker. */
        GtkListBox *list;
        GtkSearchEntry *search;
        GtkLabel *details;
        GtkWidget *btn_adopt, *btn_adopt_session;
        struct proclist procs;
        GCancellable *inspect_cancel;

        /* The target. */
        pid_t pid;
        char comm[64];
        bool session;
        int pidfd;      /* the process whose end ends us (the session's leader in session mode) */
        int proc_dirfd; /* its /proc/PID, pinned with the pidfd */
        pid_t watched;
        guint exit_watch;
        bool adopting, adopted, exited;
        GCancellable *adopt_cancel;
};

static struct app A = {.pidfd = -1, .proc_dirfd = -1};

static void close_fd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

/* ---- status area ------------------------------------------------------- */

static void show_banner(const char *title, const char *text) {
        gtk_label_set_text(A.banner_title, title);
        gtk_label_set_text(A.banner_text, text ? text : "");
        gtk_widget_set_visible(GTK_WIDGET(A.banner_text), text && *text);
        gtk_widget_set_visible(A.banner, TRUE);
        gtk_widget_set_visible(A.btn_session, FALSE);
        gtk_widget_set_visible(A.btn_retry, FALSE);
        gtk_widget_set_visible(A.btn_continue, FALSE);
        gtk_widget_set_visible(A.btn_back, FALSE);
}

static void hide_banner(void) { gtk_widget_set_visible(A.banner, FALSE); }

static void set_title(void) {
        char *t = g_strdup_printf("%s (%d)%s", A.comm, (int)A.pid, A.exited ? " — exited" : "");
        gtk_window_set_title(A.window, t);
        g_free(t);
}

/* ---- the end of the process ------------------------------------------ */

static char *describe_exit(void) {
        int status = 0;
        enum exit_status_source src =
                exit_status_collect(A.pidfd, A.proc_dirfd, -1, REAP_TIMEOUT_MS, &status);

        if (src == EXIT_STATUS_UNKNOWN || src == EXIT_STATUS_HIDDEN)
                return g_strdup_printf(
                        "process %d exited; its exit status is unknown (its parent collected it "
                        "before this window could read it, and this kernel keeps no copy)",
                        (int)A.watched);
        if (WIFSIGNALED(status)) {
                const char *name = sigabbrev_np(WTERMSIG(status));
                return g_strdup_printf("process %d was killed by SIG%s (exit status %d)",
                                       (int)A.watched, name ? name : "?", 128 + WTERMSIG(status));
        }
        return g_strdup_printf("process %d exited with status %d", (int)A.watched,
                               WEXITSTATUS(status));
}

static gboolean on_pidfd_readable(gint fd, GIOCondition cond, gpointer data) {
        char *what = describe_exit();

        A.exit_watch = 0;
        A.exited = TRUE;
        vte_terminal_set_input_enabled(A.term, FALSE);
        set_title();
        show_banner(what, "The window keeps its last screen; close it when you are done.");
        g_free(what);
        return G_SOURCE_REMOVE;
}

/* In session mode the session lives as long as its leader (the shell). */
static void watch_process(pid_t pid) {
        struct engine_error err;
        int fd = -1, dirfd = -1;

        if (A.session) {
                pid_t leader = getsid(pid);
                if (leader > 0 && engine_pidfd_open(leader, &fd, &err) == 0)
                        pid = leader;
        }
        if (fd < 0) {
                fd = A.pidfd;
                A.pidfd = -1;
        }
        close_fd(&A.pidfd);
        close_fd(&A.proc_dirfd);
        A.pidfd = fd;
        A.watched = pid;
        if (proc_open(fd, pid, &dirfd) == 0)
                A.proc_dirfd = dirfd;
        A.exit_watch = g_unix_fd_add(fd, G_IO_IN, on_pidfd_readable, NULL);
}

/* ---- errors, in words for people -------------------------------------- */

struct error_text {
        const char *name;
        const char *title;
        const char *next; /* the next step, when the message does not say it */
};

static const struct error_text error_texts[] = {
        {ERR_PREFIX "NoSuchProcess", "That process does not exist (any more)",
         "Pick another one from the list."},
        {ERR_PREFIX "NotATerminal", "Nothing to move: that process has no terminal",
         "Its output goes to a file or pipe; there is nothing to show in a window."},
        {ERR_PREFIX "HasChildren", "That process has children on its terminal",
         "Adopt its whole session instead: the shell, its jobs and children come along."},
        {ERR_PREFIX "Seccomp", "That process runs under a seccomp filter",
         "It cannot be adopted; run it in a terminal or tmux from the start next time."},
        {ERR_PREFIX "Unsupported", "That process cannot be adopted on this system", NULL},
        {ERR_PREFIX "TargetGone", "The process exited while it was being adopted", NULL},
        {ERR_PREFIX "Busy", "The process is busy", "Try again in a moment."},
        {ERR_PREFIX "InvalidArgs", "reptyr-terminal and the reptyrd helper disagree",
         "Install matching versions of reptyr-terminal and reptyrd."},
        {ERR_PREFIX "Failed", "Adopting the process failed",
         "The process was left as it was. The helper's log may say more."},
        {"org.freedesktop.DBus.Error.AccessDenied", "Not authorized",
         "You may adopt your own processes; another user's need an administrator. Try again to "
         "be asked for a password."},
        {"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", "A password is needed",
         "No polkit authentication agent answers in this desktop session. Start one (your "
         "desktop normally does), or use reptyrctl adopt in a terminal."},
        {"org.freedesktop.DBus.Error.LimitsExceeded", "Too many adoptions at once",
         "Wait for the others to finish, then try again."},
        {"org.freedesktop.DBus.Error.ServiceUnknown", "The reptyrd helper is not installed",
         "Install reptyrd (see its README: meson install, then reload dbus), then try again."},
        {"org.freedesktop.DBus.Error.NameHasNoOwner", "The reptyrd helper is not installed",
         "Install reptyrd (see its README: meson install, then reload dbus), then try again."},
        {"org.freedesktop.DBus.Error.Spawn.ChildExited", "The reptyrd helper could not start",
         "Its log (journalctl -u reptyrd) says why."},
        {"org.freedesktop.DBus.Error.NoReply", "The reptyrd helper did not answer",
         "Try again; if it keeps happening, see journalctl -u reptyrd."},
};

static void show_error(GError *error) {
        char *remote = g_dbus_error_get_remote_error(error);
        const struct error_text *t = NULL;
        char *text;

        if (remote)
                g_dbus_error_strip_remote_error(error);
        for (size_t i = 0; remote && i < G_N_ELEMENTS(error_texts); i++)
                if (strcmp(remote, error_texts[i].name) == 0)
                        t = &error_texts[i];
        if (!remote && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
                t = &error_texts[12]; /* no system bus socket */
        text = g_strdup_printf("%s%s%s%s%s%s", error->message, t && t->next ? "\n\n" : "",
                               t && t->next ? t->next : "", remote ? "\n\n(" : "",
                               remote ? remote : "", remote ? ")" : "");
        show_banner(t ? t->title : "Could not adopt the process", text);
        gtk_widget_set_visible(A.btn_retry, TRUE);
        if (remote && strcmp(remote, ERR_PREFIX "HasChildren") == 0 && !A.session)
                gtk_widget_set_visible(A.btn_session, TRUE);
        gtk_widget_set_visible(A.btn_back, TRUE);
        g_printerr("reptyr-terminal: %s: %s\n", t ? t->title : "adoption failed", error->message);
        if (A.pid > 0) {
                char *title = g_strdup_printf("%s (%d) — not adopted", A.comm, (int)A.pid);
                gtk_window_set_title(A.window, title);
                g_free(title);
        }
        g_free(text);
        g_free(remote);
}

static void show_plain_error(const char *title, const char *text) {
        GError *e = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, text);
        show_error(e);
        gtk_label_set_text(A.banner_title, title);
        g_error_free(e);
}

/* ---- Adopt ------------------------------------------------------------ */

static void on_adopt_reply(GObject *source, GAsyncResult *res, gpointer data) {
        GUnixFDList *fds = NULL;
        GError *error = NULL;
        GVariant *reply, *result;
        gint32 handle;
        int master;
        VtePty *pty;
        const char *old_tty = "", *tty = "";
        gboolean was_stopped = FALSE;
        char *text;

        reply = g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source), &fds,
                                                                res, &error);
        A.adopting = FALSE;
        g_clear_object(&A.adopt_cancel);
        if (!reply) {
                if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
                        show_error(error);
                g_error_free(error);
                close_fd(&A.pidfd);
                return;
        }
        g_variant_get(reply, "(h@a{sv})", &handle, &result);
        master = fds ? g_unix_fd_list_get(fds, handle, &error) : -1;
        g_clear_object(&fds);
        g_variant_unref(reply);
        if (master < 0) {
                show_plain_error("The helper sent no terminal",
                                 error ? error->message : "no file descriptor in the reply");
                g_clear_error(&error);
                g_variant_unref(result);
                return;
        }
        pty = vte_pty_new_foreign_sync(master, NULL, &error);
        if (!pty) {
                /* Closing the master hangs the new terminal up, as closing
                 * a window would. */
                close(master);
                show_plain_error("Cannot show the terminal", error->message);
                g_error_free(error);
                g_variant_unref(result);
                return;
        }
        vte_terminal_set_pty(A.term, pty);
        g_object_unref(pty);
        A.adopted = TRUE;
        gtk_stack_set_visible_child_name(A.stack, "terminal");
        gtk_widget_grab_focus(GTK_WIDGET(A.term));

        g_variant_lookup(result, "old-tty", "&s", &old_tty);
        g_variant_lookup(result, "tty", "&s", &tty);
        g_variant_lookup(result, "was-stopped", "b", &was_stopped);
        set_title();
        if (was_stopped) {
                text = g_strdup_printf("%s (%d) was stopped and stays stopped until continued.",
                                       A.comm, (int)A.pid);
                show_banner(text, NULL);
                gtk_widget_set_visible(A.btn_continue, TRUE);
                g_free(text);
        } else {
                hide_banner();
        }
        text = g_strdup_printf("%s (%d)%s%s — reptyr-terminal", A.comm, (int)A.pid,
                               old_tty[0] ? " from " : "", old_tty);
        gtk_window_set_title(A.window, text);
        g_free(text);
        g_print("reptyr-terminal: %d (%s) moved here from %s (now %s)\n", (int)A.pid, A.comm,
                old_tty[0] ? old_tty : "no terminal", tty);
        g_variant_unref(result);
        watch_process(A.pid);
}

static void read_comm(pid_t pid, char *buf, size_t size) {
        char path[64];
        int fd;
        ssize_t n;

        snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        n = fd < 0 ? -1 : read(fd, buf, size - 1);
        if (fd >= 0)
                close(fd);
        if (n <= 0) {
                snprintf(buf, size, "?");
                return;
        }
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
}

static void adopt(pid_t pid, bool session) {
        struct engine_error err;
        GDBusConnection *bus;
        GError *error = NULL;
        GUnixFDList *fds;
        GVariantBuilder opts;
        char *title;

        if (A.adopting || A.adopted)
                return;
        A.pid = pid;
        A.session = session;
        read_comm(pid, A.comm, sizeof A.comm);
        close_fd(&A.pidfd);
        if (engine_pidfd_open(pid, &A.pidfd, &err) < 0) {
                show_plain_error("That process does not exist (any more)", err.message);
                return;
        }
        title = g_strdup_printf("%s (%d) — adopting…", A.comm, (int)pid);
        gtk_window_set_title(A.window, title);
        g_free(title);
        show_banner(session ? "Adopting the session…" : "Adopting…",
                    "If a password is needed, your desktop asks for it.");
        gtk_stack_set_visible_child_name(A.stack, "terminal");

        bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, &error);
        if (!bus) {
                show_plain_error("The system bus is not running", error->message);
                g_error_free(error);
                return;
        }
        fds = g_unix_fd_list_new();
        if (g_unix_fd_list_append(fds, A.pidfd, &error) < 0) {
                show_plain_error("Could not adopt the process", error->message);
                g_error_free(error);
                g_object_unref(fds);
                g_object_unref(bus);
                return;
        }
        g_variant_builder_init(&opts, G_VARIANT_TYPE("a{sv}"));
        if (session)
                g_variant_builder_add(&opts, "{sv}", "mode", g_variant_new_string("session"));
        g_variant_builder_add(&opts, "{sv}", "rows",
                              g_variant_new_uint16((guint16)vte_terminal_get_row_count(A.term)));
        g_variant_builder_add(&opts, "{sv}", "cols",
                              g_variant_new_uint16((guint16)vte_terminal_get_column_count(A.term)));
        A.adopting = TRUE;
        A.adopt_cancel = g_cancellable_new();
        /* No timeout: the person may take a while to type a password. */
        g_dbus_connection_call_with_unix_fd_list(
                bus, BUS_NAME, BUS_PATH, BUS_IFACE, "Adopt", g_variant_new("(ha{sv})", 0, &opts),
                G_VARIANT_TYPE("(ha{sv})"), G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION,
                G_MAXINT, fds, A.adopt_cancel, on_adopt_reply, NULL);
        g_object_unref(fds);
        g_object_unref(bus);
}

/* ---- buttons of the status area -------------------------------------- */

static void on_retry(GtkButton *b, gpointer data) {
        hide_banner();
        adopt(A.pid, A.session);
}

static void on_session(GtkButton *b, gpointer data) {
        hide_banner();
        adopt(A.pid, true);
}

static void on_continue(GtkButton *b, gpointer data) {
        if (A.pidfd >= 0 && syscall(SYS_pidfd_send_signal, A.pidfd, SIGCONT, NULL, 0) == 0)
                hide_banner();
}

static void refresh_picker(void);

static void on_back(GtkButton *b, gpointer data) {
        hide_banner();
        refresh_picker();
        gtk_stack_set_visible_child_name(A.stack, "picker");
        gtk_window_set_title(A.window, "Adopt a process — reptyr-terminal");
}

/* ---- the picker ------------------------------------------------------- */

static const struct proclist_entry *selected_entry(void) {
        GtkListBoxRow *row = gtk_list_box_get_selected_row(A.list);
        if (!row)
                return NULL;
        return g_object_get_data(G_OBJECT(row), "entry");
}

static void on_inspect_reply(GObject *source, GAsyncResult *res, gpointer data) {
        GError *error = NULL;
        GVariant *reply = g_dbus_connection_call_with_unix_fd_list_finish(G_DBUS_CONNECTION(source),
                                                                          NULL, res, &error);
        GVariant *info;
        const char *authorized = "", *reason = "";
        char *text;

        if (!reply) {
                if (!g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
                        g_dbus_error_strip_remote_error(error);
                        gtk_label_set_text(A.details, error->message);
                }
                g_error_free(error);
                return;
        }
        g_variant_get(reply, "(@a{sv})", &info);
        g_variant_lookup(info, "authorized", "&s", &authorized);
        g_variant_lookup(info, "reason", "&s", &reason);
        text = g_strdup_printf("%s%s%s",
                               strcmp(authorized, "yes") == 0 ? "Allowed without a password."
                               : strcmp(authorized, "challenge") == 0 ? "A password will be asked."
                                                                      : "Not allowed.",
                               reason[0] ? " " : "", reason);
        gtk_label_set_text(A.details, text);
        g_free(text);
        g_variant_unref(info);
        g_variant_unref(reply);
}

/* Inspect the chosen process through the helper: whether it may be
 * adopted, and why not. Listing itself needs no privileges. */
static void on_row_selected(GtkListBox *box, GtkListBoxRow *row, gpointer data) {
        const struct proclist_entry *e = selected_entry();
        struct engine_error err;
        GDBusConnection *bus;
        GUnixFDList *fds;
        int pidfd;

        gtk_widget_set_sensitive(A.btn_adopt, e && e->adoptable);
        gtk_widget_set_sensitive(A.btn_adopt_session, e && e->adoptable);
        if (A.inspect_cancel) {
                g_cancellable_cancel(A.inspect_cancel);
                g_clear_object(&A.inspect_cancel);
        }
        if (!e) {
                gtk_label_set_text(A.details, "");
                return;
        }
        gtk_label_set_text(A.details, e->note[0] ? e->note : "");
        bus = g_bus_get_sync(G_BUS_TYPE_SYSTEM, NULL, NULL);
        if (!bus || engine_pidfd_open(e->pid, &pidfd, &err) < 0) {
                g_clear_object(&bus);
                return;
        }
        fds = g_unix_fd_list_new_from_array(&pidfd, 1); /* takes pidfd */
        A.inspect_cancel = g_cancellable_new();
        g_dbus_connection_call_with_unix_fd_list(bus, BUS_NAME, BUS_PATH, BUS_IFACE, "Inspect",
                                                 g_variant_new("(h)", 0), G_VARIANT_TYPE("(a{sv})"),
                                                 G_DBUS_CALL_FLAGS_NONE, 10000, fds,
                                                 A.inspect_cancel, on_inspect_reply, NULL);
        g_object_unref(fds);
        g_object_unref(bus);
}

static gboolean filter_row(GtkListBoxRow *row, gpointer data) {
        const struct proclist_entry *e = g_object_get_data(G_OBJECT(row), "entry");
        const char *q = gtk_editable_get_text(GTK_EDITABLE(A.search));
        char pid[16];
        gboolean match;
        char *hay, *needle;

        if (!q || !*q || !e)
                return TRUE;
        snprintf(pid, sizeof pid, "%d", (int)e->pid);
        hay = g_utf8_strdown(e->command, -1);
        needle = g_utf8_strdown(q, -1);
        match = strstr(hay, needle) || strstr(e->tty, q) || strcmp(pid, q) == 0;
        g_free(hay);
        g_free(needle);
        return match;
}

static void on_search_changed(GtkSearchEntry *entry, gpointer data) {
        gtk_list_box_invalidate_filter(A.list);
}

static GtkWidget *make_row(const struct proclist_entry *e) {
        GtkWidget *row = gtk_list_box_row_new();
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 2);
        GtkWidget *top = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
        GtkWidget *cmd = gtk_label_new(e->command);
        char age[32];
        char *sub = g_strdup_printf(
                "PID %d · %s · %s · started %s ago%s%s%s", (int)e->pid, e->tty,
                proclist_state_name(e->state), proclist_format_age(e->age_sec, age, sizeof age),
                e->own ? "" : " · ", e->own ? "" : e->user, e->note[0] ? "" : "");
        GtkWidget *meta = gtk_label_new(sub);

        g_free(sub);
        gtk_label_set_xalign(GTK_LABEL(cmd), 0);
        gtk_label_set_ellipsize(GTK_LABEL(cmd), PANGO_ELLIPSIZE_END);
        gtk_widget_set_hexpand(cmd, TRUE);
        gtk_widget_add_css_class(cmd, "heading");
        gtk_box_append(GTK_BOX(top), cmd);
        if (e->orphaned) {
                GtkWidget *tag = gtk_label_new("terminal closed");
                gtk_widget_add_css_class(tag, "orphaned");
                gtk_widget_add_css_class(tag, "warning");
                gtk_box_append(GTK_BOX(top), tag);
        }
        if (e->has_children) {
                GtkWidget *tag = gtk_label_new("has children");
                gtk_widget_add_css_class(tag, "dim-label");
                gtk_box_append(GTK_BOX(top), tag);
        }
        gtk_label_set_xalign(GTK_LABEL(meta), 0);
        gtk_widget_add_css_class(meta, "dim-label");
        gtk_box_append(GTK_BOX(box), top);
        gtk_box_append(GTK_BOX(box), meta);
        gtk_widget_set_margin_start(box, 8);
        gtk_widget_set_margin_end(box, 8);
        gtk_widget_set_margin_top(box, 4);
        gtk_widget_set_margin_bottom(box, 4);
        gtk_list_box_row_set_child(GTK_LIST_BOX_ROW(row), box);
        g_object_set_data(G_OBJECT(row), "entry", (gpointer)e);
        return row;
}

static void refresh_picker(void) {
        GtkWidget *child;
        int r;

        while ((child = gtk_widget_get_first_child(GTK_WIDGET(A.list))))
                gtk_list_box_remove(A.list, child);
        proclist_free(&A.procs);
        r = proclist_collect(0, &A.procs);
        if (r < 0) {
                gtk_label_set_text(A.details, "Cannot read /proc.");
                return;
        }
        for (size_t i = 0; i < A.procs.n; i++)
                gtk_list_box_append(A.list, make_row(&A.procs.entries[i]));
        if (A.procs.n > 0)
                gtk_list_box_select_row(A.list, gtk_list_box_get_row_at_index(A.list, 0));
        else
                on_row_selected(A.list, NULL, NULL);
}

static void on_refresh(GtkButton *b, gpointer data) { refresh_picker(); }

static void on_pick(GtkButton *b, gpointer data) {
        const struct proclist_entry *e = selected_entry();
        bool session = GPOINTER_TO_INT(data) || (e && e->has_children);

        if (e)
                adopt(e->pid, session);
}

static void on_row_activated(GtkListBox *box, GtkListBoxRow *row, gpointer data) {
        on_pick(NULL, GINT_TO_POINTER(0));
}

static GtkWidget *make_picker(void) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
        GtkWidget *scroll = gtk_scrolled_window_new();
        GtkWidget *buttons = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
        GtkWidget *refresh = gtk_button_new_with_mnemonic("_Refresh");
        GtkWidget *placeholder =
                gtk_label_new("None of your processes has a terminal that could be adopted.");

        A.search = GTK_SEARCH_ENTRY(gtk_search_entry_new());
        gtk_search_entry_set_key_capture_widget(A.search, box);
        g_signal_connect(A.search, "search-changed", G_CALLBACK(on_search_changed), NULL);
        A.list = GTK_LIST_BOX(gtk_list_box_new());
        gtk_list_box_set_placeholder(A.list, placeholder);
        gtk_list_box_set_filter_func(A.list, filter_row, NULL, NULL);
        g_signal_connect(A.list, "row-selected", G_CALLBACK(on_row_selected), NULL);
        g_signal_connect(A.list, "row-activated", G_CALLBACK(on_row_activated), NULL);
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scroll), GTK_WIDGET(A.list));
        gtk_widget_set_vexpand(scroll, TRUE);
        A.details = GTK_LABEL(gtk_label_new(""));
        gtk_label_set_wrap(A.details, TRUE);
        gtk_label_set_xalign(A.details, 0);

        A.btn_adopt = gtk_button_new_with_mnemonic("_Adopt");
        A.btn_adopt_session = gtk_button_new_with_mnemonic("Adopt whole _session");
        gtk_widget_add_css_class(A.btn_adopt, "suggested-action");
        g_signal_connect(A.btn_adopt, "clicked", G_CALLBACK(on_pick), GINT_TO_POINTER(0));
        g_signal_connect(A.btn_adopt_session, "clicked", G_CALLBACK(on_pick), GINT_TO_POINTER(1));
        g_signal_connect(refresh, "clicked", G_CALLBACK(on_refresh), NULL);
        gtk_widget_set_hexpand(refresh, TRUE);
        gtk_widget_set_halign(refresh, GTK_ALIGN_START);
        gtk_box_append(GTK_BOX(buttons), refresh);
        gtk_box_append(GTK_BOX(buttons), A.btn_adopt_session);
        gtk_box_append(GTK_BOX(buttons), A.btn_adopt);

        gtk_box_append(GTK_BOX(box), GTK_WIDGET(A.search));
        gtk_box_append(GTK_BOX(box), scroll);
        gtk_box_append(GTK_BOX(box), GTK_WIDGET(A.details));
        gtk_box_append(GTK_BOX(box), buttons);
        gtk_widget_set_margin_start(box, 8);
        gtk_widget_set_margin_end(box, 8);
        gtk_widget_set_margin_top(box, 8);
        gtk_widget_set_margin_bottom(box, 8);
        return box;
}

/* ---- closing ---------------------------------------------------------- */

static void on_close_response(GtkDialog *dialog, int response, gpointer data) {
        gtk_window_destroy(GTK_WINDOW(dialog));
        if (response == GTK_RESPONSE_ACCEPT) {
                A.exited = TRUE; /* no second question */
                gtk_window_destroy(A.window);
        }
}

/* Closing the window closes the master (VTE owns it), which hangs the
 * terminal up: the process gets SIGHUP, as when any terminal window is
 * closed. Ask first while it runs. */
static gboolean on_close_request(GtkWindow *w, gpointer data) {
        GtkWidget *dialog;

        if (!A.adopted || A.exited)
                return FALSE;
        dialog = gtk_message_dialog_new(A.window, GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
                                        GTK_MESSAGE_QUESTION, GTK_BUTTONS_NONE,
                                        "Close the terminal of %s (%d)?", A.comm, (int)A.pid);
        gtk_message_dialog_format_secondary_text(
                GTK_MESSAGE_DIALOG(dialog),
                "It is still running. Closing hangs its terminal up, as closing any terminal "
                "window does: most programs then end.");
        gtk_dialog_add_buttons(GTK_DIALOG(dialog), "_Cancel", GTK_RESPONSE_CANCEL,
                               "C_lose Terminal", GTK_RESPONSE_ACCEPT, NULL);
        gtk_dialog_set_default_response(GTK_DIALOG(dialog), GTK_RESPONSE_CANCEL);
        gtk_window_set_title(GTK_WINDOW(dialog), "Close terminal? — reptyr-terminal");
        g_signal_connect(dialog, "response", G_CALLBACK(on_close_response), NULL);
        gtk_window_present(GTK_WINDOW(dialog));
        return TRUE;
}

/* ---- terminal actions ------------------------------------------------- */

static void act_copy(GSimpleAction *a, GVariant *p, gpointer d) {
        vte_terminal_copy_clipboard_format(A.term, VTE_FORMAT_TEXT);
}
static void act_paste(GSimpleAction *a, GVariant *p, gpointer d) {
        vte_terminal_paste_clipboard(A.term);
}
static void zoom(double factor) {
        double s = factor == 0 ? 1.0 : vte_terminal_get_font_scale(A.term) * factor;
        vte_terminal_set_font_scale(A.term, CLAMP(s, 0.25, 4.0));
}
static void act_zoom_in(GSimpleAction *a, GVariant *p, gpointer d) { zoom(1.2); }
static void act_zoom_out(GSimpleAction *a, GVariant *p, gpointer d) { zoom(1 / 1.2); }
static void act_zoom_reset(GSimpleAction *a, GVariant *p, gpointer d) { zoom(0); }

static const GActionEntry win_actions[] = {
        {.name = "copy", .activate = act_copy},
        {.name = "paste", .activate = act_paste},
        {.name = "zoom-in", .activate = act_zoom_in},
        {.name = "zoom-out", .activate = act_zoom_out},
        {.name = "zoom-reset", .activate = act_zoom_reset},
};

/* ---- the test hook ---------------------------------------------------- */

static gboolean on_dump(gpointer data) {
        const char *path = g_getenv("REPTYR_TERMINAL_DUMP");
        GString *s = g_string_new(NULL);
        char *tmp, *text;

        if (!path)
                return G_SOURCE_CONTINUE;
        g_string_append_printf(s, "title: %s\n", gtk_window_get_title(A.window));
        g_string_append_printf(s, "page: %s\n", gtk_stack_get_visible_child_name(A.stack));
        if (gtk_widget_get_visible(A.banner))
                g_string_append_printf(s, "status: %s\nstatus-text: %s\n",
                                       gtk_label_get_text(A.banner_title),
                                       gtk_label_get_text(A.banner_text));
        g_string_append_printf(s, "size: %ld %ld\n", vte_terminal_get_row_count(A.term),
                               vte_terminal_get_column_count(A.term));
        for (GtkWidget *row = gtk_widget_get_first_child(GTK_WIDGET(A.list)); row;
             row = gtk_widget_get_next_sibling(row)) {
                const struct proclist_entry *e = g_object_get_data(G_OBJECT(row), "entry");
                if (e && gtk_widget_get_child_visible(row))
                        g_string_append_printf(s, "row: %d\t%s\t%s\t%s\n", (int)e->pid, e->tty,
                                               e->orphaned ? "orphaned" : "-", e->command);
        }
        text = vte_terminal_get_text(A.term, NULL, NULL, NULL);
        g_string_append_printf(s, "terminal:\n%s\n", text ? text : "");
        g_free(text);
        tmp = g_strdup_printf("%s.tmp", path);
        if (g_file_set_contents(tmp, s->str, (gssize)s->len, NULL))
                (void)rename(tmp, path);
        g_free(tmp);
        g_string_free(s, TRUE);
        return G_SOURCE_CONTINUE;
}

/* ---- the window ------------------------------------------------------- */

static GtkWidget *make_banner(void) {
        GtkWidget *box = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
        GtkWidget *texts = gtk_box_new(GTK_ORIENTATION_VERTICAL, 4);

        A.banner_title = GTK_LABEL(gtk_label_new(""));
        A.banner_text = GTK_LABEL(gtk_label_new(""));
        gtk_widget_add_css_class(GTK_WIDGET(A.banner_title), "heading");
        gtk_label_set_wrap(A.banner_title, TRUE);
        gtk_label_set_wrap(A.banner_text, TRUE);
        gtk_label_set_selectable(A.banner_text, TRUE);
        gtk_label_set_xalign(A.banner_title, 0);
        gtk_label_set_xalign(A.banner_text, 0);
        gtk_box_append(GTK_BOX(texts), GTK_WIDGET(A.banner_title));
        gtk_box_append(GTK_BOX(texts), GTK_WIDGET(A.banner_text));
        gtk_widget_set_hexpand(texts, TRUE);
        gtk_box_append(GTK_BOX(box), texts);

        A.btn_back = gtk_button_new_with_mnemonic("_Pick another");
        A.btn_retry = gtk_button_new_with_mnemonic("_Try again");
        A.btn_session = gtk_button_new_with_mnemonic("Adopt whole _session");
        A.btn_continue = gtk_button_new_with_mnemonic("_Continue it");
        g_signal_connect(A.btn_back, "clicked", G_CALLBACK(on_back), NULL);
        g_signal_connect(A.btn_retry, "clicked", G_CALLBACK(on_retry), NULL);
        g_signal_connect(A.btn_session, "clicked", G_CALLBACK(on_session), NULL);
        g_signal_connect(A.btn_continue, "clicked", G_CALLBACK(on_continue), NULL);
        gtk_widget_add_css_class(A.btn_session, "suggested-action");
        for (GtkWidget **b =
                     (GtkWidget *[]){A.btn_back, A.btn_retry, A.btn_session, A.btn_continue, NULL};
             *b; b++) {
                gtk_widget_set_valign(*b, GTK_ALIGN_CENTER);
                gtk_box_append(GTK_BOX(box), *b);
        }
        gtk_widget_add_css_class(box, "reptyr-banner");
        gtk_widget_set_visible(box, FALSE);
        return box;
}

static const char CSS[] = ".reptyr-banner { padding: 10px; background: alpha(@accent_bg_color, "
                          "0.15); }\n"
                          ".orphaned { color: #c01c28; font-weight: bold; }\n";

static pid_t arg_pid;
static bool arg_session;

static void on_activate(GtkApplication *gtk, gpointer data) {
        GtkWidget *outer = gtk_box_new(GTK_ORIENTATION_VERTICAL, 0);
        GtkWidget *scroll = gtk_scrolled_window_new();
        GtkCssProvider *css = gtk_css_provider_new();
        static const struct {
                const char *action;
                const char *accels[3];
        } accels[] = {
                {"win.copy", {"<Control><Shift>c", NULL}},
                {"win.paste", {"<Control><Shift>v", NULL}},
                {"win.zoom-in", {"<Control>plus", "<Control>equal", NULL}},
                {"win.zoom-out", {"<Control>minus", NULL}},
                {"win.zoom-reset", {"<Control>0", NULL}},
                {"window.close", {"<Control><Shift>w", NULL}},
        };

        gtk_css_provider_load_from_data(css, CSS, -1);
        gtk_style_context_add_provider_for_display(gdk_display_get_default(),
                                                   GTK_STYLE_PROVIDER(css),
                                                   GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
        g_object_unref(css);

        A.window = GTK_WINDOW(gtk_application_window_new(gtk));
        gtk_window_set_default_size(A.window, 820, 520);
        gtk_window_set_icon_name(A.window, "org.reptyr.Terminal");
        g_action_map_add_action_entries(G_ACTION_MAP(A.window), win_actions,
                                        G_N_ELEMENTS(win_actions), NULL);
        for (size_t i = 0; i < G_N_ELEMENTS(accels); i++)
                gtk_application_set_accels_for_action(gtk, accels[i].action, accels[i].accels);
        g_signal_connect(A.window, "close-request", G_CALLBACK(on_close_request), NULL);

        A.term = VTE_TERMINAL(vte_terminal_new());
        vte_terminal_set_scrollback_lines(A.term, 10000);
        vte_terminal_set_scroll_on_keystroke(A.term, TRUE);
        gtk_widget_set_vexpand(GTK_WIDGET(A.term), TRUE);
        gtk_widget_set_hexpand(GTK_WIDGET(A.term), TRUE);
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scroll), GTK_WIDGET(A.term));
        gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scroll), GTK_POLICY_NEVER,
                                       GTK_POLICY_ALWAYS);

        A.stack = GTK_STACK(gtk_stack_new());
        gtk_stack_add_named(A.stack, make_picker(), "picker");
        gtk_stack_add_named(A.stack, scroll, "terminal");
        gtk_widget_set_vexpand(GTK_WIDGET(A.stack), TRUE);

        A.banner = make_banner();
        gtk_box_append(GTK_BOX(outer), A.banner);
        gtk_box_append(GTK_BOX(outer), GTK_WIDGET(A.stack));
        gtk_window_set_child(A.window, outer);

        g_unix_signal_add(SIGUSR1, on_dump, NULL);
        if (arg_pid > 0) {
                adopt(arg_pid, arg_session);
        } else {
                gtk_window_set_title(A.window, "Adopt a process — reptyr-terminal");
                refresh_picker();
                gtk_stack_set_visible_child_name(A.stack, "picker");
        }
        gtk_window_present(A.window);
}

static int usage(FILE *f, int code) {
        fprintf(f, "reptyr-terminal [--session] [PID]\n"
                   "\n"
                   "Show a running process in a terminal window of its own: PID, or the one\n"
                   "you pick from a list of your processes that have a terminal.\n"
                   "\n"
                   "  --session   take over PID's whole terminal session (its shell, jobs\n"
                   "              and children) instead of PID alone\n"
                   "  --help      show this help\n"
                   "  --version   show the version\n");
        return code;
}

int main(int argc, char *argv[]) {
        int status;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--session") == 0) {
                        arg_session = true;
                } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                        return usage(stdout, 0);
                } else if (strcmp(argv[i], "--version") == 0) {
                        printf("reptyr-terminal %s\n", REPTYR_VERSION);
                        return 0;
                } else if (arg_pid == 0 && engine_parse_pid(argv[i], &arg_pid) == 0) {
                        continue;
                } else {
                        fprintf(stderr, "reptyr-terminal: unexpected argument '%s'\n", argv[i]);
                        return usage(stderr, 64);
                }
        }
        /* Each window is its own process and target: no single instance. */
        A.gtk = gtk_application_new("org.reptyr.Terminal", G_APPLICATION_NON_UNIQUE);
        g_signal_connect(A.gtk, "activate", G_CALLBACK(on_activate), NULL);
        status = g_application_run(G_APPLICATION(A.gtk), 1, argv);
        g_object_unref(A.gtk);
        if (A.exit_watch)
                g_source_remove(A.exit_watch);
        close_fd(&A.pidfd);
        close_fd(&A.proc_dirfd);
        proclist_free(&A.procs);
        return status;
}
