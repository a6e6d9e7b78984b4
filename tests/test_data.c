/* Datasets and batches (data.h): the loader's order, padding and layout,
 * the seeded split, the word list read from UTF-8 text, and
 * ReverseWordDataset's direction (input reversed, target forwards).
 *
 * One file of over 700 lines: the text layer's data side (loader, split,
 * word lists, labelled sequences, files) shares the toy dataset and the
 * out-of-memory sweep at its top. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, for the files el_words_read reads */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/internal.h"
#include "support.h"

static void assert_message_has(const char *part)
{
    cr_assert(strstr(el_last_error(), part) != NULL, "message \"%s\" lacks \"%s\"", el_last_error(),
              part);
}

/* ---- a small dataset of known contents --------------------------------- */

enum { TOY_MAX = 64, TOY_STEPS = 9 };

/* Example i: input of 1 + i % 4 steps (one example of TOY_STEPS when long_one
 * names it), values 1000 i + t + 1; target of 1 + 2i % 5 steps, values
 * -(1000 i + t + 1).  No value equals the pads the tests use. */
typedef struct toy {
    int count;
    int fail_at;  /* get fails for this index (-1: never) */
    int long_one; /* the index given TOY_STEPS input steps (-1: none) */
    int grow;     /* every input is this many steps longer than at creation */
    int input[TOY_STEPS + 1], target[TOY_STEPS + 1];
} toy;

static int toy_input_length(const toy *d, int i)
{
    return (i == d->long_one ? TOY_STEPS : 1 + i % 4) + d->grow;
}

static int toy_target_length(int i) { return 1 + 2 * i % 5; }
static int toy_input_value(int i, int t) { return 1000 * i + t + 1; }
static int toy_target_value(int i, int t) { return -(1000 * i + t + 1); }

static int toy_count(void *self) { return ((toy *)self)->count; }

static el_status toy_get(void *self, int i, el_example *out)
{
    toy *d = self;
    if (i == d->fail_at) return el__fail(EL_ERR_FORMAT, "toy: example %d is broken", i);
    cr_assert(i >= 0 && i < d->count, "the loader asked for example %d of %d", i, d->count);
    out->input_length = toy_input_length(d, i);
    out->target_length = toy_target_length(i);
    for (int t = 0; t < out->input_length; t++) d->input[t] = toy_input_value(i, t);
    for (int t = 0; t < out->target_length; t++) d->target[t] = toy_target_value(i, t);
    out->input = d->input;
    out->target = d->target;
    return EL_OK;
}

static toy make_toy(int count) { return (toy){.count = count, .fail_at = -1, .long_one = -1}; }

static el_dataset toy_dataset(toy *d) { return (el_dataset){d, toy_count, toy_get}; }

static el_loader *make_loader(toy *d, int batch_size, int shuffle, uint64_t seed, int drop_last)
{
    el_dataset ds = toy_dataset(d);
    el_loader_config config = {batch_size, shuffle, seed, drop_last, -7};
    el_loader *loader = NULL;
    EL_TEST_OK(el_loader_create(&loader, &ds, &config));
    return loader;
}

static const el_batch *next_batch(el_loader *loader)
{
    const el_batch *batch = NULL;
    EL_TEST_OK(el_loader_next(loader, &batch));
    return batch;
}

/* The dataset indices of one epoch, in the order the batches give them. */
static int epoch_order(el_loader *loader, long epoch, int *order)
{
    EL_TEST_OK(el_loader_start(loader, epoch));
    int n = 0;
    for (const el_batch *b; (b = next_batch(loader)) != NULL;)
        for (int i = 0; i < b->size; i++) order[n++] = b->index[i];
    return n;
}

/* ---- loader ------------------------------------------------------------ */

Test(loader, every_example_once_per_epoch)
{
    toy d = make_toy(23);
    el_loader *loader = make_loader(&d, 5, 1, 42, 0);
    cr_assert_eq(el_loader_batches(loader), 5);
    for (long epoch = 0; epoch < 3; epoch++) {
        int order[TOY_MAX], seen[TOY_MAX] = {0};
        cr_assert_eq(epoch_order(loader, epoch, order), 23);
        for (int i = 0; i < 23; i++) seen[order[i]]++;
        for (int i = 0; i < 23; i++)
            cr_assert_eq(seen[i], 1, "epoch %ld saw example %d %d times", epoch, i, seen[i]);
    }
    el_loader_free(loader);
}

Test(loader, order_is_a_function_of_seed_and_epoch)
{
    toy d = make_toy(20);
    el_loader *a = make_loader(&d, 6, 1, 7, 0), *b = make_loader(&d, 6, 1, 7, 0);
    el_loader *other_seed = make_loader(&d, 6, 1, 8, 0);
    int a0[TOY_MAX], a1[TOY_MAX], b1[TOY_MAX], b0[TOY_MAX], c0[TOY_MAX], again[TOY_MAX];
    epoch_order(a, 0, a0);
    epoch_order(a, 1, a1);
    /* b runs epoch 1 first: the order does not depend on what came before. */
    epoch_order(b, 1, b1);
    epoch_order(b, 0, b0);
    epoch_order(other_seed, 0, c0);
    epoch_order(a, 0, again);
    cr_assert_arr_eq(a0, b0, sizeof(int) * 20, "same seed and epoch, another loader");
    cr_assert_arr_eq(a1, b1, sizeof(int) * 20, "same seed and epoch, another loader");
    cr_assert_arr_eq(a0, again, sizeof(int) * 20, "epoch 0 restarted");
    cr_assert_arr_neq(a0, a1, sizeof(int) * 20, "epochs 0 and 1 gave the same order");
    cr_assert_arr_neq(a0, c0, sizeof(int) * 20, "seeds 7 and 8 gave the same order");
    int identity = 1;
    for (int i = 0; i < 20; i++) identity &= a0[i] == i;
    cr_assert_not(identity, "a shuffled epoch came in dataset order");
    el_loader_free(a);
    el_loader_free(b);
    el_loader_free(other_seed);
}

Test(loader, shuffle_off_keeps_dataset_order)
{
    toy d = make_toy(11);
    el_loader *loader = make_loader(&d, 4, 0, 42, 0);
    for (long epoch = 0; epoch < 2; epoch++) {
        int order[TOY_MAX];
        cr_assert_eq(epoch_order(loader, epoch, order), 11);
        for (int i = 0; i < 11; i++) cr_assert_eq(order[i], i, "epoch %ld", epoch);
    }
    el_loader_free(loader);
}

static void check_sizes(el_loader *loader, const int *want, int n)
{
    EL_TEST_OK(el_loader_start(loader, 0));
    for (int i = 0; i < n; i++) {
        const el_batch *b = next_batch(loader);
        cr_assert_not_null(b, "batch %d missing", i);
        cr_assert_eq(b->size, want[i], "batch %d has %d examples, expected %d", i, b->size,
                     want[i]);
    }
    cr_assert_null(next_batch(loader), "a batch after the last");
    cr_assert_null(next_batch(loader), "the end stays the end");
}

Test(loader, partial_last_batch_kept_or_dropped)
{
    toy d = make_toy(10);
    el_loader *keep = make_loader(&d, 4, 1, 1, 0), *drop = make_loader(&d, 4, 1, 1, 1);
    cr_assert_eq(el_loader_batches(keep), 3);
    cr_assert_eq(el_loader_batches(drop), 2);
    check_sizes(keep, (int[]){4, 4, 2}, 3);
    check_sizes(drop, (int[]){4, 4}, 2);
    el_loader_free(keep);
    el_loader_free(drop);

    /* A dataset the batch size divides has no partial batch to drop. */
    d = make_toy(8);
    drop = make_loader(&d, 4, 0, 1, 1);
    cr_assert_eq(el_loader_batches(drop), 2);
    check_sizes(drop, (int[]){4, 4}, 2);
    el_loader_free(drop);

    /* Fewer examples than a batch: one partial batch, or none. */
    d = make_toy(3);
    keep = make_loader(&d, 4, 0, 1, 0);
    drop = make_loader(&d, 4, 0, 1, 1);
    check_sizes(keep, (int[]){3}, 1);
    check_sizes(drop, NULL, 0);
    el_loader_free(keep);
    el_loader_free(drop);
}

/* Checks every cell of a time-major batch against the toy's contents. */
static void check_batch_contents(const toy *d, const el_batch *b)
{
    int input_steps = 0, target_steps = 0;
    for (int j = 0; j < b->size; j++) {
        int i = b->index[j];
        cr_assert_eq(b->input_lengths[j], toy_input_length(d, i), "example %d", i);
        cr_assert_eq(b->target_lengths[j], toy_target_length(i), "example %d", i);
        if (b->input_lengths[j] > input_steps) input_steps = b->input_lengths[j];
        if (b->target_lengths[j] > target_steps) target_steps = b->target_lengths[j];
    }
    cr_assert_eq(b->input_steps, input_steps, "padded to the batch's own longest input");
    cr_assert_eq(b->target_steps, target_steps, "padded to the batch's own longest target");
    for (int j = 0; j < b->size; j++) {
        int i = b->index[j];
        for (int t = 0; t < b->input_steps; t++) {
            int want = t < b->input_lengths[j] ? toy_input_value(i, t) : -7;
            cr_assert_eq(b->inputs[t * b->size + j], want, "inputs[t=%d, b=%d]", t, j);
        }
        for (int t = 0; t < b->target_steps; t++) {
            int want = t < b->target_lengths[j] ? toy_target_value(i, t) : -7;
            cr_assert_eq(b->targets[t * b->size + j], want, "targets[t=%d, b=%d]", t, j);
        }
    }
}

Test(loader, time_major_padded_batches)
{
    toy d = make_toy(13);
    d.long_one = 12; /* in the last batch only, with shuffle off */
    el_loader *loader = make_loader(&d, 4, 0, 3, 0);
    EL_TEST_OK(el_loader_start(loader, 0));
    const el_batch *b = next_batch(loader);
    cr_assert_eq(b->size, 4);
    /* Examples 0..3 have inputs of 1..4 steps and targets of 1, 3, 5, 2. */
    cr_assert_eq(b->input_steps, 4, "not padded to the dataset's longest (%d)", TOY_STEPS);
    cr_assert_eq(b->target_steps, 5);
    cr_assert_eq(b->inputs[0 * 4 + 1], toy_input_value(1, 0));
    cr_assert_eq(b->inputs[1 * 4 + 1], toy_input_value(1, 1));
    cr_assert_eq(b->inputs[2 * 4 + 1], -7, "example 1 has 2 steps: step 2 is padding");
    cr_assert_eq(b->inputs[1 * 4 + 0], -7, "example 0 has 1 step: step 1 is padding");
    check_batch_contents(&d, b);
    for (int i = 1; i < 4; i++) {
        b = next_batch(loader);
        check_batch_contents(&d, b);
    }
    cr_assert_eq(b->size, 1);
    cr_assert_eq(b->input_steps, TOY_STEPS, "the last batch holds the long example");
    cr_assert_null(next_batch(loader));

    /* The same holds for shuffled batches. */
    el_loader *shuffled = make_loader(&d, 5, 1, 3, 0);
    EL_TEST_OK(el_loader_start(shuffled, 4));
    while ((b = next_batch(shuffled)) != NULL) check_batch_contents(&d, b);
    el_loader_free(shuffled);
    el_loader_free(loader);
}

Test(loader, buffers_never_move)
{
    toy d = make_toy(17);
    d.long_one = 9;
    el_loader *loader = make_loader(&d, 4, 1, 5, 0);
    EL_TEST_OK(el_loader_start(loader, 0));
    const el_batch *first = next_batch(loader);
    const int *inputs = first->inputs, *targets = first->targets, *index = first->index;
    const int *input_lengths = first->input_lengths, *target_lengths = first->target_lengths;
    for (long epoch = 0; epoch < 3; epoch++) {
        if (epoch > 0) EL_TEST_OK(el_loader_start(loader, epoch));
        for (const el_batch *b = epoch ? next_batch(loader) : first; b; b = next_batch(loader)) {
            cr_assert_eq(b->inputs, inputs, "epoch %ld: inputs moved", epoch);
            cr_assert_eq(b->targets, targets, "epoch %ld: targets moved", epoch);
            cr_assert_eq(b->index, index, "epoch %ld: index moved", epoch);
            cr_assert_eq(b->input_lengths, input_lengths);
            cr_assert_eq(b->target_lengths, target_lengths);
        }
    }
    el_loader_free(loader);
}

Test(loader, failing_dataset_passes_its_status_on)
{
    toy d = make_toy(9);
    d.fail_at = 6;
    el_dataset ds = toy_dataset(&d);
    el_loader_config config = {4, 0, 1, 0, 0};
    el_loader *loader = (el_loader *)&d;
    EL_TEST_FAILS(el_loader_create(&loader, &ds, &config), EL_ERR_FORMAT);
    cr_assert_null(loader);
    assert_message_has("toy: example 6 is broken");
    assert_message_has("el_loader_create");

    /* The same failure met during an epoch: the batch holding it fails. */
    d.fail_at = -1;
    loader = make_loader(&d, 4, 0, 1, 0);
    d.fail_at = 6;
    EL_TEST_OK(el_loader_start(loader, 0));
    cr_assert_not_null(next_batch(loader));
    const el_batch *b = (const el_batch *)&d;
    EL_TEST_FAILS(el_loader_next(loader, &b), EL_ERR_FORMAT);
    cr_assert_null(b);
    assert_message_has("toy: example 6 is broken");
    el_loader_free(loader);
}

Test(loader, example_longer_than_at_creation_is_refused)
{
    toy d = make_toy(5);
    el_loader *loader = make_loader(&d, 2, 0, 1, 0);
    d.grow = 4; /* example 0 now has 5 steps; the longest had 4 */
    EL_TEST_OK(el_loader_start(loader, 0));
    const el_batch *b;
    EL_TEST_FAILS(el_loader_next(loader, &b), EL_ERR_STATE);
    assert_message_has("longer");
    el_loader_free(loader);
}

Test(loader, calls_out_of_order_and_bad_arguments)
{
    toy d = make_toy(5);
    el_dataset ds = toy_dataset(&d);
    el_loader_config config = {0, 0, 1, 0, 0};
    el_loader *loader = NULL;
    EL_TEST_FAILS(el_loader_create(&loader, &ds, &config), EL_ERR_INVALID);
    assert_message_has("batch_size");
    config.batch_size = 2;
    EL_TEST_FAILS(el_loader_create(NULL, &ds, &config), EL_ERR_INVALID);
    EL_TEST_FAILS(el_loader_create(&loader, NULL, &config), EL_ERR_INVALID);
    EL_TEST_FAILS(el_loader_create(&loader, &ds, NULL), EL_ERR_INVALID);
    el_dataset no_get = {&d, toy_count, NULL};
    EL_TEST_FAILS(el_loader_create(&loader, &no_get, &config), EL_ERR_INVALID);

    EL_TEST_OK(el_loader_create(&loader, &ds, &config));
    const el_batch *b = (const el_batch *)&d;
    EL_TEST_FAILS(el_loader_next(loader, &b), EL_ERR_STATE);
    cr_assert_null(b);
    assert_message_has("el_loader_start");
    EL_TEST_FAILS(el_loader_start(loader, -1), EL_ERR_INVALID);
    EL_TEST_FAILS(el_loader_start(NULL, 0), EL_ERR_INVALID);
    EL_TEST_FAILS(el_loader_next(NULL, &b), EL_ERR_INVALID);
    EL_TEST_FAILS(el_loader_next(loader, NULL), EL_ERR_INVALID);
    cr_assert_eq(el_loader_batches(NULL), 0);
    el_loader_free(loader);
    el_loader_free(NULL);
}

Test(loader, empty_dataset_has_no_batches)
{
    toy d = make_toy(0);
    el_loader *loader = make_loader(&d, 3, 1, 1, 0);
    cr_assert_eq(el_loader_batches(loader), 0);
    EL_TEST_OK(el_loader_start(loader, 0));
    cr_assert_null(next_batch(loader));
    el_loader_free(loader);
}

/* ---- split ------------------------------------------------------------- */

/* Asserts the three parts hold each of 0..count-1 exactly once. */
static void assert_partition(int count, const el_ids *a, const el_ids *b, const el_ids *c)
{
    int seen[256] = {0};
    const el_ids *parts[] = {a, b, c};
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < parts[p]->count; i++) {
            int id = parts[p]->data[i];
            cr_assert(id >= 0 && id < count, "index %d is outside 0..%d", id, count - 1);
            seen[id]++;
        }
    for (int i = 0; i < count; i++) cr_assert_eq(seen[i], 1, "index %d in %d parts", i, seen[i]);
}

static void free_split(el_ids *a, el_ids *b, el_ids *c)
{
    el_ids_free(a);
    el_ids_free(b);
    el_ids_free(c);
}

Test(split, sizes_disjoint_and_covering)
{
    el_ids train = {0}, validation = {0}, test = {0};
    EL_TEST_OK(el_split(100, 42, 0.1, 0.2, &train, &validation, &test));
    cr_assert_eq(train.count, 70);
    cr_assert_eq(validation.count, 10);
    cr_assert_eq(test.count, 20);
    assert_partition(100, &train, &validation, &test);

    /* The notebook's cut, int(0.05 * N): 296,863 words give 14,843 test. */
    EL_TEST_OK(el_split(296863, 42, 0, 0.05, &train, &validation, &test));
    cr_assert_eq(test.count, 14843);
    cr_assert_eq(validation.count, 0);
    cr_assert_eq(train.count, 282020);

    /* The floor: 0.25 of 7 is 1.75, one index. */
    EL_TEST_OK(el_split(7, 1, 0.25, 0.25, &train, &validation, &test));
    cr_assert_eq(validation.count, 1);
    cr_assert_eq(test.count, 1);
    cr_assert_eq(train.count, 5);
    assert_partition(7, &train, &validation, &test);
    free_split(&train, &validation, &test);
}

Test(split, deterministic_by_seed_and_shuffled)
{
    el_ids a[3] = {{0}}, b[3] = {{0}}, c[3] = {{0}};
    EL_TEST_OK(el_split(50, 9, 0.2, 0.2, &a[0], &a[1], &a[2]));
    EL_TEST_OK(el_split(50, 9, 0.2, 0.2, &b[0], &b[1], &b[2]));
    EL_TEST_OK(el_split(50, 10, 0.2, 0.2, &c[0], &c[1], &c[2]));
    for (int p = 0; p < 3; p++) {
        cr_assert_eq(a[p].count, b[p].count);
        cr_assert_arr_eq(a[p].data, b[p].data, a[p].count * sizeof(int), "part %d", p);
    }
    cr_assert_arr_neq(a[0].data, c[0].data, a[0].count * sizeof(int), "seeds 9 and 10 agree");
    int sorted = 1;
    for (size_t i = 1; i < a[0].count; i++) sorted &= a[0].data[i] > a[0].data[i - 1];
    cr_assert_not(sorted, "the training indices came unshuffled");
    free_split(&a[0], &a[1], &a[2]);
    free_split(&b[0], &b[1], &b[2]);
    free_split(&c[0], &c[1], &c[2]);
}

Test(split, replaces_previous_contents)
{
    el_ids train = {0}, validation = {0}, test = {0};
    EL_TEST_OK(el_split(40, 3, 0.25, 0.25, &train, &validation, &test));
    EL_TEST_OK(el_split(8, 3, 0.25, 0.25, &train, &validation, &test));
    cr_assert_eq(train.count + validation.count + test.count, 8);
    assert_partition(8, &train, &validation, &test);
    free_split(&train, &validation, &test);
}

/* A share of 0 needs no list, and the training indices are the same as
 * with one; a share above 0 without its list is refused. */
Test(split, unwanted_shares_take_null)
{
    el_ids train = {0}, validation = {0}, test = {0}, alone = {0};
    EL_TEST_OK(el_split(30, 5, 0, 0.2, &train, &validation, &test));
    EL_TEST_OK(el_split(30, 5, 0, 0.2, &alone, NULL, &test));
    cr_assert_eq(alone.count, train.count);
    cr_assert_arr_eq(alone.data, train.data, train.count * sizeof(int));
    EL_TEST_OK(el_split(30, 5, 0, 0, &alone, NULL, NULL));
    cr_assert_eq(alone.count, 30);
    EL_TEST_FAILS(el_split(30, 5, 0.1, 0, &alone, NULL, NULL), EL_ERR_INVALID);
    assert_message_has("validation_fraction is 0.1 but its list is NULL");
    cr_assert_eq(alone.count, 30, "a refused split changed the training list");
    free_split(&train, &validation, &test);
    el_ids_free(&alone);
}

Test(split, bad_fractions_refused)
{
    el_ids train = {0}, validation = {0}, test = {0};
    EL_TEST_FAILS(el_split(10, 1, -0.1, 0.1, &train, &validation, &test), EL_ERR_INVALID);
    assert_message_has("validation_fraction");
    EL_TEST_FAILS(el_split(10, 1, 0.1, 1.0, &train, &validation, &test), EL_ERR_INVALID);
    assert_message_has("test_fraction");
    EL_TEST_FAILS(el_split(10, 1, 0.5, 0.5, &train, &validation, &test), EL_ERR_INVALID);
    assert_message_has("nothing for training");
    EL_TEST_FAILS(el_split(10, 1, NAN, 0.1, &train, &validation, &test), EL_ERR_INVALID);
    EL_TEST_FAILS(el_split(-1, 1, 0.1, 0.1, &train, &validation, &test), EL_ERR_INVALID);
    EL_TEST_FAILS(el_split(10, 1, 0.1, 0.1, &train, &train, &test), EL_ERR_INVALID);
    EL_TEST_FAILS(el_split(10, 1, 0.1, 0.1, NULL, &validation, &test), EL_ERR_INVALID);
    cr_assert_null(train.data, "a refused split allocated");
    cr_assert_eq(train.count + validation.count + test.count, 0);
}

/* ---- labelled sequences and padding -------------------------------------- */

/* Three words of lengths 3, 1 and 2 with labels 2, 0, 1 batch into
 * time-major inputs padded with 0, and their labels as one-step targets. */
Test(labelled, batches_with_labels_as_targets)
{
    el_labelled *data;
    EL_TEST_OK(el_labelled_create(&data));
    EL_TEST_OK(el_labelled_add(data, (int[]){5, 6, 7}, 3, 2));
    EL_TEST_OK(el_labelled_add(data, (int[]){8}, 1, 0));
    EL_TEST_OK(el_labelled_add(data, (int[]){9, 10}, 2, 1));
    cr_assert_eq(el_labelled_count(data), 3);
    el_dataset ds = el_labelled_dataset(data);
    el_loader *loader;
    EL_TEST_OK(el_loader_create(&loader, &ds, &(el_loader_config){.batch_size = 3, .pad = 0}));
    EL_TEST_OK(el_loader_start(loader, 0));
    const el_batch *batch;
    EL_TEST_OK(el_loader_next(loader, &batch));
    cr_assert_not_null(batch);
    cr_assert_eq(batch->input_steps, 3);
    cr_assert_eq(batch->target_steps, 1);
    int inputs[] = {5, 8, 9, 6, 0, 10, 7, 0, 0};
    cr_assert_arr_eq(batch->inputs, inputs, sizeof inputs);
    cr_assert_arr_eq(batch->input_lengths, ((int[]){3, 1, 2}), 3 * sizeof(int));
    cr_assert_arr_eq(batch->targets, ((int[]){2, 0, 1}), 3 * sizeof(int));
    el_loader_free(loader);

    EL_TEST_FAILS(el_labelled_add(data, (int[]){1}, 0, 1), EL_ERR_INVALID);
    EL_TEST_FAILS(el_labelled_add(data, (int[]){1}, 1, -1), EL_ERR_INVALID);
    assert_message_has("label -1 is negative");
    cr_assert_eq(el_labelled_count(data), 3, "a refused example was added");
    el_labelled_free(data);
}

Test(labelled, pad_time_major_matches_the_loader)
{
    const int a[] = {5, 6, 7}, b[] = {8}, c[] = {9, 10};
    el_ids out = {0};
    int steps = -1;
    EL_TEST_OK(el_pad_time_major((const int *[]){a, b, c}, (int[]){3, 1, 2}, 3, 0, &out, &steps));
    cr_assert_eq(steps, 3);
    cr_assert_eq(out.count, 9);
    cr_assert_arr_eq(out.data, ((int[]){5, 8, 9, 6, 0, 10, 7, 0, 0}), 9 * sizeof(int));
    EL_TEST_OK(el_pad_time_major((const int *[]){c}, (int[]){2}, 1, -1, &out, &steps));
    cr_assert_eq(steps, 2);
    cr_assert_eq(out.count, 2, "a second call replaces the contents");
    EL_TEST_FAILS(el_pad_time_major((const int *[]){a}, (int[]){-1}, 1, 0, &out, &steps),
                  EL_ERR_INVALID);
    cr_assert_eq(out.count, 2, "a refused call changed out");
    el_ids_free(&out);
}

/* ---- word lists -------------------------------------------------------- */

static el_words *parse(const char *text, int min_length, int max_length)
{
    el_words *words = NULL;
    EL_TEST_OK(el_words_parse(&words, text, strlen(text), "words.txt", min_length, max_length));
    return words;
}

/* Asserts the list holds exactly the given NFC words, in order. */
static void assert_words(const el_words *words, const char *const *want, int n)
{
    cr_assert_eq(el_words_count(words), n, "%d words, expected %d", el_words_count(words), n);
    for (int i = 0; i < n; i++) {
        const el_clusters *w = el_words_get(words, i);
        cr_assert_not_null(w);
        cr_assert(w->bytes == strlen(want[i]) && memcmp(w->text, want[i], w->bytes) == 0,
                  "word %d is \"%.*s\", expected \"%s\"", i, (int)w->bytes, w->text, want[i]);
        cr_assert_eq(w->starts[0], 0);
        cr_assert_eq(w->starts[w->count], w->bytes);
    }
}

Test(words, blank_lines_white_space_and_crlf_ignored)
{
    el_words *words = parse("  apple \r\n\n\t\r\nbanana\r\n   \n\xC2\xA0kiwi\xE3\x80\x80\n"
                            "ice cream\ncherry",
                            0, 0);
    assert_words(words, (const char *const[]){"apple", "banana", "kiwi", "ice cream", "cherry"}, 5);
    cr_assert_eq(el_words_get(words, 0)->count, 5, "apple has 5 clusters");
    cr_assert_null(el_words_get(words, 5));
    cr_assert_null(el_words_get(words, -1));
    el_words_free(words);
}

Test(words, byte_order_mark_and_empty_text)
{
    el_words *words = parse("\xEF\xBB\xBFone\ntwo\n", 0, 0);
    assert_words(words, (const char *const[]){"one", "two"}, 2);
    el_words_free(words);
    words = parse("", 0, 0);
    cr_assert_eq(el_words_count(words), 0);
    el_words_free(words);
    words = parse("\n \r\n\n", 0, 0);
    cr_assert_eq(el_words_count(words), 0);
    el_words_free(words);
}

Test(words, duplicates_removed_first_kept_nfd_equals_nfc)
{
    /* "café" twice: precomposed U+00E9, then e + U+0301. */
    el_words *words = parse("b\ncaf\xC3\xA9\na\nb\ncafe\xCC\x81\n a \n", 0, 0);
    assert_words(words, (const char *const[]){"b", "caf\xC3\xA9", "a"}, 3);
    cr_assert_eq(el_words_get(words, 1)->count, 4, "café is 4 clusters");
    el_words_free(words);
}

Test(words, length_limits_count_clusters)
{
    const char *text = "a\nbb\ncafe\xCC\x81\nddddd\nee\xCC\x81\n";
    el_words *words = parse(text, 2, 4);
    assert_words(words, (const char *const[]){"bb", "caf\xC3\xA9", "e\xC3\xA9"}, 3);
    el_words_free(words);
    words = parse(text, 5, 0);
    assert_words(words, (const char *const[]){"ddddd"}, 1);
    el_words_free(words);
    words = parse(text, 0, 1);
    assert_words(words, (const char *const[]){"a"}, 1);
    el_words_free(words);

    el_words *none = (el_words *)text;
    EL_TEST_FAILS(el_words_parse(&none, text, strlen(text), NULL, 3, 2), EL_ERR_INVALID);
    cr_assert_null(none);
    EL_TEST_FAILS(el_words_parse(&none, text, strlen(text), NULL, -1, 0), EL_ERR_INVALID);
    EL_TEST_FAILS(el_words_parse(&none, NULL, 3, NULL, 0, 0), EL_ERR_INVALID);
}

/* EL_WORDS_KEEP_DUPLICATES keeps repeats, in file order, with the same
 * trimming and length filter; unknown flags are refused. */
Test(words, keep_duplicates_keeps_every_fitting_line)
{
    const char *text = "cat\n dog \ncat\n\nx\ndog\ncat\n";
    el_words *words = NULL;
    EL_TEST_OK(
        el_words_parse_flags(&words, text, strlen(text), "w", 2, 0, EL_WORDS_KEEP_DUPLICATES));
    static const char *const all[] = {"cat", "dog", "cat", "dog", "cat"};
    assert_words(words, all, 5);
    el_words_free(words);
    EL_TEST_OK(el_words_parse_flags(&words, text, strlen(text), "w", 2, 0, 0));
    static const char *const unique[] = {"cat", "dog"};
    assert_words(words, unique, 2);
    el_words_free(words);
    words = (el_words *)text;
    EL_TEST_FAILS(el_words_parse_flags(&words, text, strlen(text), "w", 0, 0, 2), EL_ERR_INVALID);
    cr_assert_null(words);
}

Test(words, invalid_utf8_names_line_and_file_offset)
{
    /* The 0xFF is on line 4, at byte 12 of the text (CRLF counts 2). */
    const char *text = "ok\r\nfine\n\nba\xFF"
                       "d\nlater\n";
    el_words *words = (el_words *)text;
    EL_TEST_FAILS(el_words_parse(&words, text, strlen(text), "words.txt", 0, 0), EL_ERR_FORMAT);
    cr_assert_null(words);
    assert_message_has("words.txt:4: invalid UTF-8 at byte 12");
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(text, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

Test(words, read_from_a_file)
{
    char dir[] = "/tmp/elman-data-XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/words.txt", dir);
    /* Line 5 has a truncated sequence at byte 24: 7 + 5 + 2 + 7 + 3. */
    const char text[] = "zebra\r\nyak\r\n\r\nzebra\r\nbad\xC3(\r\n";
    write_file(path, text, 21);
    el_words *words = NULL;
    EL_TEST_OK(el_words_read(&words, path, 0, 0));
    assert_words(words, (const char *const[]){"zebra", "yak"}, 2);
    el_words_free(words);

    write_file(path, text, sizeof text - 1);
    EL_TEST_FAILS(el_words_read(&words, path, 0, 0), EL_ERR_FORMAT);
    char want[128];
    snprintf(want, sizeof want, "%s:5: invalid UTF-8 at byte 24", path);
    assert_message_has(want);
    remove(path);
    rmdir(dir);
}

Test(words, missing_file_is_an_io_error_naming_it)
{
    el_words *words = (el_words *)"x";
    EL_TEST_FAILS(el_words_read(&words, "/nonexistent/elman/words.txt", 0, 0), EL_ERR_IO);
    cr_assert_null(words);
    assert_message_has("/nonexistent/elman/words.txt");
    assert_message_has(strerror(ENOENT));

    /* A directory opens but cannot be read. */
    EL_TEST_FAILS(el_words_read(&words, "/tmp", 0, 0), EL_ERR_IO);
    assert_message_has("/tmp: ");
    EL_TEST_FAILS(el_words_read(&words, NULL, 0, 0), EL_ERR_INVALID);
}

/* ---- ReverseWordDataset ------------------------------------------------ */

/* A vocabulary of the words' clusters and the dataset of all the words. */
static el_vocab *vocab_of(const el_words *words)
{
    el_vocab *vocab = NULL;
    EL_TEST_OK(el_vocab_create(&vocab));
    EL_TEST_OK(el_vocab_add_words(vocab, words));
    EL_TEST_OK(el_vocab_finish(vocab, 1));
    return vocab;
}

static el_reverse_words *reverse_all(const el_words *words, const el_vocab *vocab)
{
    int indices[16];
    for (int i = 0; i < el_words_count(words); i++) indices[i] = i;
    el_reverse_words *data = NULL;
    EL_TEST_OK(el_reverse_words_create(&data, words, indices, el_words_count(words), vocab));
    return data;
}

static void assert_decodes_to(const el_vocab *vocab, const int *ids, int n, const char *want,
                              const char *what)
{
    char buf[128];
    EL_TEST_OK(el_vocab_decode(vocab, ids, (size_t)n, buf, sizeof buf, NULL));
    cr_assert_str_eq(buf, want, "%s decodes to \"%s\", expected \"%s\"", what, buf, want);
}

/* The notebook's first demo once reversed the input twice; this pins the
 * direction: the input reads backwards, the target forwards. */
Test(reverse_words, input_reversed_target_forwards)
{
    el_words *words = parse("turkey\n", 0, 0);
    el_vocab *vocab = vocab_of(words);
    el_reverse_words *data = reverse_all(words, vocab);
    el_dataset ds = el_reverse_words_dataset(data);
    cr_assert_eq(ds.count(ds.self), 1);
    el_example ex;
    EL_TEST_OK(ds.get(ds.self, 0, &ex));
    cr_assert_eq(ex.input_length, 6);
    cr_assert_eq(ex.target_length, 6);
    assert_decodes_to(vocab, ex.input, ex.input_length, "yekrut", "the input");
    assert_decodes_to(vocab, ex.target, ex.target_length, "turkey", "the target");
    for (int t = 0; t < 6; t++)
        cr_assert(ex.input[t] >= EL_SPECIALS && ex.target[t] >= EL_SPECIALS,
                  "no SOS, EOS or PAD added");

    /* Through a loader: column 0 of the batch reads the same. */
    el_loader_config config = {4, 0, 1, 0, EL_PAD};
    el_loader *loader = NULL;
    EL_TEST_OK(el_loader_create(&loader, &ds, &config));
    EL_TEST_OK(el_loader_start(loader, 0));
    const el_batch *b = next_batch(loader);
    cr_assert_eq(b->size, 1);
    assert_decodes_to(vocab, b->inputs, b->input_lengths[0], "yekrut", "the batch's input");
    assert_decodes_to(vocab, b->targets, b->target_lengths[0], "turkey", "the batch's target");

    EL_TEST_FAILS(ds.get(ds.self, 1, &ex), EL_ERR_INVALID);
    el_loader_free(loader);
    el_reverse_words_free(data);
    el_vocab_free(vocab);
    el_words_free(words);
}

/* An NFD é (e + U+0301) is one symbol and reads back in NFC; a thumbs up
 * with its skin tone is one cluster, and so is a flag (two regional
 * indicators that keep their order inside it). */
Test(reverse_words, reverses_by_cluster)
{
    static const struct {
        const char *word, *reversed;
        int clusters;
    } cases[] = {
        {"cafe\u0301", "\u00e9fac", 4},  {"привет", "тевирп", 6}, {"straße", "eßarts", 6},
        {"👍🏽ok", "ko👍🏽", 3}, {"🇫🇷x", "x🇫🇷", 2},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    char text[256] = "";
    for (int i = 0; i < N; i++) {
        strcat(text, cases[i].word);
        strcat(text, "\n");
    }
    el_words *words = parse(text, 0, 0);
    cr_assert_eq(el_words_count(words), N);
    el_vocab *vocab = vocab_of(words);
    el_reverse_words *data = reverse_all(words, vocab);
    el_dataset ds = el_reverse_words_dataset(data);
    for (int i = 0; i < N; i++) {
        el_example ex;
        EL_TEST_OK(ds.get(ds.self, i, &ex));
        cr_assert_eq(ex.input_length, cases[i].clusters, "case %d", i);
        cr_assert_eq(ex.target_length, cases[i].clusters, "case %d", i);
        assert_decodes_to(vocab, ex.input, ex.input_length, cases[i].reversed, "the input");
        el_words *nfc = parse(cases[i].word, 0, 0);
        const el_clusters *w = el_words_get(nfc, 0);
        char want[64];
        snprintf(want, sizeof want, "%.*s", (int)w->bytes, w->text);
        assert_decodes_to(vocab, ex.target, ex.target_length, want, "the target");
        el_words_free(nfc);
    }
    el_reverse_words_free(data);
    el_vocab_free(vocab);
    el_words_free(words);
}

Test(reverse_words, lists_only_the_given_words)
{
    el_words *words = parse("ab\ncde\nfghi\n", 0, 0);
    el_vocab *vocab = vocab_of(words);
    el_reverse_words *data = NULL;
    EL_TEST_OK(el_reverse_words_create(&data, words, (int[]){2, 0}, 2, vocab));
    el_dataset ds = el_reverse_words_dataset(data);
    cr_assert_eq(ds.count(ds.self), 2);
    el_example ex;
    EL_TEST_OK(ds.get(ds.self, 0, &ex));
    assert_decodes_to(vocab, ex.target, ex.target_length, "fghi", "example 0");
    EL_TEST_OK(ds.get(ds.self, 1, &ex));
    assert_decodes_to(vocab, ex.input, ex.input_length, "ba", "example 1");
    el_reverse_words_free(data);

    data = (el_reverse_words *)words;
    EL_TEST_FAILS(el_reverse_words_create(&data, words, (int[]){0, 3}, 2, vocab), EL_ERR_INVALID);
    cr_assert_null(data);
    assert_message_has("indices[1] = 3");
    EL_TEST_FAILS(el_reverse_words_create(&data, words, NULL, 1, vocab), EL_ERR_INVALID);
    EL_TEST_FAILS(el_reverse_words_create(&data, NULL, (int[]){0}, 1, vocab), EL_ERR_INVALID);
    el_dataset none = el_reverse_words_dataset(NULL);
    cr_assert_null(none.get);
    el_vocab_free(vocab);
    el_words_free(words);
}

/* ---- out of memory ----------------------------------------------------- */

/* Each call under test allocates fewer than 64 times. */
static void sweep(const char *what, el_test_attempt attempt) { el_test_sweep(what, attempt, 64); }

static el_status try_loader_create(long n)
{
    toy d = make_toy(10);
    d.long_one = 3;
    el_dataset ds = toy_dataset(&d);
    el_loader_config config = {4, 1, 1, 0, 0};
    el_loader *loader = NULL;
    el_test_arm(n);
    el_status s = el_test_disarm(el_loader_create(&loader, &ds, &config));
    if (s) cr_assert_null(loader);
    el_loader_free(loader);
    return s;
}

static const char words_text[] = "ant\r\nbee\n\ncafe\xCC\x81\n  bee \ndog\n";

static el_status try_words_parse(long n)
{
    el_words *words = NULL;
    el_test_arm(n);
    el_status s = el_test_disarm(el_words_parse(&words, words_text, strlen(words_text), "w", 0, 0));
    if (s) cr_assert_null(words);
    if (!s) cr_assert_eq(el_words_count(words), 4);
    el_words_free(words);
    return s;
}

static el_words *sweep_words;
static el_vocab *sweep_vocab;

static el_status try_reverse_words_create(long n)
{
    el_reverse_words *data = NULL;
    el_test_arm(n);
    el_status s = el_test_disarm(
        el_reverse_words_create(&data, sweep_words, (int[]){3, 1, 0}, 3, sweep_vocab));
    if (s) cr_assert_null(data);
    el_reverse_words_free(data);
    return s;
}

Test(data_memory, loader_create) { sweep("el_loader_create", try_loader_create); }

Test(data_memory, words_parse) { sweep("el_words_parse", try_words_parse); }

Test(data_memory, reverse_words_create)
{
    sweep_words = parse(words_text, 0, 0);
    sweep_vocab = vocab_of(sweep_words);
    sweep("el_reverse_words_create", try_reverse_words_create);
    el_vocab_free(sweep_vocab);
    el_words_free(sweep_words);
}

Test(data_memory, split)
{
    el_ids train = {0}, validation = {0}, test = {0};
    el__fail_allocations_after(2);
    EL_TEST_FAILS(el_split(10, 1, 0.2, 0.2, &train, &validation, &test), EL_ERR_NOMEM);
    el__fail_allocations_after(-1);
    cr_assert_eq(train.count + validation.count + test.count, 0, "a failed split filled arrays");
    free_split(&train, &validation, &test);
    el_test_assert_no_leaks();
}

/* ---- reading a whole file ---------------------------------------------- */

Test(file, reads_whole_files_and_refuses_what_is_not_one)
{
    char dir[64], path[128];
    el_test_make_dir(dir, "file");
    snprintf(path, sizeof path, "%s/text", dir);
    el_test_write_file(path, "two\nlines\n", 10);
    char *text;
    size_t len;
    EL_TEST_OK(el_read_file(path, &text, &len));
    cr_assert_eq(len, 10);
    cr_assert_str_eq(text, "two\nlines\n", "the text ends in a NUL");
    el_file_free(text);
    el_test_write_file(path, "", 0);
    EL_TEST_OK(el_read_file(path, &text, &len));
    cr_assert_eq(len, 0);
    el_file_free(text);
    EL_TEST_FAILS(el_read_file(dir, &text, &len), EL_ERR_IO);
    assert_message_has("Is a directory");
    cr_assert_null(text);
    snprintf(path, sizeof path, "%s/missing", dir);
    EL_TEST_FAILS(el_read_file(path, &text, &len), EL_ERR_IO);
    assert_message_has("missing: No such file or directory");
    el_test_remove_tree(dir);
}
