/* Times seq2seq training in elman, for bench/seq2seq.py: the model of
 * seq2seq-train on the same data (a word list, split by seed, the
 * vocabulary from the training words), Adam at lr 2e-3, teacher forcing 1,
 * over a fixed subset of the training words.
 *
 *   seq2seq-bench [--words FILE] [--cell C] [--hidden N] [--layers N]
 *                 [--bidirectional 0|1] [--batch N] [--threads N]
 *                 [--batches N] [--warmup N] [--count N] [--padded N]
 *                 [--attention none|additive|dot|general] [--embedding N]
 *                 [--dump PREFIX]
 *
 * prints "words_per_second=X loss=Y": the training words per second over
 * the timed batches (the warm-up ones not counted) and their mean loss.
 *
 * With --dump PREFIX it times nothing: it writes the batches a timed run
 * would train on (warm-up first) to PREFIX.batches and the initial weights
 * to PREFIX.safetensors, trains on the warm-up batches and prints
 * "vocab=V losses=L1,L2,...", their losses, so that another implementation
 * can replay the same batches from the same weights and compare. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "elman/elman.h"
#include "elman/seq2seq.h"

typedef struct options {
    const char *words, *dump;
    el_cell cell;
    el_attention attention;
    int hidden, layers, bidirectional, batch, threads, batches, warmup, count, padded, embedding;
} options;

typedef struct bench {
    el_words *words;
    el_vocab *vocab;
    el_ids train, validation, test;
    el_reverse_words *data;
    el_loader *loader;
    long epoch;
    el_seq2seq model;
    el_param_list params;
    el_optimizer *optimizer;
} bench;

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what)
{
    fprintf(stderr, "seq2seq-bench: %s: %s\n", what, el_last_error());
    exit(1);
}

static void usage(void)
{
    fprintf(stderr, "usage: seq2seq-bench [--words FILE] [--cell rnn|rnn_relu|gru|lstm] "
                    "[--hidden N] [--layers N] [--bidirectional 0|1] [--batch N] [--threads N] "
                    "[--batches N] [--warmup N] [--count N] [--padded N] "
                    "[--attention none|additive|dot|general] [--embedding N] [--dump PREFIX]\n");
    exit(2);
}

/* An integer flag's value in [least, most], or a usage error. */
static int integer(const char *flag, const char *text, int least, int most)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*end || end == text || v < least || v > most) {
        fprintf(stderr, "seq2seq-bench: %s wants an integer from %d to %d, not '%s'\n", flag, least,
                most, text);
        exit(2);
    }
    return (int)v;
}

static options parse(int argc, char **argv)
{
    /* seq2seq-train's defaults, and the word list it trains on. */
    options o = {.words = ELMAN_SOURCEDIR "/corpora/wordnet-words.txt",
                 .cell = EL_CELL_GRU,
                 .hidden = 256,
                 .layers = 1,
                 .bidirectional = 1,
                 .batch = 64,
                 .threads = 1,
                 .batches = 200,
                 .warmup = 10,
                 .count = 20000};
    const struct {
        const char *flag;
        int *value, least, most;
    } integers[] = {{"--hidden", &o.hidden, 1, 4096},
                    {"--layers", &o.layers, 1, 8},
                    {"--bidirectional", &o.bidirectional, 0, 1},
                    {"--batch", &o.batch, 1, 4096},
                    {"--threads", &o.threads, 1, 64},
                    {"--batches", &o.batches, 1, 1000000},
                    {"--warmup", &o.warmup, 0, 1000000},
                    {"--count", &o.count, 1, 100000000},
                    {"--padded", &o.padded, 0, 1000},
                    {"--embedding", &o.embedding, 0, 4096}};
    for (int i = 1; i < argc; i += 2) {
        const char *flag = argv[i], *v = argv[i + 1];
        if (!v) usage();
        size_t k = 0, n = sizeof integers / sizeof integers[0];
        while (k < n && strcmp(flag, integers[k].flag)) k++;
        if (k < n)
            *integers[k].value = integer(flag, v, integers[k].least, integers[k].most);
        else if (!strcmp(flag, "--words"))
            o.words = v;
        else if (!strcmp(flag, "--dump"))
            o.dump = v;
        else if (!strcmp(flag, "--cell")) {
            if (el_cell_parse(v, &o.cell)) die("--cell");
        } else if (!strcmp(flag, "--attention")) {
            if (el_attention_parse(v, &o.attention)) die("--attention");
        } else
            usage();
    }
    if (o.dump && o.warmup < 1) usage(); /* no losses to compare */
    return o;
}

/* seq2seq-train's data: words of 1 to 32 characters, split by seed 1 with
 * 5% each for validation and test, the vocabulary from all the training
 * words; then the first count training words, in random full batches. */
static void load(bench *b, const options *o)
{
    if (el_words_read(&b->words, o->words, 1, 32) ||
        el_split(el_words_count(b->words), 1, 0.05, 0.05, &b->train, &b->validation, &b->test) ||
        el_vocab_create(&b->vocab))
        die(o->words);
    for (size_t i = 0; i < b->train.count; i++)
        if (el_vocab_add(b->vocab, el_words_get(b->words, b->train.data[i]))) die("vocabulary");
    if (el_vocab_finish(b->vocab, 1)) die("vocabulary");
    int count = o->count < (int)b->train.count ? o->count : (int)b->train.count;
    if (count < o->batch) {
        fprintf(stderr, "seq2seq-bench: %d words make no batch of %d\n", count, o->batch);
        exit(2);
    }
    /* Full batches only: every timed batch is the same number of words. */
    el_loader_config config = {
        .batch_size = o->batch, .shuffle = 1, .seed = 1, .drop_last = 1, .pad = EL_PAD};
    if (el_reverse_words_create(&b->data, b->words, b->train.data, count, b->vocab)) die("data");
    el_dataset dataset = el_reverse_words_dataset(b->data);
    if (el_loader_create(&b->loader, &dataset, &config) || el_loader_start(b->loader, 0))
        die("loader");
}

/* The next batch, into the next epoch when this one is spent. */
static const el_batch *next_batch(bench *b)
{
    const el_batch *batch;
    if (el_loader_next(b->loader, &batch)) die("loader");
    if (batch) return batch;
    if (el_loader_start(b->loader, ++b->epoch) || el_loader_next(b->loader, &batch) || !batch)
        die("loader");
    return batch;
}

static void make_model(bench *b, const options *o)
{
    el_seq2seq_config config = {.cell = o->cell,
                                .source_vocab_size = el_vocab_size(b->vocab),
                                .target_vocab_size = el_vocab_size(b->vocab),
                                .hidden_size = o->hidden,
                                .num_layers = o->layers,
                                .bidirectional = o->bidirectional,
                                .padded_steps = o->padded,
                                .attention = o->attention,
                                .embedding_size = o->embedding};
    el_rng init;
    el_rng_seed(&init, 1);
    el_optimizer_config adam = el_optimizer_defaults(EL_OPT_ADAM);
    adam.lr = 2e-3;
    if (el_seq2seq_init(&b->model, &config, &init) || el_seq2seq_params(&b->model, &b->params) ||
        el_optimizer_create(&b->optimizer, &adam, &b->params))
        die("model");
}

static float train_step(bench *b, const el_batch *batch)
{
    float loss;
    el_optimizer_zero_grad(b->optimizer);
    if (el_seq2seq_train_step(&b->model, batch, 1.0, NULL, &loss) ||
        el_optimizer_step(b->optimizer))
        die("training");
    return loss;
}

static void write_ids(FILE *f, const int *ids, int size, int b, int length)
{
    for (int t = 0; t < length; t++) fprintf(f, t ? " %d" : "%d", ids[(size_t)t * size + b]);
}

/* One line per example, "input ids<TAB>target ids", batch after batch. */
static void dump_batches(bench *b, const options *o, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    for (int i = 0; i < o->warmup + o->batches; i++) {
        const el_batch *batch = next_batch(b);
        for (int k = 0; k < batch->size; k++) {
            write_ids(f, batch->inputs, batch->size, k, batch->input_lengths[k]);
            fputc('\t', f);
            write_ids(f, batch->targets, batch->size, k, batch->target_lengths[k]);
            fputc('\n', f);
        }
    }
    if (fclose(f)) {
        perror(path);
        exit(1);
    }
}

static void dump(bench *b, const options *o)
{
    size_t n = strlen(o->dump) + sizeof ".safetensors";
    char *path = malloc(n);
    if (!path) die("memory");
    snprintf(path, n, "%s.batches", o->dump);
    dump_batches(b, o, path);
    snprintf(path, n, "%s.safetensors", o->dump);
    el_checkpoint_writer *w = NULL;
    if (el_checkpoint_writer_create(&w) || el_checkpoint_add_params(w, &b->params) ||
        el_checkpoint_write(w, path))
        die(path);
    el_checkpoint_writer_free(w);
    free(path);
    /* The same batches again, from the start. */
    b->epoch = 0;
    if (el_loader_start(b->loader, 0)) die("loader");
    printf("vocab=%d losses=", el_vocab_size(b->vocab));
    for (int i = 0; i < o->warmup; i++)
        printf(i ? ",%.6f" : "%.6f", (double)train_step(b, next_batch(b)));
    printf("\n");
}

static void time_training(bench *b, const options *o)
{
    for (int i = 0; i < o->warmup; i++) train_step(b, next_batch(b));
    double sum = 0, t0 = now();
    for (int i = 0; i < o->batches; i++) sum += train_step(b, next_batch(b));
    double seconds = now() - t0;
    printf("words_per_second=%.1f loss=%.4f\n", (double)o->batches * o->batch / seconds,
           sum / o->batches);
}

int main(int argc, char **argv)
{
    options o = parse(argc, argv);
    if (el_set_threads(o.threads)) die("--threads");
    bench b = {0};
    load(&b, &o);
    make_model(&b, &o);
    if (o.dump)
        dump(&b, &o);
    else
        time_training(&b, &o);
    el_optimizer_free(b.optimizer);
    el_param_list_free(&b.params);
    el_seq2seq_free(&b.model);
    el_loader_free(b.loader);
    el_reverse_words_free(b.data);
    el_ids_free(&b.train);
    el_ids_free(&b.validation);
    el_ids_free(&b.test);
    el_vocab_free(b.vocab);
    el_words_free(b.words);
    return 0;
}
