/* The flags the three training programs (charlm, fashion, seq2seq-train)
 * share, read by one parser so that they have the same names, defaults
 * and error lines everywhere (not part of libelman):
 *   --out MODEL, --model MODEL, --resume MODEL, --metrics FILE.csv,
 *   --batch N (1 to the program's limit), --lr X (1e-7 to 10), --seed N,
 *   --threads N (1 to 64), --mpi-timeout S (0 to 1e6), and the run's
 *   length: --epochs N, --steps N, --minutes M, --patience N.
 * Each program keeps its own usage text, since what the flags mean to it
 * (their defaults, what the seed draws) is its own. */
#ifndef ELMAN_APPS_TRAIN_OPTIONS_H
#define ELMAN_APPS_TRAIN_OPTIONS_H

#include <stdint.h>

/* A run's length as the command line gives it: --epochs N, --steps N,
 * --minutes M (with --epochs, a time limit; alone, a step budget,
 * train_run.h) and --patience N (early stopping).  Zero (or -1 for
 * patience) where not given. */
typedef struct train_budget {
    int epochs;
    long steps;
    float minutes;
    int patience;
} train_budget;

#define TRAIN_BUDGET_NONE                                                                          \
    {                                                                                              \
        0, 0, 0, -1                                                                                \
    }

/* Whether the command line sets the run's length. */
int train_budget_given(const train_budget *b);

/* The common flags' values, a member ("common") of each program's options. */
typedef struct train_options {
    const char *out, *model, *resume, *metrics;
    int batch;
    int threads; /* 0: the default (cli_set_threads) */
    float lr, mpi_timeout;
    uint64_t seed;
    train_budget budget;
} train_options;

/* The defaults the programs share, for a designated initializer of a
 * train_options; each program sets its own --batch and --lr. */
#define TRAIN_OPTIONS_DEFAULTS .seed = 1, .mpi_timeout = 60, .budget = TRAIN_BUDGET_NONE

/* Parses one common flag at argv[*i] (cli.h): 1 if it was one, 0 if not,
 * -1 on a bad value (reported).  batch_max: the largest --batch. */
int train_options_flag(int argc, char **argv, int *i, train_options *o, int batch_max);

/* After the whole command line: refuses a contradictory length (--steps
 * with --epochs or --minutes) with one line, and sets a missing --out to
 * --resume's model, else default_out.  0 or -1. */
int train_options_finish(train_options *o, const char *default_out);

#endif
