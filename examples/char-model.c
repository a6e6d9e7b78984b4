/* char-model: a character language model through the library, without the
 * charlm program: the vocabulary, truncated BPTT over streams, Adam, and
 * sampling.  It learns a short repeating text until it can write it back,
 * and exits with status 0 only when the text it writes is the one it
 * learnt.  Against an installed elman:
 *
 *     cc char-model.c $(pkg-config --cflags --libs elman) -o char-model
 *     ./char-model
 */
#include <stdio.h>
#include <string.h>

#include <elman/elman.h>

enum { STREAMS = 4, STEPS = 16, EPOCHS = 150, WRITE = 40 };

static const char text[] = "the cat sat on the mat. the cat sat on the mat. "
                           "the cat sat on the mat. the cat sat on the mat. ";

static int fail(const char *what)
{
    fprintf(stderr, "char-model: %s: %s\n", what, el_last_error());
    return 1;
}

int main(void)
{
    /* Characters are grapheme clusters of validated, NFC text. */
    el_clusters clusters = {0};
    el_vocab *vocab = NULL;
    el_ids ids = {0};
    if (el_clusters_split(&clusters, text, strlen(text), "text", 1) || el_vocab_create(&vocab) ||
        el_vocab_add(vocab, &clusters) || el_vocab_finish(vocab, 1) ||
        el_vocab_encode(vocab, &clusters, 0, clusters.count, &ids))
        return fail("vocabulary");

    el_rng rng;
    el_rng_seed(&rng, 1);
    el_charlm model;
    el_charlm_config config = {EL_CELL_GRU, el_vocab_size(vocab), 32, 1, 0.0f};
    el_param_list params = {0};
    el_optimizer *adam = NULL;
    el_optimizer_config adam_config = el_optimizer_defaults(EL_OPT_ADAM);
    adam_config.lr = 0.01;
    if (el_charlm_init(&model, &config, &rng) || el_charlm_params(&model, &params) ||
        el_optimizer_create(&adam, &adam_config, &params))
        return fail("model");

    /* Each epoch reads the text as STREAMS contiguous streams, STEPS
     * characters at a time, carrying the state from chunk to chunk. */
    int inputs[STREAMS * STEPS], targets[STREAMS * STEPS], steps;
    float loss = 0;
    long chunks = el_charlm_chunks(ids.count, 0, STREAMS, STEPS);
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        el_charlm_state state = {0};
        for (long k = 0; k < chunks; k++) {
            el_optimizer_zero_grad(adam);
            if (el_charlm_chunk(ids.data, ids.count, 0, STREAMS, STEPS, k, inputs, targets,
                                &steps) ||
                el_charlm_train_step(&model, inputs, targets, steps, STREAMS, &state, &rng,
                                     &loss) ||
                el_optimizer_step(adam))
                return fail("training");
        }
        el_charlm_state_free(&state);
    }
    printf("final loss %.4f nats per character\n", (double)loss);

    /* Greedy generation (temperature 0) from "the ". */
    el_sampling greedy = el_sampling_defaults();
    greedy.temperature = 0;
    greedy.first_id = EL_SPECIALS;
    el_charlm_generator *generator = NULL;
    int written[4 + WRITE];
    if (el_charlm_generator_create(&generator, &model, &greedy)) return fail("generator");
    for (int i = 0; i < 4; i++) {
        written[i] = ids.data[i];
        if (el_charlm_generator_feed(generator, ids.data[i])) return fail("feed");
    }
    for (int i = 4; i < 4 + WRITE; i++)
        if (el_charlm_generator_draw(generator, &rng, &written[i]) ||
            el_charlm_generator_feed(generator, written[i]))
            return fail("draw");
    char out[256];
    if (el_vocab_decode(vocab, written, 4 + WRITE, out, sizeof out, NULL)) return fail("decode");
    printf("it writes: \"%s\"\n", out);
    int learnt = strncmp(out, text, 4 + WRITE) == 0;

    el_charlm_generator_free(generator);
    el_optimizer_free(adam);
    el_param_list_free(&params);
    el_charlm_free(&model);
    el_ids_free(&ids);
    el_vocab_free(vocab);
    el_clusters_free(&clusters);
    return learnt ? 0 : 1;
}
