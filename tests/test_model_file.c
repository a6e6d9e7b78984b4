/* Whole models in checkpoints (model_file.h): a charlm and a seq2seq model
 * saved with their vocabulary and configuration load back as the same
 * model, under the metadata keys and text the programs have always
 * written; the model file PyTorch's side wrote loads; and every
 * inconsistency (another kind, a missing or malformed setting, a
 * configuration the stored weights do not match) is refused with one
 * message naming the file, handing nothing out; and a model of one's own
 * keeps its kind, vocabulary and settings through the same pieces. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static char dir[64];
static char path[128];

static void make_dir(void)
{
    strcpy(dir, "/tmp/elman-model-file-XXXXXX");
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    snprintf(path, sizeof path, "%s/model.st", dir);
}

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

TestSuite(model_file, .init = make_dir, .fini = remove_dir);

static void assert_message_has(const char *part)
{
    cr_assert(strstr(el_last_error(), part) != NULL, "message \"%s\" lacks \"%s\"", el_last_error(),
              part);
}

static el_vocab *make_vocab(const char *text)
{
    el_vocab *v = NULL;
    EL_TEST_OK(el_vocab_create(&v));
    EL_TEST_OK(el_vocab_add_text(v, text, strlen(text), 0));
    EL_TEST_OK(el_vocab_finish(v, 1));
    return v;
}

static void assert_same_params(el_param_list *got, el_param_list *want)
{
    cr_assert_eq(got->count, want->count);
    for (int i = 0; i < want->count; i++) {
        cr_assert_str_eq(got->items[i]->name, want->items[i]->name);
        cr_assert_eq(got->items[i]->value.size, want->items[i]->value.size);
        cr_assert(memcmp(got->items[i]->value.data, want->items[i]->value.data,
                         want->items[i]->value.size * sizeof(float)) == 0,
                  "%s differs", want->items[i]->name);
    }
}

static void assert_same_vocab(const el_vocab *got, const el_vocab *want)
{
    cr_assert_eq(el_vocab_size(got), el_vocab_size(want));
    for (int id = 0; id < el_vocab_size(want); id++)
        cr_assert_str_eq(el_vocab_symbol(got, id, NULL), el_vocab_symbol(want, id, NULL));
}

static el_checkpoint *read_back(void)
{
    el_checkpoint *c = NULL;
    EL_TEST_OK(el_checkpoint_read(&c, path));
    return c;
}

static const char *meta(const el_checkpoint *c, const char *key)
{
    const char *v = el_checkpoint_meta(c, key);
    cr_assert_not_null(v, "no \"%s\"", key);
    return v;
}

/* ---- charlm ------------------------------------------------------------ */

typedef struct saved_charlm {
    el_charlm model;
    el_vocab *vocab;
} saved_charlm;

static void charlm_make(saved_charlm *s, el_cell cell, int layers)
{
    s->vocab = make_vocab("hello, world");
    el_charlm_config config = {cell, el_vocab_size(s->vocab), 6, layers, 0.25f};
    el_rng rng;
    el_rng_seed(&rng, 3);
    EL_TEST_OK(el_charlm_init(&s->model, &config, &rng));
}

static void charlm_free(saved_charlm *s)
{
    el_charlm_free(&s->model);
    el_vocab_free(s->vocab);
}

/* Saves s with the metadata changes (key, value, ..., NULL) applied after,
 * as a file edited by hand or by another writer would have them. */
static void charlm_save(saved_charlm *s, const char *key, const char *value)
{
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add_charlm(w, &s->model, s->vocab));
    if (key) EL_TEST_OK(el_checkpoint_set_meta(w, key, value));
    EL_TEST_OK(el_checkpoint_write(w, path));
    el_checkpoint_writer_free(w);
}

Test(model_file, a_charlm_round_trips_under_the_programs_keys)
{
    const el_cell cells[] = {EL_CELL_RNN_TANH, EL_CELL_RNN_RELU, EL_CELL_GRU, EL_CELL_LSTM};
    const char *names[] = {"rnn", "rnn_relu", "gru", "lstm"};
    for (int i = 0; i < 4; i++) {
        saved_charlm s;
        charlm_make(&s, cells[i], 2);
        charlm_save(&s, NULL, NULL);
        el_checkpoint *c = read_back();
        cr_assert_str_eq(meta(c, "elman.kind"), "charlm");
        cr_assert_str_eq(meta(c, "charlm.cell"), names[i]);
        cr_assert_str_eq(meta(c, "charlm.hidden"), "6");
        cr_assert_str_eq(meta(c, "charlm.layers"), "2");
        cr_assert_str_eq(meta(c, "charlm.dropout"), "0.25");

        el_charlm m;
        el_vocab *vocab = NULL;
        EL_TEST_OK(el_charlm_load(&m, c, &vocab));
        cr_assert(memcmp(&m.config, &s.model.config, sizeof m.config) == 0,
                  "the configuration differs");
        assert_same_vocab(vocab, s.vocab);
        el_param_list got = {0}, want = {0};
        EL_TEST_OK(el_charlm_params(&m, &got));
        EL_TEST_OK(el_charlm_params(&s.model, &want));
        assert_same_params(&got, &want);
        cr_assert_eq(el_checkpoint_count(c), want.count, "the file has more than the weights");
        el_param_list_free(&got);
        el_param_list_free(&want);
        el_charlm_free(&m);
        el_vocab_free(vocab);
        el_checkpoint_free(c);
        charlm_free(&s);
    }
}

Test(model_file, the_charlm_pytorch_wrote_loads)
{
    char fixture[1024];
    snprintf(fixture, sizeof fixture, "%s/%s", EL_FIXTURE_DIR, "charlm-torch.safetensors");
    el_checkpoint *c = NULL;
    EL_TEST_OK(el_checkpoint_read(&c, fixture));
    el_charlm m;
    el_vocab *vocab = NULL;
    EL_TEST_OK(el_charlm_load(&m, c, &vocab));
    cr_assert(m.config.cell == EL_CELL_LSTM && m.config.hidden_size == 5 &&
                  m.config.num_layers == 2 && m.config.dropout == 0.0f &&
                  m.config.vocab_size == el_vocab_size(vocab) && el_vocab_size(vocab) == 9,
              "not the fixture's configuration");
    el_tensor stored;
    EL_TEST_OK(el_checkpoint_tensor(c, "fc.weight", &stored));
    cr_assert(memcmp(stored.data, m.output.weight.value.data, stored.size * sizeof(float)) == 0);
    el_charlm_free(&m);
    el_vocab_free(vocab);
    el_checkpoint_free(c);
}

/* The file saved with key set to value is refused, with part in the
 * message, and nothing is handed out. */
static void charlm_refused(el_cell cell, const char *key, const char *value, const char *part)
{
    saved_charlm s;
    charlm_make(&s, cell, 2);
    charlm_save(&s, key, value);
    el_checkpoint *c = read_back();
    el_charlm m;
    memset(&m, 0x5a, sizeof m);
    el_vocab *vocab = (el_vocab *)&m;
    EL_TEST_FAILS(el_charlm_load(&m, c, &vocab), EL_ERR_FORMAT);
    assert_message_has(dir);
    assert_message_has(part);
    cr_assert_null(vocab);
    cr_assert_null(m.cache, "a refused model was handed out");
    el_checkpoint_free(c);
    charlm_free(&s);
    el_test_assert_no_leaks();
}

Test(model_file, an_inconsistent_charlm_is_refused_with_one_message)
{
    charlm_refused(EL_CELL_GRU, "elman.kind", "seq2seq", "a seq2seq model, not a charlm model");
    charlm_refused(EL_CELL_GRU, "charlm.cell", "transformer", "\"charlm.cell\": unknown cell");
    /* A GRU's weights are not an LSTM's: the shapes tell. */
    charlm_refused(EL_CELL_GRU, "charlm.cell", "lstm", "rnn.weight_ih_l0");
    charlm_refused(EL_CELL_GRU, "charlm.hidden", "7", "tensor 'fc.weight' is not");
    charlm_refused(EL_CELL_GRU, "charlm.hidden", "2000000000", "\"charlm.hidden\" is 2000000000");
    charlm_refused(EL_CELL_GRU, "charlm.hidden", "six", "not an integer");
    charlm_refused(EL_CELL_GRU, "charlm.layers", "3", "the metadata says 3 layers");
    charlm_refused(EL_CELL_GRU, "charlm.layers", "0", "\"charlm.layers\" is 0");
    charlm_refused(EL_CELL_GRU, "charlm.dropout", "1", "not in [0, 1)");
    charlm_refused(EL_CELL_GRU, "charlm.dropout", "nan", "not a finite number");
    charlm_refused(EL_CELL_GRU, "elman.vocab", "{}", "its vocabulary");
    charlm_refused(EL_CELL_GRU, "elman.vocab",
                   "{\"version\":1,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\",\"x\"]}",
                   "tensor 'fc.weight' is not 5x6");
}

Test(model_file, a_tensor_of_no_parameter_is_refused_but_optimizer_and_train_ones_load)
{
    saved_charlm s;
    charlm_make(&s, EL_CELL_GRU, 1);
    el_tensor extra = {0};
    EL_TEST_OK(el_tensor_ensure(&extra, 1, (int[]){3}));
    const char *names[] = {"train.state.h", "optimizer.fc.weight.exp_avg", "fc.extra"};
    for (int i = 0; i < 3; i++) {
        el_checkpoint_writer *w = NULL;
        EL_TEST_OK(el_checkpoint_writer_create(&w));
        EL_TEST_OK(el_checkpoint_add_charlm(w, &s.model, s.vocab));
        EL_TEST_OK(el_checkpoint_add(w, names[i], &extra));
        EL_TEST_OK(el_checkpoint_write(w, path));
        el_checkpoint_writer_free(w);
        el_checkpoint *c = read_back();
        el_charlm m;
        el_vocab *vocab = NULL;
        if (i < 2) {
            EL_TEST_OK(el_charlm_load(&m, c, &vocab));
            el_charlm_free(&m);
            el_vocab_free(vocab);
        } else {
            EL_TEST_FAILS(el_charlm_load(&m, c, &vocab), EL_ERR_FORMAT);
            assert_message_has("tensor 'fc.extra' is none of the model's");
        }
        el_checkpoint_free(c);
    }
    el_tensor_free(&extra);
    charlm_free(&s);
}

Test(model_file, a_file_without_a_kind_is_refused)
{
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_write(w, path));
    el_checkpoint_writer_free(w);
    el_checkpoint *c = read_back();
    el_charlm m;
    el_vocab *vocab = NULL;
    EL_TEST_FAILS(el_charlm_load(&m, c, &vocab), EL_ERR_FORMAT);
    assert_message_has("not an elman charlm model (no \"elman.kind\" in its metadata)");
    el_seq2seq s;
    el_vocab *target = NULL;
    EL_TEST_FAILS(el_seq2seq_load(&s, c, &vocab, &target), EL_ERR_FORMAT);
    assert_message_has("not an elman seq2seq model");
    el_checkpoint_free(c);
}

Test(model_file, saving_refuses_a_vocabulary_of_another_size)
{
    saved_charlm s;
    charlm_make(&s, EL_CELL_GRU, 1);
    el_vocab *other = make_vocab("abc");
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_FAILS(el_checkpoint_add_charlm(w, &s.model, other), EL_ERR_INVALID);
    assert_message_has("el_checkpoint_add_charlm: the vocabulary has 7 ids");
    el_checkpoint_writer_free(w);
    el_vocab_free(other);
    charlm_free(&s);
}

/* ---- seq2seq ----------------------------------------------------------- */

/* target NULL: the source vocabulary serves both sides. */
static el_seq2seq seq2seq_make(const el_vocab *source, const el_vocab *target, el_cell cell,
                               int bidirectional)
{
    el_seq2seq_config config = {cell,
                                el_vocab_size(source),
                                el_vocab_size(target ? target : source),
                                5,
                                2,
                                bidirectional,
                                0.125f,
                                9,
                                EL_ATTENTION_NONE,
                                0};
    el_rng rng;
    el_rng_seed(&rng, 4);
    el_seq2seq m;
    EL_TEST_OK(el_seq2seq_init(&m, &config, &rng));
    return m;
}

static void seq2seq_save(el_seq2seq *m, const el_vocab *source, const el_vocab *target,
                         const char *key, const char *value)
{
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add_seq2seq(w, m, source, target));
    if (key) EL_TEST_OK(el_checkpoint_set_meta(w, key, value));
    EL_TEST_OK(el_checkpoint_write(w, path));
    el_checkpoint_writer_free(w);
}

/* c loads as saved: the same configuration, vocabularies (source, and
 * target, or source for both when target is NULL; the target the caller's
 * own) and parameters. */
static void assert_loads_as(const el_checkpoint *c, el_seq2seq *saved, const el_vocab *source,
                            const el_vocab *target)
{
    el_seq2seq m;
    el_vocab *loaded = NULL, *loaded_target = NULL;
    EL_TEST_OK(el_seq2seq_load(&m, c, &loaded, &loaded_target));
    cr_assert(memcmp(&m.config, &saved->config, sizeof m.config) == 0, "the configuration differs");
    assert_same_vocab(loaded, source);
    assert_same_vocab(loaded_target, target ? target : source);
    cr_assert_neq(loaded, loaded_target, "the target vocabulary is not the caller's own");
    el_param_list got = {0}, want = {0};
    EL_TEST_OK(el_seq2seq_params(&m, &got));
    EL_TEST_OK(el_seq2seq_params(saved, &want));
    assert_same_params(&got, &want);
    el_param_list_free(&got);
    el_param_list_free(&want);
    el_seq2seq_free(&m);
    el_vocab_free(loaded);
    el_vocab_free(loaded_target);
}

/* saved, written with key set to value, is refused with part in the
 * message, and nothing is handed out. */
static void assert_refused(el_seq2seq *saved, el_vocab *source, el_vocab *target, const char *key,
                           const char *value, const char *part)
{
    seq2seq_save(saved, source, target, key, value);
    el_checkpoint *c = read_back();
    el_seq2seq m;
    el_vocab *loaded = source, *loaded_target = source;
    EL_TEST_FAILS(el_seq2seq_load(&m, c, &loaded, &loaded_target), EL_ERR_FORMAT);
    assert_message_has(dir);
    assert_message_has(part);
    cr_assert_null(loaded);
    cr_assert_null(loaded_target);
    cr_assert_null(m.cache, "a refused model was handed out");
    el_checkpoint_free(c);
}

Test(model_file, a_seq2seq_round_trips_under_the_programs_keys)
{
    el_vocab *vocab = make_vocab("reversed words");
    el_vocab *phones = make_vocab("r iy v er s t");
    for (int bidirectional = 0; bidirectional <= 1; bidirectional++) {
        /* One shared vocabulary (as 0.2.0 wrote), then separate ones. */
        const el_vocab *target = bidirectional ? phones : NULL;
        el_seq2seq saved = seq2seq_make(vocab, target, EL_CELL_LSTM, bidirectional);
        seq2seq_save(&saved, vocab, target, NULL, NULL);
        el_checkpoint *c = read_back();
        cr_assert_str_eq(meta(c, "elman.kind"), "seq2seq");
        cr_assert_str_eq(meta(c, "seq2seq.cell"), "lstm");
        cr_assert_str_eq(meta(c, "seq2seq.hidden"), "5");
        cr_assert_str_eq(meta(c, "seq2seq.layers"), "2");
        cr_assert_str_eq(meta(c, "seq2seq.bidirectional"), bidirectional ? "1" : "0");
        cr_assert_str_eq(meta(c, "seq2seq.dropout"), "0.125");
        cr_assert_str_eq(meta(c, "seq2seq.padded_steps"), "9");
        cr_assert_str_eq(meta(c, "seq2seq.attention"), "none");
        cr_assert_str_eq(meta(c, "seq2seq.embedding_size"), "0");
        cr_assert_eq(el_checkpoint_meta(c, "seq2seq.target_vocab") != NULL, target != NULL);
        assert_loads_as(c, &saved, vocab, target);
        el_checkpoint_free(c);
        el_seq2seq_free(&saved);
    }
    el_vocab_free(vocab);
    el_vocab_free(phones);
}

static void seq2seq_refused(const char *key, const char *value, const char *part)
{
    el_vocab *vocab = make_vocab("reversed words");
    el_seq2seq saved = seq2seq_make(vocab, NULL, EL_CELL_GRU, 1);
    assert_refused(&saved, vocab, NULL, key, value, part);
    el_seq2seq_free(&saved);
    el_vocab_free(vocab);
    el_test_assert_no_leaks();
}

Test(model_file, an_inconsistent_seq2seq_is_refused_with_one_message)
{
    seq2seq_refused("elman.kind", "charlm", "a charlm model, not a seq2seq model");
    seq2seq_refused("seq2seq.bidirectional", "0", "_l0_reverse' is none of the model's");
    seq2seq_refused("seq2seq.bidirectional", "2", "not true or false");
    seq2seq_refused("seq2seq.padded_steps", "-1", "\"seq2seq.padded_steps\" is -1");
    seq2seq_refused("seq2seq.hidden", "4", "tensor 'decoder.fc.weight' is not");
    seq2seq_refused("seq2seq.layers", "5",
                    "encoder.gru.weight_hh_l2' (the metadata says 5 layers)");
    seq2seq_refused("seq2seq.cell", "rnn", "no tensor 'encoder.rnn.weight_hh_l0'");
    seq2seq_refused("seq2seq.attention", "luong", "unknown attention 'luong'");
    seq2seq_refused("seq2seq.target_vocab", "[1, 2", "its target vocabulary");
    /* A target vocabulary of another size than the output layer's. */
    el_vocab *small = make_vocab("ab");
    char *json = NULL;
    EL_TEST_OK(el_vocab_to_json(small, &json));
    seq2seq_refused("seq2seq.target_vocab", json, "tensor 'decoder.fc.weight' is not");
    el_vocab_json_free(json);
    el_vocab_free(small);
}

/* With attention and embeddings, and separate vocabularies. */
static el_seq2seq attention_make(const el_vocab *source, const el_vocab *target,
                                 el_attention attention)
{
    el_seq2seq_config config = {
        EL_CELL_GRU, el_vocab_size(source), el_vocab_size(target), 5, 1, 1, 0.0f, 0, attention, 3};
    el_rng rng;
    el_rng_seed(&rng, 5);
    el_seq2seq m;
    EL_TEST_OK(el_seq2seq_init(&m, &config, &rng));
    return m;
}

Test(model_file, a_seq2seq_with_attention_round_trips)
{
    el_vocab *source = make_vocab("reversed words");
    el_vocab *target = make_vocab("r iy v er s t");
    for (el_attention a = EL_ATTENTION_ADDITIVE; a <= EL_ATTENTION_GENERAL; a++) {
        el_seq2seq saved = attention_make(source, target, a);
        seq2seq_save(&saved, source, target, NULL, NULL);
        el_checkpoint *c = read_back();
        cr_assert_str_eq(meta(c, "seq2seq.attention"), el_attention_name(a));
        cr_assert_str_eq(meta(c, "seq2seq.embedding_size"), "3");
        assert_loads_as(c, &saved, source, target);
        el_checkpoint_free(c);
        el_seq2seq_free(&saved);
    }
    el_vocab_free(source);
    el_vocab_free(target);
}

static void attention_refused(const char *key, const char *value, const char *part)
{
    el_vocab *source = make_vocab("reversed words");
    el_vocab *target = make_vocab("r iy v er s t");
    el_seq2seq saved = attention_make(source, target, EL_ATTENTION_ADDITIVE);
    assert_refused(&saved, source, target, key, value, part);
    el_seq2seq_free(&saved);
    el_vocab_free(source);
    el_vocab_free(target);
    el_test_assert_no_leaks();
}

Test(model_file, a_seq2seq_with_inconsistent_attention_is_refused)
{
    attention_refused("seq2seq.attention", "general", "is none of the model's");
    attention_refused("seq2seq.attention", "none", "is none of the model's");
    attention_refused("seq2seq.attention", "bahdanau", "unknown attention 'bahdanau'");
    attention_refused("seq2seq.embedding_size", "4096",
                      "tensor 'encoder.embedding.weight' is not 12x4096");
    attention_refused("seq2seq.embedding_size", "0", "'decoder.embedding.weight' is none");
}

/* ---- a model of one's own ---------------------------------------------- */

Test(model_file, a_custom_model_saves_its_kind_vocabulary_and_settings)
{
    el_vocab *vocab = make_vocab("custom");
    el_param p;
    EL_TEST_OK(el_param_init(&p, "mine", "weight", 2, (int[]){2, 3}));
    el_param_list list = {0};
    EL_TEST_OK(el_param_list_add(&list, &p));
    el_checkpoint_writer *w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_add_params(w, &list));
    EL_TEST_OK(el_checkpoint_set_kind(w, "mine"));
    EL_TEST_OK(el_checkpoint_set_vocab(w, vocab));
    EL_TEST_OK(el_checkpoint_set_float(w, "mine.lr", 0.003f));
    EL_TEST_OK(el_checkpoint_write(w, path));
    el_checkpoint_writer_free(w);

    el_checkpoint *c = read_back();
    EL_TEST_OK(el_checkpoint_check_kind(c, "mine"));
    EL_TEST_FAILS(el_checkpoint_check_kind(c, "charlm"), EL_ERR_FORMAT);
    assert_message_has("a mine model, not a charlm model");
    el_vocab *loaded = NULL;
    EL_TEST_OK(el_checkpoint_get_vocab(c, &loaded));
    assert_same_vocab(loaded, vocab);
    el_vocab_free(loaded);
    cr_assert_str_eq(meta(c, "mine.lr"), "0.003");
    el_charlm m;
    el_vocab *none = vocab;
    EL_TEST_FAILS(el_charlm_load(&m, c, &none), EL_ERR_FORMAT);
    cr_assert_null(none);
    el_checkpoint_free(c);

    w = NULL;
    EL_TEST_OK(el_checkpoint_writer_create(&w));
    EL_TEST_OK(el_checkpoint_set_meta(w, "elman.vocab", "[1, 2"));
    EL_TEST_OK(el_checkpoint_write(w, path));
    el_checkpoint_writer_free(w);
    c = read_back();
    loaded = vocab;
    EL_TEST_FAILS(el_checkpoint_get_vocab(c, &loaded), EL_ERR_FORMAT);
    assert_message_has("model.st: its vocabulary: ");
    cr_assert_null(loaded);
    el_checkpoint_free(c);

    el_param_list_free(&list);
    el_param_free(&p);
    el_vocab_free(vocab);
}
