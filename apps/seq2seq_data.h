/* seq2seq-train's pairs data (--pairs FILE, elman/pairs.h): the flags that
 * choose it, the split over distinct sources, the two vocabularies, the
 * datasets and loaders, and each evaluated source's references.  Not part
 * of libelman. */
#ifndef ELMAN_APPS_SEQ2SEQ_DATA_H
#define ELMAN_APPS_SEQ2SEQ_DATA_H

#include <stdint.h>

#include "elman/checkpoint.h"
#include "elman/data.h"
#include "elman/pairs.h"
#include "elman/vocab.h"

/* The flags of the pairs data, eval and predict. */
typedef struct s2s_data_options {
    const char *pairs; /* --pairs FILE */
    el_tokens source_tokens, target_tokens;
    int tokens_given;          /* bit 0: --source-tokens given, bit 1: --target-tokens */
    const char *input;         /* --input FILE: sources to predict */
    const char *by_length;     /* --by-length FILE.csv or FILE.png: eval by source length */
    const char *attention_png; /* --attention-png FILE: predict's first attention map */
} s2s_data_options;

/* The usage lines of those flags. */
extern const char s2s_data_usage[];

/* As seq2seq-train's parse_flag: 1 if argv[*i] was one of these flags and
 * parsed, 0 if it is not one, -1 on a bad value (already reported). */
int s2s_data_flag(int argc, char **argv, int *i, s2s_data_options *o);

/* The training data's metadata in a checkpoint: "train.words" = words, or
 * "train.pairs" and the two token modes. */
el_status s2s_data_save(el_checkpoint_writer *w, const s2s_data_options *o, const char *words);
/* Reads it back: *pairs_model is whether the model was trained on pairs,
 * *path (in c) the file it was trained on; the token modes are taken
 * into o where no flag gave them.  0, or -1 after reporting. */
int s2s_data_read_meta(const el_checkpoint *c, s2s_data_options *o, int *pairs_model,
                       const char **path);

enum { S2S_TRAIN, S2S_VALIDATION, S2S_TEST, S2S_SPLITS };

/* A pairs file split for training, or held whole for evaluation.  Rows
 * are pair indices: every pair of the training sources, and the first
 * pair of each validation and test source, so each of those is decoded
 * once and scored against all its targets. */
typedef struct s2s_pairs {
    el_pairs *pairs;
    el_ids groups[S2S_SPLITS], rows[S2S_SPLITS];
    el_pair_data *sets[S2S_SPLITS];
    el_pair_data *all; /* every pair, for the references */
    int longest_target;
    const int **references; /* room for the largest group's targets */
    size_t *reference_lengths;
} s2s_pairs;

/* How a pairs file is split and batched. */
typedef struct s2s_split {
    int whole; /* 1: every source is a test source (eval); 0: split by seed */
    uint64_t seed;
    double validation, test; /* the fractions of sources held out, as el_split */
    int batch, decode_batch; /* training batch size; validation and test */
} s2s_split;

/* Where the loaders and the examples (rows, copied) of each split go. */
typedef struct s2s_outputs {
    el_loader **loaders[S2S_SPLITS];
    el_ids *examples[S2S_SPLITS];
} s2s_outputs;

/* Reads o->pairs with o's token modes and splits its sources; builds the
 * vocabularies from the training pairs when *source is NULL (else uses
 * *source and *target), then the datasets and loaders (the training one
 * shuffled by seed). */
el_status s2s_pairs_load(s2s_pairs *p, const s2s_data_options *o, const s2s_split *split,
                         el_vocab **source, el_vocab **target, s2s_outputs out);
void s2s_pairs_free(s2s_pairs *p);

/* Prints the pairs' counts and the vocabularies' sizes, the start of a
 * line. */
void s2s_pairs_print(const s2s_pairs *p, const el_vocab *source, const el_vocab *target);

/* Reports a split with no training or no test source; returns -1. */
int s2s_pairs_split_failed(const s2s_pairs *p, const char *path);

/* Reports a model evaluated on data of the other kind (pairs for a
 * word-reversal model, or words for a pairs one); 0, or 1 after that. */
int s2s_check_model_kind(const char *model, int pairs_model, int pairs_given);

/* The most symbols a prediction may have: the longest target and a few
 * more, so that a model that rambles is cut short and scored as wrong. */
int s2s_pairs_max_steps(const s2s_pairs *p);

/* The targets of the source of row k of split, encoded: *refs and
 * *lengths point into p, valid until the next call; returns their count. */
int s2s_pairs_references(s2s_pairs *p, int split, int k, const int *const **refs,
                         const size_t **lengths);

#endif
