#define _POSIX_C_SOURCE 200809L

#include "train_run.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "meta.h"
#include "progress.h"

static volatile sig_atomic_t stop_signal;
static char nonfinite_loss[64]; /* the message when the loss was found non-finite here */

/* The first signal handled decides the exit status; later ones change
 * nothing.  (With several threads, which of two signals sent at once is
 * handled first is the kernel's choice.) */
static void on_stop_signal(int signo)
{
    if (!stop_signal) stop_signal = signo;
}

static void signals_to_stop(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

/* SIGINT and SIGTERM set a flag the loop reads between batches; the
 * handler blocks both, so one arriving during another's handler waits.
 * SA_RESTART: a signal during a write resumes the write. */
static void catch_signals(void)
{
    struct sigaction action = {0};
    action.sa_handler = on_stop_signal;
    signals_to_stop(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

static const char *signal_name(int signo) { return signo == SIGTERM ? "SIGTERM" : "SIGINT"; }

/* Refuses an output path that cannot be written, with one line; 0 or -1. */
static int check_output(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cli_error("%s: a directory, not a file to save the model in", path);
        return -1;
    }
    /* The checkpoint is written beside path and renamed, so the directory
     * must take a new file: try one, as permissions alone do not tell
     * (root, read-only file systems). */
    size_t size = strlen(path) + 64;
    char *probe = malloc(size);
    if (!probe) {
        cli_error("out of memory");
        return -1;
    }
    snprintf(probe, size, "%s.probe-%ld", path, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    int error = errno;
    if (fd >= 0) {
        close(fd);
        unlink(probe);
    }
    free(probe);
    if (fd < 0) {
        cli_error("%s: cannot create a file there: %s", path, strerror(error));
        return -1;
    }
    return 0;
}

static void position_key(const train_run *r, char *key, size_t size)
{
    snprintf(key, size, "train.%s", r->setup.batch_name);
}

el_status train_run_save_position(const train_run *r, el_checkpoint_writer *w, const el_rng *rng)
{
    char key[64];
    position_key(r, key, sizeof key);
    el_status s = el_checkpoint_set_int(w, "train.epoch", r->epoch);
    if (!s) s = el_checkpoint_set_int(w, key, r->batch);
    if (!s) s = meta_set_rng(w, "train.rng", rng);
    if (!s) s = el_checkpoint_set_int(w, "train.steps", r->steps);
    /* Only until the budget is fixed, which a resumed run then measures:
     * after, the checkpoint is the same as --steps N would write. */
    if (!s && !r->steps && r->budget_minutes > 0)
        s = el_checkpoint_set_float(w, "train.budget_minutes", (float)r->budget_minutes);
    if (!s) s = el_checkpoint_set_int(w, "train.stop_patience", r->patience);
    if (!s && r->has_best) s = el_checkpoint_set_double(w, "train.best_score", r->best_score);
    if (!s && r->has_best) s = el_checkpoint_set_double(w, "train.best_loss", r->best_loss);
    if (!s && r->has_best) s = el_checkpoint_set_int(w, "train.best_epoch", r->best_epoch);
    return s;
}

/* The budget's keys, absent from checkpoints written before them. */
static int load_budget(train_run *r, const el_checkpoint *c)
{
    long long steps = 0, best_epoch = 0;
    float minutes = 0;
    if (el_checkpoint_meta(c, "train.steps") && meta_get_long(c, "train.steps", &steps)) return -1;
    if (el_checkpoint_meta(c, "train.budget_minutes") &&
        meta_get_float(c, "train.budget_minutes", &minutes))
        return -1;
    r->budget_minutes = minutes;
    if (el_checkpoint_meta(c, "train.stop_patience") &&
        meta_get_int(c, "train.stop_patience", &r->patience))
        return -1;
    r->has_best = el_checkpoint_meta(c, "train.best_score") != NULL;
    if (r->has_best && (meta_get_double(c, "train.best_score", &r->best_score) ||
                        meta_get_double(c, "train.best_loss", &r->best_loss) ||
                        meta_get_long(c, "train.best_epoch", &best_epoch)))
        return -1;
    if (steps < 0 || r->budget_minutes < 0 || r->patience < 0) {
        cli_error("%s: a negative budget (train.steps %lld, train.budget_minutes %g, "
                  "train.stop_patience %d)",
                  el_checkpoint_path(c), steps, r->budget_minutes, r->patience);
        return -1;
    }
    r->steps = (long)steps;
    r->best_epoch = (long)best_epoch;
    return 0;
}

int train_run_load_position(train_run *r, const el_checkpoint *c, const char *path, el_rng *rng)
{
    char key[64];
    long long epoch, batch;
    position_key(r, key, sizeof key);
    if (meta_get_long(c, "train.epoch", &epoch) || meta_get_long(c, key, &batch) ||
        meta_get_rng(c, "train.rng", rng))
        return -1;
    if (epoch < 0 || batch < 0) {
        cli_error("%s: a negative position (epoch %lld, %s %lld)", path, epoch, r->setup.batch_name,
                  batch);
        return -1;
    }
    r->epoch = (long)epoch;
    r->batch = (long)batch;
    return load_budget(r, c);
}

static int out_of_time(const train_run *r, double started)
{
    return r->minutes > 0 && progress_now() - started > 60.0 * r->minutes;
}

/* Whether the run stops before its next batch.  With several ranks only
 * what they agreed on in the last all-reduce counts: a signal or a clock
 * seen by one rank alone would leave the others waiting in the next. */
static int stopping(const train_run *r, double started)
{
    if (r->rank_count > 1) return r->stop_agreed;
    return stop_signal || out_of_time(r, started);
}

/* Joins the ranks (train_run_setup); 0 or -1. */
static int join(train_run *r, double timeout)
{
    if (train_ranks_start(&r->ranks, timeout)) return -1;
    r->rank = train_ranks_rank(r->ranks);
    r->rank_count = train_ranks_size(r->ranks);
    if (r->rank != 0 && !freopen("/dev/null", "w", stdout)) {
        cli_error("rank %d: cannot silence stdout: %s", r->rank, strerror(errno));
        return -1;
    }
    return 0;
}

int train_run_setup(train_run *r, const train_setup *setup, const train_options *o)
{
    r->setup = *setup;
    r->out = o->out;
    r->metrics_path = o->metrics;
    r->resumed_from = o->resume;
    return join(r, o->mpi_timeout) || check_output(o->out) ? -1 : 0;
}

void train_run_share(const train_run *r, long n, long *first, long *count)
{
    int ranks = r->rank_count > 1 ? r->rank_count : 1;
    *first = n * r->rank / ranks;
    *count = n * (r->rank + 1) / ranks - *first;
}

/* The first item at or past the point where the running total reaches
 * total·k/ranks (n for k == ranks). */
static long weighted_cut(const int *weight, long n, double total, int k, int ranks)
{
    if (k >= ranks) return n;
    double target = total * k / ranks, sum = 0;
    long i = 0;
    for (; i < n && sum + 0.5 * weight[i] < target; i++) sum += weight[i];
    return i;
}

void train_run_share_weighted(const train_run *r, const int *weight, long n, long *first,
                              long *count)
{
    int ranks = r->rank_count > 1 ? r->rank_count : 1;
    double total = 0;
    for (long i = 0; i < n; i++) total += weight[i];
    *first = weighted_cut(weight, n, total, r->rank, ranks);
    *count = weighted_cut(weight, n, total, r->rank + 1, ranks) - *first;
}

static int budget_done(const train_run *r)
{
    return r->steps > 0 && el_optimizer_step_count(r->optimizer) >= r->steps;
}

static int epochs_left(const train_run *r) { return !r->epochs || r->epoch < r->epochs; }

/* The warm-up that keeps the first batches' rate independent of the
 * budget (train_run.h), and the schedule over the budget once known. */
static void budget_schedule(train_run *r)
{
    if (!r->steps && r->budget_minutes <= 0) return;
    long warm = TRAIN_BUDGET_WARMUP + TRAIN_BUDGET_MEASURED;
    if (r->steps > 0 && warm > r->steps - 1) warm = r->steps - 1;
    r->schedule.warmup_steps = warm;
    if (r->steps > 0) r->schedule.total_steps = r->steps;
}

/* Times the batch just trained, seconds long, while the budget is being
 * measured, and fixes the budget after the last measured one. */
static int measure_budget(train_run *r, double seconds)
{
    if (r->steps || r->budget_minutes <= 0) return 0;
    long step = el_optimizer_step_count(r->optimizer);
    if (step > TRAIN_BUDGET_WARMUP) {
        r->measured_seconds += seconds;
        r->measured++;
    }
    if (step < TRAIN_BUDGET_WARMUP + TRAIN_BUDGET_MEASURED || !r->measured) return 0;
    double rate = (double)r->measured / (r->measured_seconds + 1e-9),
           planned = r->budget_minutes * 60.0 * rate;
    r->steps = planned > (double)step ? (long)planned : step + 1;
    /* Each rank timed its own batches: rank 0's budget is the run's (a
     * float holds it exactly up to 2^24 steps). */
    if (r->rank_count > 1) {
        float steps = r->rank == 0 ? (float)r->steps : 0.0f;
        if (train_ranks_sum(r->ranks, &steps, 1)) return (void)cli_library_failure(), -1;
        r->steps = (long)steps;
    }
    budget_schedule(r);
    printf("budget: %ld steps (%g minutes at %.2f steps/s measured over %ld batches)\n", r->steps,
           r->budget_minutes, rate, r->measured);
    fflush(stdout);
    return 0;
}

/* Copies the parameters into the best's copy (to_best) or back. */
static int copy_best(train_run *r, int to_best)
{
    size_t total = 0;
    for (int i = 0; i < r->setup.params->count; i++) total += r->setup.params->items[i]->value.size;
    if (!r->best_weights && !(r->best_weights = malloc((total ? total : 1) * sizeof(float)))) {
        cli_error("out of memory for the best weights (%zu)", total);
        return -1;
    }
    float *at = r->best_weights;
    for (int i = 0; i < r->setup.params->count; i++) {
        el_tensor *v = &r->setup.params->items[i]->value;
        if (to_best)
            memcpy(at, v->data, v->size * sizeof(float));
        else
            memcpy(v->data, at, v->size * sizeof(float));
        at += v->size;
    }
    return 0;
}

/* Epochs between checks of the held-out score: 1, or with early stopping
 * enough for TRAIN_CHECK_STEPS updates. */
static long check_interval(const train_run *r)
{
    long batches = r->setup.hooks->batches(r->setup.context, r->epoch);
    if (!r->patience || batches <= 0 || batches >= TRAIN_CHECK_STEPS) return 1;
    return (TRAIN_CHECK_STEPS + batches - 1) / batches;
}

/* The checkpoint is written with SIGINT and SIGTERM blocked on this
 * thread, so a signal cannot cut the write or its rename short; it is
 * delivered when they are unblocked, and stops the run at the next batch.
 * (elman's workers may take one meanwhile: the handler only sets the flag,
 * so that cuts nothing short either.)  pthread_sigmask, as the process
 * has threads, where sigprocmask's effect is unspecified. */
static int save_checkpoint(train_run *r)
{
    if (r->rank_count > 1 && r->setup.hooks->gather && r->setup.hooks->gather(r->setup.context))
        return cli_library_failure();
    if (r->rank != 0) return 0;
    sigset_t block, old;
    signals_to_stop(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    el_status s = r->setup.hooks->save(r->setup.context, r->out);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return s ? cli_library_failure() : 0;
}

static int open_metrics(train_run *r)
{
    if (!r->metrics_path || r->rank != 0) return 0;
    if (cli_open_csv(r->metrics_path, r->resumed_from != NULL, r->setup.metrics_header,
                     &r->metrics))
        return -1;
    if (fflush(r->metrics) != 0) {
        cli_error("%s: %s", r->metrics_path, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_metrics(train_run *r, const char *row)
{
    if (!r->metrics) return 0;
    if (fprintf(r->metrics, "%s\n", row) < 0 || fflush(r->metrics) != 0) {
        cli_error("%s: %s", r->metrics_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* One batch: forward and backward by the program, then the checks and the
 * optimizer's step here. */
/* What rides in each batch's all-reduce beside the gradients. */
enum {
    SHARED_LOSS,
    SHARED_WEIGHT,
    SHARED_UNITS,
    SHARED_NONFINITE,
    SHARED_FAILED,
    SHARED_SIGINT,
    SHARED_SIGTERM,
    SHARED_COMPUTING, /* this rank's seconds in the batch's hook */
    SHARED_COMBINING, /* and in the previous step's all-reduce */
    SHARED_COUNT
};

/* With several ranks: combines the ranks' gradients (the mean weighted by
 * what each rank's loss was a mean over), losses and units, and what
 * stops the run, in one all-reduce that every rank joins whatever its own
 * batch gave, so that all of them take the same decision at the same batch.
 * *s is this rank's outcome, and becomes the run's. */
static el_status share_batch(train_run *r, double run_started, double computing, el_status *s,
                             float *loss, long *units)
{
    double weight = 0;
    if (!*s)
        weight = r->setup.hooks->loss_weight ? r->setup.hooks->loss_weight(r->setup.context)
                                             : (double)*units;
    else
        el_param_list_zero_grad(r->setup.params);
    float shared[SHARED_COUNT] = {
        [SHARED_LOSS] = *s ? 0 : *loss * (float)weight, [SHARED_WEIGHT] = (float)weight,
        [SHARED_UNITS] = *s ? 0 : (float)*units,        [SHARED_NONFINITE] = *s == EL_ERR_NONFINITE,
        [SHARED_FAILED] = *s && *s != EL_ERR_NONFINITE, [SHARED_SIGINT] = stop_signal == SIGINT,
        [SHARED_SIGTERM] = stop_signal == SIGTERM,      [SHARED_COMPUTING] = (float)computing,
        [SHARED_COMBINING] = (float)r->combining,
    };
    int stop = stop_signal || out_of_time(r, run_started);
    double started = progress_now();
    el_status m = train_ranks_mean(r->ranks, weight, shared, &stop);
    r->combining = progress_now() - started;
    if (m) return m;
    r->ranks_computing += shared[SHARED_COMPUTING];
    r->ranks_combining += shared[SHARED_COMBINING];
    r->ranks_steps++;
    r->stop_agreed = stop;
    if (!r->signal_agreed)
        r->signal_agreed = shared[SHARED_SIGTERM] > 0  ? SIGTERM
                           : shared[SHARED_SIGINT] > 0 ? SIGINT
                                                       : 0;
    if (*s) return *s;
    if (shared[SHARED_FAILED] > 0)
        return el_set_error(EL_ERR_STATE, "another rank failed (its message is above)");
    if (shared[SHARED_NONFINITE] > 0) {
        snprintf(nonfinite_loss, sizeof nonfinite_loss, "the loss is not finite on another rank");
        return EL_ERR_NONFINITE;
    }
    *loss = shared[SHARED_WEIGHT] > 0 ? shared[SHARED_LOSS] / shared[SHARED_WEIGHT] : 0;
    *units = (long)shared[SHARED_UNITS];
    return EL_OK;
}

/* One batch: forward and backward by the program (over this rank's share),
 * the ranks' gradients combined, then the checks and the optimizer's step
 * here. */
static el_status train_batch(train_run *r, double run_started, float *loss, long *units)
{
    el_optimizer_set_lr(r->optimizer,
                        el_lr_at(&r->schedule, el_optimizer_step_count(r->optimizer)));
    el_optimizer_zero_grad(r->optimizer);
    if (r->setup.threads) el_thread_check_begin(r->setup.threads);
    *units = 0;
    double started = progress_now();
    el_status s = r->setup.hooks->train_batch(r->setup.context, loss, units);
    double seconds = progress_now() - started;
    /* The library's steps refuse a non-finite loss themselves; a model of
     * the program's own may not. */
    if (!s && !isfinite(*loss)) {
        snprintf(nonfinite_loss, sizeof nonfinite_loss, "the loss is not finite (%g)", *loss);
        s = EL_ERR_NONFINITE;
    }
    if (r->rank_count > 1) {
        el_status m = share_batch(r, run_started, seconds, &s, loss, units);
        if (m) s = m;
    }
    /* The norm is computed with or without clipping: a non-finite one is
     * refused before it reaches the weights. */
    float norm = 0;
    if (!s) s = el_clip_grad_norm(r->setup.params, r->clip > 0 ? r->clip : FLT_MAX, &norm);
    if (s && !isfinite(norm)) s = EL_ERR_NONFINITE;
    if (!s) s = el_optimizer_step(r->optimizer);
    if (r->setup.threads) el_thread_check_end(r->setup.threads, (double)*units);
    if (!s && measure_budget(r, seconds)) s = EL_ERR_STATE;
    return s;
}

/* One epoch from the position to its end, a signal or the time budget. */
static el_status train_epoch(train_run *r, double run_started, train_epoch_figures *f)
{
    char label[64], figures[160];
    long total = r->setup.hooks->batches(r->setup.context, r->epoch);
    if (r->epochs)
        snprintf(label, sizeof label, "epoch %ld/%d", r->epoch + 1, r->epochs);
    else
        snprintf(label, sizeof label, "epoch %ld", r->epoch + 1);
    progress bar;
    if (r->rank == 0) progress_start(&bar, label, total);
    el_status s = r->setup.hooks->start_epoch(r->setup.context, r->epoch, r->batch);
    double sum = 0, started = progress_now();
    long counted = 0;
    *f = (train_epoch_figures){0};
    while (!s && r->batch < total && !stopping(r, run_started) && !budget_done(r)) {
        float loss;
        long units;
        s = train_batch(r, run_started, &loss, &units);
        if (s) break;
        r->batch++;
        sum += loss;
        counted++;
        f->units += units;
        f->last_loss = loss * r->setup.loss_scale;
        double rate = f->units / (progress_now() - started + 1e-9);
        snprintf(figures, sizeof figures, "%s %.4f  %.0f %s/s", r->setup.loss_name,
                 sum / counted * r->setup.loss_scale, rate, r->setup.unit_name);
        if (r->rank == 0) progress_update(&bar, r->batch, figures);
    }
    f->mean_loss = counted ? sum / counted * r->setup.loss_scale : 0;
    f->seconds = progress_now() - started;
    r->units_trained += f->units;
    r->training_seconds += f->seconds;
    snprintf(figures, sizeof figures, "%s: trained on %ld %s, %s %.4f", label, f->units,
             r->setup.unit_name, r->setup.loss_name, f->mean_loss);
    if (r->rank == 0) progress_finish(&bar, figures);
    return s;
}

/* After a check with early stopping: keeps a better model (its weights and
 * the checkpoint), or counts one more check without, and stops the run
 * after patience of them. */
static int keep_best(train_run *r, const train_epoch_figures *f, int *stop)
{
    if (!r->has_best || f->score > r->best_score ||
        (f->score == r->best_score && f->loss < r->best_loss)) {
        r->has_best = 1;
        r->best_score = f->score;
        r->best_loss = f->loss;
        r->best_epoch = f->epoch;
        r->bad_checks = 0;
        return copy_best(r, 1) || save_checkpoint(r);
    }
    if (++r->bad_checks >= r->patience) {
        printf("no better held-out score for %d checks: stopping early with the best, epoch %ld\n",
               r->bad_checks, r->best_epoch);
        fflush(stdout);
        *stop = 1;
    }
    return 0;
}

/* One check of the held-out score: the program's line and metrics row,
 * then the checkpoint (every check, or the better ones with early
 * stopping).  0, or the exit status. */
static int check(train_run *r, train_epoch_figures *f, double started, int *stop)
{
    char row[512] = "";
    f->elapsed = progress_now() - started;
    int failed = r->setup.hooks->end_epoch(r->setup.context, f, row, sizeof row, stop) != 0;
    /* Every rank has the same figures (the programs sum their shares of
     * the held-out data exactly, or each evaluates all of it); they agree
     * all the same, as the end of an epoch is where one rank alone could
     * stop. */
    if (r->rank_count > 1 &&
        (train_ranks_any(r->ranks, &failed) || train_ranks_any(r->ranks, stop)))
        return cli_library_failure();
    if (failed) return 1;
    /* The row first: a metrics file that cannot be written stops the
     * run with the checkpoint of the epoch before. */
    if (write_metrics(r, row)) return 1;
    if (r->patience) return keep_best(r, f, stop) ? 1 : 0;
    return save_checkpoint(r);
}

/* The end of a run with early stopping: the weights in memory are set
 * back to the best check's, whose checkpoint is already written; with no
 * check yet, the model as it is is saved. */
static int finish_best(train_run *r)
{
    if (!r->has_best) return save_checkpoint(r);
    return copy_best(r, 0) ? 1 : 0;
}

static int run_epochs(train_run *r)
{
    double started = progress_now();
    int stop = 0, saved = 0;
    long total = r->setup.hooks->batches(r->setup.context, r->epoch);
    if (r->batch > total || (r->batch == total && total > 0)) {
        cli_error("%s: the position, %s %ld of epoch %ld, is past the epoch's %ld",
                  r->resumed_from ? r->resumed_from : r->out, r->setup.batch_name, r->batch,
                  r->epoch + 1, total);
        return 1;
    }
    /* A resumed run with early stopping starts from its best checkpoint. */
    if (r->patience && r->has_best && copy_best(r, 1)) return 1;
    long every = check_interval(r);
    while (epochs_left(r) && !stop && !stopping(r, started) && !budget_done(r)) {
        train_epoch_figures f;
        el_status s = train_epoch(r, started, &f);
        if (s == EL_ERR_NONFINITE) {
            cli_error("epoch %ld, %s %ld: %s; stopped without saving, %s is as it was",
                      r->epoch + 1, r->setup.batch_name, r->batch + 1,
                      *nonfinite_loss ? nonfinite_loss : el_last_error(), r->out);
            return TRAIN_EXIT_NONFINITE;
        }
        if (s) return cli_library_failure();
        saved = 0;
        int whole = r->batch >= r->setup.hooks->batches(r->setup.context, r->epoch);
        /* A signal or the time limit within an epoch: no check. */
        if (!whole && !budget_done(r)) break;
        if (whole) {
            r->epoch++;
            r->batch = 0;
        }
        f.epoch = whole ? r->epoch : r->epoch + 1;
        if (whole && r->epoch % every && epochs_left(r) && !budget_done(r)) continue;
        int status = check(r, &f, started, &stop);
        if (status) return status;
        saved = !r->patience;
    }
    int signo = r->rank_count > 1 ? r->signal_agreed : stop_signal;
    if (r->patience && !signo) {
        if (finish_best(r)) return 1;
    } else if (r->patience && !r->has_best) {
        if (save_checkpoint(r)) return 1;
    } else if (!r->patience && !saved && save_checkpoint(r)) {
        return 1;
    }
    if (signo) {
        if (r->patience && r->has_best)
            printf("interrupted by %s: %s holds the best model, of epoch %ld; continue with "
                   "--resume %s\n",
                   signal_name(signo), r->out, r->best_epoch, r->out);
        else
            printf("interrupted by %s: saved %s at epoch %ld, %s %ld; continue with --resume %s\n",
                   signal_name(signo), r->out, r->epoch + 1, r->setup.batch_name, r->batch, r->out);
        fflush(stdout);
        return 128 + signo;
    }
    return 0;
}

/* The ranks agree on the run and start from rank 0's weights. */
static int start_ranks(train_run *r)
{
    if (r->rank_count <= 1) return 0;
    long run[8] = {r->epochs,
                   r->setup.hooks->batches(r->setup.context, r->epoch),
                   r->epoch,
                   r->batch,
                   el_optimizer_step_count(r->optimizer),
                   (long)r->schedule.kind,
                   r->steps,
                   r->patience};
    double rates[4] = {r->schedule.base_lr, r->clip, r->minutes, r->budget_minutes};
    el_status s = train_ranks_check_same(
        r->ranks, "the run (epochs, steps, patience, batches, position)", run, sizeof run);
    if (!s)
        s = train_ranks_check_same(r->ranks, "the learning rate, clipping or minutes", rates,
                                   sizeof rates);
    if (!s) s = train_ranks_broadcast(r->ranks, r->setup.params);
    if (!s) s = train_ranks_reducer(r->ranks, r->setup.params, SHARED_COUNT);
    return s ? cli_library_failure() : 0;
}

/* Where a data-parallel run's time went, per rank and step: a rank that
 * waits long in the all-reduce (which alone takes about 0.5 ms on one host,
 * docs/distributed.md) waits for a slower one. */
static void report_ranks(const train_run *r)
{
    if (r->rank != 0 || r->rank_count <= 1 || r->ranks_steps < 2) return;
    /* Each step carries the all-reduce of the step before it. */
    double n = r->rank_count;
    printf("%d ranks, per rank and step: %.1f ms computing, %.1f ms in the all-reduce "
           "(with waiting for the slowest rank)\n",
           r->rank_count, 1e3 * r->ranks_computing / (n * (double)r->ranks_steps),
           1e3 * r->ranks_combining / (n * (double)(r->ranks_steps - 1)));
}

int train_run_go(train_run *r)
{
    if (check_output(r->out) || open_metrics(r) || start_ranks(r)) return 1;
    catch_signals();
    budget_schedule(r);
    int status = run_epochs(r);
    report_ranks(r);
    /* What follows (a final evaluation) writes no checkpoint: a signal may
     * end it at once again. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    return status;
}

void train_budget_apply(const train_budget *b, train_run *r, int default_epochs, long fit_steps,
                        int fit_patience, int saved_epochs)
{
    if (r->resumed_from && !train_budget_given(b)) {
        r->epochs = saved_epochs;
        if (b->patience > 0) r->patience = b->patience;
        return;
    }
    r->epochs = b->epochs;
    r->steps = b->steps;
    r->minutes = b->epochs ? b->minutes : 0;
    r->budget_minutes = b->epochs ? 0 : b->minutes;
    r->patience = b->patience > 0 ? b->patience : 0;
    if (train_budget_given(b)) return;
    if (fit_steps > 0) {
        r->steps = fit_steps;
        if (b->patience <= 0) r->patience = fit_patience;
    } else {
        r->epochs = default_epochs;
    }
}

void train_run_free(train_run *r)
{
    if (r->metrics) fclose(r->metrics);
    r->metrics = NULL;
    free(r->best_weights);
    r->best_weights = NULL;
    train_ranks_end(r->ranks);
    r->ranks = NULL;
}
