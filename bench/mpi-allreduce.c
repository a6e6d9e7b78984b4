/* The time of one gradient all-reduce (el_mpi_reducer_sum) of a parameter
 * list of a given size, for docs/distributed.md:
 *     mpirun -np 2 --mca btl self,vader mpi-allreduce FLOATS [REPEATS [BUCKET_BYTES]]
 * Rank 0 prints the bytes reduced and the mean and best milliseconds. */
#include <stdio.h>
#include <stdlib.h>

#include <elman/mpi.h>

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: mpirun -np N %s FLOATS [REPEATS [BUCKET_BYTES]]\n", argv[0]);
        return 2;
    }
    int floats = atoi(argv[1]), repeats = argc > 2 ? atoi(argv[2]) : 50;
    size_t bucket = argc > 3 ? (size_t)atol(argv[3]) : 0;
    el_mpi *mpi = NULL;
    el_param p = {0};
    el_param_list list = {0};
    el_mpi_reducer *reducer = NULL;
    el_status s = floats > 0 && repeats > 0 ? el_mpi_create(&mpi, NULL) : EL_ERR_INVALID;
    if (!s) s = el_param_init(&p, NULL, "w", 1, (const int[]){floats});
    if (!s) s = el_param_list_add(&list, &p);
    if (!s) s = el_mpi_reducer_create(&reducer, mpi, &list, 0, bucket);
    double total = 0, best = 1e30;
    for (int i = -3; i < repeats && !s; i++) { /* three rounds to warm up */
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        s = el_mpi_reducer_sum(reducer, NULL, NULL);
        double took = MPI_Wtime() - start;
        if (i >= 0) {
            total += took;
            best = took < best ? took : best;
        }
    }
    if (s)
        fprintf(stderr, "mpi-allreduce: %s\n", el_last_error());
    else if (el_mpi_rank(mpi) == 0)
        printf("%d ranks, %zu bytes in %d bucket%s: mean %.3f ms, best %.3f ms\n", el_mpi_size(mpi),
               el_mpi_reducer_bytes(reducer), el_mpi_reducer_buckets(reducer),
               el_mpi_reducer_buckets(reducer) > 1 ? "s" : "", 1e3 * total / repeats, 1e3 * best);
    el_mpi_reducer_free(reducer);
    el_param_list_free(&list);
    el_param_free(&p);
    el_mpi_free(mpi);
    return s ? 1 : 0;
}
