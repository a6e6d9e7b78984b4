/* elman-mpi: data-parallel training over Open MPI (or any MPI).
 *
 * A separate library, libelman-mpi (pkg-config elman-mpi), so that a user
 * of plain elman never links MPI.  Each rank holds the whole model and takes
 * its share of every batch; after the backward pass the ranks sum their
 * gradients (el_mpi_reducer_sum) or take their weighted mean
 * (el_mpi_reducer_mean), so every rank applies the same update and the
 * weights stay identical.  A training loop becomes data-parallel in a few
 * calls:
 *
 *     el_mpi *mpi = NULL;
 *     el_mpi_reducer *reducer = NULL;
 *     s = el_mpi_create(&mpi, NULL);            // size 1 without mpirun
 *     if (!s) s = el_mpi_broadcast(mpi, &params);  // rank 0's weights
 *     if (!s) s = el_mpi_reducer_create(&reducer, mpi, &params, 0, 0);
 *     for (...) {                               // after backward:
 *         s = el_mpi_reducer_mean(reducer, my_examples, NULL, &stop);
 *         if (!s) s = el_optimizer_step(opt);
 *     }
 *
 * Every function is collective: all ranks call it, in the same order, with
 * lists of the same names and shapes (checked where a mismatch would
 * otherwise hang or mix tensors).  A watchdog thread ends the whole job with
 * one line on stderr (MPI_Abort) when a collective has not completed within
 * the configured timeout: a rank that died or stopped answering never leaves
 * the others waiting for ever. */
#ifndef ELMAN_MPI_H
#define ELMAN_MPI_H

#include <stddef.h>

#include <mpi.h>

#include "param.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_mpi el_mpi;
typedef struct el_mpi_reducer el_mpi_reducer;

typedef struct el_mpi_config {
    /* Seconds a collective may take before the watchdog aborts the job; 0
     * turns the watchdog off. */
    double timeout;
} el_mpi_config;

/* timeout 60 s. */
EL_API el_mpi_config el_mpi_defaults(void);

/* 1 when this process was started by mpirun or another MPI launcher (Open
 * MPI's OMPI_COMM_WORLD_SIZE, or PMIx's PMIX_RANK, is in the environment),
 * 0 otherwise.  Calls no MPI function. */
EL_API int el_mpi_launched(void);

/* A context over MPI_COMM_WORLD.  Started by a launcher (el_mpi_launched),
 * it initialises MPI (MPI_THREAD_MULTIPLE, for the watchdog) unless the
 * caller already did, and el_mpi_free finalises it when it did; started
 * without one, it is a context of one rank that calls no MPI function at
 * all, so a program behaves exactly as without elman-mpi.  config may be
 * NULL for el_mpi_defaults(). */
EL_API el_status el_mpi_create(el_mpi **out, const el_mpi_config *config);
/* A context over a duplicate of comm; MPI must be initialised (by the
 * caller, who also finalises it). */
EL_API el_status el_mpi_create_comm(el_mpi **out, MPI_Comm comm, const el_mpi_config *config);
/* Collective when the context has more than one rank.  NULL is fine. */
EL_API void el_mpi_free(el_mpi *mpi);

EL_API int el_mpi_rank(const el_mpi *mpi);
EL_API int el_mpi_size(const el_mpi *mpi);

/* Copies rank 0's values of every tensor in list to the other ranks: the
 * parameters at the start of training, so that the weights start
 * identical, or buffers (el_sequential_buffers: batch norm's running
 * statistics).  Lists whose names or shapes differ between the ranks are
 * refused (EL_ERR_STATE) before any value moves. */
EL_API el_status el_mpi_broadcast(el_mpi *mpi, el_param_list *list);

/* Refuses (EL_ERR_STATE) when the ranks do not all pass the same bytes,
 * with one line naming what: "el_mpi_check_same: the ranks disagree on
 * <what>".  A 64-bit hash of the bytes goes through one all-reduce of its
 * minimum and maximum, so every rank gets the same answer.  For the
 * configuration and the data at the start of a run. */
EL_API el_status el_mpi_check_same(el_mpi *mpi, const char *what, const void *bytes, size_t size);

/* Every rank's count floats become their sum over the ranks: for what is
 * not a gradient, such as a state whose parts the ranks hold apart (each
 * writes its part into zeros). */
EL_API el_status el_mpi_sum(el_mpi *mpi, float *data, size_t count);

/* Sums the gradients of a parameter list over the ranks in buckets of at
 * most bucket_bytes (0: 4 MiB), through a buffer allocated here once, so
 * that a step allocates nothing.  extra floats (extra_count of them) ride in
 * the last bucket beside one more for the stop flag.  The ranks' lists must
 * have the same names and shapes (checked here: EL_ERR_STATE). */
EL_API el_status el_mpi_reducer_create(el_mpi_reducer **out, el_mpi *mpi, el_param_list *list,
                                       int extra_count, size_t bucket_bytes);
EL_API void el_mpi_reducer_free(el_mpi_reducer *reducer);
/* The number of buckets a step all-reduces (1 for a one-rank context too). */
EL_API int el_mpi_reducer_buckets(const el_mpi_reducer *reducer);
/* The bytes a step all-reduces: gradients, extras and stop flag. */
EL_API size_t el_mpi_reducer_bytes(const el_mpi_reducer *reducer);

/* Every gradient becomes its sum over the ranks, and so does each of
 * extra's extra_count floats (NULL when there are none).  *stop: in, this
 * rank asks to stop (a signal arrived); out, some rank asked, the same on
 * every rank and at the same step, with no collective beyond this one.
 * stop may be NULL. */
EL_API el_status el_mpi_reducer_sum(el_mpi_reducer *reducer, float *extra, int *stop);

/* The weighted mean Σ weight·gradient / Σ weight over the ranks: with
 * weight the number of examples (or tokens) a rank's mean loss was taken
 * over, the result is the gradient of the mean over all of them, as one
 * process would compute it.  A rank with no examples passes 0 (and zero
 * gradients); when every weight is 0 the gradients become 0.  extra and
 * stop as el_mpi_reducer_sum.  The weight is summed as a float, exact for
 * whole numbers up to 2^24. */
EL_API el_status el_mpi_reducer_mean(el_mpi_reducer *reducer, double weight, float *extra,
                                     int *stop);

#ifdef __cplusplus
}
#endif
#endif
