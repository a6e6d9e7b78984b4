/* Checkpoints written by elman 0.1.0 still load: tests/fixtures keeps a
 * seq2seq and a character language model that 0.1.0's programs trained
 * (hidden 4, seven letters; tests/apps/compat.sh says how).  Each is read
 * with the current library into a model of the configuration its metadata
 * names, every parameter is found, and a forward pass gives a finite loss.
 * tests/apps/compat.sh checks that the programs give 0.1.0's outputs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elman/elman.h"
#include "support.h"

static el_checkpoint *read_fixture(const char *file, const char *kind)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", EL_FIXTURE_DIR, file);
    el_checkpoint *c = NULL;
    EL_TEST_OK(el_checkpoint_read(&c, path));
    const char *saved_kind = el_checkpoint_meta(c, "elman.kind");
    cr_assert(saved_kind && strcmp(saved_kind, kind) == 0, "%s: elman.kind", file);
    return c;
}

static int meta_int(const el_checkpoint *c, const char *key)
{
    const char *v = el_checkpoint_meta(c, key);
    cr_assert_not_null(v, "no %s", key);
    return atoi(v);
}

static el_cell meta_cell(const el_checkpoint *c, const char *key)
{
    el_cell cell;
    const char *v = el_checkpoint_meta(c, key);
    cr_assert_not_null(v, "no %s", key);
    EL_TEST_OK(el_cell_parse(v, &cell));
    return cell;
}

static el_vocab *meta_vocab(const el_checkpoint *c)
{
    const char *json = el_checkpoint_meta(c, "elman.vocab");
    cr_assert_not_null(json);
    el_vocab *v = NULL;
    EL_TEST_OK(el_vocab_from_json(&v, json));
    return v;
}

/* The ids of text; every character must be in the vocabulary. */
static void encode(const el_vocab *v, const char *text, el_ids *ids)
{
    el_ids_clear(ids);
    EL_TEST_OK(el_vocab_encode_text(v, text, strlen(text), ids, 0));
    for (size_t i = 0; i < ids->count; i++) cr_assert_neq(ids->data[i], EL_UNK, "%s", text);
}

/* Every parameter loaded, and not left at zero. */
static void assert_loaded(const el_param_list *list)
{
    cr_assert_gt(list->count, 0);
    for (int i = 0; i < list->count; i++) {
        const el_param *p = list->items[i];
        cr_assert_gt(el_norm(&p->value), 0, "%s was not loaded", p->name);
    }
}

Test(compat, a_charlm_of_0_1_0_loads_and_runs)
{
    el_checkpoint *c = read_fixture("v0.1.0-charlm.safetensors", "charlm");
    el_vocab *vocab = meta_vocab(c);
    el_charlm_config config = {
        .cell = meta_cell(c, "charlm.cell"),
        .vocab_size = el_vocab_size(vocab),
        .hidden_size = meta_int(c, "charlm.hidden"),
        .num_layers = meta_int(c, "charlm.layers"),
    };
    cr_assert_eq(config.hidden_size, 4);
    el_charlm model;
    EL_TEST_OK(el_charlm_init(&model, &config, NULL));
    el_param_list params = {0};
    EL_TEST_OK(el_charlm_params(&model, &params));
    EL_TEST_OK(el_checkpoint_load_params(c, &params));
    assert_loaded(&params);

    el_ids ids = {0};
    encode(vocab, "bad cab face fade deaf", &ids);
    int steps = (int)ids.count - 1;
    el_charlm_state state = {0};
    double loss_sum = 0;
    long count = 0;
    el_charlm_set_training(&model, 0);
    EL_TEST_OK(
        el_charlm_loss_of(&model, ids.data, ids.data + 1, steps, 1, &state, &loss_sum, &count));
    cr_assert_eq(count, steps);
    cr_assert(isfinite(loss_sum) && loss_sum > 0, "loss %g", loss_sum);
    /* Trained, it predicts this text better than a uniform guess would. */
    cr_assert_lt(loss_sum / count, log((double)config.vocab_size));

    el_ids_free(&ids);
    el_charlm_state_free(&state);
    el_param_list_free(&params);
    el_charlm_free(&model);
    el_vocab_free(vocab);
    el_checkpoint_free(c);
}

Test(compat, a_seq2seq_of_0_1_0_loads_and_runs)
{
    el_checkpoint *c = read_fixture("v0.1.0-seq2seq.safetensors", "seq2seq");
    el_vocab *vocab = meta_vocab(c);
    el_seq2seq_config config = {
        .cell = meta_cell(c, "seq2seq.cell"),
        .source_vocab_size = el_vocab_size(vocab),
        .target_vocab_size = el_vocab_size(vocab),
        .hidden_size = meta_int(c, "seq2seq.hidden"),
        .num_layers = meta_int(c, "seq2seq.layers"),
        .bidirectional = meta_int(c, "seq2seq.bidirectional"),
        .padded_steps = meta_int(c, "seq2seq.padded_steps"),
    };
    cr_assert_eq(config.hidden_size, 4);
    el_seq2seq model;
    EL_TEST_OK(el_seq2seq_init(&model, &config, NULL));
    el_param_list params = {0};
    EL_TEST_OK(el_seq2seq_params(&model, &params));
    EL_TEST_OK(el_checkpoint_load_params(c, &params));
    assert_loaded(&params);

    /* One example: "gfedcba" reversed back into "abcdefg". */
    el_ids source = {0}, target = {0};
    encode(vocab, "gfedcba", &source);
    encode(vocab, "abcdefg", &target);
    int length = (int)source.count;
    el_batch batch = {
        .size = 1,
        .input_steps = length,
        .target_steps = length,
        .inputs = source.data,
        .input_lengths = &length,
        .targets = target.data,
        .target_lengths = &length,
        .index = (int[]){0},
    };
    float loss = NAN;
    el_seq2seq_set_training(&model, 0);
    EL_TEST_OK(el_seq2seq_loss_of(&model, &batch, &loss));
    cr_assert(isfinite(loss) && loss > 0, "loss %g", loss);
    el_ids out = {0};
    EL_TEST_OK(el_seq2seq_decode(&model, &batch, 1, 12, &out));
    cr_assert_gt(out.count, 0);
    for (size_t i = 0; i < out.count; i++)
        cr_assert(out.data[i] >= 0 && out.data[i] < config.target_vocab_size, "id %d", out.data[i]);

    el_ids_free(&out);
    el_ids_free(&source);
    el_ids_free(&target);
    el_param_list_free(&params);
    el_seq2seq_free(&model);
    el_vocab_free(vocab);
    el_checkpoint_free(c);
}
