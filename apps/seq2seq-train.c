/* seq2seq-train: learns to turn a word's reversed characters back into the
 * word ("yekrut" -> "turkey") with an encoder-decoder, or any source into
 * its target from a pairs file (apps/seq2seq_data.h), and evaluates and
 * uses such models.
 *
 *   seq2seq-train [--words FILE | --pairs FILE] [--out MODEL] [options]   train
 *   seq2seq-train --eval --model MODEL --words FILE|--pairs FILE          scores
 *   seq2seq-train --predict --model MODEL [WORD ...]                      predictions
 *
 * Characters are grapheme clusters (see elman/vocab.h), so accented
 * letters, ß, Cyrillic or emoji reverse as a reader expects.  Words are
 * split into training, validation and test sets by seed, over unique words
 * (pairs: over distinct sources), so no test word is seen in training.
 * The model is saved after every epoch and on Ctrl-C or SIGTERM
 * (apps/train_run.h), as a safetensors file whose metadata holds the
 * configuration, the vocabularies and the training position, so --resume
 * continues exactly where training stopped.  The command line is
 * apps/seq2seq_options.c; evaluation apps/seq2seq_eval.c; prediction
 * apps/seq2seq_predict.c. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "elman/elman.h"
#include "elman/seq2seq.h"
#include "meta.h"
#include "progress.h"
#include "seq2seq_data.h"
#include "seq2seq_eval.h"
#include "seq2seq_options.h"
#include "seq2seq_predict.h"
#include "train_run.h"

enum { DECODE_BATCH = 256 };

/* ---- the run's state ---------------------------------------------------- */

typedef struct run {
    options opts;
    char *saved_path; /* the words path a resumed run read from its checkpoint */
    int saved_epochs; /* and its epochs (0: a step budget) */
    char *test_path;  /* the preset lecture's test indices, or NULL */
    el_words *words;
    el_vocab *vocab;        /* the source's, and the target's too for words */
    el_vocab *target_vocab; /* the target's when it has its own, else NULL */
    int pairs_model;        /* trained on --pairs (a loaded model, or --pairs given) */
    s2s_pairs pairs;
    el_ids train_ids, validation_ids, test_ids;
    el_reverse_words *train_data, *validation_data, *test_data;
    el_loader *train_loader, *validation_loader, *test_loader;
    el_seq2seq model;
    int model_ready;
    el_param_list params;
    el_optimizer *optimizer;
    el_thread_check threads; /* whether the second thread helps (elman/runtime.h) */
    el_rng rng;              /* dropout and teacher forcing */
    /* With several ranks: this rank's share of a batch, and what its loss
     * was a mean over. */
    el_batch share;
    int *share_ids;
    int *share_cost, share_cost_size; /* each example's symbols, for the shares */
    double share_weight;
    el_loader *held_out; /* validation, or test when there is none */
    const char *held_out_name;
    train_run train; /* the position, epoch and batch, is train.epoch and train.batch */
} run;

static void run_free(run *r)
{
    free(r->saved_path);
    free(r->test_path);
    el_optimizer_free(r->optimizer);
    el_param_list_free(&r->params);
    if (r->model_ready) el_seq2seq_free(&r->model);
    free(r->share_ids);
    free(r->share_cost);
    el_loader_free(r->train_loader);
    el_loader_free(r->validation_loader);
    el_loader_free(r->test_loader);
    el_reverse_words_free(r->train_data);
    el_reverse_words_free(r->validation_data);
    el_reverse_words_free(r->test_data);
    el_ids_free(&r->train_ids);
    el_ids_free(&r->validation_ids);
    el_ids_free(&r->test_ids);
    el_vocab_free(r->vocab);
    el_vocab_free(r->target_vocab);
    s2s_pairs_free(&r->pairs);
    el_words_free(r->words);
    train_run_free(&r->train);
}

/* The vocabulary of the model's outputs. */
static const el_vocab *target_vocab(const run *r)
{
    return r->target_vocab ? r->target_vocab : r->vocab;
}

/* ---- checkpoints -------------------------------------------------------- */

static el_status save(void *context, const char *path)
{
    run *r = context;
    el_checkpoint_writer *w = NULL;
    const options *o = &r->opts;
    el_status s = el_checkpoint_writer_create(&w);
    if (!s) s = el_checkpoint_add_seq2seq(w, &r->model, r->vocab, r->target_vocab);
    if (!s) s = el_checkpoint_add_optimizer(w, r->optimizer);
    if (!s) s = s2s_data_save(w, &o->data, o->words);
    if (!s && r->test_path) s = el_checkpoint_set_meta(w, "train.test_indices", r->test_path);
    if (!s) s = el_checkpoint_set_int(w, "train.batch_size", o->common.batch);
    if (!s) s = el_checkpoint_set_float(w, "train.lr", o->common.lr);
    if (!s) s = el_checkpoint_set_meta(w, "train.schedule", s2s_schedule_names[o->schedule]);
    if (!s) s = el_checkpoint_set_float(w, "train.teacher_forcing", o->teacher_forcing);
    if (!s) s = el_checkpoint_set_float(w, "train.validation_fraction", o->validation_fraction);
    if (!s) s = el_checkpoint_set_float(w, "train.test_fraction", o->test_fraction);
    if (!s) s = el_checkpoint_set_int(w, "train.min_length", o->min_length);
    if (!s) s = el_checkpoint_set_int(w, "train.max_length", o->max_length);
    if (!s) s = el_checkpoint_set_int(w, "train.epochs", r->train.epochs);
    if (!s) s = el_checkpoint_set_int(w, "train.seed", (long long)o->common.seed);
    if (!s) s = train_run_save_position(&r->train, w, &r->rng);
    if (!s) s = el_checkpoint_write(w, path);
    el_checkpoint_writer_free(w);
    return s;
}

/* Builds the model and its vocabulary from c (elman/model_file.h) and
 * takes the model's configuration into r's options. */
static int load_model(run *r, const el_checkpoint *c)
{
    const char *path;
    if (el_seq2seq_load(&r->model, c, &r->vocab, &r->target_vocab)) return cli_library_failure();
    r->model_ready = 1;
    if (s2s_data_read_meta(c, &r->opts.data, &r->pairs_model, &path)) return 1;
    if (!r->pairs_model) { /* words: one vocabulary serves both sides */
        el_vocab_free(r->target_vocab);
        r->target_vocab = NULL;
    }
    const el_seq2seq_config *k = &r->model.config;
    r->opts.cell = (int)k->cell;
    r->opts.hidden = k->hidden_size;
    r->opts.layers = k->num_layers;
    r->opts.bidirectional = k->bidirectional;
    r->opts.dropout = k->dropout;
    r->opts.padded_steps = k->padded_steps;
    r->opts.attention = k->attention;
    r->opts.embedding = k->embedding_size;
    return el_seq2seq_params(&r->model, &r->params) ? cli_library_failure() : 0;
}

/* Everything a resumed run needs to continue as the first would have. */
static int load_training_state(run *r, const el_checkpoint *c, const char *path)
{
    options *o = &r->opts;
    long long seed;
    const char *words, *schedule = meta_get(c, "train.schedule");
    int pairs_model;
    if (s2s_data_read_meta(c, &o->data, &pairs_model, &words)) return -1;
    if (!words) words = meta_get(c, "train.words"); /* reports that it is missing */
    if (!words || !schedule ||
        cli_parse_choice("the model's schedule", schedule, s2s_schedule_names, &o->schedule) ||
        meta_get_int(c, "train.batch_size", &o->common.batch) ||
        meta_get_float(c, "train.lr", &o->common.lr) ||
        meta_get_float(c, "train.teacher_forcing", &o->teacher_forcing) ||
        meta_get_float(c, "train.validation_fraction", &o->validation_fraction) ||
        meta_get_float(c, "train.test_fraction", &o->test_fraction) ||
        meta_get_int(c, "train.min_length", &o->min_length) ||
        meta_get_int(c, "train.max_length", &o->max_length) ||
        meta_get_long(c, "train.seed", &seed) ||
        meta_get_int(c, "train.epochs", &r->saved_epochs) ||
        train_run_load_position(&r->train, c, path, &r->rng))
        return -1;
    const char **given = pairs_model ? &o->data.pairs : &o->words;
    if (!*given) {
        if (!(r->saved_path = meta_keep(words))) return -1;
        *given = r->saved_path;
        const char *test = el_checkpoint_meta(c, "train.test_indices");
        if (test && !(r->test_path = meta_keep(test))) return -1;
    }
    o->common.seed = (uint64_t)seed;
    return 0;
}

/* ---- data ----------------------------------------------------------------- */

static el_status make_loader(el_loader **loader, el_reverse_words **data, run *r,
                             const el_ids *indices, int batch, int shuffle)
{
    el_status s =
        el_reverse_words_create(data, r->words, indices->data, (int)indices->count, r->vocab);
    if (s) return s;
    el_dataset dataset = el_reverse_words_dataset(*data);
    el_loader_config config = {batch, shuffle, r->opts.common.seed, 0, EL_PAD};
    return el_loader_create(loader, &dataset, &config);
}

/* Where the pairs' loaders and examples go. */
static s2s_outputs pairs_outputs(run *r)
{
    return (s2s_outputs){{&r->train_loader, &r->validation_loader, &r->test_loader},
                         {&r->train_ids, &r->validation_ids, &r->test_ids}};
}

/* The preset lecture's split: the test words the notebook drew, in its
 * order, and every other token for training.  0, or -1 after reporting. */
static int lecture_split(run *r)
{
    int count = el_words_count(r->words), *test;
    size_t n;
    if (cli_read_indices(r->test_path, count, &test, &n)) return -1;
    int *train = malloc(((size_t)count - n + 1) * sizeof *train);
    unsigned char *in_test = calloc((size_t)count + 1, 1);
    if (!train || !in_test) {
        free(train);
        free(in_test);
        free(test);
        cli_error("out of memory for the split");
        return -1;
    }
    for (size_t i = 0; i < n; i++) in_test[test[i]] = 1;
    size_t k = 0;
    for (int i = 0; i < count; i++)
        if (!in_test[i]) train[k++] = i;
    free(in_test);
    r->test_ids = (el_ids){test, n, n};
    r->train_ids = (el_ids){train, k, (size_t)count - n + 1};
    return 0;
}

/* Reads the words or pairs, splits them, builds the vocabulary (unless a
 * model gave it) from the training words, and the three loaders.  0, or 1
 * after reporting. */
static int load_data(run *r)
{
    const options *o = &r->opts;
    if (o->data.pairs) {
        r->pairs_model = 1;
        s2s_split split = {
            0,           o->common.seed, o->validation_fraction, o->test_fraction, o->common.batch,
            DECODE_BATCH};
        return s2s_pairs_load(&r->pairs, &o->data, &split, &r->vocab, &r->target_vocab,
                              pairs_outputs(r))
                   ? cli_library_failure()
                   : 0;
    }
    unsigned flags = r->test_path ? EL_WORDS_KEEP_DUPLICATES : 0;
    el_status s = el_words_read_flags(&r->words, o->words, o->min_length, o->max_length, flags);
    if (!s && r->test_path) {
        if (lecture_split(r)) return 1;
    } else if (!s) {
        s = el_split(el_words_count(r->words), o->common.seed, o->validation_fraction,
                     o->test_fraction, &r->train_ids, &r->validation_ids, &r->test_ids);
    }
    if (s) return cli_library_failure();
    if (!r->vocab) {
        s = el_vocab_create(&r->vocab);
        for (size_t i = 0; i < r->train_ids.count && !s; i++)
            s = el_vocab_add(r->vocab, el_words_get(r->words, r->train_ids.data[i]));
        if (!s) s = el_vocab_finish(r->vocab, 1);
        if (s) return cli_library_failure();
    }
    s = make_loader(&r->train_loader, &r->train_data, r, &r->train_ids, o->common.batch, 1);
    if (!s)
        s = make_loader(&r->validation_loader, &r->validation_data, r, &r->validation_ids,
                        DECODE_BATCH, 0);
    /* The notebook's test loss is the mean of its batches' of 128. */
    if (!s)
        s = make_loader(
            &r->test_loader, &r->test_data, r, &r->test_ids,
            r->test_path && o->common.batch < DECODE_BATCH ? o->common.batch : DECODE_BATCH, 0);
    return s ? cli_library_failure() : 0;
}

/* A new model with its dropout generator, or nothing for one loaded, and
 * the optimizer. */
static el_status make_model(run *r)
{
    const options *o = &r->opts;
    el_status s = EL_OK;
    if (!r->model_ready) {
        el_seq2seq_config config = {.cell = (el_cell)o->cell,
                                    .source_vocab_size = el_vocab_size(r->vocab),
                                    .target_vocab_size = el_vocab_size(target_vocab(r)),
                                    .hidden_size = o->hidden,
                                    .num_layers = o->layers,
                                    .bidirectional = o->bidirectional,
                                    .dropout = o->dropout,
                                    .padded_steps = o->padded_steps,
                                    .attention = o->attention,
                                    .embedding_size = o->embedding};
        el_rng init;
        el_rng_seed(&init, o->common.seed);
        s = el_seq2seq_init(&r->model, &config, &init);
        if (s) return s;
        r->model_ready = 1;
        el_rng_seed(&r->rng, o->common.seed + 1);
        s = el_seq2seq_params(&r->model, &r->params);
    }
    el_optimizer_config adam = el_optimizer_defaults(EL_OPT_ADAM);
    adam.lr = o->common.lr;
    if (!s) s = el_optimizer_create(&r->optimizer, &adam, &r->params);
    return s;
}

/* ---- evaluation ------------------------------------------------------------- */

typedef struct scores {
    double loss;
    long exact, count;
    double error_rate; /* symbol error rate (elman/score.h) */
} scores;

/* Decodes and scores a loader's batches [first, first + count) (the
 * test's or the validation's): a word against itself, a pair's source
 * against all its targets. */
static el_status evaluate_all(run *r, el_loader *loader, int beam, long first, long count,
                              s2s_result *out)
{
    if (!r->pairs.pairs)
        return s2s_evaluate(&r->model, loader, beam, r->opts.max_length + 1, NULL, NULL, first,
                            count, out);
    int split = loader == r->test_loader ? S2S_TEST : S2S_VALIDATION;
    return s2s_evaluate_pairs(&r->model, loader, beam, &r->pairs, split, first, count, out);
}

/* The mean batch loss, the exact matches and the symbol error rate.  With
 * several ranks each evaluates its share of the loader's batches
 * (train_run_share) and the ranks sum every batch's figures, which one rank
 * alone computed: the figures are then one process's exactly, on every
 * rank.  Every rank calls it the same times. */
static el_status evaluate(run *r, el_loader *loader, int beam, scores *out)
{
    s2s_result result = {0};
    long first, count;
    train_run_share(&r->train, el_loader_batches(loader), &first, &count);
    el_status s = evaluate_all(r, loader, beam, first, count, &result);
    /* Every rank sums, also after a failure of its own, so none waits
     * (one that had no memory for its figures leaves it to the watchdog). */
    if (r->train.rank_count > 1 && result.batches) {
        el_status summed = train_ranks_sum(r->train.ranks, result.batches,
                                           (size_t)result.batch_count * S2S_FIGURES);
        if (!s) s = summed;
        if (!s) s2s_result_combine(&result);
    }
    *out = (scores){result.loss, result.total.exact, result.total.count,
                    el_score_error_rate(&result.total)};
    s2s_result_free(&result);
    return s;
}

/* ---- training --------------------------------------------------------------- */

static long epoch_batches(void *context, long epoch)
{
    (void)epoch;
    return el_loader_batches(((run *)context)->train_loader);
}

static el_status start_epoch(void *context, long epoch, long first)
{
    run *r = context;
    const el_batch *batch;
    el_status s = el_loader_start(r->train_loader, epoch);
    for (long i = 0; !s && i < first; i++) s = el_loader_next(r->train_loader, &batch);
    return s;
}

/* Examples [first, first + count) of batch as a batch of their own, whose
 * steps are its own longest lengths (as el_batch says); lengths mask the
 * steps past each example's own, so each is computed as in the whole
 * batch. */
static el_status cut_share(run *r, const el_batch *batch, long first, long count)
{
    int B = batch->size, n = (int)count, in_steps = 0, out_steps = 0;
    for (int b = 0; b < n; b++) {
        int in = batch->input_lengths[first + b], out = batch->target_lengths[first + b];
        in_steps = in > in_steps ? in : in_steps;
        out_steps = out > out_steps ? out : out_steps;
    }
    size_t need = (size_t)n * (in_steps + out_steps + 3);
    int *ids = realloc(r->share_ids, sizeof(int) * need);
    if (!ids) return el_set_error(EL_ERR_NOMEM, "out of memory for a batch's share");
    r->share_ids = ids;
    int *inputs = ids, *targets = inputs + (size_t)n * in_steps;
    int *input_lengths = targets + (size_t)n * out_steps;
    int *target_lengths = input_lengths + n, *index = target_lengths + n;
    for (int t = 0; t < in_steps; t++)
        for (int b = 0; b < n; b++) inputs[t * n + b] = batch->inputs[t * B + first + b];
    for (int t = 0; t < out_steps; t++)
        for (int b = 0; b < n; b++) targets[t * n + b] = batch->targets[t * B + first + b];
    for (int b = 0; b < n; b++) {
        input_lengths[b] = batch->input_lengths[first + b];
        target_lengths[b] = batch->target_lengths[first + b];
        index[b] = batch->index[first + b];
    }
    r->share =
        (el_batch){n, in_steps, out_steps, inputs, input_lengths, targets, target_lengths, index};
    return EL_OK;
}

/* The loss is a mean over the target steps that count: every padded step
 * with --padded-steps, else each word's symbols and its <eos>. */
static double loss_weight(void *context)
{
    run *r = context;
    return r->share_weight;
}

static double steps_counted(const run *r, const el_batch *batch)
{
    if (r->opts.padded_steps) return (double)batch->size * r->opts.padded_steps;
    double n = 0;
    for (int b = 0; b < batch->size; b++) n += batch->target_lengths[b] + 1;
    return n;
}

/* Each rank trains on its share of the batch (one process's share is all
 * of it).  The step's generator is seeded by two draws of the run's, which
 * every rank makes whatever its share (so the run's stream, saved in
 * checkpoints, stays the same on every rank), and the share says which
 * example its first is: an example's dropout masks and teacher-forcing
 * choices are then one process's (docs/distributed.md). */
static el_status train_batch(void *context, float *loss, long *words)
{
    run *r = context;
    const el_batch *batch;
    *loss = 0;
    el_status s = el_loader_next(r->train_loader, &batch);
    if (s || !batch) return s;
    long first = 0, count = batch->size;
    if (r->train.rank_count > 1) {
        /* Shares of about equal symbols, not words: the ranks wait for the
         * slowest at every step.  (The buffer grows to the batch once.) */
        if (batch->size > r->share_cost_size) {
            int *cost = realloc(r->share_cost, sizeof(int) * (size_t)batch->size);
            if (!cost) return el_set_error(EL_ERR_NOMEM, "out of memory for a batch's shares");
            r->share_cost = cost;
            r->share_cost_size = batch->size;
        }
        for (int b = 0; b < batch->size; b++)
            r->share_cost[b] = batch->input_lengths[b] + batch->target_lengths[b];
        train_run_share_weighted(&r->train, r->share_cost, batch->size, &first, &count);
    }
    el_rng rng;
    el_rng_seed(&rng, el_rng_u64(&r->rng));
    r->share_weight = 0;
    *words = count;
    if (count == 0) return EL_OK;
    /* A share of the whole batch (one process's) is the batch itself. */
    const el_batch *share = batch;
    if (count < batch->size) {
        s = cut_share(r, batch, first, count);
        share = &r->share;
    }
    el_seq2seq_set_first_row(&r->model, (int)first);
    if (!s) s = el_seq2seq_train_step(&r->model, share, r->opts.teacher_forcing, &rng, loss);
    if (!s) r->share_weight = steps_counted(r, share);
    return s;
}

static int end_epoch(void *context, train_epoch_figures *f, char *csv, size_t size, int *stop)
{
    run *r = context;
    scores held;
    (void)stop;
    if (evaluate(r, r->held_out, 1, &held)) {
        cli_library_failure();
        return -1;
    }
    double exact = held.count ? (double)held.exact / held.count : 0.0,
           rate = f->units / (f->seconds + 1e-9);
    f->score = exact;
    f->loss = held.loss;
    printf("epoch %ld: train loss %.4f (last batch %.4f), %s loss %.4f, %s exact match "
           "%.4f (%ld/%ld), %.0f words/s\n",
           f->epoch, f->mean_loss, f->last_loss, r->held_out_name, held.loss, r->held_out_name,
           exact, held.exact, held.count, rate);
    fflush(stdout);
    snprintf(csv, size, "%ld,%.6f,%.6f,%.6f,%.6f,%.1f,%.1f", f->epoch, f->mean_loss, f->last_loss,
             held.loss, exact, rate, f->elapsed);
    return 0;
}

static const train_hooks hooks = {epoch_batches, start_epoch, train_batch, end_epoch,
                                  save,          loss_weight, NULL};

/* An empty split would end the run with a figure over no words.  --test 0
 * asks for no test share (a test file of one's own is scored with --eval
 * afterwards); then the validation share is the held-out data, and must
 * not be empty. */
static int check_split(run *r)
{
    const options *o = &r->opts;
    int no_test = o->test_fraction == 0 && !r->test_path;
    if (r->train_ids.count > 0 && (r->test_ids.count > 0 || no_test) &&
        (r->test_ids.count > 0 || r->validation_ids.count > 0))
        return 0;
    if (no_test && r->train_ids.count > 0) {
        cli_error("%s: --test 0 and no validation %s: give --validation above 0 to hold "
                  "some out",
                  r->pairs.pairs ? o->data.pairs : o->words, r->pairs.pairs ? "sources" : "words");
        return -1;
    }
    if (r->pairs.pairs) return s2s_pairs_split_failed(&r->pairs, o->data.pairs);
    cli_error("%s: %d words after the length filter (%d to %d characters): %zu for training and "
              "%zu for the test, and each needs at least one (--test 0: no test share)",
              o->words, el_words_count(r->words), o->min_length, o->max_length, r->train_ids.count,
              r->test_ids.count);
    return -1;
}

/* Sets up a new run, or a resumed one from its checkpoint. */
static int prepare_training(run *r)
{
    options *o = &r->opts;
    if (o->common.resume) {
        el_checkpoint *c = NULL;
        if (el_checkpoint_read(&c, o->common.resume)) return cli_library_failure();
        int bad = load_model(r, c) || load_training_state(r, c, o->common.resume);
        if (!bad) bad = load_data(r);
        if (!bad) bad = check_split(r);
        if (!bad && (make_model(r) || el_checkpoint_load_optimizer(c, r->optimizer)))
            bad = cli_library_failure();
        el_checkpoint_free(c);
        if (bad) return 1;
    } else {
        if (!o->words && !o->data.pairs && o->lecture) {
            if (!(r->test_path = meta_keep(cli_bundled_file("wordnet-lecture-test.txt"))) ||
                !(r->saved_path = meta_keep(cli_bundled_file("wordnet-tokens.txt"))))
                return 1;
            o->words = r->saved_path;
        }
        if (!o->words && !o->data.pairs) o->words = cli_bundled_file("wordnet-words.txt");
        if (load_data(r)) return 1;
        if (check_split(r)) return 1;
        if (make_model(r)) return cli_library_failure();
    }
    r->held_out = r->validation_ids.count ? r->validation_loader : r->test_loader;
    r->held_out_name = r->validation_ids.count ? "validation" : "test";
    return 0;
}

/* What the run trains on, the first part of its first line. */
static void print_data(const run *r)
{
    if (r->pairs.pairs)
        s2s_pairs_print(&r->pairs, r->vocab, target_vocab(r));
    else
        printf("%d words (%zu training, %zu validation, %zu test), %d symbols; ",
               el_words_count(r->words), r->train_ids.count, r->validation_ids.count,
               r->test_ids.count, el_vocab_size(r->vocab));
}

static int train(run *r)
{
    options *o = &r->opts;
    train_run *t = &r->train;
    const train_setup setup = {.hooks = &hooks,
                               .context = r,
                               .params = &r->params,
                               .threads = &r->threads,
                               .batch_name = "batch",
                               .unit_name = "words",
                               .loss_name = "loss",
                               .loss_scale = 1.0,
                               .metrics_header =
                                   "epoch,train_loss,last_batch_loss,heldout_loss,heldout_exact,"
                                   "words_per_second,elapsed_seconds"};
    if (train_run_setup(t, &setup, &o->common) || prepare_training(r)) return 1;
    t->optimizer = r->optimizer;
    train_budget_apply(&o->common.budget, t, o->default_epochs, o->default_epochs ? 0 : FIT_STEPS,
                       FIT_PATIENCE, r->saved_epochs);
    /* A function of the step alone, so a resumed run gets the same rates;
     * with --minutes as a time limit it still spans --epochs, and with a
     * step budget the run sets it to span the budget. */
    t->schedule =
        (el_lr_schedule){.kind = o->schedule == SCHEDULE_COSINE ? EL_LR_COSINE : EL_LR_CONSTANT,
                         .base_lr = o->common.lr,
                         .total_steps = (long)t->epochs * el_loader_batches(r->train_loader)};
    print_data(r);
    printf("%s, hidden %d, %d layer%s%s, %s attention, %zu parameters\n", s2s_cell_names[o->cell],
           o->hidden, o->layers, o->layers > 1 ? "s" : "",
           o->bidirectional ? ", bidirectional encoder" : "", el_attention_name(o->attention),
           el_param_list_numel(&r->params));
    if (t->steps)
        printf("budget: %ld steps%s\n", t->steps,
               t->patience ? ", early stopping on the validation exact match" : "");
    fflush(stdout);
    int status = train_run_go(t);
    if (status) return status;
    if (r->test_ids.count == 0) { /* --test 0 */
        if (t->rank == 0)
            printf("saved %s (no test share: score a test set with --eval --model %s)\n",
                   o->common.out, o->common.out);
        return 0;
    }
    scores test; /* every rank evaluates its share */
    if (evaluate(r, r->test_loader, o->beam, &test)) return cli_library_failure();
    if (t->rank != 0) return 0; /* rank 0 alone reports */
    s2s_text text = {r->vocab, target_vocab(r), o->data.source_tokens, o->data.target_tokens};
    int steps = r->pairs.pairs ? s2s_pairs_max_steps(&r->pairs) : o->max_length + 1;
    if (s2s_show_samples(&r->model, r->test_loader, o->beam, steps, &text, r->pairs.pairs != NULL))
        return cli_library_failure();
    printf("saved %s\n", o->common.out);
    if (r->pairs.pairs) printf("symbol_error_rate: %.4f\n", test.error_rate);
    printf("exact_match: %.4f (n=%ld)\n", (double)test.exact / test.count, test.count);
    return 0;
}

/* ---- eval and predict --------------------------------------------------- */

static int load_for_use(run *r)
{
    el_checkpoint *c = NULL;
    if (el_checkpoint_read(&c, r->opts.common.model)) return cli_library_failure();
    int bad = load_model(r, c);
    el_checkpoint_free(c);
    return bad;
}

/* The test loader over the words of --words, or every source of --pairs. */
static el_status load_eval_data(run *r)
{
    const options *o = &r->opts;
    if (o->data.pairs) {
        s2s_split whole = {1, 0, 0, 0, DECODE_BATCH, DECODE_BATCH};
        return s2s_pairs_load(&r->pairs, &o->data, &whole, &r->vocab, &r->target_vocab,
                              pairs_outputs(r));
    }
    el_status s = el_words_read(&r->words, o->words, 1, 0);
    if (!s)
        s = el_split(el_words_count(r->words), 0, 0, 0, &r->test_ids, &r->validation_ids,
                     &r->train_ids);
    if (!s) s = make_loader(&r->test_loader, &r->test_data, r, &r->test_ids, DECODE_BATCH, 0);
    return s;
}

static int eval(run *r)
{
    const options *o = &r->opts;
    if (load_for_use(r)) return 1;
    if (s2s_check_model_kind(o->common.model, r->pairs_model, o->data.pairs != NULL)) return 1;
    if (load_eval_data(r)) return cli_library_failure();
    if (el_loader_batches(r->test_loader) == 0) {
        cli_error("%s: no %s to evaluate on", o->data.pairs ? o->data.pairs : o->words,
                  o->data.pairs ? "pairs" : "words");
        return 1;
    }
    s2s_result result = {0};
    int status =
        evaluate_all(r, r->test_loader, o->beam, 0, el_loader_batches(r->test_loader), &result)
            ? cli_library_failure()
            : 0;
    if (!status) status = s2s_report(&result, r->pairs_model, o->data.by_length);
    s2s_result_free(&result);
    return status;
}

static int predict(run *r)
{
    if (load_for_use(r)) return 1;
    const s2s_data_options *d = &r->opts.data;
    s2s_predictor p = {&r->model,        r->vocab,       target_vocab(r), d->source_tokens,
                       d->target_tokens, r->pairs_model, r->opts.beam,    d->attention_png};
    return s2s_predict(&p, r->opts.sources, r->opts.source_count, d->input);
}

int main(int argc, char **argv)
{
    cli_set_program_name("seq2seq-train");
    run r = {0};
    int status = s2s_parse_options(argc, argv, &r.opts);
    if (status) return status < 0 ? 0 : status;
    /* --predict steps one word at a time, where a second thread only slows it. */
    if (cli_set_threads(r.opts.common.threads, r.opts.mode == MODE_PREDICT, r.opts.verbose))
        return 1;
    status = r.opts.mode == MODE_TRAIN  ? train(&r)
             : r.opts.mode == MODE_EVAL ? eval(&r)
                                        : predict(&r);
    run_free(&r);
    return status;
}
