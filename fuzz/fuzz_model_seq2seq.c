/* Loading a seq2seq model file (elman/model_file.h) from arbitrary bytes:
 * the load is refused with EL_ERR_FORMAT and hands nothing out, or the
 * model matches its vocabularies, holds exactly the stored (finite) values
 * and saves again. */
#include <math.h>
#include <string.h>

#include "elman/checkpoint.h"
#include "elman/model_file.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    el_checkpoint *c = NULL;
    if (el_checkpoint_read_memory(&c, data, size, "fuzz") != EL_OK) return 0;
    el_seq2seq m;
    el_vocab *vocab = NULL, *target = NULL;
    el_status s = el_seq2seq_load(&m, c, &vocab, &target);
    FUZZ_CHECK(s == EL_OK || s == EL_ERR_FORMAT);
    if (s) {
        FUZZ_CHECK(vocab == NULL && target == NULL && m.cache == NULL);
        el_checkpoint_free(c);
        return 0;
    }
    FUZZ_CHECK(m.config.source_vocab_size == el_vocab_size(vocab));
    FUZZ_CHECK(m.config.target_vocab_size == el_vocab_size(target));
    FUZZ_CHECK(m.config.bidirectional == 0 || m.config.bidirectional == 1);
    el_param_list list = {0};
    FUZZ_CHECK(el_seq2seq_params(&m, &list) == EL_OK);
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
    FUZZ_CHECK(el_checkpoint_add_seq2seq(w, &m, vocab, target) == EL_OK);
    el_checkpoint_writer_free(w);
    el_param_list_free(&list);
    el_seq2seq_free(&m);
    el_vocab_free(vocab);
    el_vocab_free(target);
    el_checkpoint_free(c);
    return 0;
}
