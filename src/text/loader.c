/* Datasets in batches (the loader) and the seeded train/validation/test
 * split.  The loader sizes its buffers once, from one scan of the dataset
 * at creation, so a training loop never allocates. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elman/data.h"
#include "elman/rng.h"
#include "core/internal.h"
#include "text/ids.h"

struct el_loader {
    el_dataset dataset;
    el_loader_config config;
    int count;            /* examples in the dataset */
    int max_input_steps;  /* the longest input of the dataset */
    int max_target_steps; /* the longest target of the dataset */
    int rows;             /* the most examples in a batch: min(batch_size, count) */
    int *order;           /* this epoch's order of the example indices */
    int position;         /* the next place in order */
    int started;          /* 1 once el_loader_start has run */
    int *inputs, *input_lengths;
    int *targets, *target_lengths;
    int *index;
    el_batch batch;
};

/* Gets example i and checks it is well formed.  A dataset's own failure is
 * passed on with its status, its message prefixed by where it happened. */
static el_status fetch(const el_loader *loader, const char *fn, int i, el_example *example)
{
    memset(example, 0, sizeof *example);
    el_status s = loader->dataset.get(loader->dataset.self, i, example);
    if (s) {
        char reason[512]; /* el__fail rewrites the message buffer it is copied from */
        snprintf(reason, sizeof reason, "%s", el_last_error());
        return el__fail(s, "%s: dataset example %d: %s", fn, i, reason);
    }
    if (example->input_length < 0 || example->target_length < 0)
        return el__fail(EL_ERR_INVALID, "%s: dataset example %d has a negative length (%d, %d)", fn,
                        i, example->input_length, example->target_length);
    if ((example->input_length > 0 && !example->input) ||
        (example->target_length > 0 && !example->target))
        return el__fail(EL_ERR_INVALID, "%s: dataset example %d has a NULL sequence", fn, i);
    return EL_OK;
}

/* One pass over the dataset for the longest input and target. */
static el_status scan_lengths(el_loader *loader)
{
    for (int i = 0; i < loader->count; i++) {
        el_example example;
        el_status s = fetch(loader, "el_loader_create", i, &example);
        if (s) return s;
        if (example.input_length > loader->max_input_steps)
            loader->max_input_steps = example.input_length;
        if (example.target_length > loader->max_target_steps)
            loader->max_target_steps = example.target_length;
    }
    return EL_OK;
}

static el_status allocate_buffers(el_loader *loader)
{
    size_t rows = (size_t)loader->rows;
    loader->order = el__alloc_zero((size_t)loader->count, sizeof *loader->order);
    loader->inputs = el__alloc_zero(rows * (size_t)loader->max_input_steps, sizeof(int));
    loader->targets = el__alloc_zero(rows * (size_t)loader->max_target_steps, sizeof(int));
    loader->input_lengths = el__alloc_zero(rows, sizeof(int));
    loader->target_lengths = el__alloc_zero(rows, sizeof(int));
    loader->index = el__alloc_zero(rows, sizeof(int));
    if (!loader->order || !loader->inputs || !loader->targets || !loader->input_lengths ||
        !loader->target_lengths || !loader->index)
        return el__fail(EL_ERR_NOMEM, "el_loader_create: out of memory for %d x (%d + %d) steps",
                        loader->rows, loader->max_input_steps, loader->max_target_steps);
    return EL_OK;
}

el_status el_loader_create(el_loader **out, const el_dataset *dataset,
                           const el_loader_config *config)
{
    EL_REQUIRE(out, "el_loader_create");
    *out = NULL;
    EL_REQUIRE(dataset, "el_loader_create");
    EL_REQUIRE(dataset->count, "el_loader_create");
    EL_REQUIRE(dataset->get, "el_loader_create");
    EL_REQUIRE(config, "el_loader_create");
    if (config->batch_size < 1)
        return el__fail(EL_ERR_INVALID, "el_loader_create: batch_size %d is not positive",
                        config->batch_size);
    int count = dataset->count(dataset->self);
    if (count < 0)
        return el__fail(EL_ERR_INVALID, "el_loader_create: the dataset counts %d examples", count);

    el_loader *loader = el__alloc_zero(1, sizeof *loader);
    if (!loader) return el__fail(EL_ERR_NOMEM, "el_loader_create: out of memory");
    loader->dataset = *dataset;
    loader->config = *config;
    loader->count = count;
    loader->rows = count < config->batch_size ? count : config->batch_size;
    el_status s = scan_lengths(loader);
    if (!s) s = allocate_buffers(loader);
    if (s) {
        el_loader_free(loader);
        return s;
    }
    *out = loader;
    return EL_OK;
}

void el_loader_free(el_loader *loader)
{
    if (!loader) return;
    el__free(loader->order);
    el__free(loader->inputs);
    el__free(loader->targets);
    el__free(loader->input_lengths);
    el__free(loader->target_lengths);
    el__free(loader->index);
    el__free(loader);
}

int el_loader_batches(const el_loader *loader)
{
    if (!loader) return 0;
    int size = loader->config.batch_size;
    return loader->config.drop_last ? loader->count / size : (loader->count + size - 1) / size;
}

/* The seed of an epoch's shuffle: seed ^ (golden-ratio constant x (epoch + 1)).
 * The multiplier is odd, so distinct epochs give distinct seeds, and epoch 0
 * does not reuse the bare seed that el_split draws its permutation from;
 * el_rng_seed then spreads the bits (SplitMix64). */
static uint64_t epoch_seed(uint64_t seed, long epoch)
{
    return seed ^ (0x9e3779b97f4a7c15ULL * ((uint64_t)epoch + 1u));
}

el_status el_loader_start(el_loader *loader, long epoch)
{
    EL_REQUIRE(loader, "el_loader_start");
    if (epoch < 0) return el__fail(EL_ERR_INVALID, "el_loader_start: epoch %ld is negative", epoch);
    if (loader->config.shuffle) {
        el_rng rng;
        el_rng_seed(&rng, epoch_seed(loader->config.seed, epoch));
        el_rng_permutation(&rng, loader->order, loader->count);
    } else {
        for (int i = 0; i < loader->count; i++) loader->order[i] = i;
    }
    loader->position = 0;
    loader->started = 1;
    return EL_OK;
}

/* Writes column b of a time-major (steps, size) block: seq's values, then
 * nothing yet (pad_column fills the rest once the batch's steps are known). */
static void write_column(int *block, int size, int b, const int *seq, int length)
{
    for (int t = 0; t < length; t++) block[(size_t)t * size + b] = seq[t];
}

static void pad_column(int *block, int size, int b, int length, int steps, int pad)
{
    for (int t = length; t < steps; t++) block[(size_t)t * size + b] = pad;
}

/* Copies example b of the batch into the buffers; the stride (size) is
 * known before the lengths, so each example is fetched once. */
static el_status collect(el_loader *loader, int size, int b, el_batch *batch)
{
    int i = loader->order[loader->position + b];
    el_example example;
    el_status s = fetch(loader, "el_loader_next", i, &example);
    if (s) return s;
    /* A dataset must give the lengths it gave at creation: the buffers were
     * sized from them. */
    if (example.input_length > loader->max_input_steps ||
        example.target_length > loader->max_target_steps)
        return el__fail(EL_ERR_STATE,
                        "el_loader_next: dataset example %d grew to (%d, %d) steps, longer than "
                        "the (%d, %d) it had when the loader was created",
                        i, example.input_length, example.target_length, loader->max_input_steps,
                        loader->max_target_steps);
    write_column(loader->inputs, size, b, example.input, example.input_length);
    write_column(loader->targets, size, b, example.target, example.target_length);
    loader->index[b] = i;
    loader->input_lengths[b] = example.input_length;
    loader->target_lengths[b] = example.target_length;
    if (example.input_length > batch->input_steps) batch->input_steps = example.input_length;
    if (example.target_length > batch->target_steps) batch->target_steps = example.target_length;
    return EL_OK;
}

el_status el_loader_next(el_loader *loader, const el_batch **out)
{
    EL_REQUIRE(out, "el_loader_next");
    *out = NULL;
    EL_REQUIRE(loader, "el_loader_next");
    if (!loader->started)
        return el__fail(EL_ERR_STATE, "el_loader_next: no epoch started (call el_loader_start)");
    int left = loader->count - loader->position;
    int size = left < loader->config.batch_size ? left : loader->config.batch_size;
    /* The end of the epoch, and every call after it, is a NULL batch, as an
     * exhausted Python iterator keeps raising StopIteration. */
    if (size == 0 || (size < loader->config.batch_size && loader->config.drop_last)) return EL_OK;

    el_batch *batch = &loader->batch;
    *batch = (el_batch){.size = size};
    for (int b = 0; b < size; b++) {
        el_status s = collect(loader, size, b, batch);
        if (s) return s;
    }
    int pad = loader->config.pad;
    for (int b = 0; b < size; b++) {
        pad_column(loader->inputs, size, b, loader->input_lengths[b], batch->input_steps, pad);
        pad_column(loader->targets, size, b, loader->target_lengths[b], batch->target_steps, pad);
    }
    batch->inputs = loader->inputs;
    batch->targets = loader->targets;
    batch->input_lengths = loader->input_lengths;
    batch->target_lengths = loader->target_lengths;
    batch->index = loader->index;
    loader->position += size;
    *out = batch;
    return EL_OK;
}

/* ---- padding a caller's sequences --------------------------------------- */

el_status el_pad_time_major(const int *const *seqs, const int *lengths, int count, int pad,
                            el_ids *out, int *steps)
{
    EL_REQUIRE(out, "el_pad_time_major");
    EL_REQUIRE(steps, "el_pad_time_major");
    if (count < 0) return el__fail(EL_ERR_INVALID, "el_pad_time_major: %d sequences", count);
    if (count > 0 && (!seqs || !lengths))
        return el__fail(EL_ERR_INVALID, "el_pad_time_major: seqs or lengths is NULL");
    int longest = 0;
    for (int b = 0; b < count; b++) {
        if (lengths[b] < 0 || (lengths[b] > 0 && !seqs[b]))
            return el__fail(EL_ERR_INVALID, "el_pad_time_major: sequence %d has length %d%s", b,
                            lengths[b], lengths[b] > 0 ? " and no ids" : "");
        if (lengths[b] > longest) longest = lengths[b];
    }
    size_t total = (size_t)longest * (size_t)count;
    el_status s = el__ids_reserve(out, total, "el_pad_time_major");
    if (s) return s;
    for (int t = 0; t < longest; t++)
        for (int b = 0; b < count; b++)
            out->data[(size_t)t * count + b] = t < lengths[b] ? seqs[b][t] : pad;
    out->count = total;
    *steps = longest;
    return EL_OK;
}

/* ---- split ------------------------------------------------------------- */

static void set_ids(el_ids *ids, const int *values, size_t n)
{
    if (n) memcpy(ids->data, values, n * sizeof *values);
    ids->count = n;
}

static el_status check_fraction(const char *name, double fraction)
{
    if (!(fraction >= 0 && fraction < 1))
        return el__fail(EL_ERR_INVALID, "el_split: %s %g is outside [0, 1)", name, fraction);
    return EL_OK;
}

/* A share that is not wanted (fraction 0) needs no list: it may be NULL.
 * One that is wanted must have its own. */
static el_status check_share(const char *name, double fraction, const el_ids *ids)
{
    el_status s = check_fraction(name, fraction);
    if (!s && fraction > 0 && !ids)
        return el__fail(EL_ERR_INVALID, "el_split: %s is %g but its list is NULL", name, fraction);
    return s;
}

/* The cut takes floor(fraction x count) for test, then for validation, as
 * the notebook's int(0.05 * N); the fractions must leave some share
 * (sum < 1) for training.  The arrays' contents are replaced; on failure
 * they keep their contents. */
el_status el_split(int count, uint64_t seed, double validation_fraction, double test_fraction,
                   el_ids *train, el_ids *validation, el_ids *test)
{
    EL_REQUIRE(train, "el_split");
    if (train == validation || train == test || (validation && validation == test))
        return el__fail(EL_ERR_INVALID, "el_split: train, validation and test must be distinct");
    if (count < 0) return el__fail(EL_ERR_INVALID, "el_split: count %d is negative", count);
    el_status s = check_share("validation_fraction", validation_fraction, validation);
    if (!s) s = check_share("test_fraction", test_fraction, test);
    if (s) return s;
    if (!(validation_fraction + test_fraction < 1))
        return el__fail(EL_ERR_INVALID,
                        "el_split: validation_fraction %g + test_fraction %g leave nothing for "
                        "training",
                        validation_fraction, test_fraction);

    size_t n_test = (size_t)floor(test_fraction * count);
    size_t n_validation = (size_t)floor(validation_fraction * count);
    size_t n_train = (size_t)count - n_test - n_validation;
    int *perm = el__alloc_zero((size_t)count, sizeof *perm);
    if (!perm || el__ids_reserve(train, n_train, "el_split") ||
        (validation && el__ids_reserve(validation, n_validation, "el_split")) ||
        (test && el__ids_reserve(test, n_test, "el_split"))) {
        el__free(perm);
        return el__fail(EL_ERR_NOMEM, "el_split: out of memory for %d indices", count);
    }
    el_rng rng;
    el_rng_seed(&rng, seed);
    el_rng_permutation(&rng, perm, count);
    if (test) set_ids(test, perm, n_test);
    if (validation) set_ids(validation, perm + n_test, n_validation);
    set_ids(train, perm + n_test + n_validation, n_train);
    el__free(perm);
    return EL_OK;
}
