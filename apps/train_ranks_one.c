/* One process: the programs built without libelman-mpi (-Dmpi=disabled). */
#include <stdlib.h>

#include "train_ranks.h"

struct train_ranks {
    int unused;
};

static train_ranks one;

int train_ranks_start(train_ranks **out, double timeout)
{
    (void)timeout;
    *out = &one;
    return 0;
}

void train_ranks_end(train_ranks *ranks) { (void)ranks; }

int train_ranks_rank(const train_ranks *ranks) { return (void)ranks, 0; }

int train_ranks_size(const train_ranks *ranks) { return (void)ranks, 1; }

el_status train_ranks_broadcast(train_ranks *ranks, el_param_list *list)
{
    return (void)ranks, (void)list, EL_OK;
}

el_status train_ranks_check_same(train_ranks *ranks, const char *what, const void *bytes,
                                 size_t size)
{
    return (void)ranks, (void)what, (void)bytes, (void)size, EL_OK;
}

el_status train_ranks_reducer(train_ranks *ranks, el_param_list *params, int extra_count)
{
    return (void)ranks, (void)params, (void)extra_count, EL_OK;
}

el_status train_ranks_mean(train_ranks *ranks, double weight, float *extra, int *stop)
{
    return (void)ranks, (void)weight, (void)extra, (void)stop, EL_OK;
}

el_status train_ranks_sum(train_ranks *ranks, float *data, size_t count)
{
    return (void)ranks, (void)data, (void)count, EL_OK;
}

el_status train_ranks_any(train_ranks *ranks, int *flag) { return (void)ranks, (void)flag, EL_OK; }
