/* seq2seq-train --predict: each source cut into symbols as the model's
 * training data was, decoded, and printed in the target's own way. */
#define _POSIX_C_SOURCE 200809L /* getline */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"
#include "elman/file.h"
#include "plot.h"
#include "seq2seq_predict.h"

/* Writes ids as the target's text to stdout. */
static el_status print_ids(const el_vocab *v, el_tokens tokens, const el_ids *ids)
{
    char small[1024];
    size_t need = 0;
    if (el_tokens_decode(v, tokens, ids->data, ids->count, small, sizeof small, &need) == EL_OK) {
        fputs(small, stdout);
        return EL_OK;
    }
    char *big = malloc(need + 1);
    if (!big) {
        cli_error("out of memory for a prediction of %zu bytes", need);
        return EL_ERR_NOMEM;
    }
    el_status s = el_tokens_decode(v, tokens, ids->data, ids->count, big, need + 1, NULL);
    if (!s) fputs(big, stdout);
    free(big);
    return s;
}

/* The text of id: its symbol, or a special's name ("<eos>"); malloc'd. */
static char *label_of(const el_vocab *v, int id)
{
    size_t len = 0;
    const char *bytes = el_vocab_symbol(v, id, &len);
    if (!bytes) bytes = "?", len = 1;
    char *label = malloc(len + 1);
    if (label) {
        memcpy(label, bytes, len);
        label[len] = '\0';
    }
    return label;
}

/* Writes the weights beside the PNG, as text, for symbols its font lacks:
 * a header of the source symbols, then each output symbol and its row. */
static int write_weights_text(const char *png, const float *w, int rows, int cols,
                              char *const *row_labels, char *const *col_labels)
{
    char path[4096];
    snprintf(path, sizeof path, "%s.txt", png);
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_error("%s: cannot write", path);
        return 1;
    }
    for (int c = 0; c < cols; c++) fprintf(f, "\t%s", col_labels[c]);
    fprintf(f, "\n");
    for (int r = 0; r < rows; r++) {
        fprintf(f, "%s", row_labels[r]);
        for (int c = 0; c < cols; c++)
            fprintf(f, "\t%.4f", w[(size_t)r * (size_t)cols + (size_t)c]);
        fprintf(f, "\n");
    }
    if (fclose(f) != 0) {
        cli_error("%s: cannot write", path);
        return 1;
    }
    fprintf(stderr, "%s: the symbols and weights are in %s (the PNG's font lacks some)\n",
            cli_program_name(), path);
    return 0;
}

/* The source's columns: its symbols, or, where the encoder reads the
 * notebook's padded framing, <sos>, the symbols, <eos> and padding. */
static int column_id(const el_batch *batch, int cols, int c)
{
    int length = batch->input_lengths[0];
    if (cols == length) return batch->inputs[c];
    return c == 0 ? EL_SOS : c <= length ? batch->inputs[c - 1] : c == length + 1 ? EL_EOS : EL_PAD;
}

/* Draws the attention weights of the batch's one example: a row per output
 * symbol (and the step that chose <eos>), a column per source step. */
static int draw_attention(const s2s_predictor *p, const el_batch *batch, const el_ids *out,
                          const el_tensor *w)
{
    int steps = w->shape[1], cols = w->shape[2];
    int rows = (int)out->count + 1 < steps ? (int)out->count + 1 : steps;
    char **row_labels = calloc((size_t)rows, sizeof *row_labels);
    char **col_labels = calloc((size_t)cols, sizeof *col_labels);
    int failed = !row_labels || !col_labels, drawable = 1;
    for (int r = 0; !failed && r < rows; r++) {
        row_labels[r] = label_of(p->target, r < (int)out->count ? out->data[r] : EL_EOS);
        failed = !row_labels[r];
        drawable = drawable && !failed && plot_can_draw(row_labels[r]);
    }
    for (int c = 0; !failed && c < cols; c++) {
        col_labels[c] = label_of(p->source, column_id(batch, cols, c));
        failed = !col_labels[c];
        drawable = drawable && !failed && plot_can_draw(col_labels[c]);
    }
    if (failed) cli_error("out of memory for the attention map's labels");
    if (!failed)
        failed = plot_heatmap_png(p->attention_png, w->data, rows, cols,
                                  (const char *const *)row_labels, (const char *const *)col_labels);
    if (!failed && !drawable)
        failed = write_weights_text(p->attention_png, w->data, rows, cols, row_labels, col_labels);
    for (int r = 0; row_labels && r < rows; r++) free(row_labels[r]);
    for (int c = 0; col_labels && c < cols; c++) free(col_labels[c]);
    free(row_labels);
    free(col_labels);
    return failed;
}

/* Decodes one source (len bytes of text; name and line place it in
 * messages) and prints the model's answer.  While *map is set (the first
 * source, when an attention map is wanted) it decodes greedily, draws the
 * weights and clears *map.  0, or 1 after reporting. */
static int predict_one(const s2s_predictor *p, const char *text, size_t len, const char *name,
                       long line, int *map)
{
    el_tensor weights = {0};
    el_clusters symbols = {0};
    el_ids ids = {0}, decoded[1] = {{0}};
    int drawn = 0, failed = 0;
    el_status s = el_tokens_split(&symbols, p->source_tokens, text, len, name, line);
    if (!s) s = el_vocab_encode(p->source, &symbols, 0, symbols.count, &ids);
    if (!s && ids.count > 0) {
        int length = (int)ids.count, index = 0, zero = 0;
        el_batch batch = {1, length, 0, ids.data, &length, NULL, &zero, &index};
        /* Room for a target twice the source's length and then some: a
         * phoneme string is rarely longer than its word. */
        int steps = p->pairs_model ? 2 * length + 8 : length + 8;
        drawn = *map;
        if (drawn)
            s = el_seq2seq_decode_attention(p->model, &batch, steps, decoded, &weights);
        else
            s = el_seq2seq_decode(p->model, &batch, p->beam, steps, decoded);
        if (!s && drawn) failed = draw_attention(p, &batch, &decoded[0], &weights);
    }
    if (!s && !failed && p->pairs_model) printf("%.*s\t", (int)len, text);
    if (!s && !failed && ids.count > 0) s = print_ids(p->target, p->target_tokens, &decoded[0]);
    if (!s && !failed) printf("\n");
    if (s) failed = cli_library_failure();
    if (drawn) *map = 0;
    el_tensor_free(&weights);
    el_ids_free(&decoded[0]);
    el_ids_free(&ids);
    el_clusters_free(&symbols);
    return failed;
}

/* Each non-empty line of a file, up to its first tab. */
static int predict_file(const s2s_predictor *p, const char *path, int *map)
{
    char *text = NULL;
    size_t len = 0;
    if (cli_read_file(path, &text, &len)) return 1;
    /* The whole file checked first, so that invalid UTF-8 is reported at
     * its byte in the file, not in the line. */
    el_clusters whole = {0};
    int status = el_clusters_split(&whole, text, len, path, 1) ? cli_library_failure() : 0;
    el_clusters_free(&whole);
    long line = 1;
    for (size_t at = 0; at < len && !status; line++) {
        const char *start = text + at, *newline = memchr(start, '\n', len - at);
        size_t end = newline ? (size_t)(newline - text) : len, n = end - at;
        if (n > 0 && start[n - 1] == '\r') n--;
        const char *tab = memchr(start, '\t', n);
        if (tab) n = (size_t)(tab - start);
        if (n > 0) status = predict_one(p, start, n, path, line, map);
        at = end + 1;
    }
    el_file_free(text);
    return status;
}

int s2s_predict(const s2s_predictor *p, char **args, int count, const char *input)
{
    int map = p->attention_png != NULL;
    for (int i = 0; i < count; i++)
        if (predict_one(p, args[i], strlen(args[i]), "argument", i + 1, &map)) return 1;
    if (count > 0) return 0;
    if (input) return predict_file(p, input, &map);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long number = 0;
    int status = 0;
    while (!status && (n = getline(&line, &cap, stdin)) >= 0) {
        number++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        status = predict_one(p, line, (size_t)n, "stdin", number, &map);
    }
    free(line);
    return status;
}
