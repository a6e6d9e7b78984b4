/* word-language: which language is a word in?  A classifier of single
 * words through the library: characters (grapheme clusters) are embedded,
 * a GRU reads them, and a dense layer on its last state scores the
 * languages, trained with cross-entropy and Adam.  The word lists come from
 * Debian (wamerican, wngerman, wfrench) or any files named on the command
 * line, one language each.  It prints the test accuracy on words it never
 * saw, and exits with status 0 only when that beats 80%.
 *
 *     cc word-language.c $(pkg-config --cflags --libs elman) -o word-language
 *     ./word-language [LIST...]     (default: the three Debian lists)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <elman/elman.h>

enum {
    TRAIN = 6000,
    TEST = 2000,
    EMBED = 32,
    HIDDEN = 96,
    BATCH = 64,
    EPOCHS = 6,
    MAX_LANGUAGES = 8
};

static int fail(const char *what)
{
    fprintf(stderr, "word-language: %s: %s\n", what, el_last_error());
    return 1;
}

typedef struct model {
    el_embedding embed;
    el_rnn gru;
    el_dense out;
    el_rnn_cache *cache;
    el_tensor x, hn, logits, dlogits, dhn, dx;
} model;

/* Scores a batch: the GRU's state after each word's last character. */
static el_status forward(model *m, const el_batch *batch, el_rng *rng)
{
    int steps = batch->input_steps, n = batch->size;
    el_status s = el_embedding_forward(&m->embed, batch->inputs, steps * n, &m->x);
    if (!s) s = el_tensor_reshape(&m->x, 3, (int[]){steps, n, EMBED});
    /* Only the last state is wanted: no per-step outputs (y is NULL), and hn
     * sizes itself. */
    if (!s)
        s = el_rnn_forward(&m->gru, m->cache, rng, &m->x, batch->input_lengths, NULL, NULL, NULL,
                           &m->hn, NULL);
    if (!s) s = el_tensor_ensure(&m->logits, 2, (int[]){n, m->out.out_features});
    if (!s) s = el_dense_forward(&m->out, &m->hn, &m->logits);
    return s;
}

static el_status backward(model *m, const el_batch *batch)
{
    int steps = batch->input_steps, n = batch->size;
    el_status s = el_tensor_ensure(&m->dhn, 3, (int[]){1, n, HIDDEN});
    if (!s) s = el_dense_backward(&m->out, &m->hn, &m->dlogits, &m->dhn);
    if (!s) s = el_rnn_backward(&m->gru, m->cache, NULL, &m->dhn, NULL, &m->dx, NULL, NULL);
    if (!s) s = el_embedding_backward(&m->embed, batch->inputs, steps * n, &m->dx);
    return s;
}

/* Draws TRAIN + TEST distinct words of each list by a seeded permutation,
 * the first TRAIN into train and the rest into test (so no test word was
 * trained on), labelled by the list's index. */
static el_status add_words(el_labelled *train, el_labelled *test, el_words *const *lists,
                           int languages, const el_vocab *vocab, el_rng *rng)
{
    el_ids ids = {0};
    el_status s = EL_OK;
    for (int l = 0; l < languages && !s; l++) {
        int count = el_words_count(lists[l]);
        int *order = malloc(sizeof *order * (size_t)count);
        if (!order) return EL_ERR_NOMEM;
        el_rng_permutation(rng, order, count);
        for (int i = 0; i < count && i < TRAIN + TEST && !s; i++) {
            const el_clusters *word = el_words_get(lists[l], order[i]);
            el_ids_clear(&ids);
            s = el_vocab_encode(vocab, word, 0, word->count, &ids);
            if (!s) s = el_labelled_add(i < TRAIN ? train : test, ids.data, (int)ids.count, l);
        }
        free(order);
    }
    el_ids_free(&ids);
    return s;
}

static int argmax(const float *row, int count)
{
    int best = 0;
    for (int i = 1; i < count; i++)
        if (row[i] > row[best]) best = i;
    return best;
}

int main(int argc, char **argv)
{
    const char *defaults[] = {"/usr/share/dict/american-english", "/usr/share/dict/ngerman",
                              "/usr/share/dict/french"};
    const char *const *paths = argc > 1 ? (const char *const *)argv + 1 : defaults;
    int languages = argc > 1 ? argc - 1 : 3;
    if (languages > MAX_LANGUAGES) {
        fprintf(stderr, "word-language: at most %d lists\n", MAX_LANGUAGES);
        return 2;
    }

    /* Words of 3 to 16 characters; one vocabulary over all the lists. */
    el_words *lists[MAX_LANGUAGES] = {0};
    el_vocab *vocab = NULL;
    if (el_vocab_create(&vocab)) return fail("vocabulary");
    for (int l = 0; l < languages; l++)
        if (el_words_read(&lists[l], paths[l], 3, 16) || el_vocab_add_words(vocab, lists[l]))
            return fail(paths[l]);
    if (el_vocab_finish(vocab, 1)) return fail("vocabulary");

    el_rng rng;
    el_rng_seed(&rng, 5);
    el_labelled *train = NULL, *test = NULL;
    if (el_labelled_create(&train) || el_labelled_create(&test) ||
        add_words(train, test, lists, languages, vocab, &rng))
        return fail("data");

    model m = {0};
    el_rnn_config gru = {
        .cell = EL_CELL_GRU, .input_size = EMBED, .hidden_size = HIDDEN, .num_layers = 1};
    el_param_list params = {0};
    el_optimizer *adam = NULL;
    el_optimizer_config adam_config = el_optimizer_defaults(EL_OPT_ADAM);
    adam_config.lr = 0.003;
    if (el_embedding_init(&m.embed, "embed", el_vocab_size(vocab), EMBED, EL_PAD, &rng) ||
        el_rnn_init(&m.gru, "gru", &gru, &rng) ||
        el_dense_init(&m.out, "out", HIDDEN, languages, 1, &rng) ||
        el_embedding_params(&m.embed, &params) || el_rnn_params(&m.gru, &params) ||
        el_dense_params(&m.out, &params) || el_optimizer_create(&adam, &adam_config, &params) ||
        el_rnn_cache_create(&m.cache))
        return fail("model");

    el_dataset train_set = el_labelled_dataset(train), test_set = el_labelled_dataset(test);
    el_loader *train_loader = NULL, *test_loader = NULL;
    el_loader_config shuffled = {.batch_size = BATCH, .shuffle = 1, .seed = 7, .pad = EL_PAD};
    el_loader_config in_order = {.batch_size = 256, .pad = EL_PAD};
    if (el_loader_create(&train_loader, &train_set, &shuffled) ||
        el_loader_create(&test_loader, &test_set, &in_order))
        return fail("loader");

    const el_batch *batch;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        double total = 0;
        int batches = 0;
        if (el_loader_start(train_loader, epoch)) return fail("loader");
        while (!el_loader_next(train_loader, &batch) && batch) {
            float loss;
            el_optimizer_zero_grad(adam);
            if (forward(&m, batch, &rng) ||
                el_tensor_ensure(&m.dlogits, 2, (int[]){batch->size, languages}) ||
                el_cross_entropy_loss(&m.logits, batch->targets, NULL, EL_IGNORE_NONE, &loss,
                                      &m.dlogits) ||
                backward(&m, batch) || el_optimizer_step(adam))
                return fail("training");
            total += loss;
            batches++;
        }
        printf("epoch %d  loss %.4f\n", epoch + 1, total / batches);
    }

    el_rnn_set_training(&m.gru, 0);
    int right = 0, seen = 0;
    if (el_loader_start(test_loader, 0)) return fail("loader");
    while (!el_loader_next(test_loader, &batch) && batch) {
        if (forward(&m, batch, NULL)) return fail("test");
        for (int b = 0; b < batch->size; b++)
            right += argmax(m.logits.data + (size_t)b * languages, languages) == batch->targets[b];
        seen += batch->size;
    }
    double accuracy = (double)right / seen;
    printf("test_accuracy: %.4f (%d words)\n", accuracy, seen);

    /* A few words of one's own: text to ids in one call. */
    const char *mine[] = {"Straße", "bouteille", "weather"};
    el_ids ids = {0};
    for (int i = 0; i < 3; i++) {
        int length;
        el_ids_clear(&ids);
        if (el_vocab_encode_text(vocab, mine[i], strlen(mine[i]), &ids, 0)) return fail(mine[i]);
        length = (int)ids.count;
        el_batch one = {
            .size = 1, .input_steps = length, .inputs = ids.data, .input_lengths = &length};
        if (forward(&m, &one, NULL)) return fail(mine[i]);
        printf("%s: list %d\n", mine[i], argmax(m.logits.data, languages) + 1);
    }
    el_ids_free(&ids);

    el_tensor *tensors[] = {&m.x, &m.hn, &m.logits, &m.dlogits, &m.dhn, &m.dx};
    for (int i = 0; i < 6; i++) el_tensor_free(tensors[i]);
    el_loader_free(train_loader);
    el_loader_free(test_loader);
    el_rnn_cache_free(m.cache);
    el_optimizer_free(adam);
    el_param_list_free(&params);
    el_dense_free(&m.out);
    el_rnn_free(&m.gru);
    el_embedding_free(&m.embed);
    el_labelled_free(train);
    el_labelled_free(test);
    for (int l = 0; l < languages; l++) el_words_free(lists[l]);
    el_vocab_free(vocab);
    return accuracy > 0.8 ? 0 : 1;
}
