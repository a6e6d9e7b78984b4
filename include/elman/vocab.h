/* elman: Unicode text and character vocabularies.
 *
 * A "character" here is a grapheme cluster, what a reader sees as one
 * character: "é" written as one code point or as e + U+0301, a flag emoji
 * (two regional indicators), CR LF.  Text is validated as UTF-8 (an invalid
 * byte is an error naming the source, line and byte offset), normalised to
 * NFC and split into clusters with ICU (UAX #29), so "é" written either way
 * is one symbol.  Case folding, for a vocabulary blind to case, is an
 * option (EL_TEXT_FOLD_CASE, el_clusters_fold_case).
 *
 * A vocabulary maps clusters to ids.  Ids 0..3 are fixed: EL_PAD, EL_SOS,
 * EL_EOS, EL_UNK; the clusters follow, most frequent first (ties in byte
 * order), so the same text always gives the same ids. */
#ifndef ELMAN_VOCAB_H
#define ELMAN_VOCAB_H

#include <stddef.h>

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { EL_PAD = 0, EL_SOS = 1, EL_EOS = 2, EL_UNK = 3, EL_SPECIALS = 4 };

/* A growable array of ids, owned by the caller: zero it, let functions fill
 * it, free it with el_ids_free. */
typedef struct el_ids {
    int *data;
    size_t count;
    size_t capacity;
} el_ids;

EL_API void el_ids_free(el_ids *ids);
/* Empties ids (count 0) and keeps its memory, so that one el_ids can take
 * the ids of one text after another without allocating again.  NULL is
 * ignored. */
EL_API void el_ids_clear(el_ids *ids);

/* Options of the functions that turn text into clusters (el_vocab_add_text,
 * el_vocab_encode_text), or'ed together; 0 is the text as it is. */
enum {
    /* Unicode full case folding (ICU's u_strFoldCase with
     * U_FOLD_CASE_DEFAULT), as el_clusters_fold_case does. */
    EL_TEXT_FOLD_CASE = 1
};

/* UTF-8 text split into grapheme clusters: text holds the NFC form, and
 * cluster i is the bytes [starts[i], starts[i + 1]) of it. */
typedef struct el_clusters {
    char *text;
    size_t bytes;
    size_t *starts; /* count + 1 offsets */
    size_t count;
} el_clusters;

/* Validates, normalises and splits len bytes of text.  source names the
 * text in messages ("words.txt"; NULL for "text"); line numbers count from
 * first_line (1 for a whole file).  On invalid UTF-8 the message reads
 * "words.txt:12: invalid UTF-8 at byte 4031" (the byte offset counts from
 * the start of text).  out is replaced; free it with el_clusters_free. */
EL_API el_status el_clusters_split(el_clusters *out, const char *text, size_t len,
                                   const char *source, long first_line);
EL_API void el_clusters_free(el_clusters *c);

/* Replaces c's text with its full case folding (ICU's u_strFoldCase with
 * U_FOLD_CASE_DEFAULT, the folding Unicode defines for caseless matching),
 * normalised to NFC again and split again.  Folding is not lowercasing:
 * "ß" and "ẞ" become "ss" (two clusters), final "ς" and "Σ" become "σ", and
 * the default folding is not Turkish: "I" becomes "i", "İ" becomes "i̇" (i
 * and U+0307, one cluster), "ı" stays.  So a vocabulary counted over folded
 * text must be given folded text to encode.  On failure c is unchanged. */
EL_API el_status el_clusters_fold_case(el_clusters *c);

typedef struct el_vocab el_vocab;

/* An empty vocabulary (only the four special ids) ready to count text. */
EL_API el_status el_vocab_create(el_vocab **out);
EL_API void el_vocab_free(el_vocab *v);

/* Counts every cluster of c. */
EL_API el_status el_vocab_add(el_vocab *v, const el_clusters *c);

/* Assigns ids to the clusters counted at least min_count times (the rest
 * will be EL_UNK) and ends counting.  Needed once before encoding. */
EL_API el_status el_vocab_finish(el_vocab *v, int min_count);

/* The number of ids, specials included. */
EL_API int el_vocab_size(const el_vocab *v);

/* The UTF-8 bytes of id's cluster (*len of them, not NUL-terminated), or
 * "<pad>", "<sos>", "<eos>", "<unk>" for the specials; NULL for a bad id. */
EL_API const char *el_vocab_symbol(const el_vocab *v, int id, size_t *len);

/* The id of a cluster's bytes, or EL_UNK. */
EL_API int el_vocab_id(const el_vocab *v, const char *cluster, size_t len);

/* Appends the ids of clusters [first, first + count) of c to out (unknown
 * clusters as EL_UNK). */
EL_API el_status el_vocab_encode(const el_vocab *v, const el_clusters *c, size_t first,
                                 size_t count, el_ids *out);

/* Counts every cluster of len bytes of text: el_clusters_split,
 * el_clusters_fold_case when flags has EL_TEXT_FOLD_CASE, then
 * el_vocab_add, in one call.  Invalid UTF-8 is reported as
 * "el_vocab_add_text:1: invalid UTF-8 at byte 3". */
EL_API el_status el_vocab_add_text(el_vocab *v, const char *text, size_t len, unsigned flags);

/* Appends the ids of len bytes of text to out, in one call: the text is
 * validated as UTF-8, normalised to NFC and split into clusters as by
 * el_clusters_split, folded when flags has EL_TEXT_FOLD_CASE (as the
 * vocabulary's text was, for the ids to match), and encoded as by
 * el_vocab_encode.  Call el_ids_clear(out) first for the ids of this text
 * alone.  Invalid UTF-8 is reported as "el_vocab_encode_text:1: invalid
 * UTF-8 at byte 3".  On failure out is as it was. */
EL_API el_status el_vocab_encode_text(const el_vocab *v, const char *text, size_t len, el_ids *out,
                                      unsigned flags);

/* Writes the text of ids into buf (cap bytes, NUL-terminated, always valid
 * UTF-8: it never cuts a cluster), skipping EL_PAD, EL_SOS and EL_EOS and
 * writing EL_UNK as U+FFFD.  *len (if not NULL) receives the bytes the whole
 * text needs; EL_ERR_INVALID if cap is too small or an id is out of range. */
EL_API el_status el_vocab_decode(const el_vocab *v, const int *ids, size_t count, char *buf,
                                 size_t cap, size_t *len);

/* The vocabulary as a JSON string, {"version":1,"symbols":[...]} with the
 * clusters in id order, specials first, for a checkpoint's metadata; free it
 * with el_vocab_json_free. */
EL_API el_status el_vocab_to_json(const el_vocab *v, char **json);
EL_API void el_vocab_json_free(char *json);
/* A finished vocabulary from el_vocab_to_json's text; malformed text is
 * EL_ERR_FORMAT.  Each symbol is valid UTF-8 in NFC and one grapheme
 * cluster, or several without white space (a token, elman/pairs.h). */
EL_API el_status el_vocab_from_json(el_vocab **out, const char *json);

/* One-hot rows: out (count, classes) is zero but out[i][ids[i]] = 1.  out
 * sizes itself (one with count rows and classes columns keeps its shape; a
 * view must already have them).  An id outside [0, classes) is
 * EL_ERR_INVALID naming its position. */
EL_API el_status el_one_hot(const int *ids, size_t count, int classes, el_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
