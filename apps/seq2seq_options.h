/* seq2seq-train's command line: its options, their defaults, the usage
 * text and the parser (apps/seq2seq-train.c).  Not part of libelman. */
#ifndef ELMAN_APPS_SEQ2SEQ_OPTIONS_H
#define ELMAN_APPS_SEQ2SEQ_OPTIONS_H

#include <stdint.h>

#include "elman/seq2seq.h"
#include "seq2seq_data.h"
#include "train_options.h"
#include "train_run.h"

enum { MODE_TRAIN, MODE_EVAL, MODE_PREDICT };
extern const char *const s2s_cell_names[];     /* --cell, as the options' cell */
extern const char *const s2s_schedule_names[]; /* --schedule */
enum { SCHEDULE_CONSTANT, SCHEDULE_COSINE };

typedef struct options {
    int mode;
    /* --out, --model, --resume, --metrics, --batch, --threads, --lr,
     * --mpi-timeout, --seed and the budget: --epochs, --steps, --minutes,
     * --patience (train_options.h). */
    train_options common;
    const char *words;
    int cell, hidden, layers, bidirectional, padded_steps, embedding;
    el_attention attention;
    float dropout, teacher_forcing, validation_fraction, test_fraction;
    int min_length, max_length, beam, schedule;
    int default_epochs; /* with no budget given: 0 fits the data (FIT_STEPS) */
    int lecture;        /* --preset lecture */
    int verbose;        /* --verbose: say how many threads run */
    char **sources;     /* predict: the words or sources given as arguments */
    int source_count;
    s2s_data_options data; /* --pairs and the flags of eval and predict */
} options;

/* With no --epochs, --steps or --minutes, a run fits the data: FIT_STEPS
 * updates under a cosine schedule, about 8 epochs of the bundled English
 * list and 50 of a 14,000-word one, ended early when the validation exact
 * match (then loss) has not improved for FIT_PATIENCE checks, and the best
 * check's model is the one saved (train_run.h).  A fixed number of epochs
 * gave small lists too few updates to learn and large ones too many. */
enum { FIT_STEPS = 10000, FIT_PATIENCE = 8 };

/* Fills o from the command line: 0 to go on, or the exit status (after
 * --help, -1, or an error, already reported).  The words or sources of
 * --predict are kept in o->sources, over argv's first entries. */
int s2s_parse_options(int argc, char **argv, options *o);

#endif
