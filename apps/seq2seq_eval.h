/* seq2seq-train's evaluation: the mean loss, exact match and symbol error
 * rate of a model over a loader's examples (elman/score.h), overall and by
 * source length, and the by-length report.  Not part of libelman. */
#ifndef ELMAN_APPS_SEQ2SEQ_EVAL_H
#define ELMAN_APPS_SEQ2SEQ_EVAL_H

#include <stddef.h>

#include "elman/data.h"
#include "elman/score.h"
#include "elman/seq2seq.h"
#include "seq2seq_data.h"

/* The references of dataset example k (*refs[r], *lengths[r] of them),
 * valid until the next call; returns their count. */
typedef int (*s2s_references_fn)(void *self, int k, const int *const **refs,
                                 const size_t **lengths);

enum { S2S_LONGEST_TRACKED = 64 }; /* by-length rows: 1 .. 63, then 64 and over */

/* Each evaluated batch's figures in s2s_result.batches: its loss, and
 * its examples, exact matches, edit errors and reference symbols (whole
 * numbers, exact as floats below 2^24 a batch). */
enum { S2S_LOSS, S2S_COUNT, S2S_EXACT, S2S_ERRORS, S2S_SYMBOLS, S2S_FIGURES };

typedef struct s2s_result {
    double loss;                                 /* the mean batch loss */
    el_score total;                              /* every example */
    el_score by_length[S2S_LONGEST_TRACKED + 1]; /* by source length */
    /* S2S_FIGURES floats for each of the loader's batches, zero for
     * those not evaluated. */
    float *batches;
    long batch_count;
} s2s_result;

/* Decodes the examples of loader's batches [first, first + count) (beam
 * width beam, at most max_steps symbols) and scores them against their
 * references: refs's, or the batch's own target when refs is NULL.  The
 * figures are those batches'; every batch's is first 0, count all. */
el_status s2s_evaluate(el_seq2seq *m, el_loader *loader, int beam, int max_steps,
                       s2s_references_fn refs, void *self, long first, long count, s2s_result *out);
void s2s_result_free(s2s_result *r);

/* After each rank of several evaluated its share of the batches and the
 * ranks summed r->batches (each batch's figures are one rank's, so the
 * sum is exact): r->loss and r->total's counts become every batch's,
 * added up in batch order as one process adds them, so they are its
 * figures exactly.  r->by_length stays the rank's share. */
void s2s_result_combine(s2s_result *r);

/* The references of a pairs split (seq2seq_data.h): a source against all
 * its targets, at most s2s_pairs_max_steps symbols. */
el_status s2s_evaluate_pairs(el_seq2seq *m, el_loader *loader, int beam, s2s_pairs *p, int split,
                             long first, long count, s2s_result *out);

/* How ids are written as text, on each side. */
typedef struct s2s_text {
    const el_vocab *source, *target;
    el_tokens source_tokens, target_tokens;
} s2s_text;

/* Prints a heading and the first few examples of loader's first batch: the
 * input, the model's answer, and the target when the answer differs. */
el_status s2s_show_samples(el_seq2seq *m, el_loader *loader, int beam, int max_steps,
                           const s2s_text *text, int pairs);

/* Prints the report of --eval: the by-length table (and writes it to
 * by_length, unless NULL), then for pairs the symbol error rate, then
 * exact_match, the last line.  0, or 1 after reporting. */
int s2s_report(const s2s_result *r, int pairs, const char *by_length);

/* Writes the exact match by source length to path: length,n,exact_match
 * lines, or a plot when path ends in .png; prints the table.  0, or 1
 * after reporting. */
int s2s_write_by_length(const s2s_result *r, const char *path);

#endif
