/* Text to grapheme clusters (validation, NFC, UAX #29) and the character
 * vocabulary: ids, encoding, decoding, JSON, one-hot rows, and what an
 * allocation failure leaves behind.
 *
 * One file of over 700 lines: clusters, vocabularies and their JSON share
 * the mixed-script lines and the message checks at its top. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "support.h"

static void assert_message_is(const char *want) { cr_assert_str_eq(el_last_error(), want); }

static void assert_message_has(const char *part)
{
    cr_assert(strstr(el_last_error(), part) != NULL, "message \"%s\" lacks \"%s\"", el_last_error(),
              part);
}

static el_clusters split(const char *text)
{
    el_clusters c;
    EL_TEST_OK(el_clusters_split(&c, text, strlen(text), "test", 1));
    return c;
}

/* Asserts that text splits into the clusters listed (NULL-terminated). */
static void assert_clusters(const char *text, const char *const *want)
{
    el_clusters c = split(text);
    size_t n = 0;
    while (want[n]) n++;
    cr_assert_eq(c.count, n, "\"%s\" gave %zu clusters, expected %zu", text, c.count, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = c.starts[i + 1] - c.starts[i];
        cr_assert(len == strlen(want[i]) && memcmp(c.text + c.starts[i], want[i], len) == 0,
                  "cluster %zu of \"%s\" is \"%.*s\", expected \"%s\"", i, text, (int)len,
                  c.text + c.starts[i], want[i]);
    }
    el_clusters_free(&c);
}

/* A finished vocabulary of the clusters of text. */
static el_vocab *vocab_of(const char *text, int min_count)
{
    el_vocab *v = NULL;
    el_clusters c = split(text);
    EL_TEST_OK(el_vocab_create(&v));
    EL_TEST_OK(el_vocab_add(v, &c));
    EL_TEST_OK(el_vocab_finish(v, min_count));
    el_clusters_free(&c);
    return v;
}

static int id_of(const el_vocab *v, const char *cluster)
{
    return el_vocab_id(v, cluster, strlen(cluster));
}

/* ---- clusters ------------------------------------------------------------ */

#define E_ACUTE "\xC3\xA9"      /* U+00E9 */
#define E_COMBINING "e\xCC\x81" /* e + U+0301 */
#define FLAG_FR "\xF0\x9F\x87\xAB\xF0\x9F\x87\xB7"
#define ZWJ "\xE2\x80\x8D"
#define FAMILY "\xF0\x9F\x91\xA8" ZWJ "\xF0\x9F\x91\xA9" ZWJ "\xF0\x9F\x91\xA7"
#define THUMBS_UP_MEDIUM "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD" /* with a skin tone */

Test(clusters, precomposed_and_decomposed_e_acute_are_the_same_cluster)
{
    el_clusters pre = split(E_ACUTE), de = split(E_COMBINING);
    cr_assert_eq(pre.count, 1);
    cr_assert_eq(de.count, 1);
    cr_assert_str_eq(de.text, E_ACUTE, "the decomposed form is normalised to NFC");
    cr_assert_eq(de.bytes, 2);
    cr_assert_eq(de.starts[1], 2);
    el_clusters_free(&pre);
    el_clusters_free(&de);

    el_vocab *v = vocab_of(E_ACUTE E_COMBINING "x" E_COMBINING, 1);
    cr_assert_eq(el_vocab_size(v), EL_SPECIALS + 2, "é written either way is one symbol");
    cr_assert_eq(id_of(v, E_ACUTE), EL_SPECIALS, "é, counted 3 times, comes first");
    cr_assert_eq(id_of(v, "x"), EL_SPECIALS + 1);
    el_vocab_free(v);
}

Test(clusters, emoji_flags_and_zwj_sequences_are_one_cluster_each)
{
    assert_clusters(FLAG_FR, (const char *[]){FLAG_FR, NULL});
    assert_clusters(FAMILY, (const char *[]){FAMILY, NULL});
    assert_clusters("a" FLAG_FR FAMILY THUMBS_UP_MEDIUM "b",
                    (const char *[]){"a", FLAG_FR, FAMILY, THUMBS_UP_MEDIUM, "b", NULL});
    /* Regional indicators pair up from the left: three give a flag and one. */
    assert_clusters(FLAG_FR "\xF0\x9F\x87\xAB",
                    (const char *[]){FLAG_FR, "\xF0\x9F\x87\xAB", NULL});
}

Test(clusters, cr_lf_is_one_cluster_but_lf_cr_is_two)
{
    assert_clusters("a\r\nb", (const char *[]){"a", "\r\n", "b", NULL});
    assert_clusters("\n\r", (const char *[]){"\n", "\r", NULL});
}

Test(clusters, boundaries_are_byte_offsets_into_the_nfc_text)
{
    el_clusters c = split(E_COMBINING FLAG_FR "\r\nx");
    size_t want[] = {0, 2, 10, 12, 13}; /* é is 2 bytes once composed */
    cr_assert_eq(c.count, 4);
    cr_assert_eq(c.bytes, 13);
    for (size_t i = 0; i <= c.count; i++)
        cr_assert_eq(c.starts[i], want[i], "start %zu is %zu, expected %zu", i, c.starts[i],
                     want[i]);
    el_clusters_free(&c);
}

Test(clusters, hangul_jamo_compose_and_cluster_as_syllables)
{
    /* Conjoining L V T compose to the syllable U+AC01 under NFC. */
    assert_clusters("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8", (const char *[]){"\xEA\xB0\x81", NULL});
    /* An archaic final (U+11FA) does not compose, yet stays in the cluster
     * of the syllable U+AC00 before it. */
    assert_clusters("\xE1\x84\x80\xE1\x85\xA1\xE1\x87\xBA",
                    (const char *[]){"\xEA\xB0\x80\xE1\x87\xBA", NULL});
    /* Precomposed syllables are a cluster each. */
    assert_clusters("\xED\x95\x9C\xEA\xB5\xAD",
                    (const char *[]){"\xED\x95\x9C", "\xEA\xB5\xAD", NULL});
}

Test(clusters, empty_text_has_no_clusters)
{
    el_clusters c;
    EL_TEST_OK(el_clusters_split(&c, "", 0, NULL, 1));
    cr_assert_eq(c.count, 0);
    cr_assert_eq(c.bytes, 0);
    cr_assert_str_eq(c.text, "");
    cr_assert_eq(c.starts[0], 0);
    el_clusters_free(&c);
    EL_TEST_OK(el_clusters_split(&c, NULL, 0, NULL, 1));
    cr_assert_eq(c.count, 0);
    el_clusters_free(&c);
    el_clusters_free(&c); /* freeing twice is harmless: free empties it */
}

Test(clusters, bad_arguments_are_refused)
{
    el_clusters c;
    EL_TEST_FAILS(el_clusters_split(NULL, "a", 1, NULL, 1), EL_ERR_INVALID);
    EL_TEST_FAILS(el_clusters_split(&c, NULL, 1, NULL, 1), EL_ERR_INVALID);
    assert_message_has("el_clusters_split");
    cr_assert_null(c.text, "a refused call leaves an empty result");
}

/* Arrays, not pointers: each test runs in a fresh process (Criterion
 * re-executes the program), where the parent's pointers mean nothing. */
typedef struct bad_utf8 {
    char bytes[5];
    size_t len;
    char what[48];
} bad_utf8;

ParameterizedTestParameters(clusters, invalid_utf8_names_its_line_and_byte)
{
    static bad_utf8 cases[] = {
        {"\x80", 1, "a lone continuation byte"},
        {"\xC0\xAF", 2, "an overlong '/'"},
        {"\xED\xA0\x80", 3, "a surrogate"},
        {"\xE2\x82", 2, "a sequence cut by the end of the text"},
        {"\xF4\x90\x80\x80", 4, "a code point above U+10FFFF"},
    };
    return cr_make_param_array(bad_utf8, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bad_utf8 *bad, clusters, invalid_utf8_names_its_line_and_byte)
{
    /* The bad bytes sit on line 3, after "ab"; the truncated case ends the text. */
    const char *head = "first line\nsecond \xC3\xA9\nab";
    int at_end = bad->bytes[0] == '\xE2';
    char text[64];
    size_t len = (size_t)snprintf(text, sizeof text, "%s", head);
    memcpy(text + len, bad->bytes, bad->len);
    len += bad->len;
    if (!at_end) len += (size_t)snprintf(text + len, sizeof text - len, "cd\nlast");
    size_t offset = strlen(head);

    el_clusters c;
    char want[128];
    EL_TEST_FAILS(el_clusters_split(&c, text, len, "words.txt", 1), EL_ERR_FORMAT);
    snprintf(want, sizeof want, "words.txt:3: invalid UTF-8 at byte %zu", offset);
    cr_assert_str_eq(el_last_error(), want, "%s", bad->what);
    cr_assert_null(c.text);
    cr_assert_null(c.starts);

    /* Lines count from first_line, a chunk's place in its file; NULL names
     * the source "text". */
    EL_TEST_FAILS(el_clusters_split(&c, text, len, NULL, 40), EL_ERR_FORMAT);
    snprintf(want, sizeof want, "text:42: invalid UTF-8 at byte %zu", offset);
    cr_assert_str_eq(el_last_error(), want, "%s", bad->what);
}

Test(clusters, the_first_of_several_bad_bytes_is_reported)
{
    el_clusters c;
    const char text[] = "ok\n\xE2\x82\xAC fine \xFF then \x80";
    EL_TEST_FAILS(el_clusters_split(&c, text, sizeof text - 1, "a", 1), EL_ERR_FORMAT);
    assert_message_is("a:2: invalid UTF-8 at byte 12");
}

Test(clusters, an_embedded_nul_is_refused_with_its_line_and_byte)
{
    el_clusters c;
    const char text[] = "one\ntwo\nth\0ree";
    EL_TEST_FAILS(el_clusters_split(&c, text, sizeof text - 1, "f.txt", 1), EL_ERR_FORMAT);
    assert_message_is("f.txt:3: a NUL byte at byte 10");
    cr_assert_null(c.text);

    /* Whichever comes first is reported. */
    const char nul_first[] = "a\0b\x80";
    EL_TEST_FAILS(el_clusters_split(&c, nul_first, sizeof nul_first - 1, NULL, 1), EL_ERR_FORMAT);
    assert_message_is("text:1: a NUL byte at byte 1");
    const char bad_first[] = "a\x80"
                             "b\0";
    EL_TEST_FAILS(el_clusters_split(&c, bad_first, sizeof bad_first - 1, NULL, 1), EL_ERR_FORMAT);
    assert_message_is("text:1: invalid UTF-8 at byte 1");
}

/* A line of 26 clusters mixing scripts, decomposed accents (so the whole
 * text needs normalising) and emoji; it ends in CR LF, so lines never
 * join into one cluster. */
#define MIXED_LINE                                                                                 \
    "Caf" E_COMBINING " \xD0\x9C\xD0\xB8\xD1\x80 \xE6\x97\xA5\xE6\x9C\xAC " FLAG_FR FAMILY         \
    " ok, 12345!\r\n"
#define MIXED_LINE_CLUSTERS 26

/* Whole books go through here: eight megabytes give the clusters of each
 * line.  Nothing here is timed (a quadratic split would run into the test
 * runner's limit for hangs, which is not an assertion of speed); the time
 * is logged for whoever looks. */
Test(clusters, a_large_text_splits_whole)
{
    size_t line = strlen(MIXED_LINE), lines = (8u << 20) / line;
    char *text = malloc(lines * line);
    cr_assert_not_null(text);
    for (size_t i = 0; i < lines; i++) memcpy(text + i * line, MIXED_LINE, line);
    el_clusters whole = split(MIXED_LINE);
    cr_assert_eq(whole.count, MIXED_LINE_CLUSTERS, "one line has %zu clusters", whole.count);

    clock_t start = clock();
    el_clusters c;
    EL_TEST_OK(el_clusters_split(&c, text, lines * line, "book", 1));
    double seconds = (double)(clock() - start) / CLOCKS_PER_SEC;
    cr_log_info("%zu MB split in %.2f s", lines * line >> 20, seconds);
    cr_assert_eq(c.count, lines * MIXED_LINE_CLUSTERS);
    cr_assert_eq(c.bytes, lines * whole.bytes, "every é was composed");
    cr_assert_eq(memcmp(c.text + (lines - 1) * whole.bytes, whole.text, whole.bytes), 0);

    /* A bad byte near the end is found and placed exactly. */
    text[(lines - 1) * line + 1] = '\xFF';
    el_clusters bad;
    char want[96];
    EL_TEST_FAILS(el_clusters_split(&bad, text, lines * line, "book", 1), EL_ERR_FORMAT);
    snprintf(want, sizeof want, "book:%zu: invalid UTF-8 at byte %zu", lines,
             (lines - 1) * line + 1);
    assert_message_is(want);

    el_clusters_free(&c);
    el_clusters_free(&whole);
    free(text);
}

/* ---- vocabulary ids ------------------------------------------------------ */

Test(vocab, specials_come_first_then_clusters_by_count_ties_in_byte_order)
{
    /* b and a 3 times each, é and z twice, q with a dot, c and q once; q
     * comes before the longer cluster it begins, though seen after it. */
    el_vocab *v = vocab_of("bba" E_ACUTE "aczb" E_COMBINING "azq\xCC\x87q", 1);
    const char *want[] = {"<pad>", "<sos>", "<eos>", "<unk>", "a",        "b",
                          "z",     E_ACUTE, "c",     "q",     "q\xCC\x87"};
    int n = (int)(sizeof want / sizeof want[0]);
    cr_assert_eq(el_vocab_size(v), n);
    for (int id = 0; id < n; id++) {
        size_t len;
        const char *symbol = el_vocab_symbol(v, id, &len);
        cr_assert(symbol && len == strlen(want[id]) && memcmp(symbol, want[id], len) == 0,
                  "id %d is \"%.*s\", expected \"%s\"", id, (int)len, symbol ? symbol : "",
                  want[id]);
        if (id >= EL_SPECIALS) cr_assert_eq(id_of(v, want[id]), id);
    }
    cr_assert_null(el_vocab_symbol(v, n, NULL));
    cr_assert_null(el_vocab_symbol(v, -1, NULL));
    cr_assert_eq(id_of(v, "w"), EL_UNK, "an unseen cluster");
    cr_assert_eq(id_of(v, "<pad>"), EL_UNK, "specials are not clusters");
    el_vocab_free(v);
}

Test(vocab, the_same_counts_give_the_same_ids_whatever_the_order)
{
    el_vocab *a = vocab_of("xyzzyx" E_ACUTE "w", 1);
    el_vocab *b = vocab_of("w" E_ACUTE "zyxxzy", 1);
    cr_assert_eq(el_vocab_size(a), el_vocab_size(b));
    for (int id = 0; id < el_vocab_size(a); id++) {
        size_t la, lb;
        const char *sa = el_vocab_symbol(a, id, &la), *sb = el_vocab_symbol(b, id, &lb);
        cr_assert(la == lb && memcmp(sa, sb, la) == 0, "id %d differs", id);
    }
    el_vocab_free(a);
    el_vocab_free(b);
}

Test(vocab, counting_several_texts_adds_up)
{
    el_vocab *v = NULL;
    el_clusters one = split("ab"), two = split("bcb");
    EL_TEST_OK(el_vocab_create(&v));
    cr_assert_eq(el_vocab_size(v), EL_SPECIALS, "a new vocabulary has only the specials");
    EL_TEST_OK(el_vocab_add(v, &one));
    EL_TEST_OK(el_vocab_add(v, &two));
    EL_TEST_OK(el_vocab_finish(v, 2));
    cr_assert_eq(el_vocab_size(v), EL_SPECIALS + 1, "only b reaches 2");
    cr_assert_eq(id_of(v, "b"), EL_SPECIALS);
    el_clusters_free(&one);
    el_clusters_free(&two);
    el_vocab_free(v);
}

Test(vocab, min_count_sends_rare_clusters_to_unk)
{
    el_vocab *v = vocab_of("aaabbc" FLAG_FR, 2);
    cr_assert_eq(el_vocab_size(v), EL_SPECIALS + 2);
    cr_assert_eq(id_of(v, "c"), EL_UNK);
    cr_assert_eq(id_of(v, FLAG_FR), EL_UNK);

    el_clusters c = split("cab" FLAG_FR);
    el_ids ids = {0};
    EL_TEST_OK(el_vocab_encode(v, &c, 0, c.count, &ids));
    int want[] = {EL_UNK, EL_SPECIALS, EL_SPECIALS + 1, EL_UNK};
    cr_assert_eq(ids.count, 4);
    cr_assert_arr_eq(ids.data, want, sizeof want);
    el_ids_free(&ids);
    el_clusters_free(&c);
    el_vocab_free(v);

    v = vocab_of("aaabbc", 0);
    cr_assert_eq(el_vocab_size(v), EL_SPECIALS + 3, "min_count 0 keeps everything");
    el_vocab_free(v);
}

Test(vocab, calls_out_of_order_are_refused)
{
    el_vocab *v = NULL;
    el_clusters c = split("ab");
    el_ids ids = {0};
    char *json = NULL;
    EL_TEST_OK(el_vocab_create(&v));
    EL_TEST_OK(el_vocab_add(v, &c));
    cr_assert_eq(id_of(v, "a"), EL_UNK, "no ids before finishing");
    cr_assert_null(el_vocab_symbol(v, EL_SPECIALS, NULL));
    EL_TEST_FAILS(el_vocab_encode(v, &c, 0, 1, &ids), EL_ERR_STATE);
    EL_TEST_FAILS(el_vocab_to_json(v, &json), EL_ERR_STATE);
    EL_TEST_FAILS(el_vocab_finish(v, -1), EL_ERR_INVALID);
    assert_message_has("min_count");
    EL_TEST_OK(el_vocab_finish(v, 1));
    EL_TEST_FAILS(el_vocab_finish(v, 1), EL_ERR_STATE);
    EL_TEST_FAILS(el_vocab_add(v, &c), EL_ERR_STATE);
    cr_assert_eq(el_vocab_size(v), EL_SPECIALS + 2, "the refused count changed nothing");
    EL_TEST_FAILS(el_vocab_create(NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_vocab_add(NULL, &c), EL_ERR_INVALID);
    cr_assert_eq(el_vocab_size(NULL), 0);
    cr_assert_eq(el_vocab_id(NULL, "a", 1), EL_UNK);
    cr_assert_null(ids.data, "nothing was encoded");
    el_clusters_free(&c);
    el_vocab_free(v);
    el_vocab_free(NULL);
    el_ids_free(NULL);
}

/* ---- encoding and decoding ----------------------------------------------- */

#define MANY_SCRIPTS                                                                               \
    "Caf" E_COMBINING " na\xC3\xAFve, Stra\xC3\x9F"                                                \
    "e; "                                                                                          \
    "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82 "             /* Привет */             \
    "\xCE\x93\xCE\xB5\xCE\xB9\xCE\xAC "                             /* Γειά */                 \
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE4\xB8\xAD\xE6\x96\x87 " /* 日本語中文 */          \
    "q\xCC\x87 " FLAG_FR FAMILY THUMBS_UP_MEDIUM "\r\n\"quoted\" \\ \t\x01"

Test(vocab, encode_then_decode_gives_back_the_nfc_text)
{
    el_vocab *v = vocab_of(MANY_SCRIPTS, 1);
    el_clusters c = split(MANY_SCRIPTS);
    el_ids ids = {0};
    EL_TEST_OK(el_vocab_encode(v, &c, 0, c.count, &ids));
    cr_assert_eq(ids.count, c.count);
    for (size_t i = 0; i < ids.count; i++)
        cr_assert_geq(ids.data[i], EL_SPECIALS, "cluster %zu", i);

    char buf[256];
    size_t len = 0;
    EL_TEST_OK(el_vocab_decode(v, ids.data, ids.count, buf, sizeof buf, &len));
    cr_assert_eq(len, c.bytes);
    cr_assert_str_eq(buf, c.text);
    cr_assert_not_null(strstr(buf, "Caf" E_ACUTE), "decoded text is NFC");

    /* A range appends to what is there. */
    EL_TEST_OK(el_vocab_encode(v, &c, 2, 3, &ids));
    cr_assert_eq(ids.count, c.count + 3);
    cr_assert_eq(ids.data[c.count], id_of(v, "f"));
    cr_assert_eq(ids.data[c.count + 1], id_of(v, E_ACUTE));
    EL_TEST_FAILS(el_vocab_encode(v, &c, c.count, 1, &ids), EL_ERR_INVALID);
    EL_TEST_FAILS(el_vocab_encode(v, &c, 1, (size_t)-1, &ids), EL_ERR_INVALID);
    EL_TEST_OK(el_vocab_encode(v, &c, c.count, 0, &ids));
    cr_assert_eq(ids.count, c.count + 3, "refused and empty ranges add nothing");

    el_ids_free(&ids);
    cr_assert_null(ids.data);
    cr_assert_eq(ids.count, 0);
    el_clusters_free(&c);
    el_vocab_free(v);
}

Test(vocab, decode_skips_pad_sos_eos_and_writes_unk_as_replacement_character)
{
    el_vocab *v = vocab_of("ab", 1);
    int ids[] = {EL_SOS, EL_SPECIALS, EL_UNK, EL_PAD, EL_SPECIALS + 1, EL_EOS, EL_PAD};
    char buf[16];
    size_t len = 0;
    EL_TEST_OK(el_vocab_decode(v, ids, 7, buf, sizeof buf, &len));
    cr_assert_str_eq(buf, "a\xEF\xBF\xBD"
                          "b");
    cr_assert_eq(len, 5);
    EL_TEST_OK(el_vocab_decode(v, ids, 0, buf, sizeof buf, NULL));
    cr_assert_str_eq(buf, "");

    memcpy(buf, "untouched", 10);
    int bad[] = {EL_SPECIALS, EL_SPECIALS + 2};
    EL_TEST_FAILS(el_vocab_decode(v, bad, 2, buf, sizeof buf, &len), EL_ERR_INVALID);
    assert_message_has("id 6 at position 1");
    cr_assert_str_eq(buf, "untouched", "a refused id writes nothing");
    int negative = -1;
    EL_TEST_FAILS(el_vocab_decode(v, &negative, 1, buf, sizeof buf, &len), EL_ERR_INVALID);
    el_vocab_free(v);
}

/* Asserts that text is valid UTF-8 made of whole clusters of full, as many
 * as fit in cap bytes with a NUL: a prefix of it that ends on one of its
 * boundaries, where the next cluster would not fit. */
static void assert_most_whole_clusters(const char *text, size_t cap, const el_clusters *full)
{
    size_t n = strlen(text);
    el_clusters c;
    EL_TEST_OK(el_clusters_split(&c, text, n, "decoded", 1));
    el_clusters_free(&c);
    cr_assert_lt(n, cap, "cap %zu: NUL-terminated inside the buffer", cap);
    cr_assert_eq(memcmp(text, full->text, n), 0, "\"%s\" is not a prefix", text);
    size_t i = 0;
    while (i < full->count && full->starts[i] < n) i++;
    cr_assert_eq(full->starts[i], n, "cap %zu: \"%s\" cuts a cluster", cap, text);
    cr_assert(i == full->count || full->starts[i + 1] >= cap,
              "cap %zu: only \"%s\" was written, the next cluster fits", cap, text);
}

Test(vocab, decode_into_a_small_buffer_never_cuts_a_cluster)
{
    el_vocab *v = vocab_of(MANY_SCRIPTS, 1);
    el_clusters c = split(MANY_SCRIPTS);
    el_ids ids = {0};
    EL_TEST_OK(el_vocab_encode(v, &c, 0, c.count, &ids));
    char *buf = malloc(c.bytes + 1);
    size_t len = 0;

    EL_TEST_FAILS(el_vocab_decode(v, ids.data, ids.count, NULL, 0, &len), EL_ERR_INVALID);
    cr_assert_eq(len, c.bytes, "a NULL buffer of 0 bytes asks for the length");
    for (size_t cap = 1; cap <= c.bytes; cap++) {
        memset(buf, 'X', c.bytes + 1);
        len = 0;
        EL_TEST_FAILS(el_vocab_decode(v, ids.data, ids.count, buf, cap, &len), EL_ERR_INVALID);
        cr_assert_eq(len, c.bytes, "cap %zu", cap);
        assert_most_whole_clusters(buf, cap, &c);
    }
    assert_message_has("needs");
    EL_TEST_OK(el_vocab_decode(v, ids.data, ids.count, buf, c.bytes + 1, &len));
    cr_assert_str_eq(buf, c.text);
    free(buf);
    el_ids_free(&ids);
    el_clusters_free(&c);
    el_vocab_free(v);
}

/* ---- JSON ---------------------------------------------------------------- */

#define JSON_HEAD "{\"version\":1,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\""

Test(vocab, json_round_trips_marks_emoji_quotes_backslashes_and_controls)
{
    el_vocab *v = vocab_of(MANY_SCRIPTS "\x7F/", 1);
    char *json = NULL;
    EL_TEST_OK(el_vocab_to_json(v, &json));
    cr_assert_eq(strncmp(json, JSON_HEAD, strlen(JSON_HEAD)), 0, "JSON \"%s\"", json);
    cr_assert_not_null(strstr(json, "\"\\\"\""), "a quote is escaped: %s", json);
    cr_assert_not_null(strstr(json, "\"\\\\\""), "a backslash is escaped: %s", json);
    cr_assert_not_null(strstr(json, "\"\\r\\n\""), "CR LF is escaped: %s", json);
    cr_assert_not_null(strstr(json, "\"\\u0001\""), "a control is escaped: %s", json);

    el_vocab *back = NULL;
    EL_TEST_OK(el_vocab_from_json(&back, json));
    cr_assert_eq(el_vocab_size(back), el_vocab_size(v));
    for (int id = 0; id < el_vocab_size(v); id++) {
        size_t la, lb;
        const char *a = el_vocab_symbol(v, id, &la), *b = el_vocab_symbol(back, id, &lb);
        cr_assert(la == lb && memcmp(a, b, la) == 0, "id %d: \"%.*s\" came back as \"%.*s\"", id,
                  (int)la, a, (int)lb, b);
        if (id >= EL_SPECIALS) cr_assert_eq(el_vocab_id(back, a, la), id);
    }
    char *again = NULL;
    EL_TEST_OK(el_vocab_to_json(back, &again));
    cr_assert_str_eq(again, json);

    /* A loaded vocabulary encodes as the original does. */
    el_clusters c = split(MANY_SCRIPTS);
    el_ids a = {0}, b = {0};
    EL_TEST_OK(el_vocab_encode(v, &c, 0, c.count, &a));
    EL_TEST_OK(el_vocab_encode(back, &c, 0, c.count, &b));
    cr_assert_arr_eq(a.data, b.data, a.count * sizeof *a.data);

    el_ids_free(&a);
    el_ids_free(&b);
    el_clusters_free(&c);
    el_vocab_json_free(json);
    el_vocab_json_free(again);
    el_vocab_free(back);
    el_vocab_free(v);
}

Test(vocab, json_of_a_vocabulary_with_only_specials)
{
    el_vocab *v = vocab_of("", 1);
    char *json = NULL;
    EL_TEST_OK(el_vocab_to_json(v, &json));
    cr_assert_str_eq(json, JSON_HEAD "]}");
    el_vocab *back = NULL;
    EL_TEST_OK(
        el_vocab_from_json(&back, " \n" JSON_HEAD "] , \"note\": \"extra keys are ignored\"}\n"));
    cr_assert_eq(el_vocab_size(back), EL_SPECIALS);
    el_vocab_free(back);
    el_vocab_json_free(json);
    el_vocab_free(v);
}

/* Arrays, not pointers: each test runs in a fresh process (Criterion
 * re-executes the program), where the parent's pointers mean nothing. */
typedef struct bad_json {
    char json[96];
    char message[40]; /* a part of the message */
} bad_json;

ParameterizedTestParameters(vocab, malformed_json_is_refused)
{
    static bad_json cases[] = {
        {"", "not JSON"},
        {"{", "not JSON"},
        {JSON_HEAD, "not JSON"},
        {JSON_HEAD "]} x", "not JSON"},
        {"[]", "not an object"},
        {"\"<pad>\"", "not an object"},
        {"null", "not an object"},
        {"{\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\"]}", "\"version\""},
        {"{\"version\":\"1\",\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\"]}",
         "\"version\""},
        {"{\"version\":2,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"<unk>\"]}", "version 2"},
        {"{\"version\":1}", "not an array"},
        {"{\"version\":1,\"symbols\":{\"a\":1}}", "not an array"},
        {"{\"version\":1,\"symbols\":\"abc\"}", "not an array"},
        {JSON_HEAD ",\"a\",5]}", "symbol 5 is not a string"},
        {JSON_HEAD ",null]}", "symbol 4 is not a string"},
        {"{\"version\":1,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\"]}", "lacks"},
        {"{\"version\":1,\"symbols\":[]}", "lacks"},
        {"{\"version\":1,\"symbols\":[\"<sos>\",\"<pad>\",\"<eos>\",\"<unk>\"]}", "symbol 0"},
        {"{\"version\":1,\"symbols\":[\"<pad>\",\"<sos>\",\"<eos>\",\"a\",\"<unk>\"]}", "symbol 3"},
        {JSON_HEAD ",\"a\",\"b\",\"a\"]}", "symbol 6 is listed twice"},
        {JSON_HEAD ",\"\\u00e9\",\"\\u00E9\"]}", "symbol 5 is listed twice"},
        {JSON_HEAD ",\"a b\"]}", "symbol 4 is not one grapheme cluster"},
        {JSON_HEAD ",\" x\"]}", "symbol 4 is not one grapheme cluster"},
        {JSON_HEAD ",\"\"]}", "symbol 4 is not one grapheme cluster"},
        {JSON_HEAD ",\"\\r\\n\\r\"]}", "symbol 4 is not one grapheme cluster"},
        {JSON_HEAD ",\"e\\u0301\"]}", "symbol 4 is not one grapheme cluster"}, /* not NFC */
        {JSON_HEAD ",\"\xC0\xAF\"]}", "symbol 4 is not one grapheme cluster"},
        {JSON_HEAD ",\"\xED\xA0\x80\"]}", "symbol 4 is not one grapheme cluster"},
        {JSON_HEAD ",\"\\ud800\"]}", "not JSON"}, /* a lone surrogate escape */
        {JSON_HEAD ",\"\\u0000\"]}", "\\u0000"},
        {JSON_HEAD ",\"x\\u0000\"]}", "\\u0000"},
    };
    return cr_make_param_array(bad_json, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(bad_json *bad, vocab, malformed_json_is_refused)
{
    el_vocab *v = (el_vocab *)&v; /* anything but NULL: a refusal must reset it */
    EL_TEST_FAILS(el_vocab_from_json(&v, bad->json), EL_ERR_FORMAT);
    cr_assert_null(v, "JSON \"%s\"", bad->json);
    cr_assert(strstr(el_last_error(), bad->message) != NULL, "JSON %s: message \"%s\" lacks \"%s\"",
              bad->json, el_last_error(), bad->message);
    assert_message_has("el_vocab_from_json");
}

/* A token of several clusters (elman/pairs.h's spaces mode: "aa", "ch")
 * is a symbol too, as long as it holds no white space. */
Test(vocab, json_takes_tokens_of_several_clusters)
{
    el_vocab *v = NULL;
    EL_TEST_OK(el_vocab_from_json(&v, JSON_HEAD ",\"aa\",\"<pad>\",\" \"]}"));
    cr_assert_eq(el_vocab_size(v), 7);
    cr_assert_eq(el_vocab_id(v, "aa", 2), 4);
    cr_assert_eq(el_vocab_id(v, "<pad>", 5), 5);
    cr_assert_eq(el_vocab_id(v, " ", 1), 6);
    el_vocab_free(v);
}

Test(vocab, json_arguments_are_checked)
{
    el_vocab *v = NULL;
    char *json = NULL;
    EL_TEST_FAILS(el_vocab_from_json(&v, NULL), EL_ERR_INVALID);
    EL_TEST_FAILS(el_vocab_from_json(NULL, "{}"), EL_ERR_INVALID);
    EL_TEST_FAILS(el_vocab_to_json(NULL, &json), EL_ERR_INVALID);
    cr_assert_null(json);
    el_vocab_json_free(NULL);
}

/* ---- one-hot rows -------------------------------------------------------- */

Test(one_hot, rows_hold_a_single_one_at_the_id)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, 2, (int[]){3, 5}));
    el_tensor_fill(&t, 7);
    int ids[] = {4, 0, 2};
    EL_TEST_OK(el_one_hot(ids, 3, 5, &t));
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 5; k++)
            cr_assert_eq(t.data[r * 5 + k], k == ids[r] ? 1.0f : 0.0f, "row %d column %d", r, k);

    /* Time-major (T, B, classes) batches are rows too. */
    el_tensor batch = {0};
    EL_TEST_OK(el_tensor_alloc(&batch, 3, (int[]){2, 2, 3}));
    EL_TEST_OK(el_one_hot((int[]){0, 1, 2, 1}, 4, 3, &batch));
    float want[] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0};
    cr_assert_arr_eq(batch.data, want, sizeof want);
    el_tensor_free(&batch);
    el_tensor_free(&t);
}

Test(one_hot, an_id_out_of_range_is_named_and_nothing_is_written)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, 2, (int[]){3, 4}));
    el_tensor_fill(&t, 7);
    EL_TEST_FAILS(el_one_hot((int[]){1, 2, 4}, 3, 4, &t), EL_ERR_INVALID);
    assert_message_is("el_one_hot: id 4 at position 2 is outside [0, 4)");
    EL_TEST_FAILS(el_one_hot((int[]){-1, 2, 3}, 3, 4, &t), EL_ERR_INVALID);
    assert_message_has("position 0");
    for (size_t i = 0; i < t.size; i++) cr_assert_eq(t.data[i], 7.0f, "element %zu was written", i);

    /* out sizes itself, but a view cannot grow. */
    el_tensor view = {0};
    EL_TEST_OK(el_tensor_wrap(&view, t.data, 2, (int[]){3, 4}));
    EL_TEST_FAILS(el_one_hot((int[]){1, 2}, 2, 4, &view), EL_ERR_SHAPE);
    assert_message_has("3x4");
    assert_message_has("view cannot be resized");
    EL_TEST_OK(el_one_hot((int[]){1, 2}, 2, 5, &t));
    cr_assert(t.ndim == 2 && t.shape[0] == 2 && t.shape[1] == 5);
    cr_assert_eq(t.data[1], 1.0f);
    cr_assert_eq(t.data[5 + 2], 1.0f);
    EL_TEST_FAILS(el_one_hot((int[]){1, 2, 3}, 3, 0, &t), EL_ERR_INVALID);
    EL_TEST_FAILS(el_one_hot(NULL, 3, 4, &t), EL_ERR_INVALID);
    EL_TEST_FAILS(el_one_hot((int[]){1}, 1, 4, NULL), EL_ERR_INVALID);
    el_tensor_free(&t);
}

/* ---- case folding ---------------------------------------------------------- */

/* Asserts that text, split and folded, reads want and has clusters clusters. */
static void assert_folds(const char *text, const char *want, size_t clusters)
{
    el_clusters c = split(text);
    EL_TEST_OK(el_clusters_fold_case(&c));
    cr_assert_str_eq(c.text, want, "\"%s\" folded to \"%s\", expected \"%s\"", text, c.text, want);
    cr_assert_eq(c.bytes, strlen(want));
    cr_assert_eq(c.count, clusters, "\"%s\" folded into %zu clusters, expected %zu", text, c.count,
                 clusters);
    cr_assert_eq(c.starts[c.count], c.bytes);
    el_clusters_free(&c);
}

#define SHARP_S "\xC3\x9F"             /* ß U+00DF */
#define CAPITAL_SHARP_S "\xE1\xBA\x9E" /* ẞ U+1E9E */
#define SIGMA "\xCF\x83"               /* σ U+03C3 */
#define FINAL_SIGMA "\xCF\x82"         /* ς U+03C2 */
#define CAPITAL_SIGMA "\xCE\xA3"       /* Σ U+03A3 */
#define DOTTED_CAPITAL_I "\xC4\xB0"    /* İ U+0130 */
#define DOTLESS_I "\xC4\xB1"           /* ı U+0131 */
#define COMBINING_DOT "\xCC\x87"       /* U+0307 */

Test(fold_case, german_sharp_s_becomes_ss)
{
    assert_folds("Stra" SHARP_S "e", "strasse", 7);
    assert_folds("STRA" CAPITAL_SHARP_S "E", "strasse", 7);
}

/* Folding is for caseless matching, not for display: every sigma, final or
 * capital, folds to the one medial form. */
Test(fold_case, greek_final_and_capital_sigma_become_sigma)
{
    assert_folds("\xCE\x9F\xCE\x94\xCE\x9F" CAPITAL_SIGMA, "\xCE\xBF\xCE\xB4\xCE\xBF" SIGMA, 4);
    assert_folds("\xCE\xBB\xCF\x8C\xCE\xB3\xCE\xBF" FINAL_SIGMA,
                 "\xCE\xBB\xCF\x8C\xCE\xB3\xCE\xBF" SIGMA, 5);
}

/* The default folding is not Turkish: I becomes i, İ becomes i and a
 * combining dot above (still one cluster), and the dotless ı stays. */
Test(fold_case, turkish_i_follows_the_default_folding)
{
    assert_folds(DOTTED_CAPITAL_I "I" DOTLESS_I "i", "i" COMBINING_DOT "i" DOTLESS_I "i", 4);
}

/* The folded text is NFC again: a decomposed capital folds to the same
 * precomposed small letter as the precomposed capital. */
Test(fold_case, the_result_is_nfc)
{
    assert_folds("E\xCC\x81", E_ACUTE, 1);
    assert_folds("\xC3\x89", E_ACUTE, 1);
    assert_folds("already folded: " E_ACUTE FLAG_FR FAMILY "\r\n",
                 "already folded: " E_ACUTE FLAG_FR FAMILY "\r\n", 20);
}

Test(fold_case, empty_and_bad_arguments)
{
    el_clusters empty = {0};
    EL_TEST_OK(el_clusters_fold_case(&empty));
    cr_assert_eq(empty.count, 0);
    el_clusters none = split("");
    EL_TEST_OK(el_clusters_fold_case(&none));
    cr_assert_eq(none.count, 0);
    cr_assert_str_eq(none.text, "");
    el_clusters_free(&none);
    el_clear_error();
    EL_TEST_FAILS(el_clusters_fold_case(NULL), EL_ERR_INVALID);
    assert_message_has("el_clusters_fold_case");
}

/* ---- one text in one call ------------------------------------------------- */

static void assert_ids(const el_ids *ids, const int *want, size_t n)
{
    cr_assert_eq(ids->count, n, "%zu ids, expected %zu", ids->count, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ids->data[i], want[i], "id %zu is %d, expected %d", i, ids->data[i], want[i]);
}

/* el_vocab_encode_text equals split then encode; it appends, and
 * el_ids_clear empties the list but keeps its memory for the next text. */
Test(vocab_text, encode_text_appends_and_clear_keeps_the_memory)
{
    el_vocab *v = vocab_of("abc" E_ACUTE, 1);
    int a = id_of(v, "a"), b = id_of(v, "b"), c = id_of(v, "c"), e = id_of(v, E_ACUTE);
    el_ids ids = {0};
    EL_TEST_OK(el_vocab_encode_text(v, "cab?", 4, &ids, 0));
    assert_ids(&ids, (int[]){c, a, b, EL_UNK}, 4);
    EL_TEST_OK(el_vocab_encode_text(v, E_COMBINING "a", strlen(E_COMBINING "a"), &ids, 0));
    assert_ids(&ids, (int[]){c, a, b, EL_UNK, e, a}, 6);

    int *memory = ids.data;
    size_t capacity = ids.capacity;
    el_ids_clear(&ids);
    cr_assert_eq(ids.count, 0);
    cr_assert_eq(ids.data, memory, "clear freed the memory");
    cr_assert_eq(ids.capacity, capacity);
    el__fail_allocations_after(0); /* ids need no new memory now */
    el_status s = el_vocab_encode(v, &(el_clusters){0}, 0, 0, &ids);
    el__fail_allocations_after(-1);
    EL_TEST_OK(s);
    EL_TEST_OK(el_vocab_encode_text(v, "ba", 2, &ids, 0));
    assert_ids(&ids, (int[]){b, a}, 2);
    cr_assert_eq(ids.data, memory, "a short text after clear allocated ids again");
    EL_TEST_OK(el_vocab_encode_text(v, NULL, 0, &ids, 0));
    assert_ids(&ids, (int[]){b, a}, 2);
    el_ids_clear(NULL);
    el_ids_free(&ids);
    el_vocab_free(v);
}

Test(vocab_text, encode_text_refuses_bad_text_and_arguments_leaving_ids_alone)
{
    el_vocab *v = vocab_of("ab", 1);
    el_ids ids = {0};
    EL_TEST_OK(el_vocab_encode_text(v, "ab", 2, &ids, 0));
    el_clear_error();
    EL_TEST_FAILS(el_vocab_encode_text(v, "ab\xFF", 3, &ids, 0), EL_ERR_FORMAT);
    assert_message_is("el_vocab_encode_text:1: invalid UTF-8 at byte 2");
    cr_assert_eq(ids.count, 2, "a refused text added ids");
    EL_TEST_FAILS(el_vocab_encode_text(v, "ab", 2, &ids, 2), EL_ERR_INVALID);
    assert_message_has("unknown flags");
    EL_TEST_FAILS(el_vocab_encode_text(NULL, "ab", 2, &ids, 0), EL_ERR_INVALID);
    EL_TEST_FAILS(el_vocab_encode_text(v, NULL, 2, &ids, 0), EL_ERR_INVALID);
    EL_TEST_FAILS(el_vocab_encode_text(v, "ab", 2, NULL, 0), EL_ERR_INVALID);
    cr_assert_eq(ids.count, 2);
    el_vocab *open = NULL;
    EL_TEST_OK(el_vocab_create(&open));
    EL_TEST_FAILS(el_vocab_encode_text(open, "ab", 2, &ids, 0), EL_ERR_STATE);
    EL_TEST_OK(el_vocab_add_text(open, "ab", 2, 0));
    EL_TEST_FAILS(el_vocab_add_text(open, "a\xC3", 2, 0), EL_ERR_FORMAT);
    assert_message_is("el_vocab_add_text:1: invalid UTF-8 at byte 1");
    EL_TEST_FAILS(el_vocab_add_text(open, "ab", 2, 4), EL_ERR_INVALID);
    EL_TEST_OK(el_vocab_finish(open, 1));
    cr_assert_eq(el_vocab_size(open), EL_SPECIALS + 2, "refused texts were counted");
    EL_TEST_FAILS(el_vocab_add_text(open, "ab", 2, 0), EL_ERR_STATE);
    el_vocab_free(open);
    el_ids_free(&ids);
    el_vocab_free(v);
}

/* A vocabulary counted over folded text, and text encoded folded, match
 * whatever the case; unfolded, the capitals are unknown. */
Test(vocab_text, counting_and_encoding_folded_text)
{
    const char *text = "Stra" SHARP_S "e \xCE\x9F\xCE\x94\xCE\x9F" CAPITAL_SIGMA;
    el_vocab *v = NULL;
    EL_TEST_OK(el_vocab_create(&v));
    EL_TEST_OK(el_vocab_add_text(v, text, strlen(text), EL_TEXT_FOLD_CASE));
    EL_TEST_OK(el_vocab_finish(v, 1));
    cr_assert_eq(id_of(v, SHARP_S), EL_UNK, "ß was counted unfolded");
    cr_assert_eq(id_of(v, CAPITAL_SIGMA), EL_UNK, "Σ was counted unfolded");
    cr_assert_neq(id_of(v, SIGMA), EL_UNK);
    el_ids upper = {0}, lower = {0}, as_is = {0};
    const char *shout = "STRA" CAPITAL_SHARP_S "E "
                        "\xCE\xBF\xCE\xB4\xCE\xBF" FINAL_SIGMA;
    const char *quiet = "strasse \xCE\xBF\xCE\xB4\xCE\xBF" SIGMA;
    EL_TEST_OK(el_vocab_encode_text(v, shout, strlen(shout), &upper, EL_TEXT_FOLD_CASE));
    EL_TEST_OK(el_vocab_encode_text(v, quiet, strlen(quiet), &lower, 0));
    cr_assert_eq(upper.count, 12);
    assert_ids(&upper, lower.data, lower.count);
    for (size_t i = 0; i < upper.count; i++) cr_assert_neq(upper.data[i], EL_UNK, "id %zu", i);
    EL_TEST_OK(el_vocab_encode_text(v, "S", 1, &as_is, 0));
    assert_ids(&as_is, (int[]){EL_UNK}, 1);
    el_ids_free(&upper);
    el_ids_free(&lower);
    el_ids_free(&as_is);
    el_vocab_free(v);
}

/* ---- out of memory ------------------------------------------------------- */

/* Each call under test allocates fewer than 2000 times. */
static void sweep(const char *what, el_test_attempt attempt) { el_test_sweep(what, attempt, 2000); }

static el_status try_split_nfc(long n)
{
    el_clusters c;
    el_test_arm(n);
    el_status s =
        el_test_disarm(el_clusters_split(&c, MANY_SCRIPTS, strlen(MANY_SCRIPTS), NULL, 1));
    if (s) cr_assert(c.text == NULL && c.starts == NULL, "a failure leaves an empty result");
    el_clusters_free(&c);
    return s;
}

static el_status try_split_already_nfc(long n)
{
    el_clusters c;
    el_test_arm(n);
    el_status s = el_test_disarm(el_clusters_split(&c, "already NFC " E_ACUTE, 14, NULL, 1));
    el_clusters_free(&c);
    return s;
}

Test(oom, clusters_split)
{
    sweep("el_clusters_split (needs NFC)", try_split_nfc);
    sweep("el_clusters_split (already NFC)", try_split_already_nfc);
}

static el_status try_vocab_create(long n)
{
    el_vocab *v = (el_vocab *)&v;
    el_test_arm(n);
    el_status s = el_test_disarm(el_vocab_create(&v));
    if (s) cr_assert_null(v);
    el_vocab_free(v);
    return s;
}

/* Text with 300 distinct clusters (U+0100 to U+022B), so that counting grows
 * every table of the vocabulary several times. */
static char *many_clusters(void)
{
    char *text = malloc(300 * 2 + 1), *p = text;
    for (unsigned cp = 0x100; cp < 0x100 + 300; cp++) {
        *p++ = (char)(0xC0 | cp >> 6);
        *p++ = (char)(0x80 | (cp & 0x3F));
    }
    *p = '\0';
    return text;
}

static el_vocab *reference_vocab;
static el_vocab *counting;
static el_clusters counted_text;

/* Asserts that v has the reference's ids. */
static void assert_same_ids(const el_vocab *v, const el_vocab *reference)
{
    cr_assert_eq(el_vocab_size(v), el_vocab_size(reference));
    for (int id = 0; id < el_vocab_size(reference); id++) {
        size_t la, lb;
        const char *a = el_vocab_symbol(v, id, &la), *b = el_vocab_symbol(reference, id, &lb);
        cr_assert(la == lb && memcmp(a, b, la) == 0, "id %d differs", id);
    }
}

static el_status try_vocab_count(long n)
{
    el_vocab *v = NULL;
    EL_TEST_OK(el_vocab_create(&v));
    el_clusters head = split("\xC4\x80\xC4\x80\xC4\x81xyz");
    EL_TEST_OK(el_vocab_add(v, &head));
    el_test_arm(n);
    el_status s = el_test_disarm(el_vocab_add(v, &counted_text));
    /* A failed count changed nothing: counting again gives the reference. */
    if (s) EL_TEST_OK(el_vocab_add(v, &counted_text));
    EL_TEST_OK(el_vocab_finish(v, 1));
    assert_same_ids(v, reference_vocab);
    el_clusters_free(&head);
    el_vocab_free(v);
    return s;
}

static el_status try_vocab_finish(long n)
{
    el_test_arm(n);
    return el_test_disarm(el_vocab_finish(counting, 2));
}

static el_status try_from_json(long n)
{
    el_vocab *v = (el_vocab *)&v;
    el_test_arm(n);
    el_status s = el_test_disarm(el_vocab_from_json(&v, JSON_HEAD ",\"a\",\"\\u00e9\",\"" FLAG_FR
                                                                  "\",\"\\\"\","
                                                                  "\"\\r\\n\",\"q\xCC\x87\"]}"));
    if (s) cr_assert_null(v);
    if (!s) cr_assert_eq(el_vocab_size(v), EL_SPECIALS + 6);
    el_vocab_free(v);
    return s;
}

static el_status try_to_json(long n)
{
    char *json = NULL;
    el_test_arm(n);
    el_status s = el_test_disarm(el_vocab_to_json(reference_vocab, &json));
    if (s) cr_assert_null(json);
    el_vocab_json_free(json);
    return s;
}

Test(oom, vocab_create_count_finish_and_json)
{
    sweep("el_vocab_create", try_vocab_create);

    char *text = many_clusters();
    counted_text = split(text);
    char *whole = malloc(strlen(text) + 16);
    sprintf(whole, "\xC4\x80\xC4\x80\xC4\x81xyz%s", text);
    reference_vocab = vocab_of(whole, 1);
    sweep("el_vocab_add", try_vocab_count);

    /* finish: a failure leaves the vocabulary counting, ready to try again. */
    EL_TEST_OK(el_vocab_create(&counting));
    EL_TEST_OK(el_vocab_add(counting, &counted_text));
    EL_TEST_OK(el_vocab_add(counting, &counted_text));
    sweep("el_vocab_finish", try_vocab_finish);
    cr_assert_eq(el_vocab_size(counting), EL_SPECIALS + 300);

    sweep("el_vocab_from_json", try_from_json);
    sweep("el_vocab_to_json", try_to_json);

    el_vocab_free(counting);
    el_vocab_free(reference_vocab);
    el_clusters_free(&counted_text);
    free(whole);
    free(text);
}

Test(oom, encode_grows_ids_or_leaves_them_as_they_were)
{
    el_vocab *v = vocab_of("abc", 1);
    el_clusters c = split("abcabc");
    el_ids ids = {0};
    el__fail_allocations_after(0);
    EL_TEST_FAILS(el_vocab_encode(v, &c, 0, c.count, &ids), EL_ERR_NOMEM);
    el__fail_allocations_after(-1);
    cr_assert_null(ids.data);
    cr_assert_eq(ids.count, 0);
    EL_TEST_OK(el_vocab_encode(v, &c, 0, c.count, &ids));
    cr_assert_eq(ids.count, 6);
    el_ids_free(&ids);
    el_clusters_free(&c);
    el_vocab_free(v);
}

/* Folding needs new memory at every stage (UTF-16, the folded text, NFC,
 * the offsets); a failure at any leaves the clusters as they were. */
static el_status try_fold_case(long n)
{
    el_clusters c = split("Stra" SHARP_S "E " E_COMBINING);
    el_test_arm(n);
    el_status s = el_test_disarm(el_clusters_fold_case(&c));
    if (s) {
        cr_assert_str_eq(c.text, "Stra" SHARP_S "E " E_ACUTE, "a failure changed the text");
        cr_assert_eq(c.count, 8);
    } else {
        cr_assert_str_eq(c.text, "strasse " E_ACUTE);
    }
    el_clusters_free(&c);
    return s;
}

static el_status try_encode_text(long n)
{
    el_vocab *v = vocab_of("abc", 1);
    el_ids ids = {0};
    el_test_arm(n);
    el_status s = el_test_disarm(el_vocab_encode_text(v, "ABCabc", 6, &ids, EL_TEXT_FOLD_CASE));
    if (s)
        cr_assert(ids.count == 0 && ids.data == NULL, "a failure added ids");
    else
        cr_assert_eq(ids.count, 6);
    el_ids_free(&ids);
    el_vocab_free(v);
    return s;
}

Test(oom, fold_case_and_encode_text)
{
    sweep("el_clusters_fold_case", try_fold_case);
    sweep("el_vocab_encode_text", try_encode_text);
}
