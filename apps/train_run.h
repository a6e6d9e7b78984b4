/* The training run every program shares (not part of libelman): epochs of
 * batches with an optimizer, the position a checkpoint resumes from, the
 * progress display, a metrics CSV, a checkpoint after every epoch, and the
 * ways a run ends.
 *
 * A program describes its model with a few callbacks (train_hooks) and
 * calls train_run_go; the run owns everything else once:
 *   - the learning rate from the schedule, zeroing the gradients, clipping,
 *     the optimizer step and the thread check around each batch;
 *   - a NaN or infinite loss or gradient norm stops the run with one line
 *     naming the epoch, the batch and what was not finite, before the
 *     optimizer can write it into the weights; the last checkpoint is left
 *     as it was and the status is TRAIN_EXIT_NONFINITE;
 *   - SIGINT and SIGTERM (what batch schedulers send before they kill a job)
 *     finish the batch, save and exit with 128 + the signal (130, 143);
 *     both are blocked while a checkpoint is written, so no second signal
 *     interrupts the write and its rename;
 *   - SIGXFSZ is ignored, so a write past the file size limit fails with
 *     EFBIG and is reported instead of killing the program;
 *   - an output that cannot be written (a directory, a directory without
 *     write permission, a metrics file that cannot be opened or written) is
 *     one line and a non-zero exit, and the previous checkpoint stays whole
 *     (checkpoints are written to a temporary file and renamed).
 * Off a terminal the progress display prints a plain line every tenth of an
 * epoch on stderr (progress.h): the end-to-end tests stop a run by reading
 * those lines from a pipe, so a signal arrives at a point they control. */
#ifndef ELMAN_APPS_TRAIN_RUN_H
#define ELMAN_APPS_TRAIN_RUN_H

#include <stdio.h>

#include "elman/elman.h"
#include "train_options.h"
#include "train_ranks.h"

/* The exit status of a run stopped by a non-finite loss or gradient. */
#define TRAIN_EXIT_NONFINITE 3

/* What an epoch's training gave, for the program's epoch line. */
typedef struct train_epoch_figures {
    long epoch;       /* the epoch just finished, from 1 */
    double mean_loss; /* over its batches, in the run's units (loss_scale applied) */
    double last_loss; /* of its last batch, likewise */
    long units;       /* words, characters, images trained on */
    double seconds;   /* the epoch's training time */
    double elapsed;   /* since the run started */
    /* Set by end_epoch for early stopping: the held-out score (higher is
     * better; exact match, or minus a loss) and loss (the tie-break). */
    double score, loss;
} train_epoch_figures;

typedef struct train_hooks {
    /* The number of batches in an epoch. */
    long (*batches)(void *context, long epoch);
    /* Readies the data for epoch, to continue at batch first (0, or where
     * a resumed run stopped). */
    el_status (*start_epoch)(void *context, long epoch, long first);
    /* Forward and backward over the epoch's next batch, accumulating the
     * gradients: the loss and how many units it covered.  The library's
     * steps fail with EL_ERR_NONFINITE on a non-finite loss or gradient;
     * the run checks the loss and the gradient norm again all the same. */
    el_status (*train_batch)(void *context, float *loss, long *units);
    /* After an epoch's last batch (or the run's last, when a step budget
     * ends it within an epoch; with early stopping on small data, only
     * every few epochs): evaluates, prints the epoch's line from figures,
     * sets figures->score and ->loss, and writes the metrics row (no
     * newline) into csv.  *stop = 1 ends the run after this epoch.  0, or
     * -1 after reporting a failure.  With several ranks it is called on
     * every rank, which may evaluate its share and sum the figures with
     * the others' (train_ranks_sum through train_run.ranks). */
    int (*end_epoch)(void *context, train_epoch_figures *figures, char *csv, size_t csv_size,
                     int *stop);
    /* Writes a checkpoint of the model, the optimizer and the position
     * (train_run.epoch, .batch) to path. */
    el_status (*save)(void *context, const char *path);
    /* Optional: what the last train_batch's loss was a mean over, when it
     * is not its units (seq2seq: target tokens, not words).  NULL: units. */
    double (*loss_weight)(void *context);
    /* Optional, with several ranks: called on every rank before rank 0
     * saves, to collect into rank 0's what the ranks hold apart (charlm's
     * streams' state). */
    el_status (*gather)(void *context);
} train_hooks;

/* What a program tells the run about itself and its model. */
typedef struct train_setup {
    const train_hooks *hooks;
    void *context;
    el_param_list *params;
    el_thread_check *threads;   /* or NULL */
    const char *batch_name;     /* "batch", "chunk" */
    const char *unit_name;      /* "words", for the progress line */
    const char *loss_name;      /* "loss", "bpc" */
    double loss_scale;          /* from nats to loss_name's unit */
    const char *metrics_header; /* the metrics CSV's first line */
} train_setup;

typedef struct train_run {
    /* Set by the program: train_run_setup, then optimizer, schedule, clip
     * and the budget (train_budget_apply). */
    train_setup setup;
    el_optimizer *optimizer;
    el_lr_schedule schedule;
    const char *out;          /* the checkpoint */
    const char *metrics_path; /* or NULL */
    const char
        *resumed_from; /* the checkpoint a resumed run read, or NULL; it appends to the metrics */
    int epochs;        /* 0: as many as the step budget takes */
    double minutes;    /* 0: no time limit */
    /* The step budget (optimizer updates, counted from the run's start):
     * 0 for none, or fixed once from budget_minutes (see below). */
    long steps;
    double budget_minutes;
    /* Early stopping: > 0 ends the run after that many checks of the
     * held-out score without a better one, and keeps the best (below). */
    int patience;
    float clip; /* the gradient norm's limit, 0 for none */
    /* The position: the next batch to train.  Set by a resumed run. */
    long epoch, batch;
    /* Kept by the run. */
    double best_score, best_loss; /* of the best check, when has_best */
    long best_epoch;
    int has_best, bad_checks;
    float *best_weights;     /* the parameters at the best check */
    double measured_seconds; /* the budget's timed batches */
    long measured;
    long units_trained;
    double training_seconds;
    FILE *metrics;
    int signal; /* the signal that stopped the run, or 0 */
    /* Data-parallel runs (train_run_setup): this process is rank of
     * rank_count; rank 0 alone prints, writes metrics and checkpoints. */
    train_ranks *ranks;
    int rank, rank_count;
    int stop_agreed;   /* with several ranks: every rank stops after this batch */
    int signal_agreed; /* and the signal that stopped them (SIGTERM first), or 0 */
    /* Where the ranks' time went, summed over every rank (from the shared
     * figures of each step, one step late): their own batches, and the
     * all-reduce, which includes waiting for the slowest rank. */
    double ranks_computing, ranks_combining, combining; /* the last: this rank's last step */
    long ranks_steps;
} train_run;

/* The rank's share of n items (a global batch of examples or streams):
 * [*first, *first + *count), n·rank/ranks to n·(rank+1)/ranks, so shares
 * differ by at most one item and together make the whole batch.  train_batch
 * trains on its share, with its loss the mean over the share; the ranks'
 * gradients are then combined weighted by what each mean was over
 * (loss_weight, or units), which is the one-process gradient. */
void train_run_share(const train_run *r, long n, long *first, long *count);

/* The same for items of unequal cost (weight[i] >= 0, such as a word's
 * symbols): contiguous shares cut where the running total of the weights
 * crosses total·rank/ranks, so each rank gets about the same work rather
 * than the same number of items (a rank whose share is done waits for the
 * others at every step).  Every rank computes the same cuts. */
void train_run_share_weighted(const train_run *r, const int *weight, long n, long *first,
                              long *count);

/* The budget of a run with a step budget.
 *
 * --steps N trains exactly N updates, and a learning-rate schedule spans
 * them.  --minutes M alone fixes N once, from the throughput of the first
 * batches: TRAIN_BUDGET_WARMUP batches are trained untimed (caches, the
 * allocator, the second thread settling), the next TRAIN_BUDGET_MEASURED
 * are timed, and N = M minutes at that rate (never fewer than the batches
 * already trained, plus one), printed as "budget: N steps (...)" and kept
 * in the checkpoint.  For N to reproduce the run exactly with --steps N,
 * the rate of those first batches must not depend on N: a run with a step
 * budget warms the rate up linearly over the first TRAIN_BUDGET_WARMUP +
 * TRAIN_BUDGET_MEASURED updates (or N - 1, when N is smaller), whichever
 * way N was given.  Only training batches are timed, so evaluations add to
 * M minutes.
 *
 * Early stopping (patience > 0) checks the held-out score at the end of
 * every epoch, or of every few epochs when an epoch is shorter than
 * TRAIN_CHECK_STEPS updates, and once more when the budget ends.  The
 * checkpoint is written only after a better check, so it always holds the
 * best model and its position: the weights in memory are set back to the
 * best when the run ends, and a signal leaves the best checkpoint as it
 * is, since resuming it replays the same epochs after it exactly (the
 * batch order, the generator and the optimizer are all in it). */
enum { TRAIN_BUDGET_WARMUP = 5, TRAIN_BUDGET_MEASURED = 20, TRAIN_CHECK_STEPS = 200 };

/* The position and the training random generator in a checkpoint's
 * metadata ("train.epoch", "train.<batch_name>", "train.rng"), with the
 * budget ("train.steps", "train.budget_minutes", "train.stop_patience") and the
 * best check's figures ("train.best_score", "train.best_loss"), so that a
 * resumed run continues where the saved one stopped.  The budget keys may
 * be absent (checkpoints written before them): no budget.  Loading refuses
 * a negative position with one line and -1; one past the epoch's end is
 * refused when the run starts. */
el_status train_run_save_position(const train_run *r, el_checkpoint_writer *w, const el_rng *rng);
int train_run_load_position(train_run *r, const el_checkpoint *c, const char *path, el_rng *rng);

/* Sets r's epochs, minutes, steps, budget_minutes and patience from b.
 * With no length given: fit_steps > 0 fits the data (a budget of
 * fit_steps updates with early stopping, fit_patience unless --patience
 * says otherwise), else default_epochs.  A resumed run with no length
 * given keeps its checkpoint's budget (loaded with its position) and
 * saved_epochs. */
void train_budget_apply(const train_budget *b, train_run *r, int default_epochs, long fit_steps,
                        int fit_patience, int saved_epochs);

/* Starts a run: sets r from setup and from the command line's common
 * options o (the checkpoint o->out, the metrics o->metrics, and
 * resumed_from o->resume), joins the ranks mpirun started (one process
 * without mpirun; elman-mpi, docs/distributed.md; a collective that takes
 * longer than o->mpi_timeout seconds ends the job; a rank other than 0
 * prints nothing on stdout from here on) and refuses an output path that
 * is a directory or whose directory cannot be written, with one line.
 * Call it first, before the data and the model are read (a resumed run's
 * position is loaded with setup's batch_name); then set what they give: the
 * optimizer, the schedule, the budget (train_budget_apply).  0 or -1. */
int train_run_setup(train_run *r, const train_setup *setup, const train_options *o);

/* Trains from the position to the run's end.  With several ranks it first
 * checks that they agree on the run (epochs, schedule, batches, position)
 * and gives every rank rank 0's parameters.  Returns 0 after the last
 * epoch (or the time budget, or early stopping), with the checkpoint
 * saved; 128 + the signal after saving on SIGINT or SIGTERM, with a line
 * that says how to continue; 1 after reporting a failure; or
 * TRAIN_EXIT_NONFINITE.  The caller frees nothing here but the run's
 * metrics file (train_run_free). */
int train_run_go(train_run *r);

void train_run_free(train_run *r);

#endif
