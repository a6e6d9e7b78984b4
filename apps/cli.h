/* Command-line helpers shared by elman's programs (not part of libelman).
 *
 * Every program reads its flags the same way: "--flag value" or
 * "--flag=value".  A parser checks the whole value and its range and, when
 * either is wrong, prints one line to stderr naming the program, the flag
 * and the value, then returns -1; the program exits with CLI_EXIT_USAGE. */
#ifndef ELMAN_APPS_CLI_H
#define ELMAN_APPS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The exit status for a bad command line, as most Unix tools use. */
#define CLI_EXIT_USAGE 2

#if defined(__GNUC__)
#define CLI_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CLI_PRINTF(fmt, args)
#endif

/* The name that starts every message ("mlp-demo"); set it first. */
void cli_set_program_name(const char *name);
const char *cli_program_name(void);

/* Prints "<program>: <message>" and a newline to stderr. */
void cli_error(const char *format, ...) CLI_PRINTF(1, 2);

/* Matches argv[*index] against flag, which takes a value: returns 1 when it
 * is "flag=value", or "flag" followed by the value (then *index moves onto
 * the value), and 0 when it is some other argument.  A flag with no value
 * left is reported here and gives *value = NULL, which every parser below
 * refuses without a second message, so a caller can chain the two:
 *     if (cli_flag_value(argc, argv, &i, "--hidden", &value))
 *         return cli_parse_int("--hidden", value, 1, 4096, &hidden); */
int cli_flag_value(int argc, char **argv, int *index, const char *flag, const char **value);

/* The command of a program that has several (argv[1], one of the
 * NULL-terminated names): 0 with *command its index; -1 after usage() for
 * --help or -h; or CLI_EXIT_USAGE after one line when it is missing
 * ("which command: a, b or c? (see --help)") or none of them. */
int cli_command(int argc, char **argv, const char *const *names, void (*usage)(void), int *command);

/* Each parser returns 0 and sets *out, or reports the error and returns -1. */

/* Prints the library's last error (el_last_error) as one line; returns 1,
 * the exit status of a failure. */
int cli_library_failure(void);

/* The default --threads: 2 where there are two cores or more (training ran
 * 1.2x to 1.5x faster on two than on one: bench/seq2seq.py, bench/charlm.py),
 * else 1. */
int cli_default_threads(void);

/* Sets the library's threads: requested (--threads) when given, else 1 for
 * a mode that steps one sequence at a time (charlm generate, seq2seq-train
 * --predict), else cli_default_threads().  Stepping one sequence multiplies
 * a vector by each matrix, too little work to share: a second thread only
 * adds its hand-over at every step and made generation slower.  With
 * verbose, says on stderr how many and why.  0, or 1 after reporting a
 * failure. */
int cli_set_threads(int requested, int one_sequence, int verbose);

/* Reads a whole file into *text (free it with el_file_free), *len bytes
 * (elman/file.h); one line naming the
 * file and -1 if it cannot be read, or is empty. */
int cli_read_file(const char *path, char **text, size_t *len);

/* The path of a bundled corpus ("wordnet-words.txt"): where meson installs
 * it, else in the source tree the program was built from (so programs run
 * from a build directory find it); the installed path if neither exists,
 * for the error message.  Returns a static buffer. */
const char *cli_bundled_file(const char *name);

/* Reads a file of indices into 0..count-1, one decimal per line, in file
 * order: *indices (free it) holds *n of them.  A line that is not such a
 * number, or repeats one, is refused with one line naming the file and
 * the line, and -1. */
int cli_read_indices(const char *path, int count, int **indices, size_t *n);

/* Opens a metrics CSV: truncated with a header line, or, when appending
 * (a resumed run), as it is.  0, or -1 after reporting. */
int cli_open_csv(const char *path, int append, const char *header, FILE **out);

/* A decimal integer in [min, max]. */
int cli_parse_int(const char *flag, const char *text, int min, int max, int *out);

/* A decimal integer in [0, 2^64 - 1], e.g. a seed. */
int cli_parse_u64(const char *flag, const char *text, uint64_t *out);

/* A finite number in [min, max]. */
int cli_parse_float(const char *flag, const char *text, double min, double max, float *out);

/* One of the NULL-terminated choices; *out is its index. */
int cli_parse_choice(const char *flag, const char *text, const char *const *choices, int *out);

#endif
