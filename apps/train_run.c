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

int train_run_check_output(const char *path)
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
    snprintf(key, size, "train.%s", r->batch_name);
}

el_status train_run_save_position(const train_run *r, el_checkpoint_writer *w, const el_rng *rng)
{
    char key[64];
    position_key(r, key, sizeof key);
    el_status s = el_checkpoint_set_int(w, "train.epoch", r->epoch);
    if (!s) s = el_checkpoint_set_int(w, key, r->batch);
    if (!s) s = meta_set_rng(w, "train.rng", rng);
    return s;
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
        cli_error("%s: a negative position (epoch %lld, %s %lld)", path, epoch, r->batch_name,
                  batch);
        return -1;
    }
    r->epoch = (long)epoch;
    r->batch = (long)batch;
    return 0;
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

int train_run_join(train_run *r, double timeout)
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

void train_run_share(const train_run *r, long n, long *first, long *count)
{
    int ranks = r->rank_count > 1 ? r->rank_count : 1;
    *first = n * r->rank / ranks;
    *count = n * (r->rank + 1) / ranks - *first;
}

/* The checkpoint is written with SIGINT and SIGTERM blocked on this
 * thread, so a signal cannot cut the write or its rename short; it is
 * delivered when they are unblocked, and stops the run at the next batch.
 * (elman's workers may take one meanwhile: the handler only sets the flag,
 * so that cuts nothing short either.)  pthread_sigmask, as the process
 * has threads, where sigprocmask's effect is unspecified. */
static int save_checkpoint(train_run *r)
{
    if (r->rank_count > 1 && r->hooks->gather && r->hooks->gather(r->context))
        return cli_library_failure();
    if (r->rank != 0) return 0;
    sigset_t block, old;
    signals_to_stop(&block);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    el_status s = r->hooks->save(r->context, r->out);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return s ? cli_library_failure() : 0;
}

static int open_metrics(train_run *r)
{
    if (!r->metrics_path || r->rank != 0) return 0;
    if (cli_open_csv(r->metrics_path, r->resumed_from != NULL, r->metrics_header, &r->metrics))
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

/* What rides in each batch's all-reduce beside the gradients. */
enum {
    SHARED_LOSS,
    SHARED_WEIGHT,
    SHARED_UNITS,
    SHARED_NONFINITE,
    SHARED_FAILED,
    SHARED_SIGINT,
    SHARED_SIGTERM,
    SHARED_COUNT
};

/* With several ranks: combines the ranks' gradients (the mean weighted by
 * what each rank's loss was a mean over), losses and units, and what
 * stops the run, in one all-reduce that every rank joins whatever its own
 * batch gave, so that all of them take the same decision at the same batch.
 * *s is this rank's outcome, and becomes the run's. */
static el_status share_batch(train_run *r, double run_started, el_status *s, float *loss,
                             long *units)
{
    double weight = 0;
    if (!*s)
        weight = r->hooks->loss_weight ? r->hooks->loss_weight(r->context) : (double)*units;
    else
        el_param_list_zero_grad(r->params);
    float shared[SHARED_COUNT] = {
        [SHARED_LOSS] = *s ? 0 : *loss * (float)weight, [SHARED_WEIGHT] = (float)weight,
        [SHARED_UNITS] = *s ? 0 : (float)*units,        [SHARED_NONFINITE] = *s == EL_ERR_NONFINITE,
        [SHARED_FAILED] = *s && *s != EL_ERR_NONFINITE, [SHARED_SIGINT] = stop_signal == SIGINT,
        [SHARED_SIGTERM] = stop_signal == SIGTERM,
    };
    int stop = stop_signal || out_of_time(r, run_started);
    el_status m = train_ranks_mean(r->ranks, weight, shared, &stop);
    if (m) return m;
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
    if (r->threads) el_thread_check_begin(r->threads);
    *units = 0;
    el_status s = r->hooks->train_batch(r->context, loss, units);
    /* The library's steps refuse a non-finite loss themselves; a model of
     * the program's own may not. */
    if (!s && !isfinite(*loss)) {
        snprintf(nonfinite_loss, sizeof nonfinite_loss, "the loss is not finite (%g)", *loss);
        s = EL_ERR_NONFINITE;
    }
    if (r->rank_count > 1) {
        el_status m = share_batch(r, run_started, &s, loss, units);
        if (m) s = m;
    }
    /* The norm is computed with or without clipping: a non-finite one is
     * refused before it reaches the weights. */
    float norm = 0;
    if (!s) s = el_clip_grad_norm(r->params, r->clip > 0 ? r->clip : FLT_MAX, &norm);
    if (s && !isfinite(norm)) s = EL_ERR_NONFINITE;
    if (!s) s = el_optimizer_step(r->optimizer);
    if (r->threads) el_thread_check_end(r->threads, (double)*units);
    return s;
}

/* One epoch from the position to its end, a signal or the time budget. */
static el_status train_epoch(train_run *r, double run_started, train_epoch_figures *f)
{
    char label[64], figures[160];
    long total = r->hooks->batches(r->context, r->epoch);
    snprintf(label, sizeof label, "epoch %ld/%d", r->epoch + 1, r->epochs);
    progress bar;
    if (r->rank == 0) progress_start(&bar, label, total);
    el_status s = r->hooks->start_epoch(r->context, r->epoch, r->batch);
    double sum = 0, started = progress_now();
    long counted = 0;
    *f = (train_epoch_figures){0};
    while (!s && r->batch < total && !stopping(r, run_started)) {
        float loss;
        long units;
        s = train_batch(r, run_started, &loss, &units);
        if (s) break;
        r->batch++;
        sum += loss;
        counted++;
        f->units += units;
        f->last_loss = loss * r->loss_scale;
        double rate = f->units / (progress_now() - started + 1e-9);
        snprintf(figures, sizeof figures, "%s %.4f  %.0f %s/s", r->loss_name,
                 sum / counted * r->loss_scale, rate, r->unit_name);
        if (r->rank == 0) progress_update(&bar, r->batch, figures);
    }
    f->mean_loss = counted ? sum / counted * r->loss_scale : 0;
    f->seconds = progress_now() - started;
    r->units_trained += f->units;
    r->training_seconds += f->seconds;
    snprintf(figures, sizeof figures, "%s: trained on %ld %s, %s %.4f", label, f->units,
             r->unit_name, r->loss_name, f->mean_loss);
    if (r->rank == 0) progress_finish(&bar, figures);
    return s;
}

static int run_epochs(train_run *r)
{
    double started = progress_now();
    int stop = 0, saved = 0;
    long total = r->epoch < r->epochs ? r->hooks->batches(r->context, r->epoch) : 0;
    if (r->batch > total || (r->batch == total && total > 0)) {
        cli_error("%s: the position, %s %ld of epoch %ld, is past the epoch's %ld",
                  r->resumed_from ? r->resumed_from : r->out, r->batch_name, r->batch, r->epoch + 1,
                  total);
        return 1;
    }
    while (r->epoch < r->epochs && !stop && !stopping(r, started)) {
        train_epoch_figures f;
        el_status s = train_epoch(r, started, &f);
        if (s == EL_ERR_NONFINITE) {
            cli_error("epoch %ld, %s %ld: %s; stopped without saving, %s is as it was",
                      r->epoch + 1, r->batch_name, r->batch + 1,
                      *nonfinite_loss ? nonfinite_loss : el_last_error(), r->out);
            return TRAIN_EXIT_NONFINITE;
        }
        if (s) return cli_library_failure();
        saved = 0;
        if (r->batch < r->hooks->batches(r->context, r->epoch)) break;
        r->epoch++;
        r->batch = 0;
        f.epoch = r->epoch;
        f.elapsed = progress_now() - started;
        char row[512] = "";
        int failed = r->hooks->end_epoch(r->context, &f, row, sizeof row, &stop) != 0;
        /* Every rank evaluates the same weights; they agree all the same,
         * as an epoch's end is where one rank alone could stop. */
        if (r->rank_count > 1 &&
            (train_ranks_any(r->ranks, &failed) || train_ranks_any(r->ranks, &stop)))
            return cli_library_failure();
        if (failed) return 1;
        /* The row first: a metrics file that cannot be written stops the
         * run with the checkpoint of the epoch before. */
        if (write_metrics(r, row) || save_checkpoint(r)) return 1;
        saved = 1;
    }
    if (!saved && save_checkpoint(r)) return 1;
    int signo = r->rank_count > 1 ? r->signal_agreed : stop_signal;
    if (signo) {
        printf("interrupted by %s: saved %s at epoch %ld, %s %ld; continue with --resume %s\n",
               signal_name(signo), r->out, r->epoch + 1, r->batch_name, r->batch, r->out);
        fflush(stdout);
        return 128 + signo;
    }
    return 0;
}

/* The ranks agree on the run and start from rank 0's weights. */
static int start_ranks(train_run *r)
{
    if (r->rank_count <= 1) return 0;
    long run[6] = {r->epochs, r->hooks->batches(r->context, r->epoch), r->epoch,
                   r->batch,  el_optimizer_step_count(r->optimizer),   (long)r->schedule.kind};
    double rates[3] = {r->schedule.base_lr, r->clip, r->minutes};
    el_status s =
        train_ranks_check_same(r->ranks, "the run (epochs, batches, position)", run, sizeof run);
    if (!s)
        s = train_ranks_check_same(r->ranks, "the learning rate, clipping or time limit", rates,
                                   sizeof rates);
    if (!s) s = train_ranks_broadcast(r->ranks, r->params);
    if (!s) s = train_ranks_reducer(r->ranks, r->params, SHARED_COUNT);
    return s ? cli_library_failure() : 0;
}

int train_run_go(train_run *r)
{
    if (train_run_check_output(r->out) || open_metrics(r) || start_ranks(r)) return 1;
    catch_signals();
    int status = run_epochs(r);
    /* What follows (a final evaluation) writes no checkpoint: a signal may
     * end it at once again. */
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    return status;
}

void train_run_free(train_run *r)
{
    if (r->metrics) fclose(r->metrics);
    r->metrics = NULL;
    train_ranks_end(r->ranks);
    r->ranks = NULL;
}
