/* charlm: a character language model on any UTF-8 text.
 *
 *   charlm train --text FILE --out MODEL [options]     learn the text
 *   charlm generate --model MODEL [--prompt TEXT]      write new text
 *   charlm eval --model MODEL --text FILE              bits per character
 *
 * A character is a grapheme cluster (elman/vocab.h): the text is validated
 * as UTF-8, normalised to NFC and split with ICU, so accents, scripts and
 * emoji are whole symbols, and generated text is always valid UTF-8.  The
 * last part of the text is held out for validation; the rest is cut into
 * --batch contiguous streams read --seq-len characters at a time, with the
 * state carried from chunk to chunk (truncated BPTT).  Each epoch starts the
 * streams at a new offset drawn from the seed, so chunk edges move.  The
 * model is saved after every epoch and on Ctrl-C or SIGTERM (apps/train_run.h)
 * with everything --resume needs to continue exactly: the optimizer state,
 * the position, the streams' state and the random generator.
 *
 * This file is the command line, the text, the model file and training
 * (the loop itself is apps/train_run.c's); bits per character and eval are
 * apps/charlm_eval.c, generate apps/charlm_generate.c. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charlm.h"
#include "cli.h"
#include "meta.h"

static const char *const mode_names[] = {"train", "generate", "eval", NULL};
static const char *const cell_names[] = {"rnn", "rnn_relu", "gru", "lstm", NULL};
static const char *const schedule_names[] = {"constant", "cosine", NULL};

/* A one-layer LSTM of 256: on the bundled glosses (1.1 MB) an epoch takes
 * about a minute on two cores (README: "Measured figures"). */
static const options default_options = {
    .mode = MODE_TRAIN,
    .cell = 3, /* lstm */
    .hidden = 256,
    .layers = 1,
    .seq_len = 100,
    .common = {.batch = 32, .lr = 1e-2f, TRAIN_OPTIONS_DEFAULTS},
    .clip = 5.0f,
    .schedule = SCHEDULE_COSINE,
    .validation_fraction = 0.05f,
    .min_count = 1,
    .length = 500,
    .temperature = 0.8f,
    .top_p = 1.0f,
};

/* ---- command line ------------------------------------------------------- */

static void print_usage(void)
{
    printf("Usage: charlm train [--text FILE] [--out MODEL] [training options]\n"
           "       charlm generate --model MODEL [--prompt TEXT] [--length N] [sampling options]\n"
           "       charlm eval --model MODEL --text FILE\n"
           "A character-level language model on any UTF-8 text.  With no --text, train\n"
           "uses the bundled WordNet glosses.\n"
           "\n"
           "train:\n"
           "  --text FILE             UTF-8 text; its last part is held out for validation\n"
           "  --out MODEL             where the model is saved (default charlm.safetensors)\n"
           "  --cell rnn|rnn_relu|gru|lstm   recurrent cell (default lstm)\n"
           "  --hidden N              hidden units, 1 to 4096 (default 256)\n"
           "  --layers N              stacked layers, 1 to 8 (default 1)\n"
           "  --seq-len N             characters per chunk of truncated BPTT (default 100)\n"
           "  --batch N               parallel streams through the text (default 32)\n"
           "  --epochs N              passes over the text (default 10)\n"
           "  --steps N               exactly N updates (chunks) instead\n"
           "  --minutes M             alone: N updates fitting M minutes, measured on the\n"
           "                          first chunks and printed; with --epochs, a time limit\n"
           "  --patience N            stop after N epochs without a better validation bpc,\n"
           "                          keeping the best model\n"
           "  --lr X                  Adam's learning rate (default 0.01)\n"
           "  --schedule constant|cosine   the rate over the run (default cosine, to zero\n"
           "                          over the epochs or updates)\n"
           "  --clip X                clip the gradient's norm to X, 0 for none (default 5)\n"
           "  --dropout X             between stacked layers, 0 to 0.9 (default 0)\n"
           "  --validation X          the fraction held out at the end (default 0.05)\n"
           "  --min-count N           rarer characters become <unk> (default 1)\n"
           "  --seed N                weights, stream offsets and dropout (default 1)\n"
           "  --resume MODEL          continue training MODEL where it stopped\n"
           "  --metrics FILE.csv      write one line of figures per epoch\n"
           "  --mpi-timeout S         under mpirun: end the job when the ranks wait for one\n"
           "                          another longer than S seconds (default 60; 0: never)\n"
           "\n"
           "generate:\n"
           "  --model MODEL           a model charlm train saved\n"
           "  --prompt TEXT           text to start from (default: a new line)\n"
           "  --prompt-file FILE      the same, read from a UTF-8 file\n"
           "  --length N              characters to write after the prompt (default 500)\n"
           "  --temperature T         below 1 safer, above 1 wilder; 0 always takes the\n"
           "                          likeliest character (default 0.8)\n"
           "  --top-k K               draw only from the K likeliest (default 0: all)\n"
           "  --top-p P               draw only from the likeliest whose probabilities\n"
           "                          sum to P, in (0, 1] (default 1: all)\n"
           "  --seed N                the same seed gives the same text (default 1)\n"
           "\n"
           "eval:\n"
           "  --model MODEL, --text FILE   bits per character of FILE under MODEL; characters\n"
           "                          the model never saw count as <unk>\n"
           "\n"
           "All:\n"
           "  --threads N             threads, 1 to 64 (default: 1 for generate, which\n"
           "                          steps one sequence; else 2, or 1 on one core)\n"
           "  --verbose               say on stderr how many threads run\n"
           "  --help                  show this help and exit\n"
           "\n"
           "Ctrl-C (or SIGTERM) during training saves the model and exits with 130 (143);\n"
           "--resume MODEL continues.  A NaN or infinite loss stops training (exit 3)\n"
           "without saving.  mpirun -np N charlm train trains on N ranks, each on its share\n"
           "of the streams (docs/distributed.md).\n");
}

/* Returns 1 if argv[*i] was a flag of ours and parsed, 0 if it is no flag
 * of ours, -1 on a bad value (already reported). */
static int parse_flag(int argc, char **argv, int *i, options *o)
{
    const char *v;
    int common = train_options_flag(argc, argv, i, &o->common, 4096);
    if (common) return common;
    if (cli_flag_value(argc, argv, i, "--text", &v)) return v ? (o->text = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--prompt", &v)) return v ? (o->prompt = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--prompt-file", &v)) return v ? (o->prompt_file = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--cell", &v))
        return cli_parse_choice("--cell", v, cell_names, &o->cell) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--hidden", &v))
        return cli_parse_int("--hidden", v, 1, 4096, &o->hidden) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--layers", &v))
        return cli_parse_int("--layers", v, 1, 8, &o->layers) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--seq-len", &v))
        return cli_parse_int("--seq-len", v, 1, 100000, &o->seq_len) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--schedule", &v))
        return cli_parse_choice("--schedule", v, schedule_names, &o->schedule) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--clip", &v))
        return cli_parse_float("--clip", v, 0, 1e6, &o->clip) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--dropout", &v))
        return cli_parse_float("--dropout", v, 0, 0.9, &o->dropout) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--validation", &v))
        return cli_parse_float("--validation", v, 0.001, 0.5, &o->validation_fraction) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--min-count", &v))
        return cli_parse_int("--min-count", v, 1, 1000000, &o->min_count) ? -1 : 1;
    if (strcmp(argv[*i], "--verbose") == 0) {
        o->verbose = 1;
        return 1;
    }
    if (cli_flag_value(argc, argv, i, "--length", &v))
        return cli_parse_int("--length", v, 0, 100000000, &o->length) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--temperature", &v))
        return cli_parse_float("--temperature", v, 0, 100, &o->temperature) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--top-k", &v))
        return cli_parse_int("--top-k", v, 0, 1000000, &o->top_k) ? -1 : 1;
    if (cli_flag_value(argc, argv, i, "--top-p", &v)) {
        if (cli_parse_float("--top-p", v, 0, 1, &o->top_p)) return -1;
        if (o->top_p > 0) return 1;
        cli_error("--top-p must be above 0, not '%s'", v);
        return -1;
    }
    return 0;
}

/* 0 to go on, -1 after --help, or the exit status of an error. */
static int parse_options(int argc, char **argv, options *o)
{
    *o = default_options;
    int command = cli_command(argc, argv, mode_names, print_usage, &o->mode);
    if (command) return command;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            print_usage();
            return -1;
        }
        int r = parse_flag(argc, argv, &i, o);
        if (r < 0) return CLI_EXIT_USAGE;
        if (r == 0) {
            cli_error("unknown argument '%s' (see --help)", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (o->mode != MODE_TRAIN && !o->common.model) {
        cli_error("%s needs --model MODEL", mode_names[o->mode]);
        return CLI_EXIT_USAGE;
    }
    if (o->prompt && o->prompt_file) {
        cli_error("--prompt and --prompt-file: give one of them");
        return CLI_EXIT_USAGE;
    }
    if (o->mode == MODE_EVAL && !o->text) {
        cli_error("eval needs --text FILE");
        return CLI_EXIT_USAGE;
    }
    return train_options_finish(&o->common, "charlm.safetensors") ? CLI_EXIT_USAGE : 0;
}

/* ---- the run's state ---------------------------------------------------- */

static void run_free(run *r)
{
    free(r->saved_path);
    el_optimizer_free(r->optimizer);
    el_param_list_free(&r->params);
    if (r->model_ready) el_charlm_free(&r->model);
    el_charlm_state_free(&r->state);
    el_charlm_state_free(&r->all);
    el_vocab_free(r->vocab);
    el_ids_free(&r->ids);
    free(r->inputs);
    free(r->targets);
    free(r->share_inputs);
    free(r->share_targets);
    train_run_free(&r->train);
}

/* ---- text ----------------------------------------------------------------- */

int charlm_load_text(run *r, const char *path, int build_vocab)
{
    char *text;
    size_t len;
    if (cli_read_file(path, &text, &len)) return -1;
    el_clusters clusters = {0};
    el_status s = el_clusters_split(&clusters, text, len, path, 1);
    el_file_free(text);
    if (s) return cli_library_failure();
    r->train_count =
        clusters.count - (size_t)((double)clusters.count * r->opts.validation_fraction);
    if (build_vocab) {
        el_clusters train = clusters;
        train.count = r->train_count;
        s = el_vocab_create(&r->vocab);
        if (!s) s = el_vocab_add(r->vocab, &train);
        if (!s) s = el_vocab_finish(r->vocab, r->opts.min_count);
    }
    if (!s) s = el_vocab_encode(r->vocab, &clusters, 0, clusters.count, &r->ids);
    el_clusters_free(&clusters);
    return s ? cli_library_failure() : 0;
}

/* The text must give every chunk of training its full --seq-len, and leave
 * something to validate on; a short text trains fewer streams. */
static int check_lengths(run *r, const char *path)
{
    const options *o = &r->opts;
    size_t held_out = r->ids.count - r->train_count;
    if (r->train_count < (size_t)o->seq_len + 1 || held_out < 2) {
        cli_error("%s: %zu characters, too short: training needs more than one chunk (--seq-len "
                  "%d) after the last %g%% is held out for validation",
                  path, r->ids.count, o->seq_len, 100.0 * o->validation_fraction);
        return -1;
    }
    /* One symbol is predicted with certainty: a run would report a bpc of
     * zero and have learnt nothing. */
    if (el_vocab_size(r->vocab) - EL_SPECIALS < 2) {
        cli_error("%s: one distinct character in the training part (--min-count %d): nothing to "
                  "learn",
                  path, o->min_count);
        return -1;
    }
    size_t fit = (r->train_count - 1) / (size_t)o->seq_len;
    r->streams = fit < (size_t)o->common.batch ? (int)fit : o->common.batch;
    return 0;
}

/* ---- checkpoints -------------------------------------------------------- */

/* A fingerprint of the text as ids (64-bit FNV-1a), so that --resume can
 * tell the text it is given from the one the model was trained on. */
static void text_fingerprint(const el_ids *ids, char *out, size_t size)
{
    uint64_t hash = 14695981039346656037u;
    for (size_t i = 0; i < ids->count; i++) {
        hash ^= (uint64_t)(uint32_t)ids->data[i];
        hash *= 1099511628211u;
    }
    snprintf(out, size, "%016llx", (unsigned long long)hash);
}

static el_status save(void *context, const char *path)
{
    run *r = context;
    el_checkpoint_writer *w = NULL;
    const options *o = &r->opts;
    el_status s = el_checkpoint_writer_create(&w);
    if (!s) s = el_checkpoint_add_charlm(w, &r->model, r->vocab);
    if (!s) s = el_checkpoint_add_optimizer(w, r->optimizer);
    const el_charlm_state *state = r->train.rank_count > 1 ? &r->all : &r->state;
    if (!s && state->h.size) s = el_checkpoint_add(w, "train.state.h", &state->h);
    if (!s && state->c.size) s = el_checkpoint_add(w, "train.state.c", &state->c);
    if (!s) s = el_checkpoint_set_meta(w, "train.text", o->text);
    char fingerprint[17];
    text_fingerprint(&r->ids, fingerprint, sizeof fingerprint);
    if (!s) s = el_checkpoint_set_meta(w, "train.text_fingerprint", fingerprint);
    if (!s) s = el_checkpoint_set_int(w, "train.seq_len", o->seq_len);
    if (!s) s = el_checkpoint_set_int(w, "train.batch_size", o->common.batch);
    if (!s) s = el_checkpoint_set_float(w, "train.lr", o->common.lr);
    if (!s) s = el_checkpoint_set_meta(w, "train.schedule", schedule_names[o->schedule]);
    if (!s) s = el_checkpoint_set_float(w, "train.clip", o->clip);
    if (!s) s = el_checkpoint_set_float(w, "train.validation_fraction", o->validation_fraction);
    if (!s) s = el_checkpoint_set_int(w, "train.min_count", o->min_count);
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
    if (el_charlm_load(&r->model, c, &r->vocab)) return cli_library_failure();
    r->model_ready = 1;
    const el_charlm_config *k = &r->model.config;
    r->opts.cell = (int)k->cell;
    r->opts.hidden = k->hidden_size;
    r->opts.layers = k->num_layers;
    r->opts.dropout = k->dropout;
    return el_charlm_params(&r->model, &r->params) ? cli_library_failure() : 0;
}

/* Everything a resumed run needs to continue as the first would have. */
static int load_training_state(run *r, const el_checkpoint *c, const char *path)
{
    options *o = &r->opts;
    long long seed;
    const char *text = meta_get(c, "train.text");
    const char *schedule = meta_get(c, "train.schedule");
    if (!text || !schedule ||
        cli_parse_choice("the model's schedule", schedule, schedule_names, &o->schedule) ||
        meta_get_int(c, "train.seq_len", &o->seq_len) ||
        meta_get_int(c, "train.batch_size", &o->common.batch) ||
        meta_get_float(c, "train.lr", &o->common.lr) || meta_get_float(c, "train.clip", &o->clip) ||
        meta_get_float(c, "train.validation_fraction", &o->validation_fraction) ||
        meta_get_int(c, "train.min_count", &o->min_count) ||
        meta_get_long(c, "train.seed", &seed) ||
        meta_get_int(c, "train.epochs", &r->saved_epochs) ||
        train_run_load_position(&r->train, c, path, &r->rng))
        return -1;
    if (!o->text) {
        if (!(r->saved_path = meta_keep(text))) return -1;
        o->text = r->saved_path;
    }
    o->common.seed = (uint64_t)seed;
    return 0;
}

/* With several ranks: keeps this rank's streams of the loaded state of
 * every stream, whatever number of ranks saved it. */
static int keep_share(run *r, const char *path)
{
    long first, count;
    train_run_share(&r->train, r->streams, &first, &count);
    el_tensor *state[2] = {&r->state.h, &r->state.c};
    int L = r->opts.layers, H = r->opts.hidden;
    for (int i = 0; i < 2 && state[i]->size; i++) {
        el_tensor *t = state[i];
        if (t->ndim != 3 || t->shape[0] != L || t->shape[1] != r->streams || t->shape[2] != H) {
            cli_error("%s: the streams' state is not %d x %d x %d", path, L, r->streams, H);
            return -1;
        }
        el_tensor share = {0};
        if (count == 0) { /* more ranks than streams: this one trains none */
            el_tensor_free(t);
            continue;
        }
        if (el_tensor_alloc(&share, 3, (int[]){L, (int)count, H})) return cli_library_failure();
        for (int l = 0; l < L; l++)
            memcpy(share.data + (size_t)l * count * H,
                   t->data + ((size_t)l * r->streams + first) * H, sizeof(float) * count * H);
        el_tensor_free(t);
        *t = share;
    }
    return 0;
}

/* The streams' state, saved when training stopped inside an epoch (at an
 * epoch's start the streams start from zero). */
static int load_stream_state(run *r, const el_checkpoint *c, const char *path)
{
    if (r->train.batch == 0) return 0;
    const char *names[] = {"train.state.h", "train.state.c"};
    el_tensor *into[] = {&r->state.h, &r->state.c};
    for (int i = 0; i < (r->opts.cell == 3 ? 2 : 1); i++) {
        el_tensor view;
        if (el_checkpoint_tensor(c, names[i], &view)) {
            cli_error("%s: stopped inside an epoch, but has no \"%s\"", path, names[i]);
            return -1;
        }
        if (el_tensor_ensure(into[i], view.ndim, view.shape) || el_tensor_copy(into[i], &view))
            return cli_library_failure();
    }
    return r->train.rank_count > 1 ? keep_share(r, path) : 0;
}

static el_status make_model(run *r, el_rng *init)
{
    const options *o = &r->opts;
    el_charlm_config config = {(el_cell)o->cell, el_vocab_size(r->vocab), o->hidden, o->layers,
                               o->dropout};
    el_status s = el_charlm_init(&r->model, &config, init);
    if (s) return s;
    r->model_ready = 1;
    return el_charlm_params(&r->model, &r->params);
}

int charlm_load_for_use(run *r)
{
    el_checkpoint *c = NULL;
    if (el_checkpoint_read(&c, r->opts.common.model)) return cli_library_failure();
    int bad = load_model(r, c);
    el_checkpoint_free(c);
    if (!bad) el_charlm_set_training(&r->model, 0);
    return bad;
}

/* ---- training --------------------------------------------------------------- */

/* Where epoch's streams start: a function of the seed and the epoch alone,
 * so a resumed run cuts the same chunks. */
static size_t epoch_offset(const run *r, long epoch)
{
    el_rng rng;
    el_rng_seed(&rng, r->opts.common.seed * 1000003u + (uint64_t)epoch);
    return el_rng_below(&rng, (uint32_t)r->opts.seq_len);
}

static long epoch_chunks(void *context, long epoch)
{
    run *r = context;
    return el_charlm_chunks(r->train_count, epoch_offset(r, epoch), r->streams, r->opts.seq_len);
}

static el_status start_epoch(void *context, long epoch, long first)
{
    run *r = context;
    (void)first; /* chunks are cut by number; the streams' state is loaded or zero */
    r->offset = epoch_offset(r, epoch);
    return EL_OK;
}

/* Each rank trains on its share of the streams (their columns of the
 * chunk; one process's share is all of them) and keeps their state.  The
 * step's generator is seeded by two draws of the run's, which every rank
 * makes whatever its share (so the run's stream, saved in checkpoints, stays
 * the same on every rank), and the share says which stream its first is: a
 * stream's dropout masks are then one process's (docs/distributed.md). */
static el_status train_share(run *r, const int *inputs, const int *targets, int steps, float *loss,
                             long *chars)
{
    long first, count;
    train_run_share(&r->train, r->streams, &first, &count);
    for (int t = 0; t < steps; t++)
        for (long b = 0; b < count; b++) {
            r->share_inputs[t * count + b] = inputs[(long)t * r->streams + first + b];
            r->share_targets[t * count + b] = targets[(long)t * r->streams + first + b];
        }
    el_rng rng;
    el_rng_seed(&rng, el_rng_u64(&r->rng));
    *loss = 0;
    *chars = (long)steps * count;
    if (count == 0) return EL_OK;
    el_charlm_set_first_row(&r->model, (int)first);
    return el_charlm_train_step(&r->model, r->share_inputs, r->share_targets, steps, (int)count,
                                &r->state, &rng, loss);
}

static el_status train_chunk(void *context, float *loss, long *chars)
{
    run *r = context;
    int steps;
    el_status s = el_charlm_chunk(r->ids.data, r->train_count, r->offset, r->streams,
                                  r->opts.seq_len, r->train.batch, r->inputs, r->targets, &steps);
    return s ? s : train_share(r, r->inputs, r->targets, steps, loss, chars);
}

/* Every stream's state for rank 0 to save, inside an epoch (at its start
 * and end the streams start from zero): each rank writes its streams' rows
 * into zeros and the ranks sum them. */
static el_status gather_state(void *context)
{
    run *r = context;
    el_charlm_state_free(&r->all);
    if (r->train.batch == 0) return EL_OK;
    long first, count;
    train_run_share(&r->train, r->streams, &first, &count);
    const el_tensor *mine[2] = {&r->state.h, &r->state.c};
    el_tensor *all[2] = {&r->all.h, &r->all.c};
    int L = r->opts.layers, H = r->opts.hidden;
    el_status s = EL_OK;
    for (int i = 0; i < (r->opts.cell == 3 ? 2 : 1) && !s; i++) {
        s = el_tensor_alloc(all[i], 3, (int[]){L, r->streams, H});
        for (int l = 0; l < L && !s && mine[i]->size; l++)
            memcpy(all[i]->data + ((size_t)l * r->streams + first) * H,
                   mine[i]->data + (size_t)l * count * H, sizeof(float) * count * H);
        if (!s) s = train_ranks_sum(r->train.ranks, all[i]->data, all[i]->size);
    }
    return s;
}

/* The validation bpc; the next epoch's streams start from zero. */
static int end_epoch(void *context, train_epoch_figures *f, char *csv, size_t size, int *stop)
{
    run *r = context;
    (void)stop;
    el_charlm_state_free(&r->state);
    el_charlm_set_training(&r->model, 0);
    int failed = charlm_text_bpc(r, r->train_count, r->ids.count - r->train_count, &r->val_bpc);
    el_charlm_set_training(&r->model, 1);
    if (failed) return -1;
    double rate = f->units / (f->seconds + 1e-9);
    f->score = -r->val_bpc;
    f->loss = r->val_bpc;
    printf("epoch %ld: train bpc %.4f, validation bpc %.4f, %.0f chars/s\n", f->epoch, f->mean_loss,
           r->val_bpc, rate);
    fflush(stdout);
    snprintf(csv, size, "%ld,%.6f,%.6f,%.1f,%.1f", f->epoch, f->mean_loss, r->val_bpc, rate,
             f->elapsed);
    return 0;
}

static const train_hooks hooks = {epoch_chunks, start_epoch, train_chunk, end_epoch,
                                  save,         NULL,        gather_state};

/* Sets up a new run, or a resumed one from its checkpoint. */
static int prepare_training(run *r)
{
    options *o = &r->opts;
    el_rng init;
    el_rng_seed(&init, o->common.seed);
    if (!o->common.resume) {
        if (!o->text) o->text = cli_bundled_file("wordnet-glosses.txt");
        if (charlm_load_text(r, o->text, 1) || check_lengths(r, o->text)) return -1;
        if (make_model(r, &init)) return cli_library_failure();
        el_rng_seed(&r->rng, o->common.seed + 1);
    } else {
        el_checkpoint *c = NULL;
        if (el_checkpoint_read(&c, o->common.resume)) return cli_library_failure();
        const char *trained_on = NULL;
        char fingerprint[17];
        int bad = load_model(r, c) || load_training_state(r, c, o->common.resume) ||
                  !(trained_on = meta_get(c, "train.text_fingerprint")) ||
                  charlm_load_text(r, o->text, 0);
        if (!bad) text_fingerprint(&r->ids, fingerprint, sizeof fingerprint);
        if (!bad && strcmp(fingerprint, trained_on) != 0) {
            cli_error("%s: not the text %s was trained on (its fingerprint differs)", o->text,
                      o->common.resume);
            bad = 1;
        }
        if (!bad) bad = check_lengths(r, o->text);
        if (!bad) {
            el_optimizer_config adam = el_optimizer_defaults(EL_OPT_ADAM);
            adam.lr = o->common.lr;
            if (el_optimizer_create(&r->optimizer, &adam, &r->params) ||
                el_checkpoint_load_optimizer(c, r->optimizer))
                bad = cli_library_failure();
            else
                bad = load_stream_state(r, c, o->common.resume);
        }
        el_checkpoint_free(c);
        if (bad) return -1;
    }
    if (!r->optimizer) {
        el_optimizer_config adam = el_optimizer_defaults(EL_OPT_ADAM);
        adam.lr = o->common.lr;
        if (el_optimizer_create(&r->optimizer, &adam, &r->params)) return cli_library_failure();
    }
    r->inputs = malloc(sizeof(int) * (size_t)o->seq_len * r->streams);
    r->targets = malloc(sizeof(int) * (size_t)o->seq_len * r->streams);
    r->share_inputs = malloc(sizeof(int) * (size_t)o->seq_len * r->streams);
    r->share_targets = malloc(sizeof(int) * (size_t)o->seq_len * r->streams);
    if (!r->inputs || !r->targets || !r->share_inputs || !r->share_targets) {
        cli_error("out of memory for %d streams of %d", r->streams, o->seq_len);
        return -1;
    }
    /* The rate is a function of the step alone, so a resumed run gets the
     * same rates; it spans --epochs even when --minutes ends the run, and
     * a step budget (train_run.h). */
    train_budget_apply(&o->common.budget, &r->train, 10, 0, 0, r->saved_epochs);
    long per_epoch = el_charlm_chunks(r->train_count, 0, r->streams, o->seq_len);
    r->train.schedule =
        (el_lr_schedule){.kind = o->schedule == SCHEDULE_COSINE ? EL_LR_COSINE : EL_LR_CONSTANT,
                         .base_lr = o->common.lr,
                         .total_steps = (long)r->train.epochs * per_epoch};
    return 0;
}

static int train(run *r)
{
    options *o = &r->opts;
    train_run *t = &r->train;
    const train_setup setup = {.hooks = &hooks,
                               .context = r,
                               .params = &r->params,
                               .threads = &r->threads,
                               .batch_name = "chunk",
                               .unit_name = "characters",
                               .loss_name = "bpc",
                               .loss_scale = 1 / log(2.0),
                               .metrics_header =
                                   "epoch,train_bpc,val_bpc,chars_per_second,elapsed_seconds"};
    if (train_run_setup(t, &setup, &o->common) || prepare_training(r)) return 1;
    t->optimizer = r->optimizer;
    t->clip = o->clip;
    r->val_bpc = NAN;
    printf("%s: %zu characters (%zu training, %zu validation), %d symbols; %s, hidden %d, %d "
           "layer%s, %zu parameters; %d streams of %d\n",
           o->text, r->ids.count, r->train_count, r->ids.count - r->train_count,
           el_vocab_size(r->vocab), cell_names[o->cell], o->hidden, o->layers,
           o->layers > 1 ? "s" : "", el_param_list_numel(&r->params), r->streams, o->seq_len);
    if (r->streams < o->common.batch)
        printf("(the text is short: %d streams instead of --batch %d)\n", r->streams,
               o->common.batch);
    fflush(stdout);
    int status = train_run_go(t);
    if (status || t->rank != 0) return status; /* rank 0 alone reports */
    /* Stopped inside an epoch, had none to run, or went back to the best
     * epoch (early stopping). */
    if (t->batch > 0 || isnan(r->val_bpc) || t->patience) {
        el_charlm_set_training(&r->model, 0);
        if (charlm_text_bpc(r, r->train_count, r->ids.count - r->train_count, &r->val_bpc))
            return 1;
    }
    printf("trained on %ld characters in %.1f s: %.0f chars/s\n", t->units_trained,
           t->training_seconds, t->units_trained / (t->training_seconds + 1e-9));
    printf("saved %s\n", o->common.out);
    printf("val_bpc: %.4f\n", r->val_bpc);
    return 0;
}

int main(int argc, char **argv)
{
    cli_set_program_name("charlm");
    run r = {0};
    int status = parse_options(argc, argv, &r.opts);
    if (status) return status < 0 ? 0 : status;
    /* generate steps one sequence, where a second thread only slows it. */
    if (cli_set_threads(r.opts.common.threads, r.opts.mode == MODE_GENERATE, r.opts.verbose))
        return 1;
    status = r.opts.mode == MODE_TRAIN      ? train(&r)
             : r.opts.mode == MODE_GENERATE ? charlm_generate(&r)
                                            : charlm_eval(&r);
    run_free(&r);
    return status;
}
