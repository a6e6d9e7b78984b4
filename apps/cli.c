#define _POSIX_C_SOURCE 200809L

#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "elman/file.h"
#include "elman/runtime.h"
#include "elman/status.h"

/* cli_parse_u64 reads with strtoull, so it must hold exactly 64 bits. */
_Static_assert(ULLONG_MAX == UINT64_MAX, "unsigned long long is not 64 bits");

static const char *program_name = "elman";

void cli_set_program_name(const char *name) { program_name = name; }

const char *cli_program_name(void) { return program_name; }

void cli_error(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "%s: ", program_name);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
}

int cli_flag_value(int argc, char **argv, int *index, const char *flag, const char **value)
{
    const char *arg = argv[*index];
    size_t length = strlen(flag);
    if (strncmp(arg, flag, length) != 0) return 0;
    if (arg[length] == '=') {
        *value = arg + length + 1;
        return 1;
    }
    if (arg[length] != '\0') return 0; /* a longer flag that starts the same */
    if (*index + 1 >= argc) {
        cli_error("%s needs a value", flag);
        *value = NULL;
        return 1;
    }
    *index += 1;
    *value = argv[*index];
    return 1;
}

/* strtol and friends skip leading spaces and accept an empty number, so a
 * value is only taken whole: something that starts like a number (no space)
 * and converts to its last character. */
static int starts_like_number(const char *text)
{
    return text[0] != '\0' && !isspace((unsigned char)text[0]);
}

int cli_parse_int(const char *flag, const char *text, int min, int max, int *out)
{
    if (!text) return -1; /* cli_flag_value has said that it is missing */
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (!starts_like_number(text) || *end != '\0' || errno == ERANGE || value < min ||
        value > max) {
        cli_error("%s: expected an integer from %d to %d, got '%s'", flag, min, max, text);
        return -1;
    }
    *out = (int)value;
    return 0;
}

int cli_parse_u64(const char *flag, const char *text, uint64_t *out)
{
    if (!text) return -1;
    char *end;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    /* strtoull quietly negates "-1" into a huge number: refuse any sign. */
    if (!starts_like_number(text) || text[0] == '-' || text[0] == '+' || *end != '\0' ||
        errno == ERANGE) {
        cli_error("%s: expected an integer from 0 to %llu, got '%s'", flag,
                  (unsigned long long)UINT64_MAX, text);
        return -1;
    }
    *out = (uint64_t)value;
    return 0;
}

int cli_parse_float(const char *flag, const char *text, double min, double max, float *out)
{
    if (!text) return -1;
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (!starts_like_number(text) || *end != '\0' || errno == ERANGE || !isfinite(value) ||
        value < min || value > max) {
        cli_error("%s: expected a number from %g to %g, got '%s'", flag, min, max, text);
        return -1;
    }
    *out = (float)value;
    return 0;
}

int cli_parse_choice(const char *flag, const char *text, const char *const *choices, int *out)
{
    if (!text) return -1; /* cli_flag_value has said that it is missing */
    for (int i = 0; choices[i]; i++) {
        if (strcmp(text, choices[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    char list[256] = "";
    for (int i = 0; choices[i]; i++) {
        if (i > 0) strncat(list, ", ", sizeof list - strlen(list) - 1);
        strncat(list, choices[i], sizeof list - strlen(list) - 1);
    }
    cli_error("%s: expected one of %s, got '%s'", flag, list, text);
    return -1;
}

int cli_command(int argc, char **argv, const char *const *names, void (*usage)(void), int *command)
{
    if (argc < 2) {
        char list[256] = "";
        for (int i = 0; names[i]; i++) {
            if (i > 0) strncat(list, names[i + 1] ? ", " : " or ", sizeof list - strlen(list) - 1);
            strncat(list, names[i], sizeof list - strlen(list) - 1);
        }
        cli_error("which command: %s? (see --help)", list);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage();
        return -1;
    }
    return cli_parse_choice("the command", argv[1], names, command) ? CLI_EXIT_USAGE : 0;
}

int cli_library_failure(void)
{
    cli_error("%s", el_last_error());
    return 1;
}

int cli_default_threads(void) { return sysconf(_SC_NPROCESSORS_ONLN) >= 2 ? 2 : 1; }

int cli_set_threads(int requested, int one_sequence, int verbose)
{
    int threads = requested ? requested : one_sequence ? 1 : cli_default_threads();
    if (el_set_threads(threads)) return cli_library_failure();
    if (verbose)
        fprintf(stderr, "%s: %d thread%s (%s)\n", program_name, threads, threads == 1 ? "" : "s",
                requested      ? "--threads"
                : one_sequence ? "the default for one sequence"
                               : "the default");
    return 0;
}

int cli_read_file(const char *path, char **text, size_t *len)
{
    if (el_read_file(path, text, len)) return -cli_library_failure();
    if (*len == 0) {
        cli_error("%s: the file is empty", path);
        el_file_free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}

const char *cli_bundled_file(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", ELMAN_DATADIR, name);
    if (access(path, R_OK) == 0) return path;
    snprintf(path, sizeof path, "%s/corpora/%s", ELMAN_SOURCEDIR, name);
    if (access(path, R_OK) == 0) return path;
    snprintf(path, sizeof path, "%s/%s", ELMAN_DATADIR, name);
    return path;
}

/* Parses one line's index; 0 or -1 after reporting. */
static int parse_index(const char *path, size_t line, const char *text, size_t len, int count,
                       unsigned char *seen, int *out)
{
    long long value = 0;
    size_t i = 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9' && value < count; i++)
        value = value * 10 + (text[i] - '0');
    if (len == 0 || i < len || value >= count) {
        cli_error("%s:%zu: '%.*s' is not an index below %d", path, line, (int)(len < 40 ? len : 40),
                  text, count);
        return -1;
    }
    if (seen[value]) {
        cli_error("%s:%zu: the index %lld again", path, line, value);
        return -1;
    }
    seen[value] = 1;
    *out = (int)value;
    return 0;
}

int cli_read_indices(const char *path, int count, int **indices, size_t *n)
{
    char *text;
    size_t len;
    *indices = NULL;
    *n = 0;
    if (cli_read_file(path, &text, &len)) return -1;
    size_t lines = 0;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    int *out = malloc((lines + 1) * sizeof *out);
    unsigned char *seen = calloc(count > 0 ? (size_t)count : 1, 1);
    int bad = !out || !seen;
    if (bad) cli_error("out of memory for %s", path);
    size_t kept = 0, line = 0;
    for (size_t start = 0; !bad && start < len; line++) {
        const char *end = memchr(text + start, '\n', len - start);
        size_t stop = end ? (size_t)(end - text) : len;
        bad = parse_index(path, line + 1, text + start, stop - start, count, seen, &out[kept++]);
        start = stop + 1;
    }
    free(seen);
    el_file_free(text);
    if (bad) {
        free(out);
        return -1;
    }
    *indices = out;
    *n = kept;
    return 0;
}

int cli_open_csv(const char *path, int append, const char *header, FILE **out)
{
    *out = fopen(path, append ? "a" : "w");
    if (!*out) {
        cli_error("%s: %s", path, strerror(errno));
        return -1;
    }
    if (!append) fprintf(*out, "%s\n", header);
    return 0;
}
