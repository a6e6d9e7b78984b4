/* charlm generate: new text from a saved model, after a prompt. */
#include <stdio.h>
#include <string.h>

#include "charlm.h"
#include "cli.h"

/* The prompt's ids: its clusters, unknown ones as <unk> (with a warning).
 * The prompt (--prompt, or the contents of --prompt-file, named source in
 * messages) is echoed; without one, generation starts after a new line (or,
 * if the text had none, after its most frequent character), unseen. */
static int prompt_ids(run *r, const char *prompt, size_t len, const char *source, el_ids *ids)
{
    int echo = len > 0;
    if (!echo) {
        if (el_vocab_id(r->vocab, "\n", 1) != EL_UNK) {
            prompt = "\n";
            len = 1;
        } else {
            prompt = el_vocab_symbol(r->vocab, EL_SPECIALS, &len);
        }
    }
    el_clusters clusters = {0};
    if (el_clusters_split(&clusters, prompt, len, source, 1)) return cli_library_failure();
    el_status s = el_vocab_encode(r->vocab, &clusters, 0, clusters.count, ids);
    long unknown = 0;
    for (size_t i = 0; i < ids->count; i++) unknown += ids->data[i] == EL_UNK;
    if (unknown)
        fprintf(stderr, "charlm: %ld character%s of %s never seen in training (read as <unk>)\n",
                unknown, unknown > 1 ? "s" : "", source);
    if (!s && echo) fwrite(clusters.text, 1, clusters.bytes, stdout);
    el_clusters_free(&clusters);
    return s ? cli_library_failure() : 0;
}

int charlm_generate(run *r)
{
    if (charlm_load_for_use(r)) return 1;
    el_sampling how = {r->opts.temperature, r->opts.top_k, r->opts.top_p, EL_SPECIALS};
    el_charlm_generator *g = NULL;
    el_ids prompt = {0};
    el_rng rng;
    el_rng_seed(&rng, r->opts.common.seed);
    int status = 0, id = 0, last_newline = 1;
    char *file_text = NULL;
    const char *text = r->opts.prompt ? r->opts.prompt : "", *source = "--prompt";
    size_t len = strlen(text);
    if (r->opts.prompt_file) {
        status = cli_read_file(r->opts.prompt_file, &file_text, &len) ? 1 : 0;
        text = file_text;
        source = r->opts.prompt_file;
    }
    if (!status && el_charlm_generator_create(&g, &r->model, &how)) status = cli_library_failure();
    if (!status) status = prompt_ids(r, text, len, source, &prompt);
    el_file_free(file_text);
    for (size_t i = 0; i < prompt.count && !status; i++)
        if (el_charlm_generator_feed(g, prompt.data[i])) status = cli_library_failure();
    if (!status && len > 0)
        last_newline = prompt.data[prompt.count - 1] == el_vocab_id(r->vocab, "\n", 1);
    /* Each character goes out as soon as it is made, to a terminal or a
     * pipe alike (a write costs a microsecond; a step about twenty). */
    fflush(stdout);
    for (int n = 0; n < r->opts.length && !status; n++) {
        if (el_charlm_generator_draw(g, &rng, &id) || el_charlm_generator_feed(g, id)) {
            status = cli_library_failure();
            break;
        }
        size_t size;
        const char *bytes = el_vocab_symbol(r->vocab, id, &size);
        fwrite(bytes, 1, size, stdout);
        last_newline = size && bytes[size - 1] == '\n';
        fflush(stdout);
    }
    if (!last_newline) putchar('\n');
    fflush(stdout);
    el_ids_free(&prompt);
    el_charlm_generator_free(g);
    return status;
}
