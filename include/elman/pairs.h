/* elman: pairs files, the data of transduction tasks (grapheme to phoneme,
 * transliteration, inflection).
 *
 * A pairs file has one `source<TAB>target` per line, UTF-8.  Each side is a
 * sequence of symbols, read one of two ways, chosen per side:
 * EL_TOKENS_CHARS, its grapheme clusters (as the word lists read words:
 * NFC, "é" one symbol however written), or EL_TOKENS_SPACES, its tokens
 * separated by white space ("aa r d v aa r k").  Empty lines are skipped;
 * every other line must hold exactly one tab with a non-empty side on each
 * of its ends (white space around a side is dropped).  A line breaking
 * these rules, invalid UTF-8 or a NUL byte is refused with the file, line
 * and byte: "g2p.tsv:12: no tab between source and target (byte 4031)".
 *
 * The same pair twice is kept once (the first); one source with several
 * targets (a word with two pronunciations) is kept as a group, so that a
 * split over groups keeps every test source out of training and an
 * evaluation can accept any of the targets. */
#ifndef ELMAN_PAIRS_H
#define ELMAN_PAIRS_H

#include <stddef.h>

#include "data.h"
#include "status.h"
#include "vocab.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a side of a pair is cut into symbols. */
typedef enum el_tokens {
    EL_TOKENS_CHARS = 0, /* grapheme clusters; white space inside is a symbol */
    EL_TOKENS_SPACES = 1 /* tokens separated by white space */
} el_tokens;

/* "chars" or "spaces" to a mode; anything else is EL_ERR_INVALID. */
EL_API el_status el_tokens_parse(const char *name, el_tokens *out);
/* "chars", "spaces", or NULL for a value outside the enum. */
EL_API const char *el_tokens_name(el_tokens tokens);

/* Splits len bytes of UTF-8 text into symbols the way `tokens` says, with
 * the white space around the text dropped.  out is an el_clusters whose
 * "clusters" are the symbols: in EL_TOKENS_SPACES mode its text is the
 * tokens' bytes one after another, without the spaces, and starts marks
 * where each token begins; so el_vocab_add and el_vocab_encode take it
 * as they take clusters.  source and first_line name the text in messages,
 * as el_clusters_split does.  out is replaced; free it with
 * el_clusters_free. */
EL_API el_status el_tokens_split(el_clusters *out, el_tokens tokens, const char *text, size_t len,
                                 const char *source, long first_line);

/* Writes ids as text into buf (cap bytes, NUL-terminated): as
 * el_vocab_decode in EL_TOKENS_CHARS mode; in EL_TOKENS_SPACES mode the
 * symbols with one space between each two.  EL_PAD, EL_SOS and EL_EOS are
 * skipped and EL_UNK is U+FFFD, as el_vocab_decode does.  *len (if not
 * NULL) receives the bytes the whole text needs; EL_ERR_INVALID if cap is
 * too small or an id is out of range. */
EL_API el_status el_tokens_decode(const el_vocab *v, el_tokens tokens, const int *ids, size_t count,
                                  char *buf, size_t cap, size_t *len);

typedef struct el_pairs el_pairs;

/* Reads a pairs file; the source sides are cut by source_tokens, the
 * targets by target_tokens. */
EL_API el_status el_pairs_read(el_pairs **out, const char *path, el_tokens source_tokens,
                               el_tokens target_tokens);
/* The same from memory; name names the text in messages (NULL: "text"). */
EL_API el_status el_pairs_parse(el_pairs **out, const char *text, size_t len, const char *name,
                                el_tokens source_tokens, el_tokens target_tokens);
EL_API void el_pairs_free(el_pairs *pairs);

/* The pairs kept, in file order. */
EL_API int el_pairs_count(const el_pairs *pairs);
/* Pair i's source and target symbols (see el_tokens_split), or NULL for an
 * index out of range. */
EL_API const el_clusters *el_pairs_source(const el_pairs *pairs, int i);
EL_API const el_clusters *el_pairs_target(const el_pairs *pairs, int i);
/* The line of the file pair i was read from (1-based), or 0. */
EL_API long el_pairs_line(const el_pairs *pairs, int i);

/* The distinct sources ("groups"), numbered in order of first appearance. */
EL_API int el_pairs_groups(const el_pairs *pairs);
/* The group of pair i, or -1. */
EL_API int el_pairs_group_of(const el_pairs *pairs, int i);
/* The pairs of group g, in file order: *count of them (at least one); NULL
 * and 0 for a group out of range. */
EL_API const int *el_pairs_group(const el_pairs *pairs, int g, int *count);
/* Appends to out the pairs of the count groups listed, group after group:
 * the examples of a split made over groups (el_split over
 * el_pairs_groups). */
EL_API el_status el_pairs_of_groups(const el_pairs *pairs, const int *groups, int count,
                                    el_ids *out);

/* Counts the symbols of the listed pairs' sources into source and of their
 * targets into target (either may be NULL), to build the two vocabularies
 * from the training pairs alone. */
EL_API el_status el_vocab_add_pairs(el_vocab *source, el_vocab *target, const el_pairs *pairs,
                                    const int *indices, int count);

/* The listed pairs as a dataset: example k is (pair indices[k]'s source
 * ids, its target ids), the source encoded with source_vocab and the target
 * with target_vocab, once, here; symbols a vocabulary lacks are EL_UNK, as
 * in el_reverse_words.  A batch's index[b] is k, so indices[index[b]] is
 * the pair. */
typedef struct el_pair_data el_pair_data;

EL_API el_status el_pair_data_create(el_pair_data **out, const el_pairs *pairs, const int *indices,
                                     int count, const el_vocab *source_vocab,
                                     const el_vocab *target_vocab);
EL_API void el_pair_data_free(el_pair_data *data);
/* The dataset view of it, valid while data lives. */
EL_API el_dataset el_pair_data_dataset(el_pair_data *data);

#ifdef __cplusplus
}
#endif
#endif
