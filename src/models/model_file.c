/* Whole models in checkpoints: a model's parameters with its kind,
 * configuration and vocabulary in the metadata, and the loaders that build
 * the model again from them (elman/model_file.h). */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "elman/model_file.h"
#include "core/internal.h"

/* The cell names written, indexed by el_cell: the programs have written
 * these since the first checkpoints ("rnn" where el_cell_name says
 * "rnn_tanh"); el_cell_parse reads both. */
static const char *const cell_names[] = {"rnn", "rnn_relu", "gru", "lstm"};
#define CELL_COUNT ((int)(sizeof cell_names / sizeof cell_names[0]))

/* The largest of layers and hidden: far above any model that fits in
 * memory, only to keep the arithmetic on them within int. */
#define MAX_SIZE (1 << 20)

el_status el_checkpoint_set_kind(el_checkpoint_writer *w, const char *kind)
{
    return el_checkpoint_set_meta(w, "elman.kind", kind);
}

el_status el_checkpoint_set_vocab(el_checkpoint_writer *w, const el_vocab *vocab)
{
    EL_REQUIRE(vocab, "el_checkpoint_set_vocab");
    char *json = NULL;
    el_status s = el_vocab_to_json(vocab, &json);
    if (!s) s = el_checkpoint_set_meta(w, "elman.vocab", json);
    el_vocab_json_free(json);
    return s;
}

static el_status add_common(el_checkpoint_writer *w, const char *kind, el_cell cell, int vocab_size,
                            const el_vocab *vocab, const char *fn)
{
    if (el_vocab_size(vocab) != vocab_size)
        return el__fail(EL_ERR_INVALID, "%s: the vocabulary has %d ids, the model %d", fn,
                        el_vocab_size(vocab), vocab_size);
    if ((int)cell < 0 || (int)cell >= CELL_COUNT)
        return el__fail(EL_ERR_INVALID, "%s: unknown cell %d", fn, (int)cell);
    char key[64];
    snprintf(key, sizeof key, "%s.cell", kind);
    el_status s = el_checkpoint_set_kind(w, kind);
    if (!s) s = el_checkpoint_set_vocab(w, vocab);
    if (!s) s = el_checkpoint_set_meta(w, key, cell_names[cell]);
    return s;
}

static el_status add_int(el_checkpoint_writer *w, const char *kind, const char *field,
                         long long value)
{
    char key[64];
    snprintf(key, sizeof key, "%s.%s", kind, field);
    return el_checkpoint_set_int(w, key, value);
}

static el_status add_float(el_checkpoint_writer *w, const char *kind, const char *field,
                           float value)
{
    char key[64];
    snprintf(key, sizeof key, "%s.%s", kind, field);
    return el_checkpoint_set_float(w, key, value);
}

el_status el_checkpoint_add_charlm(el_checkpoint_writer *w, el_charlm *m, const el_vocab *vocab)
{
    const char *fn = "el_checkpoint_add_charlm";
    EL_REQUIRE(w, fn);
    EL_REQUIRE(m, fn);
    EL_REQUIRE(vocab, fn);
    const el_charlm_config *k = &m->config;
    el_param_list list = {0};
    el_status s = add_common(w, "charlm", k->cell, k->vocab_size, vocab, fn);
    if (!s) s = add_int(w, "charlm", "hidden", k->hidden_size);
    if (!s) s = add_int(w, "charlm", "layers", k->num_layers);
    if (!s) s = add_float(w, "charlm", "dropout", k->dropout);
    if (!s) s = el_charlm_params(m, &list);
    if (!s) s = el_checkpoint_add_params(w, &list);
    el_param_list_free(&list);
    return s;
}

el_status el_checkpoint_add_seq2seq(el_checkpoint_writer *w, el_seq2seq *m, const el_vocab *source,
                                    const el_vocab *target)
{
    const char *fn = "el_checkpoint_add_seq2seq";
    EL_REQUIRE(w, fn);
    EL_REQUIRE(m, fn);
    EL_REQUIRE(source, fn);
    const el_seq2seq_config *k = &m->config;
    if (target == source) target = NULL;
    int source_size = el_vocab_size(source), target_size = el_vocab_size(target ? target : source);
    if (source_size != k->source_vocab_size || target_size != k->target_vocab_size)
        return el__fail(
            EL_ERR_INVALID,
            "%s: the vocabularies have %d source and %d target ids, the model %d and %d", fn,
            source_size, target_size, k->source_vocab_size, k->target_vocab_size);
    el_param_list list = {0};
    el_status s = add_common(w, "seq2seq", k->cell, k->source_vocab_size, source, fn);
    if (!s && target) {
        char *json = NULL;
        s = el_vocab_to_json(target, &json);
        if (!s) s = el_checkpoint_set_meta(w, "seq2seq.target_vocab", json);
        el_vocab_json_free(json);
    }
    if (!s) s = add_int(w, "seq2seq", "hidden", k->hidden_size);
    if (!s) s = add_int(w, "seq2seq", "layers", k->num_layers);
    if (!s) s = add_int(w, "seq2seq", "bidirectional", k->bidirectional != 0);
    if (!s) s = add_float(w, "seq2seq", "dropout", k->dropout);
    if (!s) s = add_int(w, "seq2seq", "padded_steps", k->padded_steps);
    if (!s) s = el_checkpoint_set_meta(w, "seq2seq.attention", el_attention_name(k->attention));
    if (!s) s = add_int(w, "seq2seq", "embedding_size", k->embedding_size);
    if (!s) s = el_seq2seq_params(m, &list);
    if (!s) s = el_checkpoint_add_params(w, &list);
    el_param_list_free(&list);
    return s;
}

/* What both kinds share: the kind, the cell, hidden, layers and dropout
 * (read under "<kind>.") and the vocabulary. */
typedef struct common_config {
    el_cell cell;
    int hidden, layers;
    float dropout;
} common_config;

/* Fails with EL_ERR_FORMAT, the file's path, a detail and the library's last
 * message (copied first: el__fail writes over it). */
static el_status fail_because(const el_checkpoint *c, const char *detail)
{
    char why[512];
    snprintf(why, sizeof why, "%s", el_last_error());
    return el__fail(EL_ERR_FORMAT, "%s: %s: %s", el_checkpoint_path(c), detail, why);
}

el_status el_checkpoint_check_kind(const el_checkpoint *c, const char *kind)
{
    EL_REQUIRE(c, "el_checkpoint_check_kind");
    EL_REQUIRE(kind, "el_checkpoint_check_kind");
    const char *found = el_checkpoint_meta(c, "elman.kind");
    if (found && strcmp(found, kind) == 0) return EL_OK;
    if (found)
        return el__fail(EL_ERR_FORMAT, "%s: a %s model, not a %s model", el_checkpoint_path(c),
                        found, kind);
    return el__fail(EL_ERR_FORMAT, "%s: not an elman %s model (no \"elman.kind\" in its metadata)",
                    el_checkpoint_path(c), kind);
}

el_status el_checkpoint_get_vocab(const el_checkpoint *c, el_vocab **vocab)
{
    EL_REQUIRE(vocab, "el_checkpoint_get_vocab");
    *vocab = NULL;
    const char *json;
    el_status s = el_checkpoint_get_string(c, "elman.vocab", &json);
    if (s) return s;
    if (el_vocab_from_json(vocab, json)) return fail_because(c, "its vocabulary");
    return EL_OK;
}

static el_status get_size(const el_checkpoint *c, const char *kind, const char *field, int min,
                          int max, int *out)
{
    char key[64];
    long long v;
    snprintf(key, sizeof key, "%s.%s", kind, field);
    el_status s = el_checkpoint_get_int(c, key, min, max, &v);
    if (!s) *out = (int)v;
    return s;
}

static el_status read_common(const el_checkpoint *c, const char *kind, common_config *k,
                             el_vocab **vocab)
{
    const char *path = el_checkpoint_path(c);
    char key[64];
    const char *cell;
    el_status s = el_checkpoint_check_kind(c, kind);
    snprintf(key, sizeof key, "%s.cell", kind);
    if (!s) s = el_checkpoint_get_string(c, key, &cell);
    if (s) return s;
    if (el_cell_parse(cell, &k->cell)) {
        char detail[96];
        snprintf(detail, sizeof detail, "metadata \"%s\"", key);
        return fail_because(c, detail);
    }
    s = get_size(c, kind, "hidden", 1, MAX_SIZE, &k->hidden);
    if (!s) s = get_size(c, kind, "layers", 1, MAX_SIZE, &k->layers);
    snprintf(key, sizeof key, "%s.dropout", kind);
    if (!s) s = el_checkpoint_get_float(c, key, &k->dropout);
    if (!s && !(k->dropout >= 0.0f && k->dropout < 1.0f))
        return el__fail(EL_ERR_FORMAT, "%s: metadata \"%s\" is %g, not in [0, 1)", path, key,
                        k->dropout);
    if (s) return s;
    return el_checkpoint_get_vocab(c, vocab);
}

/* Before anything is allocated: the output layer's weight is stored with
 * the shape the configuration gives it, and each recurrent layer of each
 * of the n stacks named rnn[] has its weight_hh stored, so the sizes read
 * from the metadata are no larger than the file backs (a file of a few
 * bytes cannot ask for a million layers).  The rest of the shapes are
 * checked when the parameters load. */
static el_status check_stored(const el_checkpoint *c, const char *output, const char *const *rnn,
                              int n, int vocab_size, const common_config *k)
{
    const char *path = el_checkpoint_path(c);
    el_tensor view;
    el_status s = el_checkpoint_tensor(c, output, &view);
    if (s == EL_ERR_INVALID) return el__fail(EL_ERR_FORMAT, "%s: no tensor '%s'", path, output);
    if (s) return s;
    if (view.ndim != 2 || view.shape[0] != vocab_size || view.shape[1] != k->hidden)
        return el__fail(EL_ERR_FORMAT,
                        "%s: tensor '%s' is not %dx%d (%d ids in the vocabulary, hidden %d)", path,
                        output, vocab_size, k->hidden, vocab_size, k->hidden);
    for (int i = 0; i < n; i++)
        for (int layer = 0; layer < k->layers; layer++) {
            char name[96];
            snprintf(name, sizeof name, "%s.weight_hh_l%d", rnn[i], layer);
            if (el_checkpoint_tensor(c, name, &view) == EL_ERR_INVALID)
                return el__fail(EL_ERR_FORMAT, "%s: no tensor '%s' (the metadata says %d layers)",
                                path, name, k->layers);
        }
    return EL_OK;
}

/* A parameter the file lacks or stores in another shape is a fault of the
 * file: EL_ERR_FORMAT, with el_checkpoint_load_params' message.  So is a
 * tensor that is none of the model's, outside "optimizer." and "train.":
 * a model of another configuration (one direction where the file has
 * two) would otherwise load part of the file and drop the rest. */
static el_status load_weights(const el_checkpoint *c, el_param_list *list)
{
    for (int i = 0; i < el_checkpoint_count(c); i++) {
        const char *name = el_checkpoint_name(c, i);
        if (strncmp(name, "optimizer.", 10) == 0 || strncmp(name, "train.", 6) == 0) continue;
        int found = 0;
        for (int p = 0; p < list->count && !found; p++) found = !strcmp(list->items[p]->name, name);
        if (!found)
            return el__fail(EL_ERR_FORMAT,
                            "%s: tensor '%s' is none of the model's (its metadata describes "
                            "another model)",
                            el_checkpoint_path(c), name);
    }
    el_status s = el_checkpoint_load_params(c, list);
    if (s != EL_ERR_INVALID && s != EL_ERR_SHAPE) return s;
    char why[512];
    snprintf(why, sizeof why, "%s", el_last_error());
    return el__fail(EL_ERR_FORMAT, "%s", why);
}

el_status el_charlm_load(el_charlm *m, const el_checkpoint *c, el_vocab **vocab)
{
    const char *fn = "el_charlm_load";
    EL_REQUIRE(m, fn);
    EL_REQUIRE(c, fn);
    EL_REQUIRE(vocab, fn);
    memset(m, 0, sizeof *m);
    *vocab = NULL;
    common_config k;
    el_param_list list = {0};
    el_status s = read_common(c, "charlm", &k, vocab);
    int vocab_size = *vocab ? el_vocab_size(*vocab) : 0;
    const char *rnn[] = {"rnn"};
    if (!s) s = check_stored(c, "fc.weight", rnn, 1, vocab_size, &k);
    if (!s) {
        el_charlm_config config = {k.cell, vocab_size, k.hidden, k.layers, k.dropout};
        s = el_charlm_init(m, &config, NULL); /* which frees what it made when it fails */
        if (!s) {
            s = el_charlm_params(m, &list);
            if (!s) s = load_weights(c, &list);
            el_param_list_free(&list);
            if (s) el_charlm_free(m);
        }
    }
    if (s) {
        memset(m, 0, sizeof *m);
        el_vocab_free(*vocab);
        *vocab = NULL;
    }
    return s;
}

/* The target vocabulary: its own under "seq2seq.target_vocab", or a copy
 * of the shared one (files before separate vocabularies have only that). */
static el_status read_target_vocab(const el_checkpoint *c, const el_vocab *source,
                                   el_vocab **target)
{
    const char *json = el_checkpoint_meta(c, "seq2seq.target_vocab");
    char *copy = NULL;
    if (!json) {
        el_status s = el_vocab_to_json(source, &copy);
        if (s) return s;
        json = copy;
    }
    el_status s = el_vocab_from_json(target, json);
    el_vocab_json_free(copy);
    if (s) return fail_because(c, "its target vocabulary");
    return EL_OK;
}

/* "seq2seq.attention" and "seq2seq.embedding_size", absent from the files
 * written before them (which have neither). */
static el_status read_attention(const el_checkpoint *c, el_attention *attention,
                                int *embedding_size)
{
    *attention = EL_ATTENTION_NONE;
    *embedding_size = 0;
    const char *name = el_checkpoint_meta(c, "seq2seq.attention");
    if (name && el_attention_parse(name, attention))
        return fail_because(c, "metadata \"seq2seq.attention\"");
    if (!el_checkpoint_meta(c, "seq2seq.embedding_size")) return EL_OK;
    return get_size(c, "seq2seq", "embedding_size", 0, MAX_SIZE, embedding_size);
}

/* Before anything is allocated: with embeddings, both tables are stored
 * with the vocabularies' sizes and the embedding size the metadata gives
 * (so that a large embedding_size is backed by the file's bytes). */
static el_status check_embeddings(const el_checkpoint *c, int source_size, int target_size,
                                  int embedding_size)
{
    const char *names[] = {"encoder.embedding.weight", "decoder.embedding.weight"};
    int rows[] = {source_size, target_size};
    for (int i = 0; i < 2 && embedding_size; i++) {
        el_tensor view;
        if (el_checkpoint_tensor(c, names[i], &view) == EL_ERR_INVALID)
            return el__fail(EL_ERR_FORMAT,
                            "%s: no tensor '%s' (the metadata says embeddings of %d)",
                            el_checkpoint_path(c), names[i], embedding_size);
        if (view.ndim != 2 || view.shape[0] != rows[i] || view.shape[1] != embedding_size)
            return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' is not %dx%d", el_checkpoint_path(c),
                            names[i], rows[i], embedding_size);
    }
    return EL_OK;
}

el_status el_seq2seq_load(el_seq2seq *m, const el_checkpoint *c, el_vocab **source,
                          el_vocab **target)
{
    const char *fn = "el_seq2seq_load";
    EL_REQUIRE(m, fn);
    EL_REQUIRE(c, fn);
    EL_REQUIRE(source, fn);
    EL_REQUIRE(target, fn);
    memset(m, 0, sizeof *m);
    *source = NULL;
    *target = NULL;
    common_config k;
    int bidirectional = 0, padded_steps = 0, embedding_size = 0;
    el_attention attention = EL_ATTENTION_NONE;
    el_param_list list = {0};
    el_status s = read_common(c, "seq2seq", &k, source);
    if (!s) s = el_checkpoint_get_bool(c, "seq2seq.bidirectional", &bidirectional);
    if (!s) s = get_size(c, "seq2seq", "padded_steps", 0, MAX_SIZE, &padded_steps);
    if (!s) s = read_attention(c, &attention, &embedding_size);
    if (!s) s = read_target_vocab(c, *source, target);
    int source_size = *source ? el_vocab_size(*source) : 0;
    int target_size = *target ? el_vocab_size(*target) : 0;
    const char *cell = k.cell == EL_CELL_GRU ? "gru" : k.cell == EL_CELL_LSTM ? "lstm" : "rnn";
    char encoder[32], decoder[32];
    snprintf(encoder, sizeof encoder, "encoder.%s", cell);
    snprintf(decoder, sizeof decoder, "decoder.%s", cell);
    const char *rnn[] = {encoder, decoder};
    if (!s) s = check_stored(c, "decoder.fc.weight", rnn, 2, target_size, &k);
    if (!s) s = check_embeddings(c, source_size, target_size, embedding_size);
    if (!s) {
        el_seq2seq_config config = {.cell = k.cell,
                                    .source_vocab_size = source_size,
                                    .target_vocab_size = target_size,
                                    .hidden_size = k.hidden,
                                    .num_layers = k.layers,
                                    .bidirectional = bidirectional,
                                    .dropout = k.dropout,
                                    .padded_steps = padded_steps,
                                    .attention = attention,
                                    .embedding_size = embedding_size};
        s = el_seq2seq_init(m, &config, NULL); /* which frees what it made when it fails */
        if (!s) {
            s = el_seq2seq_params(m, &list);
            if (!s) s = load_weights(c, &list);
            el_param_list_free(&list);
            if (s) el_seq2seq_free(m);
        }
    }
    if (s) {
        memset(m, 0, sizeof *m);
        el_vocab_free(*source);
        el_vocab_free(*target);
        *source = NULL;
        *target = NULL;
    }
    return s;
}
