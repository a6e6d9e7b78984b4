/* elman: scoring predicted sequences against references, as transduction
 * tasks report them (word and phoneme error rates of grapheme to phoneme).
 *
 * A prediction is exactly right when it equals any of its references.  Its
 * errors are its edit distance (Levenshtein: insertions, deletions and
 * substitutions of one symbol, each costing 1) to the closest reference,
 * and the symbol error rate of many predictions is the sum of those
 * distances over the sum of those closest references' lengths: the phoneme
 * error rate of G2P papers when the symbols are phonemes.  Where two
 * references are equally close the first listed counts. */
#ifndef ELMAN_SCORE_H
#define ELMAN_SCORE_H

#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The edit distance between a[0, a_len) and b[0, b_len) into *out. */
EL_API el_status el_edit_distance(const int *a, size_t a_len, const int *b, size_t b_len,
                                  size_t *out);

/* Running totals over predictions; zero it, add, read, free. */
typedef struct el_score {
    long count;              /* predictions scored */
    long exact;              /* of them, equal to one of their references */
    size_t errors;           /* sum of the edit distances to the closest references */
    size_t reference_length; /* sum of those references' lengths */
    size_t *row;             /* the edit distance's work row, reused */
    size_t row_capacity;
} el_score;

/* Scores one prediction (length symbols; 0 is allowed) against count >= 1
 * references, reference r being references[r][0, lengths[r]). */
EL_API el_status el_score_add(el_score *score, const int *prediction, size_t length,
                              const int *const *references, const size_t *lengths, int count);
/* exact / count, or 0 before anything is scored. */
EL_API double el_score_exact_match(const el_score *score);
/* errors / reference_length, or 0 when that is 0. */
EL_API double el_score_error_rate(const el_score *score);
/* Frees the work row; the totals stay readable. */
EL_API void el_score_free(el_score *score);

#ifdef __cplusplus
}
#endif
#endif
