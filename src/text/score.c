/* Edit distance and the exact-match and symbol-error totals of
 * predictions against one or more references each. */
#include <stdint.h>
#include <string.h>

#include "elman/score.h"
#include "core/internal.h"

/* Levenshtein's recurrence over one row of b_len + 1 distances: row[j] is
 * the distance from a's first i symbols to b's first j; the row is
 * rewritten in place for each i, with the diagonal carried in a local. */
static size_t distance(const int *a, size_t a_len, const int *b, size_t b_len, size_t *row)
{
    for (size_t j = 0; j <= b_len; j++) row[j] = j;
    for (size_t i = 1; i <= a_len; i++) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b_len; j++) {
            size_t above = row[j];
            size_t best = diagonal + (a[i - 1] != b[j - 1]);
            if (above + 1 < best) best = above + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diagonal = above;
        }
    }
    return row[b_len];
}

/* Room for n + 1 distances in score's row. */
static el_status reserve_row(el_score *score, size_t n, const char *fn)
{
    if (n < score->row_capacity) return EL_OK;
    if (n >= SIZE_MAX / sizeof *score->row - 1)
        return el__fail(EL_ERR_INVALID, "%s: a sequence of %zu symbols is too long", fn, n);
    size_t *row = el__alloc((n + 1) * sizeof *row);
    if (!row) return el__fail(EL_ERR_NOMEM, "%s: out of memory for %zu distances", fn, n + 1);
    el__free(score->row);
    score->row = row;
    score->row_capacity = n + 1;
    return EL_OK;
}

el_status el_edit_distance(const int *a, size_t a_len, const int *b, size_t b_len, size_t *out)
{
    EL_REQUIRE(out, "el_edit_distance");
    if (a_len > 0) EL_REQUIRE(a, "el_edit_distance");
    if (b_len > 0) EL_REQUIRE(b, "el_edit_distance");
    el_score work = {0};
    el_status s = reserve_row(&work, b_len, "el_edit_distance");
    if (!s) *out = distance(a, a_len, b, b_len, work.row);
    el_score_free(&work);
    return s;
}

el_status el_score_add(el_score *score, const int *prediction, size_t length,
                       const int *const *references, const size_t *lengths, int count)
{
    static const char fn[] = "el_score_add";
    EL_REQUIRE(score, fn);
    if (length > 0) EL_REQUIRE(prediction, fn);
    EL_REQUIRE(references, fn);
    EL_REQUIRE(lengths, fn);
    if (count < 1) return el__fail(EL_ERR_INVALID, "%s: %d references; at least one", fn, count);
    for (int r = 0; r < count; r++) {
        if (lengths[r] > 0 && !references[r])
            return el__fail(EL_ERR_INVALID, "%s: references[%d] is NULL", fn, r);
        el_status s = reserve_row(score, lengths[r], fn);
        if (s) return s;
    }
    size_t best = SIZE_MAX, best_length = 0;
    for (int r = 0; r < count && best > 0; r++) {
        size_t d = distance(prediction, length, references[r], lengths[r], score->row);
        if (d < best) {
            best = d;
            best_length = lengths[r];
        }
    }
    score->count++;
    score->exact += best == 0;
    score->errors += best;
    score->reference_length += best_length;
    return EL_OK;
}

double el_score_exact_match(const el_score *score)
{
    return score && score->count ? (double)score->exact / (double)score->count : 0.0;
}

double el_score_error_rate(const el_score *score)
{
    return score && score->reference_length
               ? (double)score->errors / (double)score->reference_length
               : 0.0;
}

void el_score_free(el_score *score)
{
    if (!score) return;
    el__free(score->row);
    score->row = NULL;
    score->row_capacity = 0;
}
