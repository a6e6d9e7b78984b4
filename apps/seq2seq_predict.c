/* seq2seq-train --predict: each source cut into symbols as the model's
 * training data was, decoded, and printed in the target's own way. */
#define _POSIX_C_SOURCE 200809L /* getline */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cli.h"
#include "elman/file.h"
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

/* Decodes one source (len bytes of text; name and line place it in
 * messages) and prints the model's answer. */
static el_status predict_one(const s2s_predictor *p, const char *text, size_t len, const char *name,
                             long line)
{
    el_clusters symbols = {0};
    el_ids ids = {0}, decoded[1] = {{0}};
    el_status s = el_tokens_split(&symbols, p->source_tokens, text, len, name, line);
    if (!s) s = el_vocab_encode(p->source, &symbols, 0, symbols.count, &ids);
    if (!s && p->pairs_model) printf("%.*s\t", (int)len, text);
    if (!s && ids.count > 0) {
        int length = (int)ids.count, index = 0, zero = 0;
        el_batch batch = {1, length, 0, ids.data, &length, NULL, &zero, &index};
        /* Room for a target twice the source's length and then some: a
         * phoneme string is rarely longer than its word. */
        int steps = p->pairs_model ? 2 * length + 8 : length + 8;
        s = el_seq2seq_decode(p->model, &batch, p->beam, steps, decoded);
        if (!s) s = print_ids(p->target, p->target_tokens, &decoded[0]);
    }
    if (!s) printf("\n");
    el_ids_free(&decoded[0]);
    el_ids_free(&ids);
    el_clusters_free(&symbols);
    return s;
}

/* Each non-empty line of a file, up to its first tab. */
static int predict_file(const s2s_predictor *p, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    if (cli_read_file(path, &text, &len)) return 1;
    int status = 0;
    long line = 1;
    for (size_t at = 0; at < len && !status; line++) {
        const char *start = text + at, *newline = memchr(start, '\n', len - at);
        size_t end = newline ? (size_t)(newline - text) : len, n = end - at;
        if (n > 0 && start[n - 1] == '\r') n--;
        const char *tab = memchr(start, '\t', n);
        if (tab) n = (size_t)(tab - start);
        if (n > 0 && predict_one(p, start, n, path, line)) status = cli_library_failure();
        at = end + 1;
    }
    el_file_free(text);
    return status;
}

int s2s_predict(const s2s_predictor *p, char **args, int count, const char *input)
{
    for (int i = 0; i < count; i++)
        if (predict_one(p, args[i], strlen(args[i]), "argument", i + 1))
            return cli_library_failure();
    if (count > 0) return 0;
    if (input) return predict_file(p, input);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long number = 0;
    int status = 0;
    while (!status && (n = getline(&line, &cap, stdin)) >= 0) {
        number++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
        if (predict_one(p, line, (size_t)n, "stdin", number)) status = cli_library_failure();
    }
    free(line);
    return status;
}
