/* Run under mpirun by tests/mpi/run.sh, one mode an invocation; exits 0
 * when every rank saw what it should.  Not a Criterion test: Criterion runs
 * each test in a child process of its own, and a collective needs the very
 * processes mpirun started. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <elman/mpi.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "rank %d: %s:%d: %s failed (%s)\n", rank, __FILE__, __LINE__, #cond,   \
                    el_last_error());                                                              \
            return 1;                                                                              \
        }                                                                                          \
    } while (0)

static int rank;

enum { A = 5, B = 7 };

/* Two parameters whose values and gradients depend on the rank. */
static el_status make(el_param *a, el_param *b, el_param_list *list)
{
    el_status s = el_param_init(a, "net", "a", 1, (const int[]){A});
    if (!s) s = el_param_init(b, "net", "b", 2, (const int[]){1, B});
    if (!s) s = el_param_list_add(list, a);
    if (!s) s = el_param_list_add(list, b);
    for (int i = 0; !s && i < A; i++) a->value.data[i] = (float)(rank * 100 + i);
    for (int i = 0; !s && i < B; i++) b->value.data[i] = (float)(rank * 100 + 50 + i);
    return s;
}

static void set_grads(el_param *a, el_param *b)
{
    for (int i = 0; i < A; i++) a->grad.data[i] = (float)(rank + 1) * (float)(i + 1);
    for (int i = 0; i < B; i++) b->grad.data[i] = (float)(rank + 1) * 0.5f + (float)i;
}

/* Sums, weighted means and broadcast against the formulas. */
static int arithmetic(el_mpi *mpi)
{
    int size = el_mpi_size(mpi);
    el_param a = {0}, b = {0};
    el_param_list list = {0};
    el_mpi_reducer *reducer = NULL;
    CHECK(make(&a, &b, &list) == EL_OK);
    /* Buckets of 3 floats: the 12 gradients, 2 extras, weight and stop
     * cross bucket and tensor edges. */
    CHECK(el_mpi_reducer_create(&reducer, mpi, &list, 2, 3 * sizeof(float)) == EL_OK);
    CHECK(el_mpi_reducer_buckets(reducer) == 6);
    set_grads(&a, &b);
    float extra[2] = {(float)rank, 1.0f};
    int stop = 0;
    CHECK(el_mpi_reducer_sum(reducer, extra, &stop) == EL_OK);
    float ranks_plus_one = (float)(size * (size + 1) / 2); /* Σ (r + 1) */
    for (int i = 0; i < A; i++) CHECK(a.grad.data[i] == ranks_plus_one * (float)(i + 1));
    for (int i = 0; i < B; i++) CHECK(b.grad.data[i] == ranks_plus_one * 0.5f + (float)(size * i));
    CHECK(extra[0] == (float)(size * (size - 1) / 2) && extra[1] == (float)size && stop == 0);

    /* Weight r + 1: Σ (r+1)·(r+1)·(i+1) / Σ (r+1). */
    set_grads(&a, &b);
    CHECK(el_mpi_reducer_mean(reducer, rank + 1, extra, &stop) == EL_OK);
    float squares = 0.0f;
    for (int r = 1; r <= size; r++) squares += (float)(r * r);
    for (int i = 0; i < A; i++) {
        float want = squares * (float)(i + 1) / ranks_plus_one;
        CHECK(a.grad.data[i] > want * (1 - 1e-6f) && a.grad.data[i] < want * (1 + 1e-6f));
    }

    CHECK(el_mpi_broadcast(mpi, &list) == EL_OK);
    for (int i = 0; i < A; i++) CHECK(a.value.data[i] == (float)i);
    for (int i = 0; i < B; i++) CHECK(b.value.data[i] == (float)(50 + i));
    CHECK(el_mpi_check_same(mpi, "the configuration", "same", 4) == EL_OK);

    el_mpi_reducer_free(reducer);
    el_param_list_free(&list);
    el_param_free(&a);
    el_param_free(&b);
    return 0;
}

/* The last rank asks to stop at step 3; every rank stops after step 3. */
static int stop_flag(el_mpi *mpi)
{
    el_param a = {0}, b = {0};
    el_param_list list = {0};
    el_mpi_reducer *reducer = NULL;
    CHECK(make(&a, &b, &list) == EL_OK);
    CHECK(el_mpi_reducer_create(&reducer, mpi, &list, 0, 0) == EL_OK);
    int step = 0, stop = 0;
    while (!stop && step < 100) {
        step++;
        set_grads(&a, &b);
        stop = rank == el_mpi_size(mpi) - 1 && step == 3;
        CHECK(el_mpi_reducer_mean(reducer, 1.0, NULL, &stop) == EL_OK);
    }
    CHECK(step == 3);
    el_mpi_reducer_free(reducer);
    el_param_list_free(&list);
    el_param_free(&a);
    el_param_free(&b);
    return 0;
}

/* Ranks that disagree are refused on every rank, with one line. */
static int mismatch(el_mpi *mpi)
{
    CHECK(el_mpi_check_same(mpi, "the configuration", &rank, sizeof rank) == EL_ERR_STATE);
    fprintf(stderr, "rank %d: %s\n", rank, el_last_error());
    CHECK(strcmp(el_last_error(), "el_mpi_check_same: the ranks disagree on the configuration") ==
          0);
    /* Parameter lists of other shapes. */
    el_param p = {0};
    el_param_list list = {0};
    el_mpi_reducer *reducer = NULL;
    CHECK(el_param_init(&p, NULL, "w", 1, (const int[]){rank + 1}) == EL_OK);
    CHECK(el_param_list_add(&list, &p) == EL_OK);
    CHECK(el_mpi_reducer_create(&reducer, mpi, &list, 0, 0) == EL_ERR_STATE);
    CHECK(el_mpi_broadcast(mpi, &list) == EL_ERR_STATE);
    CHECK(strstr(el_last_error(), "disagree on the names and shapes") != NULL);
    el_param_list_free(&list);
    el_param_free(&p);
    return 0;
}

/* Rank 1 leaves without the all-reduce the others wait in: the watchdog
 * (1 s here) ends the job, which therefore exits non-zero. */
static int watchdog(el_mpi *mpi)
{
    el_param a = {0}, b = {0};
    el_param_list list = {0};
    el_mpi_reducer *reducer = NULL;
    CHECK(make(&a, &b, &list) == EL_OK);
    CHECK(el_mpi_reducer_create(&reducer, mpi, &list, 0, 0) == EL_OK);
    if (rank != 1) el_mpi_reducer_sum(reducer, NULL, NULL);
    el_mpi_reducer_free(reducer);
    el_param_list_free(&list);
    el_param_free(&a);
    el_param_free(&b);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s arithmetic|stop|mismatch|watchdog\n", argv[0]);
        return 2;
    }
    el_mpi_config config = el_mpi_defaults();
    if (strcmp(argv[1], "watchdog") == 0) config.timeout = 1.0;
    el_mpi *mpi = NULL;
    if (!el_mpi_launched() || el_mpi_create(&mpi, &config) != EL_OK) {
        fprintf(stderr, "%s: not started by mpirun, or %s\n", argv[0], el_last_error());
        return 2;
    }
    rank = el_mpi_rank(mpi);
    int failed = strcmp(argv[1], "arithmetic") == 0 ? arithmetic(mpi)
                 : strcmp(argv[1], "stop") == 0     ? stop_flag(mpi)
                 : strcmp(argv[1], "mismatch") == 0 ? mismatch(mpi)
                 : strcmp(argv[1], "watchdog") == 0 ? watchdog(mpi)
                                                    : 2;
    el_mpi_free(mpi);
    return failed;
}
