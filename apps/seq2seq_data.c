/* seq2seq-train's pairs data: flags, split over distinct sources, the
 * vocabularies, datasets and loaders, and the references of a source. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "meta.h"
#include "seq2seq_data.h"

const char s2s_data_usage[] =
    "Pairs (any transduction: grapheme to phoneme, transliteration, ...):\n"
    "  --pairs FILE            train or evaluate on FILE, one source<TAB>target a line\n"
    "                          (instead of --words); a source with several targets is\n"
    "                          right if it matches any\n"
    "  --source-tokens chars|spaces, --target-tokens chars|spaces   a side's symbols:\n"
    "                          characters (grapheme clusters), or tokens between spaces\n"
    "                          (default chars; --eval and --predict: the model's)\n"
    "  --input FILE            --predict: sources, one a line (a pairs file's targets\n"
    "                          are ignored)\n"
    "  --by-length FILE        --eval: exact match by source length, as FILE.csv\n"
    "                          (length,n,exact_match) or as a plot, FILE.png\n"
    "  --attention-png FILE    --predict: the first source's attention weights as a\n"
    "                          heat map, output symbols down, source symbols across\n"
    "\n";

static int parse_tokens(const char *flag, const char *v, el_tokens *out)
{
    if (!v) return -1;
    if (el_tokens_parse(v, out) == EL_OK) return 1;
    cli_error("%s: '%s' is not chars or spaces", flag, v);
    return -1;
}

int s2s_data_flag(int argc, char **argv, int *i, s2s_data_options *o)
{
    const char *v;
    if (cli_flag_value(argc, argv, i, "--pairs", &v)) return v ? (o->pairs = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--input", &v)) return v ? (o->input = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--by-length", &v)) return v ? (o->by_length = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--attention-png", &v))
        return v ? (o->attention_png = v, 1) : -1;
    if (cli_flag_value(argc, argv, i, "--source-tokens", &v)) {
        o->tokens_given |= 1;
        return parse_tokens("--source-tokens", v, &o->source_tokens);
    }
    if (cli_flag_value(argc, argv, i, "--target-tokens", &v)) {
        o->tokens_given |= 2;
        return parse_tokens("--target-tokens", v, &o->target_tokens);
    }
    return 0;
}

el_status s2s_data_save(el_checkpoint_writer *w, const s2s_data_options *o, const char *words)
{
    if (!o->pairs) return el_checkpoint_set_meta(w, "train.words", words);
    el_status s = el_checkpoint_set_meta(w, "train.pairs", o->pairs);
    if (!s) s = el_checkpoint_set_meta(w, "train.source_tokens", el_tokens_name(o->source_tokens));
    if (!s) s = el_checkpoint_set_meta(w, "train.target_tokens", el_tokens_name(o->target_tokens));
    return s;
}

int s2s_data_read_meta(const el_checkpoint *c, s2s_data_options *o, int *pairs_model,
                       const char **path)
{
    const char *pairs = el_checkpoint_meta(c, "train.pairs");
    *pairs_model = pairs != NULL;
    *path = pairs ? pairs : el_checkpoint_meta(c, "train.words");
    if (!pairs) return 0;
    const char *source = meta_get(c, "train.source_tokens");
    const char *target = source ? meta_get(c, "train.target_tokens") : NULL;
    if (!target) return -1;
    el_tokens s, t;
    if (el_tokens_parse(source, &s) || el_tokens_parse(target, &t)) {
        cli_error("the model's token modes '%s' and '%s' are not chars or spaces", source, target);
        return -1;
    }
    if (!(o->tokens_given & 1)) o->source_tokens = s;
    if (!(o->tokens_given & 2)) o->target_tokens = t;
    return 0;
}

void s2s_pairs_free(s2s_pairs *p)
{
    el_pairs_free(p->pairs);
    for (int k = 0; k < S2S_SPLITS; k++) {
        el_ids_free(&p->groups[k]);
        el_ids_free(&p->rows[k]);
        el_pair_data_free(p->sets[k]);
    }
    el_pair_data_free(p->all);
    free(p->references);
    free(p->reference_lengths);
    memset(p, 0, sizeof *p);
}

/* The split's rows: all pairs of the training groups, the first pair of
 * each other group. */
static el_status list_rows(s2s_pairs *p)
{
    el_status s = el_pairs_of_groups(p->pairs, p->groups[S2S_TRAIN].data,
                                     (int)p->groups[S2S_TRAIN].count, &p->rows[S2S_TRAIN]);
    for (int k = S2S_VALIDATION; k < S2S_SPLITS && !s; k++) {
        const el_ids *g = &p->groups[k];
        for (size_t j = 0; j < g->count && !s; j++) {
            /* The group's pairs are appended in file order: keep the first. */
            size_t before = p->rows[k].count;
            s = el_pairs_of_groups(p->pairs, &g->data[j], 1, &p->rows[k]);
            if (!s) p->rows[k].count = before + 1;
        }
    }
    return s;
}

static el_status build_vocabularies(s2s_pairs *p, el_vocab **source, el_vocab **target)
{
    el_status s = el_vocab_create(source);
    if (!s) s = el_vocab_create(target);
    if (!s)
        s = el_vocab_add_pairs(*source, *target, p->pairs, p->rows[S2S_TRAIN].data,
                               (int)p->rows[S2S_TRAIN].count);
    if (!s) s = el_vocab_finish(*source, 1);
    if (!s) s = el_vocab_finish(*target, 1);
    return s;
}

/* The datasets, the references' dataset and room, the longest target. */
static el_status build_sets(s2s_pairs *p, const el_vocab *source, const el_vocab *target)
{
    int n = el_pairs_count(p->pairs), largest = 1;
    el_status s = EL_OK;
    for (int i = 0; i < n; i++) {
        size_t length = el_pairs_target(p->pairs, i)->count;
        if (length > (size_t)p->longest_target) p->longest_target = (int)length;
    }
    for (int g = 0; g < el_pairs_groups(p->pairs); g++) {
        int count;
        el_pairs_group(p->pairs, g, &count);
        if (count > largest) largest = count;
    }
    for (int k = 0; k < S2S_SPLITS && !s; k++)
        s = el_pair_data_create(&p->sets[k], p->pairs, p->rows[k].data, (int)p->rows[k].count,
                                source, target);
    /* The references' dataset is indexed by pair. */
    int *every = malloc(((size_t)n + 1) * sizeof *every);
    for (int i = 0; every && i < n; i++) every[i] = i;
    if (!s && every) s = el_pair_data_create(&p->all, p->pairs, every, n, source, target);
    int short_of_memory = !every;
    free(every);
    p->references = calloc((size_t)largest, sizeof *p->references);
    p->reference_lengths = calloc((size_t)largest, sizeof *p->reference_lengths);
    if (!s && (short_of_memory || !p->references || !p->reference_lengths)) {
        cli_error("out of memory");
        s = EL_ERR_NOMEM;
    }
    return s;
}

static el_status copy_ids(el_ids *to, const el_ids *from)
{
    to->data = malloc((from->count + 1) * sizeof *to->data); /* el_ids_free frees it */
    if (!to->data) {
        cli_error("out of memory for %zu indices", from->count);
        return EL_ERR_NOMEM;
    }
    if (from->count) memcpy(to->data, from->data, from->count * sizeof *to->data);
    to->count = to->capacity = from->count;
    return EL_OK;
}

el_status s2s_pairs_load(s2s_pairs *p, const s2s_data_options *o, const s2s_split *split,
                         el_vocab **source, el_vocab **target, s2s_outputs out)
{
    el_status s = el_pairs_read(&p->pairs, o->pairs, o->source_tokens, o->target_tokens);
    if (s) return s;
    int groups = el_pairs_groups(p->pairs);
    el_ids *g = p->groups;
    if (split->whole)
        s = el_split(groups, 0, 0, 0, &g[S2S_TEST], &g[S2S_VALIDATION], &g[S2S_TRAIN]);
    else
        s = el_split(groups, split->seed, split->validation, split->test, &g[S2S_TRAIN],
                     &g[S2S_VALIDATION], &g[S2S_TEST]);
    if (!s) s = list_rows(p);
    if (!s && !*source) s = build_vocabularies(p, source, target);
    if (!s) s = build_sets(p, *source, *target);
    for (int k = 0; k < S2S_SPLITS && !s; k++) {
        el_dataset d = el_pair_data_dataset(p->sets[k]);
        el_loader_config config = {k == S2S_TRAIN ? split->batch : split->decode_batch,
                                   k == S2S_TRAIN, split->seed, 0, EL_PAD};
        s = el_loader_create(out.loaders[k], &d, &config);
        if (!s) s = copy_ids(out.examples[k], &p->rows[k]);
    }
    return s;
}

void s2s_pairs_print(const s2s_pairs *p, const el_vocab *source, const el_vocab *target)
{
    printf("%d pairs of %d sources (%zu training pairs, %zu validation and %zu test sources), "
           "%d source and %d target symbols; ",
           el_pairs_count(p->pairs), el_pairs_groups(p->pairs), p->rows[S2S_TRAIN].count,
           p->rows[S2S_VALIDATION].count, p->rows[S2S_TEST].count, el_vocab_size(source),
           el_vocab_size(target));
}

int s2s_pairs_split_failed(const s2s_pairs *p, const char *path)
{
    cli_error("%s: %d pairs of %d sources: %zu sources for training and %zu for the test, and "
              "each needs at least one (--test 0: no test share)",
              path, el_pairs_count(p->pairs), el_pairs_groups(p->pairs), p->groups[S2S_TRAIN].count,
              p->groups[S2S_TEST].count);
    return -1;
}

int s2s_check_model_kind(const char *model, int pairs_model, int pairs_given)
{
    if (pairs_model == pairs_given) return 0;
    cli_error("%s: a %s model: evaluate it with --%s FILE", model,
              pairs_model ? "pairs" : "word-reversal", pairs_model ? "pairs" : "words");
    return 1;
}

int s2s_pairs_max_steps(const s2s_pairs *p) { return p->longest_target + 8; }

int s2s_pairs_references(s2s_pairs *p, int split, int k, const int *const **refs,
                         const size_t **lengths)
{
    int pair = p->rows[split].data[k], count;
    const int *members = el_pairs_group(p->pairs, el_pairs_group_of(p->pairs, pair), &count);
    el_dataset all = el_pair_data_dataset(p->all);
    for (int j = 0; j < count; j++) {
        el_example e;
        all.get(all.self, members[j], &e);
        p->references[j] = e.target;
        p->reference_lengths[j] = (size_t)e.target_length;
    }
    *refs = p->references;
    *lengths = p->reference_lengths;
    return count;
}
