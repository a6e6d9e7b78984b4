/* Loading a charlm model file (elman/model_file.h) from arbitrary bytes:
 * the load is refused with EL_ERR_FORMAT and hands nothing out, or the
 * model matches its vocabulary, holds exactly the stored (finite) values,
 * saves again and steps a character. */
#include <math.h>
#include <string.h>

#include "elman/checkpoint.h"
#include "elman/model_file.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    el_checkpoint *c = NULL;
    if (el_checkpoint_read_memory(&c, data, size, "fuzz") != EL_OK) return 0;
    el_charlm m;
    el_vocab *vocab = NULL;
    el_status s = el_charlm_load(&m, c, &vocab);
    FUZZ_CHECK(s == EL_OK || s == EL_ERR_FORMAT);
    if (s) {
        FUZZ_CHECK(vocab == NULL && m.cache == NULL);
        el_checkpoint_free(c);
        return 0;
    }
    FUZZ_CHECK(m.config.vocab_size == el_vocab_size(vocab));
    el_param_list list = {0};
    FUZZ_CHECK(el_charlm_params(&m, &list) == EL_OK);
    for (int p = 0; p < list.count; p++) {
        el_tensor stored;
        const el_tensor *v = &list.items[p]->value;
        FUZZ_CHECK(el_checkpoint_tensor(c, list.items[p]->name, &stored) == EL_OK);
        FUZZ_CHECK(stored.size == v->size);
        for (size_t i = 0; i < v->size; i++)
            FUZZ_CHECK(isfinite(v->data[i]) && v->data[i] == stored.data[i]);
    }
    el_checkpoint_writer *w = NULL;
    FUZZ_CHECK(el_checkpoint_writer_create(&w) == EL_OK);
    FUZZ_CHECK(el_checkpoint_add_charlm(w, &m, vocab) == EL_OK);
    el_checkpoint_writer_free(w);
    el_charlm_set_training(&m, 0);
    el_charlm_generator *g = NULL;
    el_sampling how = el_sampling_defaults();
    FUZZ_CHECK(el_charlm_generator_create(&g, &m, &how) == EL_OK);
    FUZZ_CHECK(el_charlm_generator_feed(g, m.config.vocab_size - 1) == EL_OK);
    el_charlm_generator_free(g);
    el_param_list_free(&list);
    el_charlm_free(&m);
    el_vocab_free(vocab);
    el_checkpoint_free(c);
    return 0;
}
