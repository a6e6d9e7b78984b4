/* A vocabulary's JSON form from arbitrary text: it is refused with
 * EL_ERR_FORMAT, or the vocabulary writes JSON that reads back as the same
 * vocabulary and writes the same JSON again. */
#include <string.h>

#include "elman/vocab.h"
#include "fuzz.h"

static void check_same(const el_vocab *a, const el_vocab *b)
{
    FUZZ_CHECK(el_vocab_size(a) == el_vocab_size(b));
    for (int id = 0; id < el_vocab_size(a); id++) {
        size_t n = 0, m = 0;
        const char *x = el_vocab_symbol(a, id, &n);
        const char *y = el_vocab_symbol(b, id, &m);
        FUZZ_CHECK(x && y && n == m && memcmp(x, y, n) == 0);
        FUZZ_CHECK(id < EL_SPECIALS || el_vocab_id(b, x, n) == id);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1); /* the parser takes a C string */
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    el_vocab *v = NULL;
    el_status s = el_vocab_from_json(&v, text);
    free(text);
    if (s) {
        FUZZ_CHECK(s == EL_ERR_FORMAT && v == NULL);
        return 0;
    }
    char *json = NULL, *json2 = NULL;
    el_vocab *w = NULL;
    FUZZ_CHECK(el_vocab_to_json(v, &json) == EL_OK);
    FUZZ_CHECK(el_vocab_from_json(&w, json) == EL_OK);
    check_same(v, w);
    FUZZ_CHECK(el_vocab_to_json(w, &json2) == EL_OK && strcmp(json, json2) == 0);
    el_vocab_json_free(json);
    el_vocab_json_free(json2);
    el_vocab_free(v);
    el_vocab_free(w);
    return 0;
}
