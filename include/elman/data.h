/* elman: datasets, batches, and the word-reversal data.
 *
 * A dataset is anything with a count and a way to get example i: a pair of
 * id sequences (input and target), as PyTorch's map-style Dataset
 * (__len__, __getitem__).  A loader walks a dataset in batches: a seeded
 * shuffle per epoch (the same seed and epoch give the same order, so a
 * resumed run sees the batches an uninterrupted one would), padding, the
 * lengths, and an optional drop of the last partial batch. */
#ifndef ELMAN_DATA_H
#define ELMAN_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "vocab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One example: views into the dataset's own memory, valid until its next
 * call. */
typedef struct el_example {
    const int *input;
    int input_length;
    const int *target;
    int target_length;
} el_example;

typedef struct el_dataset {
    void *self;
    int (*count)(void *self);
    el_status (*get)(void *self, int index, el_example *out);
} el_dataset;

/* A batch, time-major as the recurrent layers want it: inputs[t * size + b]
 * is step t of example b, padded with the pad id past input_lengths[b];
 * the same for targets.  index[b] is the example's index in the dataset. */
typedef struct el_batch {
    int size;                      /* examples in this batch */
    int input_steps, target_steps; /* the longest lengths in the batch */
    const int *inputs, *input_lengths;
    const int *targets, *target_lengths;
    const int *index;
} el_batch;

typedef struct el_loader_config {
    int batch_size;
    int shuffle; /* 1: a new seeded permutation every epoch */
    uint64_t seed;
    int drop_last; /* 1: skip a last batch smaller than batch_size */
    int pad;       /* the id written past each length (EL_PAD) */
} el_loader_config;

typedef struct el_loader el_loader;

/* dataset must outlive the loader. */
EL_API el_status el_loader_create(el_loader **out, const el_dataset *dataset,
                                  const el_loader_config *config);
EL_API void el_loader_free(el_loader *loader);
/* Batches in one epoch. */
EL_API int el_loader_batches(const el_loader *loader);
/* Starts epoch (0-based): the order is a function of seed and epoch alone. */
EL_API el_status el_loader_start(el_loader *loader, long epoch);
/* The next batch of the epoch, or *out = NULL at its end.  The batch's
 * arrays belong to the loader (sized once, reused) and are valid until the
 * next call. */
EL_API el_status el_loader_next(el_loader *loader, const el_batch **out);

/* Pads count sequences into one time-major batch, as the recurrent layers
 * want it: out[t * count + b] is step t of sequence b, pad past lengths[b];
 * *steps receives the longest length (0 for no sequences).  out is resized
 * to steps * count ids.  This is what the loader does for a dataset, for
 * sequences a caller holds itself. */
EL_API el_status el_pad_time_major(const int *const *seqs, const int *lengths, int count, int pad,
                                   el_ids *out, int *steps);

/* Labelled sequences, for classifiers: each example is an id sequence
 * (a word's characters, a sentence's words) and one class label >= 0.  As a
 * dataset, example i's target is its label alone (target_length 1), so the
 * loader batches them: batch->targets[b] is example b's label. */
typedef struct el_labelled el_labelled;

EL_API el_status el_labelled_create(el_labelled **out);
EL_API void el_labelled_free(el_labelled *data);
/* Appends a copy of ids[0 .. length) (length >= 1) with its label. */
EL_API el_status el_labelled_add(el_labelled *data, const int *ids, int length, int label);
EL_API int el_labelled_count(const el_labelled *data);
/* The dataset view of it, valid while data lives and is not added to. */
EL_API el_dataset el_labelled_dataset(el_labelled *data);

/* A word list: one word per line of a UTF-8 file; surrounding white space
 * and blank lines ignored; words normalised to NFC; duplicates removed
 * (the first kept, in file order); words shorter than min_length or longer
 * than max_length clusters dropped (0: no limit). */
typedef struct el_words el_words;

EL_API el_status el_words_read(el_words **out, const char *path, int min_length, int max_length);
/* The same from memory; source names it in messages. */
EL_API el_status el_words_parse(el_words **out, const char *text, size_t len, const char *source,
                                int min_length, int max_length);
/* The same with flags: EL_WORDS_KEEP_DUPLICATES keeps every line that
 * fits, repeats included, in file order (a corpus's tokens rather than its
 * vocabulary, as the course notebook trains on). */
enum { EL_WORDS_KEEP_DUPLICATES = 1u << 0 };
EL_API el_status el_words_read_flags(el_words **out, const char *path, int min_length,
                                     int max_length, unsigned flags);
EL_API el_status el_words_parse_flags(el_words **out, const char *text, size_t len,
                                      const char *source, int min_length, int max_length,
                                      unsigned flags);
EL_API void el_words_free(el_words *words);
EL_API int el_words_count(const el_words *words);
/* Word i's clusters (see vocab.h) */
EL_API const el_clusters *el_words_get(const el_words *words, int i);
/* Adds the counts of every word's clusters to a vocabulary (el_vocab_add). */
EL_API el_status el_vocab_add_words(el_vocab *vocab, const el_words *words);

/* A deterministic split of 0..count-1 into training, validation and test
 * indices by seed: a seeded permutation, then the first test_fraction of
 * it for test, the next validation_fraction for validation, the rest for
 * training.  Each array is allocated (free with el_ids_free); validation
 * or test may be NULL when its fraction is 0. */
EL_API el_status el_split(int count, uint64_t seed, double validation_fraction,
                          double test_fraction, el_ids *train, el_ids *validation, el_ids *test);

/* ReverseWordDataset: example i is (word's clusters reversed, the word),
 * both as vocabulary ids, for the words whose indices are listed.  The
 * words are encoded once, here. */
typedef struct el_reverse_words el_reverse_words;

EL_API el_status el_reverse_words_create(el_reverse_words **out, const el_words *words,
                                         const int *indices, int count, const el_vocab *vocab);
EL_API void el_reverse_words_free(el_reverse_words *data);
/* The dataset view of it, valid while data lives. */
EL_API el_dataset el_reverse_words_dataset(el_reverse_words *data);

#ifdef __cplusplus
}
#endif
#endif
