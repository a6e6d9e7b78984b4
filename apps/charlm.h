/* What the parts of the charlm program share (apps/charlm.c: the command
 * line, the text, the model file and training; apps/charlm_eval.c: bits
 * per character and the eval command; apps/charlm_generate.c: the
 * generate command). */
#ifndef ELMAN_APPS_CHARLM_H
#define ELMAN_APPS_CHARLM_H

#include <stdint.h>

#include "elman/charlm.h"
#include "elman/elman.h"
#include "train_options.h"
#include "train_run.h"

enum { MODE_TRAIN, MODE_GENERATE, MODE_EVAL };
enum { SCHEDULE_CONSTANT, SCHEDULE_COSINE };

typedef struct options {
    int mode;
    /* --out, --model, --resume, --metrics, --batch, --threads, --lr,
     * --mpi-timeout, --seed and the budget: --epochs (default 10),
     * --steps, --minutes, --patience (train_options.h). */
    train_options common;
    const char *text, *prompt, *prompt_file;
    int cell, hidden, layers, seq_len, schedule, min_count;
    float dropout, clip, validation_fraction;
    int length, top_k;
    float temperature, top_p;
    int verbose; /* --verbose: say how many threads run */
} options;

typedef struct run {
    options opts;
    char *saved_path; /* the text path a resumed run read from its checkpoint */
    int saved_epochs; /* and its epochs (0: a step budget) */
    el_vocab *vocab;
    el_ids ids;         /* the whole text */
    size_t train_count; /* ids [0, train_count) train, the rest validate */
    int streams;        /* training streams (--batch, fewer for a short text) */
    el_charlm model;
    int model_ready;
    el_param_list params;
    el_optimizer *optimizer;
    el_thread_check threads; /* whether the second thread helps (elman/runtime.h) */
    el_rng rng;              /* dropout */
    el_charlm_state state;   /* the training streams' state (this rank's streams) */
    el_charlm_state all;     /* every stream's, gathered for rank 0 to save */
    int *inputs, *targets;
    int *share_inputs, *share_targets; /* this rank's streams of a chunk */
    size_t offset;                     /* where the current epoch's streams start */
    double val_bpc;                    /* after the last epoch, or NAN */
    train_run train; /* the position, epoch and chunk, is train.epoch and train.batch */
} run;

/* Reads, validates and splits a text into clusters, and sets train_count:
 * the clusters before the held-out --validation part.  With build_vocab,
 * the vocabulary comes from those (so validation characters unseen in
 * training are <unk>).  Encodes it all into r->ids.  0, or -1 after
 * reporting. */
int charlm_load_text(run *r, const char *path, int build_vocab);

/* Loads the model of --model for generate and eval, in evaluation mode;
 * 0, or non-zero after reporting. */
int charlm_load_for_use(run *r);

/* Bits per character of ids [first, first + count) read as parallel
 * streams from a zero state; 0, or -1 after reporting a failure. */
int charlm_text_bpc(run *r, size_t first, size_t count, double *bpc);

/* The commands other than train: the exit status. */
int charlm_generate(run *r);
int charlm_eval(run *r);

#endif
