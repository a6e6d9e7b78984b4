/* libelman-mpi without mpirun: a context of one rank that calls no MPI
 * function, and the reducer's bucket arithmetic.  tests/mpi/ holds the
 * tests that run under mpirun. */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <elman/mpi.h>

static el_mpi *mpi;
static el_param a, b;
static el_param_list list;

static void setup(void)
{
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMIX_RANK");
    cr_assert_eq(el_mpi_create(&mpi, NULL), EL_OK, "%s", el_last_error());
    cr_assert_eq(el_param_init(&a, "net", "a", 2, (const int[]){10, 99}), EL_OK);
    cr_assert_eq(el_param_init(&b, "net", "b", 1, (const int[]){10}), EL_OK);
    cr_assert_eq(el_param_list_add(&list, &a), EL_OK);
    cr_assert_eq(el_param_list_add(&list, &b), EL_OK);
    for (size_t i = 0; i < a.grad.size; i++) a.grad.data[i] = 0.1f * (float)i;
    for (size_t i = 0; i < b.grad.size; i++) b.grad.data[i] = 3.0f + (float)i;
}

static void teardown(void)
{
    el_param_list_free(&list);
    el_param_free(&a);
    el_param_free(&b);
    el_mpi_free(mpi);
    mpi = NULL;
}

TestSuite(mpi, .init = setup, .fini = teardown);

Test(mpi, launched_reads_the_launchers_environment)
{
    cr_assert_eq(el_mpi_launched(), 0);
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    cr_assert_eq(el_mpi_launched(), 1);
    unsetenv("OMPI_COMM_WORLD_SIZE");
    setenv("PMIX_RANK", "0", 1);
    cr_assert_eq(el_mpi_launched(), 1);
    unsetenv("PMIX_RANK");
}

Test(mpi, without_a_launcher_one_rank)
{
    cr_assert_eq(el_mpi_rank(mpi), 0);
    cr_assert_eq(el_mpi_size(mpi), 1);
    a.value.data[5] = 7.0f;
    cr_assert_eq(el_mpi_broadcast(mpi, &list), EL_OK);
    cr_assert_eq(a.value.data[5], 7.0f);
    cr_assert_eq(el_mpi_check_same(mpi, "the data", "abc", 3), EL_OK);
}

Test(mpi, buckets_hold_gradients_extras_weight_and_stop)
{
    /* 1000 gradients + 2 extras + weight + stop = 1004 floats = 4016
     * bytes: 11 buckets of 100 floats, the last holding 4. */
    el_mpi_reducer *r = NULL;
    cr_assert_eq(el_mpi_reducer_create(&r, mpi, &list, 2, 400), EL_OK, "%s", el_last_error());
    cr_assert_eq(el_mpi_reducer_buckets(r), 11);
    cr_assert_eq(el_mpi_reducer_bytes(r), 4016);
    el_mpi_reducer_free(r);
    /* Exactly full buckets, and one bucket for everything by default. */
    cr_assert_eq(el_mpi_reducer_create(&r, mpi, &list, 0, 4 * 251), EL_OK);
    cr_assert_eq(el_mpi_reducer_buckets(r), 4);
    el_mpi_reducer_free(r);
    cr_assert_eq(el_mpi_reducer_create(&r, mpi, &list, 0, 0), EL_OK);
    cr_assert_eq(el_mpi_reducer_buckets(r), 1);
    el_mpi_reducer_free(r);
}

Test(mpi, one_rank_leaves_gradients_bit_for_bit)
{
    el_mpi_reducer *r = NULL;
    cr_assert_eq(el_mpi_reducer_create(&r, mpi, &list, 1, 64), EL_OK);
    float extra = 5.0f;
    int stop = 1;
    cr_assert_eq(el_mpi_reducer_mean(r, 3.0, &extra, &stop), EL_OK);
    for (size_t i = 0; i < a.grad.size; i++) cr_assert_eq(a.grad.data[i], 0.1f * (float)i);
    cr_assert_eq(extra, 5.0f);
    cr_assert_eq(stop, 1, "this rank's own request is the answer");
    stop = 0;
    cr_assert_eq(el_mpi_reducer_sum(r, &extra, &stop), EL_OK);
    cr_assert_eq(b.grad.data[9], 12.0f);
    cr_assert_eq(stop, 0);
    /* No examples anywhere: no gradient. */
    cr_assert_eq(el_mpi_reducer_mean(r, 0.0, &extra, NULL), EL_OK);
    cr_assert_eq(b.grad.data[9], 0.0f);
    el_mpi_reducer_free(r);
}

Test(mpi, bad_arguments_are_refused_with_a_message)
{
    el_mpi_reducer *r = NULL;
    cr_assert_eq(el_mpi_reducer_create(&r, mpi, &list, 0, 2), EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "el_mpi_reducer_create: bucket_bytes 2") != NULL);
    cr_assert_eq(el_mpi_reducer_create(&r, mpi, &list, -1, 0), EL_ERR_INVALID);
    cr_assert_eq(el_mpi_reducer_create(&r, mpi, &list, 1, 0), EL_OK);
    cr_assert_eq(el_mpi_reducer_sum(r, NULL, NULL), EL_ERR_INVALID);
    cr_assert_str_eq(el_last_error(), "el_mpi_reducer_sum: extra is NULL, expected 1 floats");
    float extra = 0.0f;
    cr_assert_eq(el_mpi_reducer_mean(r, -1.0, &extra, NULL), EL_ERR_INVALID);
    el_param c = {0};
    cr_assert_eq(el_param_init(&c, NULL, "c", 1, (const int[]){3}), EL_OK);
    cr_assert_eq(el_param_list_add(&list, &c), EL_OK);
    cr_assert_eq(el_mpi_reducer_sum(r, &extra, NULL), EL_ERR_STATE);
    cr_assert(strstr(el_last_error(), "the list changed") != NULL);
    el_param_free(&c);
    el_mpi_reducer_free(r);

    el_mpi *other = NULL;
    el_mpi_config config = el_mpi_defaults();
    cr_assert_eq(config.timeout, 60.0);
    config.timeout = -1.0;
    cr_assert_eq(el_mpi_create(&other, &config), EL_ERR_INVALID);
    cr_assert_null(other);
}
