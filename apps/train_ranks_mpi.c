/* The ranks through libelman-mpi: one process without mpirun, N under it. */
#include <stdlib.h>

#include "cli.h"
#include "elman/mpi.h"
#include "train_ranks.h"

struct train_ranks {
    el_mpi *mpi;
    el_param_list none;      /* for train_ranks_any: a reducer of no gradients */
    el_mpi_reducer *reducer; /* the gradients' */
    el_mpi_reducer *flags;   /* train_ranks_any's */
};

int train_ranks_start(train_ranks **out, double timeout)
{
    train_ranks *r = calloc(1, sizeof *r);
    if (!r) {
        cli_error("out of memory");
        return -1;
    }
    el_mpi_config config = el_mpi_defaults();
    config.timeout = timeout;
    el_status s = el_mpi_create(&r->mpi, &config);
    if (!s) s = el_mpi_reducer_create(&r->flags, r->mpi, &r->none, 0, 0);
    if (s) {
        train_ranks_end(r);
        return cli_library_failure();
    }
    *out = r;
    return 0;
}

void train_ranks_end(train_ranks *r)
{
    if (!r) return;
    el_mpi_reducer_free(r->reducer);
    el_mpi_reducer_free(r->flags);
    el_mpi_free(r->mpi);
    free(r);
}

int train_ranks_rank(const train_ranks *r) { return el_mpi_rank(r->mpi); }

int train_ranks_size(const train_ranks *r) { return el_mpi_size(r->mpi); }

el_status train_ranks_broadcast(train_ranks *r, el_param_list *list)
{
    return el_mpi_broadcast(r->mpi, list);
}

el_status train_ranks_check_same(train_ranks *r, const char *what, const void *bytes, size_t size)
{
    return el_mpi_check_same(r->mpi, what, bytes, size);
}

el_status train_ranks_reducer(train_ranks *r, el_param_list *params, int extra_count)
{
    return el_mpi_reducer_create(&r->reducer, r->mpi, params, extra_count, 0);
}

el_status train_ranks_mean(train_ranks *r, double weight, float *extra, int *stop)
{
    return el_mpi_reducer_mean(r->reducer, weight, extra, stop);
}

el_status train_ranks_sum(train_ranks *r, float *data, size_t count)
{
    return el_mpi_sum(r->mpi, data, count);
}

el_status train_ranks_any(train_ranks *r, int *flag)
{
    return el_mpi_reducer_sum(r->flags, NULL, flag);
}
