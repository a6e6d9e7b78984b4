/* mpi-fit-line: fit-line.c made data-parallel with libelman-mpi.
 *
 * The same fit of y = 2 x + 1, but each rank takes its share of the points
 * (the same global batch however many ranks there are), and the ranks
 * combine their gradients before each step, so every rank holds the weights
 * one process would.  Five calls make the difference: el_mpi_create,
 * el_mpi_broadcast, el_mpi_reducer_create, el_mpi_reducer_mean after each
 * backward pass, and the frees.  Against an installed elman:
 *
 *     cc mpi-fit-line.c $(pkg-config --cflags --libs elman-mpi) -o mpi-fit-line
 *     mpirun -np 2 ./mpi-fit-line     # or ./mpi-fit-line alone: one rank
 */
#include <stdio.h>

#include <elman/elman.h>
#include <elman/mpi.h>

enum { POINTS = 8, STEPS = 1000 };

static int near(float value, float expected)
{
    return value - expected < 0.01f && expected - value < 0.01f;
}

int main(void)
{
    el_mpi *mpi = NULL;
    el_status s = el_mpi_create(&mpi, NULL);
    if (s) {
        fprintf(stderr, "mpi-fit-line: %s\n", el_last_error());
        return 1;
    }
    /* Rank r takes points [first, first + count): the shares differ by at
     * most one point when the ranks do not divide POINTS. */
    int rank = el_mpi_rank(mpi), size = el_mpi_size(mpi);
    int first = POINTS * rank / size, count = POINTS * (rank + 1) / size - first;
    float inputs[POINTS], targets[POINTS];
    for (int i = 0; i < count; i++) {
        inputs[i] = -1.0f + 2.0f * (float)(first + i) / (POINTS - 1);
        targets[i] = 2.0f * inputs[i] + 1.0f;
    }
    const int shape[2] = {count, 1};
    el_tensor x = {0}, y = {0}, pred = {0}, dpred = {0};
    if (count > 0) s = el_tensor_wrap(&x, inputs, 2, shape);
    if (!s && count > 0) s = el_tensor_wrap(&y, targets, 2, shape);

    el_rng rng;
    el_rng_seed(&rng, 42);
    el_dense line = {0};
    el_param_list params = {0};
    el_optimizer *adam = NULL;
    el_mpi_reducer *reducer = NULL;
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    config.lr = 0.05f;
    float loss = 0.0f;

    if (!s) s = el_set_threads(1);
    if (!s) s = el_dense_init(&line, "line", 1, 1, 1, &rng);
    if (!s) s = el_dense_params(&line, &params);
    if (!s) s = el_optimizer_create(&adam, &config, &params);
    /* Rank 0's initial weights everywhere, and a reducer for the gradients,
     * with one extra float: the sum of the ranks' squared errors. */
    if (!s) s = el_mpi_broadcast(mpi, &params);
    if (!s) s = el_mpi_reducer_create(&reducer, mpi, &params, 1, 0);
    float squared_error = 0.0f;
    for (int step = 0; step < STEPS && !s; step++) {
        el_optimizer_zero_grad(adam);
        if (count > 0) {
            s = el_dense_forward(&line, &x, &pred);
            if (!s) s = el_mse_loss(&pred, &y, &loss, &dpred);
            if (!s) s = el_dense_backward(&line, &x, &dpred, NULL);
        }
        /* The mean over this rank's points, weighted by their number, is
         * the gradient of the mean over all POINTS. */
        squared_error = loss * (float)count;
        if (!s) s = el_mpi_reducer_mean(reducer, count, &squared_error, NULL);
        if (!s) s = el_optimizer_step(adam);
    }

    int found = 0;
    if (s) {
        fprintf(stderr, "mpi-fit-line: rank %d: %s\n", rank, el_last_error());
    } else {
        float w = line.weight.value.data[0], b = line.bias.value.data[0];
        if (rank == 0)
            printf("%d rank%s: y = %.3f x + %.3f (loss %.2g)\n", size, size > 1 ? "s" : "",
                   (double)w, (double)b, (double)(squared_error / POINTS));
        found = near(w, 2.0f) && near(b, 1.0f);
    }
    el_tensor_free(&pred);
    el_tensor_free(&dpred);
    el_mpi_reducer_free(reducer);
    el_optimizer_free(adam);
    el_param_list_free(&params);
    el_dense_free(&line);
    el_mpi_free(mpi);
    return found ? 0 : 1;
}
