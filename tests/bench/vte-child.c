/* SPDX-License-Identifier: MIT */
/*
 * The baseline of the VTE benchmark: a GTK 4 window whose VTE widget runs
 * COMMAND as its own child on a pty it made (vte_terminal_spawn_async), the
 * way any VTE terminal runs a shell. Exits when the child does.
 *
 *   vte-child COMMAND [ARG...]
 */
#include <gtk/gtk.h>
#include <vte/vte.h>

static char **child_argv;

static void on_child_exited(VteTerminal *t, int status, gpointer app) {
        g_application_quit(G_APPLICATION(app));
}

static void on_spawned(VteTerminal *t, GPid pid, GError *error, gpointer app) {
        if (pid < 0) {
                g_printerr("vte-child: cannot start %s: %s\n", child_argv[0], error->message);
                g_application_quit(G_APPLICATION(app));
        }
}

static void on_activate(GtkApplication *app, gpointer data) {
        GtkWindow *w = GTK_WINDOW(gtk_application_window_new(app));
        GtkWidget *term = vte_terminal_new();
        GtkWidget *scroll = gtk_scrolled_window_new();

        gtk_window_set_title(w, "vte-child");
        gtk_window_set_default_size(w, 820, 520);
        vte_terminal_set_scrollback_lines(VTE_TERMINAL(term), 10000);
        /* The same widgets as reptyr-terminal's terminal page. */
        gtk_scrolled_window_set_child(GTK_SCROLLED_WINDOW(scroll), term);
        gtk_scrolled_window_set_policy(GTK_SCROLLED_WINDOW(scroll), GTK_POLICY_NEVER,
                                       GTK_POLICY_ALWAYS);
        gtk_window_set_child(w, scroll);
        g_signal_connect(term, "child-exited", G_CALLBACK(on_child_exited), app);
        vte_terminal_spawn_async(VTE_TERMINAL(term), VTE_PTY_DEFAULT, NULL, child_argv, NULL,
                                 G_SPAWN_DEFAULT, NULL, NULL, NULL, -1, NULL, on_spawned, app);
        gtk_window_present(w);
}

int main(int argc, char *argv[]) {
        GtkApplication *app;
        int status;

        if (argc < 2) {
                g_printerr("usage: vte-child COMMAND [ARG...]\n");
                return 64;
        }
        child_argv = argv + 1;
        app = gtk_application_new("org.reptyr.VteChildBench", G_APPLICATION_NON_UNIQUE);
        g_signal_connect(app, "activate", G_CALLBACK(on_activate), NULL);
        status = g_application_run(G_APPLICATION(app), 1, argv);
        g_object_unref(app);
        return status;
}
