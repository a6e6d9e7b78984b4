/* The ranks of a data-parallel training run (apps/train_run.c): several
 * processes started by mpirun, each training on its share of every batch,
 * through libelman-mpi (train_ranks_mpi.c) when the programs are built with
 * it (-Dmpi), or one process (train_ranks_one.c).  A program started
 * without mpirun is one process either way and calls no MPI function.
 *
 * Every function but train_ranks_rank and train_ranks_size is collective
 * with more than one rank: all ranks call it in the same order. */
#ifndef ELMAN_APPS_TRAIN_RANKS_H
#define ELMAN_APPS_TRAIN_RANKS_H

#include <stddef.h>

#include "elman/elman.h"

typedef struct train_ranks train_ranks;

/* The ranks the process belongs to (MPI is initialised here under mpirun).
 * 0, or -1 after reporting a failure. */
int train_ranks_start(train_ranks **out, double timeout);
/* Finalises MPI when started here.  NULL is fine. */
void train_ranks_end(train_ranks *ranks);

int train_ranks_rank(const train_ranks *ranks);
int train_ranks_size(const train_ranks *ranks);

/* Rank 0's values of the tensors of list on every rank. */
el_status train_ranks_broadcast(train_ranks *ranks, el_param_list *list);
/* EL_ERR_STATE, naming what, unless every rank passes the same bytes. */
el_status train_ranks_check_same(train_ranks *ranks, const char *what, const void *bytes,
                                 size_t size);
/* Makes the all-reduce of params' gradients with extra_count extra floats;
 * once, before train_ranks_mean. */
el_status train_ranks_reducer(train_ranks *ranks, el_param_list *params, int extra_count);
/* The gradients become Σ weight·gradient / Σ weight over the ranks, extra
 * its sum, *stop whether any rank asked to stop (el_mpi_reducer_mean). */
el_status train_ranks_mean(train_ranks *ranks, double weight, float *extra, int *stop);
/* Every rank's count floats become their sum over the ranks. */
el_status train_ranks_sum(train_ranks *ranks, float *data, size_t count);
/* *flag becomes 1 on every rank when it was non-zero on any. */
el_status train_ranks_any(train_ranks *ranks, int *flag);

#endif
