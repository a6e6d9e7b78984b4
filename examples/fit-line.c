/* fit-line: a complete elman program in a few lines.
 *
 * It fits one dense layer, y = w x + b, to points on the line y = 2 x + 1
 * with mean squared error and Adam, prints what it learned, and exits with
 * status 0 only when it found the line.  Against an installed elman:
 *
 *     cc fit-line.c $(pkg-config --cflags --libs elman) -o fit-line
 *     ./fit-line
 */
#include <stdio.h>

#include <elman/elman.h>

enum { POINTS = 8, STEPS = 1000 };

static int near(float value, float expected)
{
    return value - expected < 0.01f && expected - value < 0.01f;
}

int main(void)
{
    float inputs[POINTS], targets[POINTS];
    for (int i = 0; i < POINTS; i++) {
        inputs[i] = -1.0f + 2.0f * (float)i / (POINTS - 1);
        targets[i] = 2.0f * inputs[i] + 1.0f;
    }
    /* Tensors over the arrays above: POINTS rows of one feature.  pred and
     * dpred size themselves on the first step and are reused after it. */
    const int shape[2] = {POINTS, 1};
    el_tensor x = {0}, y = {0}, pred = {0}, dpred = {0};
    el_status s = el_tensor_wrap(&x, inputs, 2, shape);
    if (!s) s = el_tensor_wrap(&y, targets, 2, shape);

    el_rng rng;
    el_rng_seed(&rng, 42);
    el_dense line = {0};
    el_param_list params = {0};
    el_optimizer *adam = NULL;
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    config.lr = 0.05f;
    float loss = 0.0f;

    if (!s) s = el_set_threads(1);
    if (!s) s = el_dense_init(&line, "line", 1, 1, 1, &rng);
    if (!s) s = el_dense_params(&line, &params);
    if (!s) s = el_optimizer_create(&adam, &config, &params);
    for (int step = 0; step < STEPS && !s; step++) {
        el_optimizer_zero_grad(adam);
        s = el_dense_forward(&line, &x, &pred);
        if (!s) s = el_mse_loss(&pred, &y, &loss, &dpred);
        if (!s) s = el_dense_backward(&line, &x, &dpred, NULL);
        if (!s) s = el_optimizer_step(adam);
    }

    int found = 0;
    if (s) {
        fprintf(stderr, "fit-line: %s\n", el_last_error());
    } else {
        float w = line.weight.value.data[0], b = line.bias.value.data[0];
        printf("elman %s: y = %.3f x + %.3f (loss %.2g)\n", el_version(), (double)w, (double)b,
               (double)loss);
        found = near(w, 2.0f) && near(b, 1.0f);
    }
    el_tensor_free(&pred);
    el_tensor_free(&dpred);
    el_optimizer_free(adam);
    el_param_list_free(&params);
    el_dense_free(&line);
    return found ? 0 : 1;
}
