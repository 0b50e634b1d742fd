/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <string.h>

#include "target-info.h"
#include "util.h"

enum value_kind { VALUE_U32, VALUE_STRING, VALUE_INTS };

struct key {
        const char *name;
        enum value_kind kind;
        size_t offset;
        size_t count_offset; /* VALUE_INTS: the size_t with the number of elements */
};

#define KEY(name, kind, member)                                                                    \
        { name, kind, offsetof(struct target_info, member), 0 }
#define INTS(name, member, count)                                                                  \
        {                                                                                          \
                name, VALUE_INTS, offsetof(struct target_info, member),                            \
                        offsetof(struct target_info, count)                                        \
        }

/* The order of the interface XML. */
static const struct key keys[] = {
        KEY("pid", VALUE_U32, pid),
        KEY("uid", VALUE_U32, uid),
        KEY("comm", VALUE_STRING, comm),
        KEY("exe", VALUE_STRING, exe),
        KEY("tty", VALUE_STRING, tty),
        KEY("mode", VALUE_STRING, mode),
        INTS("fds", fds, n_fds),
        KEY("personality", VALUE_STRING, personality),
        KEY("action", VALUE_STRING, action),
        KEY("authorized", VALUE_STRING, authorized),
        KEY("reason", VALUE_STRING, reason),
        INTS("holders", holders, n_holders),
        INTS("session-processes", members, n_members),
};

static const void *field(const struct target_info *info, const struct key *k) {
        return (const char *)info + k->offset;
}

static void print_text_string(const char *s, FILE *f) {
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p < 0x20 || *p == 0x7f || *p == '\\')
                        fprintf(f, "\\x%02x", *p);
                else
                        fputc(*p, f);
        }
}

void target_info_print_text(const struct target_info *info, FILE *f) {
        int width = 0;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                int n = (int)strlen(keys[i].name);
                width = n > width ? n : width;
        }
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const struct key *k = &keys[i];

                fprintf(f, "%*s:", width, k->name);
                switch (k->kind) {
                case VALUE_U32:
                        fprintf(f, " %u", *(const uint32_t *)field(info, k));
                        break;
                case VALUE_STRING: {
                        const char *s = field(info, k);
                        if (*s) {
                                fputc(' ', f);
                                print_text_string(s, f);
                        }
                        break;
                }
                case VALUE_INTS: {
                        const int *v = field(info, k);
                        size_t n = *(const size_t *)((const char *)info + k->count_offset);
                        for (size_t j = 0; j < n; j++)
                                fprintf(f, " %d", v[j]);
                        break;
                }
                }
                fputc('\n', f);
        }
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if there is none:
 * overlong forms, surrogates and values above U+10FFFF are invalid. */
static size_t utf8_sequence_length(const unsigned char *p) {
        unsigned cp;
        size_t n;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                n = 2, cp = p[0] & 0x1f;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                n = 3, cp = p[0] & 0x0f;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                n = 4, cp = p[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((p[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return n;
}

static void print_json_string(const char *s, FILE *f) {
        const unsigned char *p = (const unsigned char *)s;

        fputc('"', f);
        while (*p) {
                size_t n = utf8_sequence_length(p);

                if (n == 0) {
                        fputs("\\ufffd", f);
                        p++;
                        continue;
                }
                switch (*p) {
                case '"':
                        fputs("\\\"", f);
                        break;
                case '\\':
                        fputs("\\\\", f);
                        break;
                case '\n':
                        fputs("\\n", f);
                        break;
                case '\t':
                        fputs("\\t", f);
                        break;
                default:
                        if (*p < 0x20)
                                fprintf(f, "\\u%04x", *p);
                        else
                                fwrite(p, 1, n, f);
                }
                p += n;
        }
        fputc('"', f);
}

void target_info_print_json(const struct target_info *info, FILE *f) {
        fputc('{', f);
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const struct key *k = &keys[i];

                fprintf(f, "%s\"%s\":", i ? "," : "", k->name);
                switch (k->kind) {
                case VALUE_U32:
                        fprintf(f, "%u", *(const uint32_t *)field(info, k));
                        break;
                case VALUE_STRING:
                        print_json_string(field(info, k), f);
                        break;
                case VALUE_INTS: {
                        const int *v = field(info, k);
                        size_t n = *(const size_t *)((const char *)info + k->count_offset);
                        fputc('[', f);
                        for (size_t j = 0; j < n; j++)
                                fprintf(f, "%s%d", j ? "," : "", v[j]);
                        fputc(']', f);
                        break;
                }
                }
        }
        fputs("}\n", f);
}
