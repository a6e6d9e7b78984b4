/* seq2seq-train's evaluation: decode, score against references, and the
 * by-length report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "elman/pairs.h"
#include "plot.h"
#include "seq2seq_eval.h"

void s2s_result_free(s2s_result *r)
{
    el_score_free(&r->total);
    for (int n = 0; n <= S2S_LONGEST_TRACKED; n++) el_score_free(&r->by_length[n]);
    free(r->batches);
    r->batches = NULL;
}

/* Room for a batch's decoded ids and its own targets, grown as needed. */
typedef struct workspace {
    el_ids *decoded;
    int capacity;
    el_ids target;
} workspace;

static el_status reserve(workspace *w, int size)
{
    if (size <= w->capacity) return EL_OK;
    el_ids *more = realloc(w->decoded, (size_t)size * sizeof *more);
    if (!more) {
        cli_error("out of memory for %d decoded sequences", size);
        return EL_ERR_NOMEM;
    }
    memset(more + w->capacity, 0, (size_t)(size - w->capacity) * sizeof *more);
    w->decoded = more;
    w->capacity = size;
    return EL_OK;
}

static void workspace_free(workspace *w)
{
    for (int b = 0; b < w->capacity; b++) el_ids_free(&w->decoded[b]);
    free(w->decoded);
    free(w->target.data);
}

/* Example b's own target, as its only reference. */
static el_status own_target(workspace *w, const el_batch *batch, int b)
{
    size_t length = (size_t)batch->target_lengths[b];
    if (length + 1 > w->target.capacity) {
        int *data = realloc(w->target.data, (length + 1) * sizeof *data);
        if (!data) {
            cli_error("out of memory for a target of %zu symbols", length);
            return EL_ERR_NOMEM;
        }
        w->target.data = data;
        w->target.capacity = length + 1;
    }
    for (size_t t = 0; t < length; t++)
        w->target.data[t] = batch->targets[t * (size_t)batch->size + (size_t)b];
    w->target.count = length;
    return EL_OK;
}

static el_status score_batch(workspace *w, const el_batch *batch, s2s_references_fn refs,
                             void *self, s2s_result *out)
{
    el_status s = EL_OK;
    for (int b = 0; b < batch->size && !s; b++) {
        const int *const *references;
        const size_t *lengths;
        const int *own[1];
        size_t own_length[1];
        int count = 1;
        if (refs) {
            count = refs(self, batch->index[b], &references, &lengths);
        } else {
            s = own_target(w, batch, b);
            own[0] = w->target.data;
            own_length[0] = w->target.count;
            references = own;
            lengths = own_length;
        }
        int n = batch->input_lengths[b];
        el_score *row = &out->by_length[n < S2S_LONGEST_TRACKED ? n : S2S_LONGEST_TRACKED];
        const el_ids *d = &w->decoded[b];
        if (!s) s = el_score_add(&out->total, d->data, d->count, references, lengths, count);
        if (!s) s = el_score_add(row, d->data, d->count, references, lengths, count);
    }
    return s;
}

el_status s2s_evaluate(el_seq2seq *m, el_loader *loader, int beam, int max_steps,
                       s2s_references_fn refs, void *self, long first, long count, s2s_result *out)
{
    workspace w = {0};
    const el_batch *batch;
    long batches = 0, all = el_loader_batches(loader);
    s2s_result_free(out);
    memset(out, 0, sizeof *out);
    out->batches = calloc((size_t)(all > 0 ? all : 1) * S2S_FIGURES, sizeof *out->batches);
    if (!out->batches) return el_set_error(EL_ERR_NOMEM, "out of memory for %ld batches", all);
    out->batch_count = all;
    el_status s = el_loader_start(loader, 0);
    for (long k = 0; k < first + count && !s && !(s = el_loader_next(loader, &batch)) && batch;
         k++) {
        if (k < first) continue;
        float loss;
        el_score before = out->total;
        s = reserve(&w, batch->size);
        if (!s) s = el_seq2seq_loss_of(m, batch, &loss);
        if (!s) s = el_seq2seq_decode(m, batch, beam, max_steps, w.decoded);
        if (!s) s = score_batch(&w, batch, refs, self, out);
        if (s) break;
        float *f = out->batches + (size_t)k * S2S_FIGURES;
        f[S2S_LOSS] = loss;
        f[S2S_COUNT] = (float)(out->total.count - before.count);
        f[S2S_EXACT] = (float)(out->total.exact - before.exact);
        f[S2S_ERRORS] = (float)(out->total.errors - before.errors);
        f[S2S_SYMBOLS] = (float)(out->total.reference_length - before.reference_length);
        out->loss += loss;
        batches++;
    }
    workspace_free(&w);
    if (batches) out->loss /= (double)batches;
    return s;
}

void s2s_result_combine(s2s_result *r)
{
    r->loss = 0;
    r->total.count = r->total.exact = 0;
    r->total.errors = r->total.reference_length = 0;
    for (long k = 0; k < r->batch_count; k++) {
        const float *f = r->batches + (size_t)k * S2S_FIGURES;
        r->loss += f[S2S_LOSS];
        r->total.count += (long)f[S2S_COUNT];
        r->total.exact += (long)f[S2S_EXACT];
        r->total.errors += (size_t)f[S2S_ERRORS];
        r->total.reference_length += (size_t)f[S2S_SYMBOLS];
    }
    if (r->batch_count) r->loss /= (double)r->batch_count;
}

typedef struct split_references {
    s2s_pairs *pairs;
    int split;
} split_references;

static int pair_references(void *self, int k, const int *const **refs, const size_t **lengths)
{
    split_references *where = self;
    return s2s_pairs_references(where->pairs, where->split, k, refs, lengths);
}

el_status s2s_evaluate_pairs(el_seq2seq *m, el_loader *loader, int beam, s2s_pairs *p, int split,
                             long first, long count, s2s_result *out)
{
    split_references where = {p, split};
    return s2s_evaluate(m, loader, beam, s2s_pairs_max_steps(p), pair_references, &where, first,
                        count, out);
}

/* Text of ids, or "?" if it would not fit. */
static void ids_text(const el_vocab *v, el_tokens tokens, const int *ids, size_t count, char *buf,
                     size_t cap)
{
    if (el_tokens_decode(v, tokens, ids, count, buf, cap, NULL)) snprintf(buf, cap, "?");
}

/* Prints text and spaces up to width characters: printf's %-24s counts
 * bytes, and "ü" or "ї" is two. */
static void print_padded(const char *text, int width)
{
    int shown = 0;
    for (const char *p = text; *p; p++) shown += ((unsigned char)*p & 0xC0) != 0x80;
    printf("%s%*s", text, shown < width ? width - shown : 0, "");
}

enum { SAMPLES_SHOWN = 10, MAX_SHOWN = 64 };

/* Example b's ids of a time-major batch, at most MAX_SHOWN. */
static size_t column(const int *ids, int size, int b, int length, int *out)
{
    int n = length < MAX_SHOWN ? length : MAX_SHOWN;
    for (int t = 0; t < n; t++) out[t] = ids[(size_t)t * (size_t)size + (size_t)b];
    return (size_t)n;
}

/* The first few test examples: the input, the model's answer, and the
 * target when the answer differs from it. */
el_status s2s_show_samples(el_seq2seq *m, el_loader *loader, int beam, int max_steps,
                           const s2s_text *text, int pairs)
{
    workspace w = {0};
    const el_batch *batch = NULL;
    printf(pairs ? "ten test sources (source -> model's answer, and the target if it is wrong):\n"
                 : "ten test words (reversed input -> model's answer, and the word if it is "
                   "wrong):\n");
    el_status s = el_loader_start(loader, 0);
    if (!s) s = el_loader_next(loader, &batch);
    if (!s && batch) s = reserve(&w, batch->size);
    if (!s && batch) s = el_seq2seq_decode(m, batch, beam, max_steps, w.decoded);
    for (int b = 0; !s && batch && b < batch->size && b < SAMPLES_SHOWN; b++) {
        int in[MAX_SHOWN], want[MAX_SHOWN];
        size_t n = column(batch->inputs, batch->size, b, batch->input_lengths[b], in);
        size_t k = column(batch->targets, batch->size, b, batch->target_lengths[b], want);
        char input[512], target[512], guess[512];
        ids_text(text->source, text->source_tokens, in, n, input, sizeof input);
        ids_text(text->target, text->target_tokens, want, k, target, sizeof target);
        ids_text(text->target, text->target_tokens, w.decoded[b].data, w.decoded[b].count, guess,
                 sizeof guess);
        printf("  ");
        print_padded(input, 24);
        printf(" -> ");
        print_padded(guess, 24);
        printf(" %s\n", strcmp(guess, target) ? target : "ok");
    }
    workspace_free(&w);
    return s;
}

static int write_csv(const s2s_result *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("%s: cannot write: %s", path, strerror(errno));
        return 1;
    }
    fprintf(f, "length,n,exact_match\n");
    for (int n = 1; n <= S2S_LONGEST_TRACKED; n++)
        if (r->by_length[n].count)
            fprintf(f, "%d,%ld,%.6f\n", n, r->by_length[n].count,
                    el_score_exact_match(&r->by_length[n]));
    if (fclose(f) != 0) {
        cli_error("%s: cannot write: %s", path, strerror(errno));
        return 1;
    }
    return 0;
}

static int ends_with(const char *text, const char *end)
{
    size_t n = strlen(text), m = strlen(end);
    return n >= m && strcmp(text + n - m, end) == 0;
}

int s2s_write_by_length(const s2s_result *r, const char *path)
{
    double x[S2S_LONGEST_TRACKED], y[S2S_LONGEST_TRACKED];
    int points = 0;
    printf("length      n  exact_match\n");
    for (int n = 1; n <= S2S_LONGEST_TRACKED; n++) {
        const el_score *row = &r->by_length[n];
        if (!row->count) continue;
        printf("%6d%s %6ld  %.4f\n", n, n == S2S_LONGEST_TRACKED ? "+" : " ", row->count,
               el_score_exact_match(row));
        x[points] = n;
        y[points++] = el_score_exact_match(row);
    }
    if (ends_with(path, ".png"))
        return plot_line_png(path, x, y, points, "source length", "exact match") ? 1 : 0;
    return write_csv(r, path);
}

int s2s_report(const s2s_result *r, int pairs, const char *by_length)
{
    if (by_length && s2s_write_by_length(r, by_length)) return 1;
    if (pairs) printf("symbol_error_rate: %.4f\n", el_score_error_rate(&r->total));
    printf("exact_match: %.4f (n=%ld)\n", el_score_exact_match(&r->total), r->total.count);
    return 0;
}
