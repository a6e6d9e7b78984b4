/* word-autoencoder: words through a fixed-size code and back.  A sequence
 * autoencoder (el_seq_autoencoder: embedding, GRU encoder, the code, GRU
 * decoder, no attention) learns the bundled WordNet word list (or any list
 * given), and reports the share of held-out words of up to 12 characters
 * that it writes back exactly from their codes.  It also decodes points on
 * the line between two words' codes.  Exits 0 when the share is at least
 * 0.95.
 *
 *     cc word-autoencoder.c $(pkg-config --cflags --libs elman) -o word-autoencoder
 *     ./word-autoencoder [WORDS] [EPOCHS]     (default: the bundled list, 8)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <elman/elman.h>

enum { MAX_LENGTH = 12, BATCH = 64, EMBED = 64, HIDDEN = 256 };

static int fail(const char *what)
{
    fprintf(stderr, "word-autoencoder: %s: %s\n", what, el_last_error());
    return 1;
}

/* The listed words as sequences; the labels are not read. */
static el_status add_words(el_labelled *data, const el_words *words, const el_ids *which,
                           const el_vocab *vocab)
{
    el_ids ids = {0};
    el_status s = EL_OK;
    for (size_t i = 0; i < which->count && !s; i++) {
        const el_clusters *word = el_words_get(words, which->data[i]);
        ids.count = 0;
        s = el_vocab_encode(vocab, word, 0, word->count, &ids);
        if (!s) s = el_labelled_add(data, ids.data, (int)ids.count, 0);
    }
    el_ids_free(&ids);
    return s;
}

/* The share of a loader's sequences decoded back exactly from their codes. */
static el_status exact_match(el_seq_autoencoder *m, el_loader *loader, el_tensor *code, el_ids *out,
                             double *share)
{
    int right = 0, seen = 0;
    const el_batch *batch;
    el_status s = el_loader_start(loader, 0);
    while (!s && !(s = el_loader_next(loader, &batch)) && batch) {
        s = el_seq_autoencoder_encode(m, batch, code);
        if (!s) s = el_seq_autoencoder_decode(m, code, MAX_LENGTH + 2, out);
        for (int b = 0; b < batch->size && !s; b++) {
            int length = batch->input_lengths[b], same = (int)out[b].count == length;
            for (int t = 0; t < length && same; t++)
                same = out[b].data[t] == batch->inputs[t * batch->size + b];
            right += same;
        }
        seen += batch->size;
    }
    *share = seen ? (double)right / seen : 0;
    return s;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "corpora/wordnet-words.txt";
    int epochs = argc > 2 ? atoi(argv[2]) : 8;
    el_words *words = NULL;
    el_vocab *vocab = NULL;
    if (el_words_read(&words, path, 1, MAX_LENGTH) || el_vocab_create(&vocab) ||
        el_vocab_add_words(vocab, words) || el_vocab_finish(vocab, 1))
        return fail(path);
    el_ids train_ids = {0}, test_ids = {0};
    el_labelled *train = NULL, *test = NULL;
    if (el_split(el_words_count(words), 1, 0, 0.05, &train_ids, NULL, &test_ids) ||
        el_labelled_create(&train) || el_labelled_create(&test) ||
        add_words(train, words, &train_ids, vocab) || add_words(test, words, &test_ids, vocab))
        return fail("data");

    el_rng rng;
    el_rng_seed(&rng, 2);
    el_seq_autoencoder m;
    el_seq_autoencoder_config config = {EL_CELL_GRU, el_vocab_size(vocab), EMBED, HIDDEN};
    el_param_list params = {0};
    el_optimizer *adam = NULL;
    el_optimizer_config adam_config = el_optimizer_defaults(EL_OPT_ADAM);
    if (el_seq_autoencoder_init(&m, &config, &rng) || el_seq_autoencoder_params(&m, &params) ||
        el_optimizer_create(&adam, &adam_config, &params))
        return fail("model");

    el_dataset train_set = el_labelled_dataset(train), test_set = el_labelled_dataset(test);
    el_loader *train_loader = NULL, *test_loader = NULL;
    if (el_loader_create(&train_loader, &train_set,
                         &(el_loader_config){.batch_size = BATCH, .shuffle = 1, .seed = 3}) ||
        el_loader_create(&test_loader, &test_set, &(el_loader_config){.batch_size = 512}))
        return fail("loader");

    el_tensor code = {0};
    el_ids out[512] = {{0}};
    double share = 0;
    clock_t start = clock();
    /* The rate falls along a cosine to 0 by the last step: the held-out
     * share wanders by a few points from epoch to epoch at a constant rate. */
    el_lr_schedule schedule = el_lr_schedule_defaults(
        EL_LR_COSINE, 0.002, (long)epochs * el_loader_batches(train_loader));
    long step = 0;
    for (int epoch = 0; epoch < epochs; epoch++) {
        const el_batch *batch;
        double total = 0;
        int batches = 0;
        if (el_loader_start(train_loader, epoch)) return fail("loader");
        while (!el_loader_next(train_loader, &batch) && batch) {
            float loss;
            el_optimizer_zero_grad(adam);
            el_optimizer_set_lr(adam, el_lr_at(&schedule, step++));
            if (el_seq_autoencoder_train_step(&m, batch, &loss) || el_optimizer_step(adam))
                return fail("training");
            total += loss;
            batches++;
        }
        if (exact_match(&m, test_loader, &code, out, &share)) return fail("test");
        printf("epoch %d  loss %.4f  held-out exact match %.4f  (%.0f s of CPU)\n", epoch + 1,
               total / batches, share, (double)(clock() - start) / CLOCKS_PER_SEC);
    }

    /* Points on the line between the codes of the first two test words. */
    const el_batch *batch;
    if (el_loader_start(test_loader, 0) || el_loader_next(test_loader, &batch) ||
        el_seq_autoencoder_encode(&m, batch, &code))
        return fail("codes");
    el_tensor line = {0};
    if (el_tensor_alloc(&line, 2, (int[]){5, HIDDEN})) return fail("line");
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < HIDDEN; j++)
            line.data[i * HIDDEN + j] =
                (1 - i / 4.0f) * code.data[j] + (i / 4.0f) * code.data[HIDDEN + j];
    if (el_seq_autoencoder_decode(&m, &line, MAX_LENGTH + 2, out)) return fail("decode");
    for (int i = 0; i < 5; i++) {
        char text[256];
        if (el_vocab_decode(vocab, out[i].data, out[i].count, text, sizeof text, NULL))
            return fail("decode");
        printf("%s%s", i ? " -> " : "between the first two test words: ", text);
    }
    printf("\nexact_match: %.4f (n=%d)\n", share, el_labelled_count(test));

    for (int i = 0; i < 512; i++) el_ids_free(&out[i]);
    el_tensor_free(&line);
    el_tensor_free(&code);
    el_loader_free(train_loader);
    el_loader_free(test_loader);
    el_optimizer_free(adam);
    el_param_list_free(&params);
    el_seq_autoencoder_free(&m);
    el_labelled_free(train);
    el_labelled_free(test);
    el_ids_free(&train_ids);
    el_ids_free(&test_ids);
    el_vocab_free(vocab);
    el_words_free(words);
    return share >= 0.95 ? 0 : 1;
}
