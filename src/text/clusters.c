/* Text to grapheme clusters with ICU: UTF-8 validation, NFC, then UAX #29
 * character boundaries over the UTF-8 itself; and case folding of the
 * clusters' text, after which it is split again. */
#include <stdint.h>
#include <string.h>

#include <unicode/ubrk.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include "elman/vocab.h"
#include "core/internal.h"
#include "text/utf8.h"

/* An ICU failure as a status: out of memory is EL_ERR_NOMEM, anything else
 * means ICU could not handle the text. */
static el_status icu_failure(const char *fn, const char *what, UErrorCode err)
{
    if (err == U_MEMORY_ALLOCATION_ERROR)
        return el__fail(EL_ERR_NOMEM, "%s: out of memory in ICU (%s)", fn, what);
    return el__fail(EL_ERR_FORMAT, "%s: ICU failed to %s: %s", fn, what, u_errorName(err));
}

static el_status out_of_memory(const char *fn, const char *what, size_t bytes)
{
    return el__fail(EL_ERR_NOMEM, "%s: out of memory for %s (%zu bytes)", fn, what, bytes);
}

static const char split_fn[] = "el_clusters_split", fold_fn[] = "el_clusters_fold_case";

/* The number of the line holding byte offset, counting from first_line. */
static long line_of(const char *text, size_t offset, long first_line)
{
    long line = first_line;
    const char *end = text + offset;
    for (const char *p = text; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) line++;
    return line;
}

/* ICU's U8_NEXT applies the rules u_strFromUTF8 does (no overlong forms, no
 * surrogates, nothing above U+10FFFF), and unlike it says where. */
size_t el__utf8_invalid_at(const char *text, size_t len)
{
    int32_t length = (int32_t)len;
    for (int32_t i = 0; i < length;) {
        int32_t start = i;
        UChar32 c;
        U8_NEXT(text, i, length, c);
        if (c < 0) return (size_t)start;
    }
    return len;
}

static el_status invalid_text(const char *text, size_t offset, const char *what, const char *source,
                              long first_line)
{
    return el__fail(EL_ERR_FORMAT, "%s:%ld: %s at byte %zu", source ? source : "text",
                    line_of(text, offset, first_line), what, offset);
}

/* Checks that text is UTF-8 without NUL bytes (which C strings, and so the
 * vocabulary's symbols, cannot hold) and gives its length in UTF-16. */
static el_status validate(const char *text, size_t len, const char *source, long first_line,
                          int32_t *utf16_units)
{
    UErrorCode err = U_ZERO_ERROR;
    u_strFromUTF8(NULL, 0, utf16_units, text, (int32_t)len, &err);
    const char *nul = memchr(text, '\0', len);
    size_t nul_at = nul ? (size_t)(nul - text) : len;
    size_t bad_at = err == U_INVALID_CHAR_FOUND ? el__utf8_invalid_at(text, len) : len;
    if (bad_at < nul_at) return invalid_text(text, bad_at, "invalid UTF-8", source, first_line);
    if (nul_at < len) return invalid_text(text, nul_at, "a NUL byte", source, first_line);
    /* The preflight's expected "failure" says that the buffer was too small. */
    if (U_FAILURE(err) && err != U_BUFFER_OVERFLOW_ERROR)
        return icu_failure(split_fn, "read UTF-8", err);
    return EL_OK;
}

static el_status utf8_to_utf16(const char *fn, UChar **out, const char *text, size_t len,
                               int32_t units)
{
    UChar *utf16 = el__alloc((size_t)units * sizeof *utf16);
    if (!utf16) return out_of_memory(fn, "the UTF-16 text", (size_t)units * sizeof *utf16);
    UErrorCode err = U_ZERO_ERROR;
    u_strFromUTF8(utf16, units, NULL, text, (int32_t)len, &err);
    if (U_FAILURE(err)) {
        el__free(utf16);
        return icu_failure(fn, "convert UTF-8 to UTF-16", err);
    }
    *out = utf16;
    return EL_OK;
}

/* NFC into a new buffer: ICU normalises only UTF-16, and never in place. */
static el_status normalise_utf16(const char *fn, UChar **out, int32_t *out_units,
                                 const UNormalizer2 *nfc, const UChar *utf16, int32_t units)
{
    UErrorCode err = U_ZERO_ERROR;
    int32_t nfc_units = unorm2_normalize(nfc, utf16, units, NULL, 0, &err);
    if (U_FAILURE(err) && err != U_BUFFER_OVERFLOW_ERROR) return icu_failure(fn, "normalise", err);
    UChar *normal = el__alloc((size_t)nfc_units * sizeof *normal);
    if (!normal) return out_of_memory(fn, "the NFC text", (size_t)nfc_units * sizeof *normal);
    err = U_ZERO_ERROR;
    unorm2_normalize(nfc, utf16, units, normal, nfc_units, &err);
    if (U_FAILURE(err)) {
        el__free(normal);
        return icu_failure(fn, "normalise", err);
    }
    *out = normal;
    *out_units = nfc_units;
    return EL_OK;
}

/* Stores utf16 as the NUL-terminated UTF-8 of c. */
static el_status store_utf16(const char *fn, el_clusters *c, const UChar *utf16, int32_t units)
{
    UErrorCode err = U_ZERO_ERROR;
    int32_t bytes = 0;
    u_strToUTF8(NULL, 0, &bytes, utf16, units, &err);
    if (U_FAILURE(err) && err != U_BUFFER_OVERFLOW_ERROR)
        return icu_failure(fn, "convert UTF-16 to UTF-8", err);
    char *text = el__alloc((size_t)bytes + 1);
    if (!text) return out_of_memory(fn, "the text", (size_t)bytes + 1);
    err = U_ZERO_ERROR;
    u_strToUTF8(text, bytes + 1, NULL, utf16, units, &err);
    if (U_FAILURE(err)) {
        el__free(text);
        return icu_failure(fn, "convert UTF-16 to UTF-8", err);
    }
    c->text = text;
    c->bytes = (size_t)bytes;
    return EL_OK;
}

static el_status store_utf8(el_clusters *c, const char *text, size_t len)
{
    c->text = el__alloc(len + 1);
    if (!c->text) return out_of_memory(split_fn, "the text", len + 1);
    memcpy(c->text, text, len);
    c->text[len] = '\0';
    c->bytes = len;
    return EL_OK;
}

/* ICU's NFC instance: shared, never closed. */
static el_status nfc_instance(const char *fn, const UNormalizer2 **nfc)
{
    UErrorCode err = U_ZERO_ERROR;
    *nfc = unorm2_getNFCInstance(&err);
    return U_FAILURE(err) ? icu_failure(fn, "load the NFC data", err) : EL_OK;
}

/* Stores the NFC form of UTF-16 text in c, and its length in UTF-16 units;
 * text that is already NFC is stored as it is, from utf8 when that is
 * given (most text is NFC, and the copy then skips a conversion). */
static el_status store_utf16_as_nfc(const char *fn, el_clusters *c, const UChar *utf16,
                                    int32_t units, const char *utf8, size_t len, int32_t *nfc_units)
{
    const UNormalizer2 *nfc;
    el_status s = nfc_instance(fn, &nfc);
    if (s) return s;
    UErrorCode err = U_ZERO_ERROR;
    UBool normal = unorm2_isNormalized(nfc, utf16, units, &err);
    if (U_FAILURE(err)) return icu_failure(fn, "check normalisation", err);
    if (normal) {
        *nfc_units = units;
        return utf8 ? store_utf8(c, utf8, len) : store_utf16(fn, c, utf16, units);
    }
    UChar *normalised = NULL;
    s = normalise_utf16(fn, &normalised, nfc_units, nfc, utf16, units);
    if (!s) s = store_utf16(fn, c, normalised, *nfc_units);
    el__free(normalised);
    return s;
}

/* Stores the NFC form of valid text in c, and its length in UTF-16 units. */
static el_status store_nfc(el_clusters *c, const char *text, size_t len, int32_t units,
                           int32_t *nfc_units)
{
    UChar *utf16 = NULL;
    el_status s = utf8_to_utf16(split_fn, &utf16, text, len, units);
    if (!s) s = store_utf16_as_nfc(split_fn, c, utf16, units, text, len, nfc_units);
    el__free(utf16);
    return s;
}

/* Fills c->starts with the cluster boundaries of c->text.  A cluster holds at
 * least one code point, and a code point at least one UTF-16 unit, so
 * utf16_units + 1 boundaries always fit. */
static el_status find_boundaries(const char *fn, el_clusters *c, int32_t utf16_units)
{
    size_t capacity = (size_t)utf16_units + 1;
    c->starts = el__alloc(capacity * sizeof *c->starts);
    if (!c->starts) return out_of_memory(fn, "the cluster offsets", capacity * sizeof *c->starts);
    UErrorCode err = U_ZERO_ERROR;
    UText *text = utext_openUTF8(NULL, c->text, (int64_t)c->bytes, &err);
    UBreakIterator *breaks = ubrk_open(UBRK_CHARACTER, "", NULL, 0, &err); /* "": root */
    ubrk_setUText(breaks, text, &err);
    size_t n = 0;
    if (U_SUCCESS(err)) /* Over a UTF-8 UText the boundaries are byte offsets. */
        for (int32_t at = ubrk_first(breaks); at != UBRK_DONE && n < capacity;
             at = ubrk_next(breaks))
            c->starts[n++] = (size_t)at;
    ubrk_close(breaks); /* before the UText it reads */
    utext_close(text);
    if (U_FAILURE(err)) return icu_failure(fn, "find the grapheme clusters", err);
    if (n == 0 || c->starts[n - 1] != c->bytes)
        return el__fail(EL_ERR_FORMAT, "%s: ICU's boundaries do not cover the text", fn);
    c->count = n - 1;
    return EL_OK;
}

el_status el_clusters_split(el_clusters *out, const char *text, size_t len, const char *source,
                            long first_line)
{
    EL_REQUIRE(out, "el_clusters_split");
    memset(out, 0, sizeof *out);
    if (len > 0) EL_REQUIRE(text, "el_clusters_split");
    if (len > INT32_MAX)
        return el__fail(EL_ERR_INVALID,
                        "el_clusters_split: %zu bytes of text; ICU takes at most %d at once", len,
                        INT32_MAX);
    if (!text) text = "";
    int32_t units = 0, nfc_units = 0;
    el_status s = validate(text, len, source, first_line, &units);
    if (!s) s = store_nfc(out, text, len, units, &nfc_units);
    if (!s) s = find_boundaries(split_fn, out, nfc_units);
    if (s) el_clusters_free(out);
    return s;
}

/* The full default case folding of UTF-16 text into a new buffer. */
static el_status fold_utf16(UChar **out, int32_t *out_units, const UChar *utf16, int32_t units)
{
    UErrorCode err = U_ZERO_ERROR;
    int32_t folded_units = u_strFoldCase(NULL, 0, utf16, units, U_FOLD_CASE_DEFAULT, &err);
    if (U_FAILURE(err) && err != U_BUFFER_OVERFLOW_ERROR)
        return icu_failure(fold_fn, "fold case", err);
    UChar *folded = el__alloc((size_t)folded_units * sizeof *folded);
    if (!folded)
        return out_of_memory(fold_fn, "the folded text", (size_t)folded_units * sizeof *folded);
    err = U_ZERO_ERROR;
    u_strFoldCase(folded, folded_units, utf16, units, U_FOLD_CASE_DEFAULT, &err);
    if (U_FAILURE(err)) {
        el__free(folded);
        return icu_failure(fold_fn, "fold case", err);
    }
    *out = folded;
    *out_units = folded_units;
    return EL_OK;
}

el_status el_clusters_fold_case(el_clusters *c)
{
    EL_REQUIRE(c, fold_fn);
    if (c->bytes == 0) return EL_OK; /* nothing to fold, and a zeroed c has no text */
    if (c->bytes > INT32_MAX)
        return el__fail(EL_ERR_INVALID, "%s: %zu bytes of text; ICU takes at most %d at once",
                        fold_fn, c->bytes, INT32_MAX);
    UErrorCode err = U_ZERO_ERROR;
    int32_t units = 0, folded_units = 0, nfc_units = 0;
    u_strFromUTF8(NULL, 0, &units, c->text, (int32_t)c->bytes, &err);
    if (U_FAILURE(err) && err != U_BUFFER_OVERFLOW_ERROR)
        return icu_failure(fold_fn, "read UTF-8", err);
    UChar *utf16 = NULL, *folded = NULL;
    el_clusters next = {0};
    el_status s = utf8_to_utf16(fold_fn, &utf16, c->text, c->bytes, units);
    if (!s) s = fold_utf16(&folded, &folded_units, utf16, units);
    if (!s) s = store_utf16_as_nfc(fold_fn, &next, folded, folded_units, NULL, 0, &nfc_units);
    if (!s) s = find_boundaries(fold_fn, &next, nfc_units);
    el__free(utf16);
    el__free(folded);
    if (s) {
        el_clusters_free(&next);
        return s;
    }
    el_clusters_free(c);
    *c = next;
    return EL_OK;
}

void el_clusters_free(el_clusters *c)
{
    if (!c) return;
    el__free(c->text);
    el__free(c->starts);
    memset(c, 0, sizeof *c);
}
