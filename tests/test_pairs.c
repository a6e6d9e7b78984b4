/* Pairs files (pairs.h): parsing, the two ways of cutting a side into
 * symbols, grouping by source, refusals naming the line and byte, the
 * dataset; and the scores of score.h: edit distance, exact match and
 * symbol error rate against several references. */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, for el_pairs_read's file */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void assert_message_has(const char *part)
{
    cr_assert(strstr(el_last_error(), part) != NULL, "message \"%s\" lacks \"%s\"", el_last_error(),
              part);
}

/* Symbol i of c as a C string, in a static buffer. */
static const char *symbol(const el_clusters *c, size_t i)
{
    static char buf[64];
    size_t len = c->starts[i + 1] - c->starts[i];
    cr_assert_lt(len, sizeof buf);
    memcpy(buf, c->text + c->starts[i], len);
    buf[len] = '\0';
    return buf;
}

static el_pairs *parse(const char *text, el_tokens source, el_tokens target)
{
    el_pairs *p = NULL;
    EL_TEST_OK(el_pairs_parse(&p, text, strlen(text), "g2p.tsv", source, target));
    return p;
}

/* ---- tokens ----------------------------------------------------------------- */

Test(pairs, token_modes_parse_and_name)
{
    el_tokens t = EL_TOKENS_CHARS;
    EL_TEST_OK(el_tokens_parse("spaces", &t));
    cr_assert_eq(t, EL_TOKENS_SPACES);
    EL_TEST_OK(el_tokens_parse("chars", &t));
    cr_assert_eq(t, EL_TOKENS_CHARS);
    EL_TEST_FAILS(el_tokens_parse("words", &t), EL_ERR_INVALID);
    assert_message_has("\"words\"");
    cr_assert_str_eq(el_tokens_name(EL_TOKENS_SPACES), "spaces");
    cr_assert_null(el_tokens_name((el_tokens)7));
}

Test(pairs, chars_are_clusters_in_nfc_with_inner_spaces_kept)
{
    el_clusters c = {0};
    /* e + U+0301 is one cluster, "é" in NFC; the outer spaces go. */
    EL_TEST_OK(el_tokens_split(&c, EL_TOKENS_CHARS, "  ne\xCC\x81 a ", 9, "t", 1));
    cr_assert_eq(c.count, 4);
    cr_assert_str_eq(symbol(&c, 0), "n");
    cr_assert_str_eq(symbol(&c, 1), "\xC3\xA9");
    cr_assert_str_eq(symbol(&c, 2), " ");
    cr_assert_str_eq(symbol(&c, 3), "a");
    el_clusters_free(&c);
}

/* Plain ASCII is split without ICU (tokens.c): the clusters must be the
 * ones ICU gives. */
Test(pairs, ascii_chars_are_the_clusters_icu_gives)
{
    static const char *const texts[] = {"hello world", "a\tb",   "x",      "~!@#$%^&*()_+{}|:\"<>?",
                                        "a\rb",        "a\r\nb", "del\x7f"};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        el_clusters mine = {0}, icu = {0};
        size_t len = strlen(texts[k]);
        EL_TEST_OK(el_tokens_split(&mine, EL_TOKENS_CHARS, texts[k], len, "t", 1));
        EL_TEST_OK(el_clusters_split(&icu, texts[k], len, "t", 1));
        cr_assert_eq(mine.count, icu.count, "\"%s\"", texts[k]);
        cr_assert_str_eq(mine.text, icu.text);
        for (size_t i = 0; i <= mine.count; i++) cr_assert_eq(mine.starts[i], icu.starts[i]);
        el_clusters_free(&mine);
        el_clusters_free(&icu);
    }
}

Test(pairs, spaces_are_tokens_between_runs_of_white_space)
{
    el_clusters c = {0};
    const char *text = " aa  r\xC2\xA0"
                       "d v ";
    EL_TEST_OK(el_tokens_split(&c, EL_TOKENS_SPACES, text, strlen(text), "t", 1));
    cr_assert_eq(c.count, 4);
    cr_assert_str_eq(symbol(&c, 0), "aa");
    cr_assert_str_eq(symbol(&c, 1), "r");
    cr_assert_str_eq(symbol(&c, 2), "d"); /* U+00A0 separates too */
    cr_assert_str_eq(symbol(&c, 3), "v");
    cr_assert_str_eq(c.text, "aardv");
    el_clusters_free(&c);
    EL_TEST_OK(el_tokens_split(&c, EL_TOKENS_SPACES, "   ", 3, "t", 1));
    cr_assert_eq(c.count, 0);
    el_clusters_free(&c);
}

Test(pairs, decode_joins_tokens_with_one_space)
{
    el_vocab *v = NULL;
    el_clusters c = {0};
    EL_TEST_OK(el_vocab_create(&v));
    EL_TEST_OK(el_tokens_split(&c, EL_TOKENS_SPACES, "hh ah l ow", 10, "t", 1));
    EL_TEST_OK(el_vocab_add(v, &c));
    EL_TEST_OK(el_vocab_finish(v, 1));
    el_ids ids = {0};
    EL_TEST_OK(el_vocab_encode(v, &c, 0, c.count, &ids));
    int with_specials[] = {EL_SOS, ids.data[0], ids.data[1], EL_UNK, ids.data[3], EL_EOS};
    char buf[64];
    size_t len = 0;
    EL_TEST_OK(el_tokens_decode(v, EL_TOKENS_SPACES, with_specials, 6, buf, sizeof buf, &len));
    cr_assert_str_eq(buf, "hh ah \xEF\xBF\xBD ow");
    cr_assert_eq(len, strlen(buf));
    EL_TEST_OK(el_tokens_decode(v, EL_TOKENS_CHARS, ids.data, ids.count, buf, sizeof buf, NULL));
    cr_assert_str_eq(buf, "hhahlow");
    /* Too small: whole tokens only, and the size needed. */
    EL_TEST_FAILS(el_tokens_decode(v, EL_TOKENS_SPACES, ids.data, ids.count, buf, 6, &len),
                  EL_ERR_INVALID);
    cr_assert_str_eq(buf, "hh ah");
    cr_assert_eq(len, 10);
    int bad = 99;
    EL_TEST_FAILS(el_tokens_decode(v, EL_TOKENS_SPACES, &bad, 1, buf, sizeof buf, NULL),
                  EL_ERR_INVALID);
    assert_message_has("id 99");
    el_ids_free(&ids);
    el_clusters_free(&c);
    el_vocab_free(v);
}

/* ---- parsing ---------------------------------------------------------------- */

Test(pairs, lines_become_pairs_with_their_line_numbers)
{
    el_pairs *p = parse("cat\tk ae t\r\n\ndog\td ao g\nb\xC3\xA4r\tb eh r", EL_TOKENS_CHARS,
                        EL_TOKENS_SPACES);
    cr_assert_eq(el_pairs_count(p), 3);
    cr_assert_eq(el_pairs_source(p, 0)->count, 3);
    cr_assert_eq(el_pairs_target(p, 0)->count, 3);
    cr_assert_str_eq(symbol(el_pairs_target(p, 0), 1), "ae");
    cr_assert_eq(el_pairs_line(p, 0), 1);
    cr_assert_eq(el_pairs_line(p, 1), 3); /* the empty line 2 is skipped */
    cr_assert_eq(el_pairs_line(p, 2), 4);
    cr_assert_str_eq(symbol(el_pairs_source(p, 2), 1), "\xC3\xA4");
    cr_assert_null(el_pairs_source(p, 3));
    cr_assert_null(el_pairs_target(p, -1));
    cr_assert_eq(el_pairs_line(p, 3), 0);
    el_pairs_free(p);
}

Test(pairs, an_empty_text_has_no_pairs)
{
    el_pairs *p = parse("\n\r\n", EL_TOKENS_CHARS, EL_TOKENS_CHARS);
    cr_assert_eq(el_pairs_count(p), 0);
    cr_assert_eq(el_pairs_groups(p), 0);
    el_pairs_free(p);
    EL_TEST_OK(el_pairs_parse(&p, NULL, 0, NULL, EL_TOKENS_CHARS, EL_TOKENS_CHARS));
    cr_assert_eq(el_pairs_count(p), 0);
    el_pairs_free(p);
}

Test(pairs, sources_with_several_targets_form_one_group)
{
    /* "read" twice, a repeated pair kept once, and a source that differs
     * only in NFC form joining its group. */
    el_pairs *p = parse("read\tr iy d\ncafe\u0301\tk ae f ey\nread\tr eh d\nread\tr iy d\n"
                        "x\tehk s\ncaf\xC3\xA9\tk ah f ey\n",
                        EL_TOKENS_CHARS, EL_TOKENS_SPACES);
    cr_assert_eq(el_pairs_count(p), 5);
    cr_assert_eq(el_pairs_groups(p), 3);
    int n = 0;
    const int *read = el_pairs_group(p, 0, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(read[0], 0);
    cr_assert_eq(read[1], 2);
    const int *cafe = el_pairs_group(p, 1, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(cafe[0], 1);
    cr_assert_eq(cafe[1], 4);
    cr_assert_eq(el_pairs_line(p, 4), 6);
    cr_assert_eq(el_pairs_group_of(p, 3), 2);
    cr_assert_eq(el_pairs_group_of(p, 5), -1);
    cr_assert_null(el_pairs_group(p, 3, &n));
    cr_assert_eq(n, 0);
    int groups[] = {2, 0};
    el_ids members = {0};
    EL_TEST_OK(el_pairs_of_groups(p, groups, 2, &members));
    cr_assert_eq(members.count, 3);
    cr_assert_eq(members.data[0], 3);
    cr_assert_eq(members.data[1], 0);
    cr_assert_eq(members.data[2], 2);
    groups[0] = 3;
    EL_TEST_FAILS(el_pairs_of_groups(p, groups, 1, &members), EL_ERR_INVALID);
    assert_message_has("groups[0] = 3");
    el_ids_free(&members);
    el_pairs_free(p);
}

Test(pairs, token_boundaries_tell_pairs_apart)
{
    /* The same letters cut differently are different targets. */
    el_pairs *p = parse("a\tab c\na\ta bc\n", EL_TOKENS_CHARS, EL_TOKENS_SPACES);
    cr_assert_eq(el_pairs_count(p), 2);
    cr_assert_eq(el_pairs_groups(p), 1);
    el_pairs_free(p);
}

/* Arrays, not pointers: Criterion hands parameters to a new process. */
typedef struct bad_pairs {
    char text[32];
    size_t len;
    char message[64];
} bad_pairs;

ParameterizedTestParameters(pairs, malformed_lines_are_refused_with_line_and_byte)
{
    static bad_pairs cases[] = {
        {"ab\tba\nabc\n", 10, "g2p.tsv:2: no tab between source and target (byte 6)"},
        {"ab\tba\n\na\tb\tc\n", 13, "g2p.tsv:3: more than one tab (byte 10)"},
        {"ab\tba\n\tb\n", 9, "g2p.tsv:2: an empty source (byte 6)"},
        {"ab\tba\n  \tb\n", 11, "g2p.tsv:2: an empty source (byte 6)"},
        {"ab\tba\r\nab\t \r\n", 13, "g2p.tsv:2: an empty target (byte 10)"},
        {"ab\tba\nab\t\xC3\x28\n", 12, "g2p.tsv:2: invalid UTF-8 at byte 9"},
        {"a\xED\xA0\x80\tb\n", 7, "g2p.tsv:1: invalid UTF-8 at byte 1"},
        {"ab\tba\nab\tb\0a\n", 13, "g2p.tsv:2: a NUL byte at byte 10"},
        {"  \n", 3, "g2p.tsv:1: no tab between source and target (byte 0)"},
    };
    return cr_make_param_array(bad_pairs, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bad_pairs *bad, pairs, malformed_lines_are_refused_with_line_and_byte)
{
    el_pairs *p = (el_pairs *)&p; /* a refusal must reset it */
    EL_TEST_FAILS(
        el_pairs_parse(&p, bad->text, bad->len, "g2p.tsv", EL_TOKENS_CHARS, EL_TOKENS_CHARS),
        EL_ERR_FORMAT);
    cr_assert_null(p);
    cr_assert_str_eq(el_last_error(), bad->message);
}

Test(pairs, arguments_are_checked)
{
    el_pairs *p = NULL;
    EL_TEST_FAILS(el_pairs_parse(NULL, "a\tb", 3, NULL, EL_TOKENS_CHARS, EL_TOKENS_CHARS),
                  EL_ERR_INVALID);
    EL_TEST_FAILS(el_pairs_parse(&p, NULL, 3, NULL, EL_TOKENS_CHARS, EL_TOKENS_CHARS),
                  EL_ERR_INVALID);
    EL_TEST_FAILS(el_pairs_parse(&p, "a\tb", 3, NULL, (el_tokens)2, EL_TOKENS_CHARS),
                  EL_ERR_INVALID);
    EL_TEST_FAILS(el_pairs_read(&p, "/nonexistent/pairs.tsv", EL_TOKENS_CHARS, EL_TOKENS_CHARS),
                  EL_ERR_IO);
    cr_assert_null(p);
    cr_assert_eq(el_pairs_count(NULL), 0);
    cr_assert_null(el_pairs_source(NULL, 0));
    el_pairs_free(NULL);
}

Test(pairs, a_file_is_read_and_named_in_messages)
{
    char dir[64];
    el_test_make_dir(dir, "pairs");
    char path[128];
    snprintf(path, sizeof path, "%s/bad.tsv", dir);
    el_test_write_file(path, "a\tb\nc\n", 6);
    el_pairs *p = NULL;
    EL_TEST_FAILS(el_pairs_read(&p, path, EL_TOKENS_CHARS, EL_TOKENS_CHARS), EL_ERR_FORMAT);
    char want[192];
    snprintf(want, sizeof want, "%s:2: no tab", path);
    assert_message_has(want);
    el_test_write_file(path, "a\tb\nc\td\n", 8);
    EL_TEST_OK(el_pairs_read(&p, path, EL_TOKENS_CHARS, EL_TOKENS_CHARS));
    cr_assert_eq(el_pairs_count(p), 2);
    el_pairs_free(p);
    el_test_remove_tree(dir);
}

/* ---- vocabularies and the dataset ------------------------------------------ */

Test(pairs, dataset_gives_source_and_target_ids_of_the_listed_pairs)
{
    el_pairs *p = parse("ab\tx y\nba\ty x z\nq\tw\n", EL_TOKENS_CHARS, EL_TOKENS_SPACES);
    el_vocab *sv = NULL, *tv = NULL;
    EL_TEST_OK(el_vocab_create(&sv));
    EL_TEST_OK(el_vocab_create(&tv));
    int train[] = {0, 1};
    EL_TEST_OK(el_vocab_add_pairs(sv, tv, p, train, 2));
    EL_TEST_OK(el_vocab_finish(sv, 1));
    EL_TEST_OK(el_vocab_finish(tv, 1));
    cr_assert_eq(el_vocab_size(sv), EL_SPECIALS + 2); /* a, b: q is not in training */
    cr_assert_eq(el_vocab_size(tv), EL_SPECIALS + 3); /* x, y, z */
    int listed[] = {2, 1};
    el_pair_data *data = NULL;
    EL_TEST_OK(el_pair_data_create(&data, p, listed, 2, sv, tv));
    el_dataset d = el_pair_data_dataset(data);
    cr_assert_eq(d.count(d.self), 2);
    el_example e;
    EL_TEST_OK(d.get(d.self, 0, &e));
    cr_assert_eq(e.input_length, 1);
    cr_assert_eq(e.input[0], EL_UNK); /* as the word path encodes an unseen character */
    cr_assert_eq(e.target_length, 1);
    cr_assert_eq(e.target[0], EL_UNK);
    EL_TEST_OK(d.get(d.self, 1, &e));
    cr_assert_eq(e.input_length, 2);
    cr_assert_eq(e.input[0], el_vocab_id(sv, "b", 1));
    cr_assert_eq(e.target_length, 3);
    cr_assert_eq(e.target[2], el_vocab_id(tv, "z", 1));
    EL_TEST_FAILS(d.get(d.self, 2, &e), EL_ERR_INVALID);

    /* Batched time-major, as the loader gives el_reverse_words. */
    el_loader *loader = NULL;
    el_loader_config config = {2, 0, 1, 0, EL_PAD};
    EL_TEST_OK(el_loader_create(&loader, &d, &config));
    const el_batch *b = NULL;
    EL_TEST_OK(el_loader_start(loader, 0));
    EL_TEST_OK(el_loader_next(loader, &b));
    cr_assert_eq(b->input_steps, 2);
    cr_assert_eq(b->target_steps, 3);
    cr_assert_eq(b->inputs[0 * 2 + 1], el_vocab_id(sv, "b", 1));
    cr_assert_eq(b->inputs[1 * 2 + 0], EL_PAD);
    cr_assert_eq(b->targets[2 * 2 + 1], el_vocab_id(tv, "z", 1));
    el_loader_free(loader);

    int outside[] = {3};
    el_pair_data *none = (el_pair_data *)&none;
    EL_TEST_FAILS(el_pair_data_create(&none, p, outside, 1, sv, tv), EL_ERR_INVALID);
    cr_assert_null(none);
    assert_message_has("indices[0] = 3");
    EL_TEST_FAILS(el_vocab_add_pairs(sv, NULL, p, outside, 1), EL_ERR_INVALID);
    el_pair_data_free(data);
    el_vocab_free(sv);
    el_vocab_free(tv);
    el_pairs_free(p);
}

Test(pairs, a_token_vocabulary_survives_json)
{
    el_pairs *p = parse("ab\taa r\n", EL_TOKENS_CHARS, EL_TOKENS_SPACES);
    el_vocab *tv = NULL, *back = NULL;
    int all[] = {0};
    EL_TEST_OK(el_vocab_create(&tv));
    EL_TEST_OK(el_vocab_add_pairs(NULL, tv, p, all, 1));
    EL_TEST_OK(el_vocab_finish(tv, 1));
    char *json = NULL;
    EL_TEST_OK(el_vocab_to_json(tv, &json));
    EL_TEST_OK(el_vocab_from_json(&back, json));
    cr_assert_eq(el_vocab_id(back, "aa", 2), el_vocab_id(tv, "aa", 2));
    cr_assert_geq(el_vocab_id(back, "aa", 2), EL_SPECIALS);
    el_vocab_json_free(json);
    el_vocab_free(back);
    el_vocab_free(tv);
    el_pairs_free(p);
}

/* ---- scores ----------------------------------------------------------------- */

typedef struct distance_case {
    int a[8], a_len, b[8], b_len, distance;
} distance_case;

ParameterizedTestParameters(score, edit_distance_cases)
{
    static distance_case cases[] = {
        {{0}, 0, {0}, 0, 0},
        {{1, 2, 3}, 3, {0}, 0, 3}, /* three deletions */
        {{0}, 0, {1, 2}, 2, 2},    /* two insertions */
        {{1, 2, 3}, 3, {1, 2, 3}, 3, 0},
        {{1, 2, 3}, 3, {1, 9, 3}, 3, 1},                      /* a substitution */
        {{1, 2, 3, 4}, 4, {2, 3, 4, 5}, 4, 2},                /* kitten/sitting-like shift */
        {{1, 2}, 2, {2, 1}, 2, 2},                            /* a swap is two edits */
        {{5, 1, 6, 6, 2, 7}, 6, {3, 1, 6, 6, 4, 7, 8}, 7, 3}, /* kitten -> sitting */
    };
    return cr_make_param_array(distance_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(distance_case *c, score, edit_distance_cases)
{
    size_t d = 99, back = 99;
    EL_TEST_OK(el_edit_distance(c->a, (size_t)c->a_len, c->b, (size_t)c->b_len, &d));
    EL_TEST_OK(el_edit_distance(c->b, (size_t)c->b_len, c->a, (size_t)c->a_len, &back));
    cr_assert_eq(d, (size_t)c->distance);
    cr_assert_eq(back, d, "the distance is symmetric");
}

Test(score, any_reference_counts_and_the_closest_sets_the_error_rate)
{
    el_score score = {0};
    int read_iy[] = {1, 2, 3}, read_eh[] = {1, 4, 3}, long_one[] = {1, 4, 3, 5, 6};
    const int *refs[] = {read_iy, read_eh, long_one};
    size_t lengths[] = {3, 3, 5};
    /* Right against the second reference. */
    EL_TEST_OK(el_score_add(&score, read_eh, 3, refs, lengths, 3));
    /* One symbol off the first two (the first of them counts, length 3),
     * though two off the long one. */
    int guess[] = {1, 7, 3};
    EL_TEST_OK(el_score_add(&score, guess, 3, refs, lengths, 3));
    /* Closest to the long one: 1 edit over 5. */
    int near_long[] = {1, 4, 3, 5, 6, 9};
    EL_TEST_OK(el_score_add(&score, near_long, 6, refs, lengths, 3));
    /* Empty: as far as the shortest reference is long. */
    EL_TEST_OK(el_score_add(&score, NULL, 0, refs, lengths, 1));
    cr_assert_eq(score.count, 4);
    cr_assert_eq(score.exact, 1);
    cr_assert_eq(score.errors, 0 + 1 + 1 + 3);
    cr_assert_eq(score.reference_length, 3 + 3 + 5 + 3);
    cr_assert_float_eq(el_score_exact_match(&score), 0.25, 1e-12);
    cr_assert_float_eq(el_score_error_rate(&score), 5.0 / 14.0, 1e-12);
    el_score_free(&score);
    cr_assert_eq(score.count, 4, "the totals outlive free");
    el_score_free(&score);
}

Test(score, empty_and_bad_arguments)
{
    el_score score = {0};
    cr_assert_eq(el_score_exact_match(&score), 0.0);
    cr_assert_eq(el_score_error_rate(&score), 0.0);
    int a[] = {1};
    const int *refs[] = {a};
    size_t lengths[] = {1};
    EL_TEST_FAILS(el_score_add(&score, a, 1, refs, lengths, 0), EL_ERR_INVALID);
    assert_message_has("el_score_add");
    EL_TEST_FAILS(el_score_add(&score, NULL, 1, refs, lengths, 1), EL_ERR_INVALID);
    const int *null_ref[] = {NULL};
    EL_TEST_FAILS(el_score_add(&score, a, 1, null_ref, lengths, 1), EL_ERR_INVALID);
    size_t d;
    EL_TEST_FAILS(el_edit_distance(a, 1, a, 1, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_edit_distance(NULL, 1, a, 1, &d), EL_ERR_INVALID);
    cr_assert_eq(score.count, 0);
    el_score_free(&score);
}

/* ---- out of memory ---------------------------------------------------------- */

/* Both token modes, a repeated pair, a second target and non-ASCII text
 * (through ICU), so that every allocation of the reader is reached. */
static const char pairs_text[] = "read\tr iy d\ncafe\xCC\x81\tk ae f\nread\tr eh d\nread\tr iy d\n";

static el_status try_pairs_parse(long n)
{
    el_pairs *p = NULL;
    el_test_arm(n);
    el_status s = el_test_disarm(
        el_pairs_parse(&p, pairs_text, strlen(pairs_text), "p", EL_TOKENS_CHARS, EL_TOKENS_SPACES));
    if (s) cr_assert_null(p);
    if (!s) cr_assert_eq(el_pairs_count(p), 3);
    el_pairs_free(p);
    return s;
}

static el_status try_pair_data_create(long n)
{
    el_pairs *p = parse(pairs_text, EL_TOKENS_CHARS, EL_TOKENS_SPACES);
    el_vocab *sv = NULL, *tv = NULL;
    int all[] = {0, 1, 2};
    EL_TEST_OK(el_vocab_create(&sv));
    EL_TEST_OK(el_vocab_create(&tv));
    EL_TEST_OK(el_vocab_add_pairs(sv, tv, p, all, 3));
    EL_TEST_OK(el_vocab_finish(sv, 1));
    EL_TEST_OK(el_vocab_finish(tv, 1));
    el_pair_data *data = NULL;
    el_ids members = {0};
    el_test_arm(n);
    el_status s = el_pair_data_create(&data, p, all, 3, sv, tv);
    if (!s) s = el_pairs_of_groups(p, (int[]){1, 0}, 2, &members);
    s = el_test_disarm(s);
    if (!s) cr_assert_eq(members.count, 3);
    el_ids_free(&members);
    el_pair_data_free(data);
    el_vocab_free(sv);
    el_vocab_free(tv);
    el_pairs_free(p);
    return s;
}

static el_status try_score_add(long n)
{
    el_score score = {0};
    int a[] = {1, 2, 3}, b[] = {1, 2};
    const int *refs[] = {a, b};
    size_t lengths[] = {3, 2};
    el_test_arm(n);
    el_status s = el_test_disarm(el_score_add(&score, b, 2, refs, lengths, 2));
    if (!s) cr_assert_eq(score.exact, 1);
    if (s) cr_assert_eq(score.count, 0, "a failed add counts nothing");
    el_score_free(&score);
    return s;
}

Test(pairs_memory, pairs_parse) { el_test_sweep("el_pairs_parse", try_pairs_parse, 200); }

Test(pairs_memory, pair_data_create)
{
    el_test_sweep("el_pair_data_create", try_pair_data_create, 64);
}

Test(pairs_memory, score_add) { el_test_sweep("el_score_add", try_score_add, 16); }
