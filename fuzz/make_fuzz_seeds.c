/* Writes the seed corpora of the fuzz targets:
 *
 *     make_fuzz_seeds fuzz/corpus
 *
 * fills fuzz/corpus/<target>/ with small valid inputs, checkpoints and JSON
 * written by the library itself, and a few broken ones (truncated, a NaN, a
 * wrong shape, malformed headers, invalid UTF-8), so that each fuzzer
 * starts from both sides of every check.  The files are committed; this
 * program says how they were made and remakes them. */
#define _POSIX_C_SOURCE 200809L /* mkdir */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "elman/checkpoint.h"
#include "elman/model_file.h"
#include "elman/optim.h"
#include "elman/param.h"
#include "elman/vocab.h"

static const char *root;

static void check(el_status s, const char *what)
{
    if (s) {
        fprintf(stderr, "make_fuzz_seeds: %s: %s\n", what, el_last_error());
        exit(1);
    }
}

static void make_dir(const char *target)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    mkdir(root, 0777);
    mkdir(path, 0777);
}

static void write_seed(const char *target, const char *name, const void *bytes, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "make_fuzz_seeds: cannot write %s\n", path);
        exit(1);
    }
}

static unsigned char *read_seed(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) exit(1);
    long size = ftell(f);
    rewind(f);
    unsigned char *bytes = malloc((size_t)size + 1);
    if (!bytes || fread(bytes, 1, (size_t)size, f) != (size_t)size) exit(1);
    fclose(f);
    *n = (size_t)size;
    return bytes;
}

/* ---- checkpoints --------------------------------------------------------- */

/* The model of fuzz_load_params.c: embedding.weight 4x2, fc.weight 2x3,
 * fc.bias 2 (bias_size lets a seed hold a wrong shape). */
typedef struct model {
    el_param embedding, weight, bias;
    el_param_list list;
} model;

static void model_init(model *m, int bias_size)
{
    memset(m, 0, sizeof *m);
    check(el_param_init(&m->embedding, "embedding", "weight", 2, (int[]){4, 2}), "param");
    check(el_param_init(&m->weight, "fc", "weight", 2, (int[]){2, 3}), "param");
    check(el_param_init(&m->bias, "fc", "bias", 1, (int[]){bias_size}), "param");
    el_param *params[3] = {&m->embedding, &m->weight, &m->bias};
    for (int p = 0; p < 3; p++) {
        for (size_t i = 0; i < params[p]->value.size; i++) {
            params[p]->value.data[i] = 0.25f * (float)i - (float)p;
            params[p]->grad.data[i] = 0.5f - 0.125f * (float)i;
        }
        check(el_param_list_add(&m->list, params[p]), "list");
    }
}

static void model_free(model *m)
{
    el_param_free(&m->embedding);
    el_param_free(&m->weight);
    el_param_free(&m->bias);
    el_param_list_free(&m->list);
}

/* Writes m (with Adam's state after two steps if with_optimizer, and the
 * int64 tensors if with_i64) as <name> in both checkpoint corpora. */
static void write_checkpoint(const char *name, model *m, int with_optimizer, int with_i64)
{
    static const int64_t counts[6] = {0, 1, -1, 42, INT64_MAX, INT64_MIN};
    static const int64_t steps = 3;
    el_checkpoint_writer *w = NULL;
    el_optimizer *opt = NULL;
    check(el_checkpoint_writer_create(&w), "writer");
    check(el_checkpoint_add_params(w, &m->list), "params");
    if (with_optimizer) {
        el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
        check(el_optimizer_create(&opt, &config, &m->list), "optimizer");
        check(el_optimizer_step(opt), "step");
        check(el_optimizer_step(opt), "step");
        check(el_checkpoint_add_optimizer(w, opt), "add optimizer");
    }
    if (with_i64) {
        check(el_checkpoint_add_i64(w, "counts", counts, 2, (int[]){2, 3}), "i64");
        check(el_checkpoint_add_i64(w, "num_batches_tracked", &steps, 0, NULL), "i64");
    }
    check(el_checkpoint_set_meta(w, "format", "pt"), "meta");
    check(el_checkpoint_set_meta(w, "config", "{\"hidden\": 2, \"name\": \"é\"}"), "meta");
    char path[1024];
    snprintf(path, sizeof path, "%s/safetensors/%s", root, name);
    check(el_checkpoint_write(w, path), "write");
    el_checkpoint_writer_free(w);
    el_optimizer_free(opt);
    size_t n;
    unsigned char *bytes = read_seed(path, &n);
    write_seed("load_params", name, bytes, n);
    free(bytes);
}

/* A file of the given header and n zero bytes of data, in both corpora. */
static void write_by_hand(const char *name, const char *json, size_t n)
{
    size_t header = strlen(json);
    unsigned char *bytes = calloc(8 + header + n, 1);
    if (!bytes) exit(1);
    for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)((uint64_t)header >> (8 * i));
    memcpy(bytes + 8, json, header);
    write_seed("safetensors", name, bytes, 8 + header + n);
    write_seed("load_params", name, bytes, 8 + header + n);
    free(bytes);
}

static void checkpoint_seeds(void)
{
    make_dir("safetensors");
    make_dir("load_params");
    model m;
    model_init(&m, 2);
    write_checkpoint("model.safetensors", &m, 1, 0);
    write_checkpoint("params.safetensors", &m, 0, 0);
    write_checkpoint("int64.safetensors", &m, 0, 1);
    m.bias.value.data[1] = NAN;
    write_checkpoint("nan.safetensors", &m, 0, 0);
    model_free(&m);
    model_init(&m, 3);
    write_checkpoint("wrong-shape.safetensors", &m, 0, 0);
    model_free(&m);

    /* Broken: the valid model cut short. */
    char path[1024];
    snprintf(path, sizeof path, "%s/safetensors/model.safetensors", root);
    size_t n;
    unsigned char *bytes = read_seed(path, &n);
    write_seed("safetensors", "truncated.safetensors", bytes, n - 5);
    write_seed("load_params", "truncated.safetensors", bytes, n - 5);
    free(bytes);
    write_by_hand("empty-header.safetensors", "{}", 0);
    write_by_hand("mixed-dtypes.safetensors",
                  "{\"__metadata__\":{\"format\":\"pt\"},"
                  "\"t\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                  "\"w\":{\"dtype\":\"F32\",\"shape\":[2,1],\"data_offsets\":[16,24]},"
                  "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[24,30]},"
                  "\"m\":{\"dtype\":\"BOOL\",\"shape\":[],\"data_offsets\":[30,31]},"
                  "\"f\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[31,32]}}",
                  32);
    write_by_hand("overlap.safetensors",
                  "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                  8);
    write_by_hand("bad-json.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],}", 4);
    write_by_hand("escapes.safetensors",
                  "{\"\\u00e9\\n\\\"x\":{\"dtype\":\"F32\",\"shape\":[1],"
                  "\"data_offsets\":[0,4]}, \"__metadata__\":{\"k\\t\":\"\\ud83d\\ude00\"}}",
                  4);
}

/* ---- text ---------------------------------------------------------------- */

static const char *const texts[] = {
    "hello, world\n",
    "e\xcc\x81 \xc3\xa9 a\xcc\x81\xcc\x96 \xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", /* NFD, Hangul */
    "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa "          /* two flags */
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7",  /* ZWJ family */
    "a\r\nb\rc\n\xe2\x80\xa8 \xef\xbb\xbf\xc2\xa0\xe3\x80\x80",                 /* breaks, spaces */
    "\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\xe0\xa4\xa4\xe0\xa5\x87 " /* Devanagari */
    "\xe0\xb8\x81\xe0\xb8\xb3",                                                 /* Thai */
    "\xef\xac\x80 \xe2\x84\xab \xe1\xba\x9b\xcc\xa3",                           /* compatibility */
};

static const char *const broken_texts[] = {
    "ok\xff", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80", "line\nNUL\0here",
};
static const size_t broken_lengths[] = {3, 2, 3, 2, 4, 13};

static void cluster_seeds(void)
{
    make_dir("clusters");
    char name[32];
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        snprintf(name, sizeof name, "text-%zu", i);
        write_seed("clusters", name, texts[i], strlen(texts[i]));
    }
    for (size_t i = 0; i < sizeof broken_texts / sizeof broken_texts[0]; i++) {
        snprintf(name, sizeof name, "broken-%zu", i);
        write_seed("clusters", name, broken_texts[i], broken_lengths[i]);
    }
}

static void vocab_seeds(void)
{
    make_dir("vocab_json");
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        el_clusters c;
        el_vocab *v = NULL;
        char *json = NULL, name[32];
        check(el_clusters_split(&c, texts[i], strlen(texts[i]), NULL, 1), "split");
        check(el_vocab_create(&v), "vocab");
        check(el_vocab_add(v, &c), "count");
        check(el_vocab_finish(v, 1), "finish");
        check(el_vocab_to_json(v, &json), "to_json");
        snprintf(name, sizeof name, "vocab-%zu.json", i);
        write_seed("vocab_json", name, json, strlen(json));
        el_vocab_json_free(json);
        el_vocab_free(v);
        el_clusters_free(&c);
    }
    static const char *const broken[] = {
        "{\"version\":1,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\"]}",
        "{\"version\":1,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\",\"a\",\"a\"]}",
        "{\"version\":1,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\",\"e\\u0301\"]}",
        "{\"version\":1,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\",\"a b\"]}",
        "{\"version\":2,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\"]}",
        "{\"version\":1,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\",\"\\u0000\"]}",
        "{\"version\":1,\"symbols\":{\"a\":1}}",
        "[1, 2.5e3, null, true]",
    };
    char name[32];
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        snprintf(name, sizeof name, "broken-%zu.json", i);
        write_seed("vocab_json", name, broken[i], strlen(broken[i]));
    }
}

/* Word lists, each after the two bytes that choose the length limits. */
static void word_seeds(void)
{
    make_dir("words");
    static const char *const lists[] = {
        "\x00\x00"
        "apple\nbanana\n\ncherry\napple\n  spaced  \n\ttab\t\n",
        "\x02\x05"
        "a\nab\nabc\nabcdef\nabcdefgh\r\ncr\rlast",
        "\x00\x00"
        "\xef\xbb\xbf"
        "caf\xc3\xa9\ncafe\xcc\x81\n\xc2\xa0nbsp\xc2\xa0\n"
        "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7\n\xe0\xa4\xa8\xe0\xa4\xae\xe0\xa4\xb8\xe0\xa5\x8d\n",
        "\x01\x07"
        "acroscopic\nagglutinate\na\narmlike\nshuddery\nflaxen\nfatal\n",
        "\x00\x00"
        "good\nbad\xff\nafter\n",
        "\x00\x00"
        "nul\0inside\n",
    };
    static const size_t lengths[] = {0, 0, 0, 0, 0, 13};
    char name[32];
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        snprintf(name, sizeof name, "words-%zu.txt", i);
        size_t n = lengths[i] ? lengths[i] : 2 + strlen(lists[i] + 2);
        write_seed("words", name, lists[i], n);
    }
}

/* Pairs files, each after the byte that chooses the token modes (bit 0:
 * sources in spaces mode, bit 1: targets). */
static void pair_seeds(void)
{
    make_dir("pairs");
    static const char *const files[] = {
        "\x02"
        "aardvark\taa r d v aa r k\nread\tr iy d\nread\tr eh d\r\n\nread\tr iy d\n",
        "\x00"
        "caf\xc3\xa9\tcafe\xcc\x81\n  spaced \t out  \n\xf0\x9f\x87\xab\xf0\x9f\x87\xb7\tflag",
        "\x03"
        "a  b\tc\xc2\xa0"
        "d\na b\tab c\na b\ta bc\n",
        "\x00"
        "no tab here\n",
        "\x00"
        "a\tb\tc\n",
        "\x00"
        "\tempty source\n",
        "\x02"
        "empty target\t  \n",
        "\x00"
        "bad\t\xff\n",
        "\x00"
        "nul\t\0inside\n",
    };
    static const size_t lengths[] = {0, 0, 0, 0, 0, 0, 0, 0, 13};
    char name[32];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(name, sizeof name, "pairs-%zu.tsv", i);
        size_t n = lengths[i] ? lengths[i] : 1 + strlen(files[i] + 1);
        write_seed("pairs", name, files[i], n);
    }
}

/* ---- model files --------------------------------------------------------- */

/* A model file of kind "charlm" or "seq2seq" in the target's corpus, with
 * the metadata key set to value afterwards when key is not NULL (a file
 * whose configuration contradicts its weights). */
static void write_model(const char *target, const char *name, const char *kind, el_cell cell,
                        int layers, int bidirectional, const char *key, const char *value)
{
    el_vocab *vocab = NULL;
    check(el_vocab_create(&vocab), "vocab");
    check(el_vocab_add_text(vocab, "abca", 4, 0), "vocab");
    check(el_vocab_finish(vocab, 1), "vocab");
    el_rng rng;
    el_rng_seed(&rng, 1);
    el_checkpoint_writer *w = NULL;
    check(el_checkpoint_writer_create(&w), "writer");
    el_charlm charlm;
    el_seq2seq seq2seq;
    if (strcmp(kind, "charlm") == 0) {
        el_charlm_config config = {cell, el_vocab_size(vocab), 2, layers, 0.5f};
        check(el_charlm_init(&charlm, &config, &rng), "charlm");
        check(el_checkpoint_add_charlm(w, &charlm, vocab), "add charlm");
    } else {
        el_seq2seq_config config = {cell,
                                    el_vocab_size(vocab),
                                    el_vocab_size(vocab),
                                    2,
                                    layers,
                                    bidirectional,
                                    0,
                                    3,
                                    EL_ATTENTION_NONE,
                                    0};
        check(el_seq2seq_init(&seq2seq, &config, &rng), "seq2seq");
        check(el_checkpoint_add_seq2seq(w, &seq2seq, vocab, NULL), "add seq2seq");
    }
    if (key) check(el_checkpoint_set_meta(w, key, value), "metadata");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    check(el_checkpoint_write(w, path), path);
    el_checkpoint_writer_free(w);
    if (strcmp(kind, "charlm") == 0)
        el_charlm_free(&charlm);
    else
        el_seq2seq_free(&seq2seq);
    el_vocab_free(vocab);
}

/* A seq2seq model file with attention, embeddings of 2 and a target
 * vocabulary of its own, with the metadata key set to value afterwards
 * when key is not NULL. */
static void write_attention_model(const char *name, el_attention attention, int bidirectional,
                                  const char *key, const char *value)
{
    el_vocab *source = NULL, *target = NULL;
    check(el_vocab_create(&source), "vocab");
    check(el_vocab_add_text(source, "abca", 4, 0), "vocab");
    check(el_vocab_finish(source, 1), "vocab");
    check(el_vocab_create(&target), "vocab");
    check(el_vocab_add_text(target, "xyz", 3, 0), "vocab");
    check(el_vocab_finish(target, 1), "vocab");
    el_rng rng;
    el_rng_seed(&rng, 1);
    el_seq2seq_config config = {EL_CELL_GRU,
                                el_vocab_size(source),
                                el_vocab_size(target),
                                2,
                                1,
                                bidirectional,
                                0,
                                0,
                                attention,
                                2};
    el_seq2seq seq2seq;
    check(el_seq2seq_init(&seq2seq, &config, &rng), "seq2seq");
    el_checkpoint_writer *w = NULL;
    check(el_checkpoint_writer_create(&w), "writer");
    check(el_checkpoint_add_seq2seq(w, &seq2seq, source, target), "add seq2seq");
    if (key) check(el_checkpoint_set_meta(w, key, value), "metadata");
    char path[1024];
    snprintf(path, sizeof path, "%s/model_seq2seq/%s", root, name);
    check(el_checkpoint_write(w, path), path);
    el_checkpoint_writer_free(w);
    el_seq2seq_free(&seq2seq);
    el_vocab_free(source);
    el_vocab_free(target);
}

static void model_file_seeds(void)
{
    make_dir("model_charlm");
    write_model("model_charlm", "gru.st", "charlm", EL_CELL_GRU, 1, 0, NULL, NULL);
    write_model("model_charlm", "lstm-2-layers.st", "charlm", EL_CELL_LSTM, 2, 0, NULL, NULL);
    write_model("model_charlm", "rnn.st", "charlm", EL_CELL_RNN_TANH, 1, 0, NULL, NULL);
    write_model("model_charlm", "too-many-layers.st", "charlm", EL_CELL_GRU, 1, 0, "charlm.layers",
                "2");
    write_model("model_charlm", "wider.st", "charlm", EL_CELL_GRU, 1, 0, "charlm.hidden", "3");
    write_model("model_charlm", "seq2seq.st", "seq2seq", EL_CELL_GRU, 1, 1, NULL, NULL);
    make_dir("model_seq2seq");
    write_model("model_seq2seq", "gru-bidirectional.st", "seq2seq", EL_CELL_GRU, 1, 1, NULL, NULL);
    write_model("model_seq2seq", "relu-2-layers.st", "seq2seq", EL_CELL_RNN_RELU, 2, 0, NULL, NULL);
    write_model("model_seq2seq", "lstm.st", "seq2seq", EL_CELL_LSTM, 1, 0, NULL, NULL);
    write_model("model_seq2seq", "one-direction.st", "seq2seq", EL_CELL_GRU, 1, 1,
                "seq2seq.bidirectional", "0");
    write_model("model_seq2seq", "charlm.st", "charlm", EL_CELL_GRU, 1, 0, NULL, NULL);
    write_attention_model("additive-embedding.st", EL_ATTENTION_ADDITIVE, 0, NULL, NULL);
    write_attention_model("general-bidirectional.st", EL_ATTENTION_GENERAL, 1, NULL, NULL);
    write_attention_model("dot-bidirectional.st", EL_ATTENTION_DOT, 1, NULL, NULL);
    write_attention_model("dot-said-general.st", EL_ATTENTION_DOT, 1, "seq2seq.attention",
                          "general");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_fuzz_seeds OUTPUT_DIR (fuzz/corpus)\n");
        return 2;
    }
    root = argv[1];
    checkpoint_seeds();
    cluster_seeds();
    vocab_seeds();
    word_seeds();
    pair_seeds();
    model_file_seeds();
    return 0;
}
