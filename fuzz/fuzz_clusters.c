/* The UTF-8 to grapheme cluster splitter on arbitrary bytes: it refuses
 * them with EL_ERR_FORMAT, or its clusters tile its NFC text in order, and
 * splitting that text again gives the same text and clusters (NFC is
 * idempotent and its output valid UTF-8). */
#include <string.h>

#include "elman/vocab.h"
#include "fuzz.h"

static void check_tiling(const el_clusters *c)
{
    FUZZ_CHECK(c->text != NULL && c->text[c->bytes] == '\0');
    FUZZ_CHECK(c->starts[0] == 0 && c->starts[c->count] == c->bytes);
    for (size_t i = 0; i < c->count; i++) FUZZ_CHECK(c->starts[i] < c->starts[i + 1]);
    FUZZ_CHECK(memchr(c->text, '\0', c->bytes) == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    el_clusters c;
    el_status s = el_clusters_split(&c, (const char *)data, size, "fuzz", 1);
    if (s) {
        FUZZ_CHECK(s == EL_ERR_FORMAT && c.text == NULL && c.count == 0);
        return 0;
    }
    check_tiling(&c);
    el_clusters again;
    FUZZ_CHECK(el_clusters_split(&again, c.text, c.bytes, "fuzz", 1) == EL_OK);
    check_tiling(&again);
    FUZZ_CHECK(again.bytes == c.bytes && memcmp(again.text, c.text, c.bytes) == 0);
    FUZZ_CHECK(again.count == c.count &&
               memcmp(again.starts, c.starts, (c.count + 1) * sizeof *c.starts) == 0);
    el_clusters_free(&again);
    el_clusters_free(&c);
    return 0;
}
