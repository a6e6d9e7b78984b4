/* sine-lstm: an LSTM regressing a noisy sine wave, through the library.
 * Each sequence is a sine of random phase and frequency seen through noise
 * (sd 0.1); at every step the model predicts the next clean value.  An LSTM
 * layer feeds a dense layer per step, trained on the mean squared error
 * with Adam.  It exits with status 0 only when, on sequences it never saw,
 * it beats the obvious guess (the next value equals the current noisy one)
 * by a wide margin.  Against an installed elman:
 *
 *     cc sine-lstm.c $(pkg-config --cflags --libs elman) -lm -o sine-lstm
 *     ./sine-lstm
 */
#include <math.h>
#include <stdio.h>

#include <elman/elman.h>

enum { T = 40, B = 64, HIDDEN = 32, EPOCHS = 300 };

static int fail(const char *what)
{
    fprintf(stderr, "sine-lstm: %s: %s\n", what, el_last_error());
    return 1;
}

/* Fills x (T, B, 1) with noisy sines and target (T, B, 1) with the clean
 * value one step later; returns the mean squared error of guessing that
 * the next value is the current noisy one. */
static double make_batch(el_rng *rng, el_tensor *x, el_tensor *target)
{
    double naive = 0;
    for (int b = 0; b < B; b++) {
        double phase = 6.283185 * el_rng_uniform(rng), freq = 0.15 + 0.15 * el_rng_uniform(rng);
        for (int t = 0; t < T; t++) {
            float noisy = (float)sin(phase + freq * t) + 0.1f * el_rng_normal(rng);
            float next = (float)sin(phase + freq * (t + 1));
            x->data[t * B + b] = noisy;
            target->data[t * B + b] = next;
            naive += (double)(next - noisy) * (next - noisy);
        }
    }
    return naive / (T * B);
}

int main(void)
{
    el_rng rng;
    el_rng_seed(&rng, 3);
    el_rnn lstm;
    el_dense head;
    el_rnn_config config = {
        .cell = EL_CELL_LSTM, .input_size = 1, .hidden_size = HIDDEN, .num_layers = 1};
    el_param_list params = {0};
    el_optimizer *adam = NULL;
    el_optimizer_config adam_config = el_optimizer_defaults(EL_OPT_ADAM);
    adam_config.lr = 0.01;
    el_rnn_cache *cache = NULL;
    if (el_rnn_init(&lstm, "lstm", &config, &rng) ||
        el_dense_init(&head, "head", HIDDEN, 1, 1, &rng) || el_rnn_params(&lstm, &params) ||
        el_dense_params(&head, &params) || el_optimizer_create(&adam, &adam_config, &params) ||
        el_rnn_cache_create(&cache))
        return fail("model");

    el_tensor x = {0}, target = {0}, h = {0}, pred = {0}, dpred = {0}, dh = {0};
    if (el_tensor_alloc(&x, 3, (int[]){T, B, 1}) || el_tensor_alloc(&target, 3, (int[]){T, B, 1}) ||
        el_tensor_alloc(&h, 3, (int[]){T, B, HIDDEN}) ||
        el_tensor_alloc(&dh, 3, (int[]){T, B, HIDDEN}) ||
        el_tensor_alloc(&pred, 3, (int[]){T, B, 1}) || el_tensor_alloc(&dpred, 3, (int[]){T, B, 1}))
        return fail("tensors");
    int lengths[B];
    for (int b = 0; b < B; b++) lengths[b] = T;

    /* A fresh batch every epoch: the model never sees the same noise twice. */
    float loss = 0;
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        make_batch(&rng, &x, &target);
        el_optimizer_zero_grad(adam);
        if (el_rnn_forward(&lstm, cache, &rng, &x, lengths, NULL, NULL, &h, NULL, NULL) ||
            el_dense_forward(&head, &h, &pred) || el_mse_loss(&pred, &target, &loss, &dpred) ||
            el_dense_backward(&head, &h, &dpred, &dh) ||
            el_rnn_backward(&lstm, cache, &dh, NULL, NULL, NULL, NULL, NULL) ||
            el_optimizer_step(adam))
            return fail("training");
        if (epoch % 50 == 0 || epoch == EPOCHS - 1)
            printf("epoch %3d  train mse %.5f\n", epoch, (double)loss);
    }

    /* Held out: new sequences from the same generator, in evaluation. */
    el_rng test_rng;
    el_rng_seed(&test_rng, 99);
    double naive = make_batch(&test_rng, &x, &target);
    if (el_rnn_forward(&lstm, cache, NULL, &x, lengths, NULL, NULL, &h, NULL, NULL) ||
        el_dense_forward(&head, &h, &pred) || el_mse_loss(&pred, &target, &loss, NULL))
        return fail("test");
    printf("test mse %.5f, against %.5f for 'the next value is this one'\n", (double)loss, naive);
    int learnt = loss < naive / 4;

    el_tensor *tensors[] = {&x, &target, &h, &pred, &dpred, &dh};
    for (int i = 0; i < 6; i++) el_tensor_free(tensors[i]);
    el_rnn_cache_free(cache);
    el_optimizer_free(adam);
    el_param_list_free(&params);
    el_dense_free(&head);
    el_rnn_free(&lstm);
    return learnt ? 0 : 1;
}
