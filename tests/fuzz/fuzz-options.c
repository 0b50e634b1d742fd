/* SPDX-License-Identifier: MIT */
/*
 * options_parse(): the a{sv} options of Adopt()/AdoptPID(), which any client
 * of the system bus may send to the root helper.
 *
 * The bus library checks a message's framing before a handler sees it, so
 * what options_parse() can get is any well-formed message, whatever its
 * signature. The input is therefore a small program that builds one with
 * the library's own append calls (which refuse what would be malformed):
 *
 *   byte 0, bit 0: prepend the "u" pid of AdoptPID (the handler reads it
 *                  before the options), as method_adopt_pid() does
 *   byte 0, bit 1: the body is one value of any type from the program
 *                  instead of an a{sv} (wrong top-level types)
 *   then, for a{sv}: entries until the input ends; each is
 *     key:   a byte < 0xf0 picks a known key (keys[]), else a length byte
 *            and that many bytes
 *     type:  a byte < 0xe0 picks a signature (sigs[]), else a length byte
 *            and that many bytes (any signature, refused if invalid)
 *     value: built for that signature by append_value()
 *
 * A value's numbers are read little-endian from the input (zeros once it
 * has ended); a string is a length byte and bytes, or with length 0xff a
 * 16-bit length filled with a repeated byte (big values from small inputs);
 * an array is a count byte, or with 0xff a 16-bit count. Every message is
 * bounded by a budget of values so that nested counts cannot explode.
 *
 * The message is then sealed and rewound, the state a method handler gets
 * it in, and parsed; what comes back must be consistent (FUZZ_CHECK).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "fuzz.h"
#include "options.h"
#include "util.h"

#define MAX_DEPTH 40
#define VALUE_BUDGET 20000

struct input {
        const uint8_t *p;
        size_t n;
        unsigned budget; /* values still allowed in this message */
};

static uint8_t get8(struct input *in) {
        if (in->n == 0)
                return 0;
        in->n--;
        return *in->p++;
}

static uint64_t getn(struct input *in, unsigned bytes) {
        uint64_t v = 0;

        for (unsigned i = 0; i < bytes; i++)
                v |= (uint64_t)get8(in) << (8 * i);
        return v;
}

/* A string of the program, malloc'd: a length byte and bytes, or 0xff and a
 * 16-bit length of one repeated byte. */
static char *get_string(struct input *in) {
        size_t len = get8(in);
        char *s;

        if (len == 0xff) {
                len = (size_t)getn(in, 2);
                s = malloc(len + 1);
                if (!s)
                        abort();
                memset(s, get8(in), len);
        } else {
                s = malloc(len + 1);
                if (!s)
                        abort();
                for (size_t i = 0; i < len; i++)
                        s[i] = (char)get8(in);
        }
        s[len] = '\0';
        return s;
}

static const char *const keys[] = {
        "mode", "fds", "rows", "cols", "dry-run", "", "Mode", "rows ", "dry_run", "m",
};

static const char *const string_values[] = {
        "process", "session", "terminal", "stdio", "", "Process", "session\n", "stdio ",
};

static const char *const sigs[] = {
        "s",         "q",         "u",      "b",    "i",     "y",     "n",     "x",     "t",
        "d",         "o",         "g",      "h",    "v",     "as",    "ay",    "aq",    "au",
        "av",        "(q)",       "(s)",    "(ss)", "(qq)",  "a{sv}", "a{ss}", "a(sv)", "aav",
        "a{sa{sv}}", "((((s))))", "aaaaas", "(sv)", "a{qq}", "(bb)",  "vv",
};

/* The length of the single complete type at the start of sig, 0 if there
 * is none. Only for walking signatures the library accepted already. */
static size_t type_len(const char *sig, unsigned depth) {
        size_t n;

        if (depth > 2 * MAX_DEPTH)
                return 0;
        switch (sig[0]) {
        case 'y':
        case 'b':
        case 'n':
        case 'q':
        case 'i':
        case 'u':
        case 'x':
        case 't':
        case 'd':
        case 's':
        case 'o':
        case 'g':
        case 'h':
        case 'v':
                return 1;
        case 'a':
                n = type_len(sig + 1, depth + 1);
                return n ? n + 1 : 0;
        case '(':
        case '{': {
                char close = sig[0] == '(' ? ')' : '}';
                size_t off = 1;
                while (sig[off] && sig[off] != close) {
                        n = type_len(sig + off, depth + 1);
                        if (!n)
                                return 0;
                        off += n;
                }
                return sig[off] == close && off > 1 ? off + 1 : 0;
        }
        default:
                return 0;
        }
}

static int append_value(sd_bus_message *m, const char *sig, struct input *in, unsigned depth);

/* A signature for a value (the contents of a variant, or of an option). */
static char *get_signature(struct input *in) {
        uint8_t b = get8(in);

        if (b < 0xe0) {
                char *s = strdup(sigs[b % ELEMENTSOF(sigs)]);
                if (!s)
                        abort();
                return s;
        }
        return get_string(in);
}

static int append_variant(sd_bus_message *m, struct input *in, unsigned depth) {
        char *sig = get_signature(in);
        size_t len = type_len(sig, 0);
        int r;

        /* A single complete type, or the library refuses the variant. */
        r = sd_bus_message_open_container(m, 'v', sig);
        if (r >= 0 && len == strlen(sig))
                r = append_value(m, sig, in, depth + 1);
        else if (r >= 0)
                r = -EINVAL; /* accepted by the library, not walkable here */
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        free(sig);
        return r;
}

static int append_string(sd_bus_message *m, char type, struct input *in) {
        uint8_t pick = get8(in);
        char *s;
        int r;

        if (type == 's' && pick < 0x80) {
                s = strdup(string_values[pick % ELEMENTSOF(string_values)]);
                if (!s)
                        abort();
        } else
                s = get_string(in);
        if (type == 'o') {
                /* Mostly valid paths, so that the rest of the message is
                 * reached: "/" and [A-Za-z0-9_] segments. */
                for (char *c = s; *c; c++)
                        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                              (*c >= '0' && *c <= '9') || *c == '_'))
                                *c = '/';
                if (pick & 1) {
                        free(s);
                        s = strdup("/org/reptyr/Reptyr1");
                        if (!s)
                                abort();
                }
        }
        r = sd_bus_message_append_basic(m, type, s);
        free(s);
        return r;
}

static int append_value(sd_bus_message *m, const char *sig, struct input *in, unsigned depth) {
        char type = sig[0];
        int r;

        if (depth > MAX_DEPTH || in->budget == 0)
                return -E2BIG;
        in->budget--;

        switch (type) {
        case 'y': {
                uint8_t v = get8(in);
                return sd_bus_message_append_basic(m, type, &v);
        }
        case 'b': {
                /* Any int: the library stores what it gets as 0 or 1. */
                int v = (int)getn(in, 4);
                return sd_bus_message_append_basic(m, type, &v);
        }
        case 'n':
        case 'q': {
                uint16_t v = (uint16_t)getn(in, 2);
                return sd_bus_message_append_basic(m, type, &v);
        }
        case 'i':
        case 'u': {
                uint32_t v = (uint32_t)getn(in, 4);
                return sd_bus_message_append_basic(m, type, &v);
        }
        case 'x':
        case 't':
        case 'd': {
                uint64_t v = getn(in, 8);
                return sd_bus_message_append_basic(m, type, &v);
        }
        case 'h': {
                int fd = STDIN_FILENO;
                return sd_bus_message_append_basic(m, type, &fd);
        }
        case 's':
        case 'o':
        case 'g':
                return append_string(m, type, in);
        case 'v':
                return append_variant(m, in, depth);
        case 'a': {
                size_t elen = type_len(sig + 1, 0);
                size_t count = get8(in);
                char *element;

                if (!elen)
                        return -EINVAL;
                element = strndup(sig + 1, elen);
                if (!element)
                        abort();
                if (count == 0xff)
                        count = (size_t)getn(in, 2);
                r = sd_bus_message_open_container(m, 'a', element);
                for (size_t i = 0; r >= 0 && i < count; i++) {
                        r = append_value(m, element, in, depth + 1);
                        if (r == -E2BIG) {
                                r = 0; /* out of budget: a shorter array */
                                break;
                        }
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                free(element);
                return r;
        }
        case '(':
        case '{': {
                size_t len = type_len(sig, 0);
                char *contents;

                if (len < 3)
                        return -EINVAL;
                contents = strndup(sig + 1, len - 2);
                if (!contents)
                        abort();
                r = sd_bus_message_open_container(m, type == '(' ? 'r' : 'e', contents);
                for (size_t off = 0; r >= 0 && contents[off];) {
                        size_t n = type_len(contents + off, 0);
                        char *member = strndup(contents + off, n);
                        if (!member)
                                abort();
                        r = append_value(m, member, in, depth + 1);
                        free(member);
                        off += n;
                }
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                free(contents);
                return r;
        }
        default:
                return -EINVAL;
        }
}

static int append_options(sd_bus_message *m, struct input *in) {
        int r = sd_bus_message_open_container(m, 'a', "{sv}");

        while (r >= 0 && in->n > 0 && in->budget > 0) {
                uint8_t k = get8(in);
                char *key;

                if (k < 0xf0) {
                        key = strdup(keys[k % ELEMENTSOF(keys)]);
                        if (!key)
                                abort();
                } else
                        key = get_string(in);
                r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append_basic(m, 's', key);
                if (r >= 0)
                        r = append_variant(m, in, 0);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                free(key);
        }
        if (r >= 0)
                r = sd_bus_message_close_container(m);
        return r;
}

static sd_bus *bus;
static uint64_t cookie;
static bool verbose; /* FUZZ_OPTIONS_VERBOSE=1: say what each input gave */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
        int fds[2];

        verbose = getenv("FUZZ_OPTIONS_VERBOSE") != NULL;
        /* Messages need a started bus; one end of a socketpair will do, as
         * in tests/unit/test-options.c. Nothing is ever sent on it. */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 || sd_bus_new(&bus) < 0 ||
            sd_bus_set_fd(bus, fds[0], fds[0]) < 0 || sd_bus_start(bus) < 0) {
                fprintf(stderr, "fuzz-options: cannot set up a bus object\n");
                abort();
        }
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct input in = {.p = data, .n = size, .budget = VALUE_BUDGET};
        sd_bus_message *m = NULL;
        sd_bus_error error = SD_BUS_ERROR_NULL;
        struct engine_options opts = {0};
        const char *mode = "unset";
        uint8_t flags = get8(&in);
        int r;

        if (sd_bus_message_new_method_call(bus, &m, "org.reptyr.Reptyr1", "/org/reptyr/Reptyr1",
                                           "org.reptyr.Reptyr1", "AdoptPID") < 0)
                abort();
        r = 0;
        if (flags & 1)
                r = sd_bus_message_append(m, "u", (uint32_t)4242);
        if (r >= 0) {
                if (flags & 2) {
                        char *sig = get_signature(&in);
                        size_t len = type_len(sig, 0);
                        r = len && len == strlen(sig) ? append_value(m, sig, &in, 0) : -EINVAL;
                        free(sig);
                } else
                        r = append_options(m, &in);
        }
        /* A message the library refused to build cannot reach a handler. */
        if (r < 0 || sd_bus_message_seal(m, ++cookie, 0) < 0 ||
            sd_bus_message_rewind(m, true) < 0) {
                if (verbose)
                        fprintf(stderr, "not built: %s\n", strerror(r < 0 ? -r : EINVAL));
                goto out;
        }
        if (flags & 1) {
                uint32_t pid;
                FUZZ_CHECK(sd_bus_message_read(m, "u", &pid) > 0 && pid == 4242);
        }

        r = options_parse(m, &opts, &mode, &error);
        if (verbose)
                fprintf(stderr,
                        "signature %.100s: r=%d error=%s (%.200s) mode=%s fds=%d rows=%u cols=%u "
                        "dry-run=%d\n",
                        sd_bus_message_get_signature(m, true), r, error.name ? error.name : "-",
                        error.message ? error.message : "-", mode, (int)opts.fds, opts.rows,
                        opts.cols, (int)opts.dry_run);
        if (sd_bus_error_is_set(&error)) {
                /* Refusals are InvalidArgs with a message, and negative. */
                FUZZ_CHECK(r < 0);
                FUZZ_CHECK(strcmp(error.name, "org.reptyr.Reptyr1.Error.InvalidArgs") == 0);
                FUZZ_CHECK(error.message && strlen(error.message) > 0);
        } else if (r >= 0) {
                FUZZ_CHECK(strcmp(mode, "process") == 0 || strcmp(mode, "session") == 0);
                FUZZ_CHECK((strcmp(mode, "session") == 0) == (opts.mode == ENGINE_MODE_SESSION));
                FUZZ_CHECK(opts.fds == ENGINE_FDS_TERMINAL || opts.fds == ENGINE_FDS_STDIO);
        }
        /* else: a malformed message (a negative errno from the library),
         * which the handler turns into InvalidArgs. */
out:
        sd_bus_error_free(&error);
        sd_bus_message_unref(m);
        return 0;
}
