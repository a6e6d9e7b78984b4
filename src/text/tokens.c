/* A side of a pair cut into symbols: grapheme clusters, or tokens between
 * white space; and ids written back as text the same way. */
#include <stdint.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "elman/pairs.h"
#include "core/internal.h"
#include "text/clusters.h"

static const char *const token_names[] = {"chars", "spaces"};

el_status el_tokens_parse(const char *name, el_tokens *out)
{
    EL_REQUIRE(name, "el_tokens_parse");
    EL_REQUIRE(out, "el_tokens_parse");
    for (int i = 0; i < 2; i++)
        if (strcmp(name, token_names[i]) == 0) {
            *out = (el_tokens)i;
            return EL_OK;
        }
    return el__fail(EL_ERR_INVALID, "el_tokens_parse: \"%s\" is not chars or spaces", name);
}

const char *el_tokens_name(el_tokens tokens)
{
    return tokens == EL_TOKENS_CHARS || tokens == EL_TOKENS_SPACES ? token_names[tokens] : NULL;
}

/* A cluster of one code point with Unicode's White_Space property, or
 * U+FEFF (a byte-order mark), as the word lists trim; a space carrying a
 * combining mark is one visible cluster, not white space. */
static int is_blank(const el_clusters *c, size_t i)
{
    size_t len;
    const uint8_t *p = (const uint8_t *)el__cluster_bytes(c, i, &len);
    int32_t at = 0;
    UChar32 cp;
    U8_NEXT(p, at, (int32_t)len, cp);
    return (size_t)at == len && (u_isUWhiteSpace(cp) || cp == 0xFEFF);
}

/* Room for a copy of at most bytes of text and count + 1 offsets. */
static el_status allocate(el_clusters *out, size_t bytes, size_t count)
{
    out->text = el__alloc(bytes + 1);
    out->starts = el__alloc_zero(count + 1, sizeof *out->starts);
    if (!out->text || !out->starts)
        return el__fail(EL_ERR_NOMEM, "el_tokens_split: out of memory for %zu bytes", bytes);
    return EL_OK;
}

/* Appends cluster i of c to out's text, as part of its last symbol. */
static void append(el_clusters *out, const el_clusters *c, size_t i)
{
    size_t len;
    const char *bytes = el__cluster_bytes(c, i, &len);
    memcpy(out->text + out->bytes, bytes, len);
    out->bytes += len;
}

/* Clusters [first, end) of c, each a symbol. */
static el_status keep_clusters(el_clusters *out, const el_clusters *c, size_t first, size_t end)
{
    el_status s = allocate(out, c->starts[end] - c->starts[first], end - first);
    for (size_t i = first; !s && i < end; i++) {
        out->starts[out->count++] = out->bytes;
        append(out, c, i);
    }
    return s;
}

/* The runs of non-blank clusters in [first, end) of c, each a symbol. */
static el_status keep_tokens(el_clusters *out, const el_clusters *c, size_t first, size_t end)
{
    el_status s = allocate(out, c->starts[end] - c->starts[first], end - first);
    for (size_t i = first; !s && i < end; i++) {
        if (is_blank(c, i)) continue;
        if (i == first || is_blank(c, i - 1)) out->starts[out->count++] = out->bytes;
        append(out, c, i);
    }
    return s;
}

/* Printable ASCII, tab and space, with no CR: text that is its own NFC
 * and whose every byte is a grapheme cluster (UAX #29 joins no two of
 * them; it joins CR LF), as the sides of most pairs files are. */
static int plain_ascii(const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)text[i];
        if (b >= 0x7F || (b < 0x20 && b != '\t')) return 0;
    }
    return 1;
}

/* Splits text into clusters as el_clusters_split does, without ICU for
 * plain ASCII: opening ICU's break iterator for each side of a large file
 * would cost more than the rest of reading it. */
static el_status split_clusters(el_clusters *c, const char *text, size_t len, const char *source,
                                long first_line)
{
    if (!plain_ascii(text, len)) return el_clusters_split(c, text, len, source, first_line);
    c->text = el__alloc(len + 1);
    c->starts = el__alloc_zero(len + 1, sizeof *c->starts);
    if (!c->text || !c->starts) {
        el_clusters_free(c);
        return el__fail(EL_ERR_NOMEM, "el_tokens_split: out of memory for %zu bytes", len);
    }
    if (len > 0) memcpy(c->text, text, len);
    c->text[len] = '\0';
    for (size_t i = 0; i <= len; i++) c->starts[i] = i;
    c->bytes = c->count = len;
    return EL_OK;
}

el_status el_tokens_split(el_clusters *out, el_tokens tokens, const char *text, size_t len,
                          const char *source, long first_line)
{
    EL_REQUIRE(out, "el_tokens_split");
    memset(out, 0, sizeof *out);
    if (!el_tokens_name(tokens))
        return el__fail(EL_ERR_INVALID, "el_tokens_split: tokens is %d, not a mode", (int)tokens);
    if (len > 0) EL_REQUIRE(text, "el_tokens_split");
    el_clusters c = {0};
    el_status s = split_clusters(&c, text, len, source, first_line);
    if (s) return s;
    size_t first = 0, end = c.count;
    while (first < end && is_blank(&c, first)) first++;
    while (end > first && is_blank(&c, end - 1)) end--;
    s = tokens == EL_TOKENS_CHARS ? keep_clusters(out, &c, first, end)
                                  : keep_tokens(out, &c, first, end);
    el_clusters_free(&c);
    if (s) {
        el_clusters_free(out);
        return s;
    }
    out->text[out->bytes] = '\0';
    out->starts[out->count] = out->bytes;
    return EL_OK;
}

/* The text id decodes to, as el_vocab_decode writes it, or NULL for an id
 * out of range. */
static const char *piece_of(const el_vocab *v, int id, size_t *len)
{
    static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
    if (id == EL_PAD || id == EL_SOS || id == EL_EOS) {
        *len = 0;
        return "";
    }
    if (id == EL_UNK) {
        *len = sizeof replacement - 1;
        return replacement;
    }
    return id > EL_UNK ? el_vocab_symbol(v, id, len) : NULL;
}

/* The spaced text of ids: whole symbols only, so what is written is valid
 * UTF-8 even when buf is too small. */
static el_status decode_spaced(const el_vocab *v, const int *ids, size_t count, char *buf,
                               size_t cap, size_t *len)
{
    size_t need = 0, used = 0, piece;
    int room = cap > 0;
    for (size_t i = 0; i < count; i++) {
        const char *text = piece_of(v, ids[i], &piece);
        if (!text)
            return el__fail(EL_ERR_INVALID,
                            "el_tokens_decode: id %d at position %zu is outside [0, %d)", ids[i], i,
                            el_vocab_size(v));
        if (piece == 0) continue;
        size_t gap = need > 0;
        need += gap + piece;
        if (room && gap + piece < cap - used) {
            memcpy(buf + used, " ", gap);
            memcpy(buf + used + gap, text, piece);
            used += gap + piece;
        } else {
            room = 0;
        }
    }
    if (cap > 0) buf[used] = '\0';
    if (len) *len = need;
    if (need >= cap)
        return el__fail(
            EL_ERR_INVALID,
            "el_tokens_decode: the text needs %zu bytes and a NUL; the buffer holds %zu", need,
            cap);
    return EL_OK;
}

el_status el_tokens_decode(const el_vocab *v, el_tokens tokens, const int *ids, size_t count,
                           char *buf, size_t cap, size_t *len)
{
    EL_REQUIRE(v, "el_tokens_decode");
    if (count > 0) EL_REQUIRE(ids, "el_tokens_decode");
    if (cap > 0) EL_REQUIRE(buf, "el_tokens_decode");
    if (!el_tokens_name(tokens))
        return el__fail(EL_ERR_INVALID, "el_tokens_decode: tokens is %d, not a mode", (int)tokens);
    if (tokens == EL_TOKENS_CHARS) return el_vocab_decode(v, ids, count, buf, cap, len);
    return decode_spaced(v, ids, count, buf, cap, len);
}
