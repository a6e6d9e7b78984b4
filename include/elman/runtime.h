/* elman: version and threading.
 *
 * elman runs its own worker threads and keeps OpenBLAS single-threaded.  A
 * recurrent layer's time loop is a chain of small matrix products, too small
 * for OpenBLAS's threads, which split one product at a time; elman instead
 * splits the batch into blocks of sequences, each taken through the whole
 * loop by one thread, and splits large products (el_matmul, the input
 * projection, the weight gradients) by rows.  One set of threads, because
 * OpenBLAS's idle threads spin for a while after each call and would take
 * the cores that elman's are using.
 *
 * Work is cut into parts by the number of threads set, and a part's result
 * never depends on which thread runs it: so results depend on the thread
 * count only, and not on el_set_thread_sharing.
 *
 * Until el_set_threads is called elman uses one thread and leaves OpenBLAS
 * at its own default; elman's programs set two threads where there are two
 * CPUs, unless --threads says otherwise. */
#ifndef ELMAN_RUNTIME_H
#define ELMAN_RUNTIME_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EL_VERSION_MAJOR 0
#define EL_VERSION_MINOR 2
#define EL_VERSION_PATCH 0

/* "0.2.0", the version of the library linked at run time. */
EL_API const char *el_version(void);

/* Sets the number of threads (1 .. 64) of elman's own pool.  Matrix
 * products always run on one OpenBLAS thread, from the moment the library
 * loads (elman sets openblas_set_num_threads(1) then, whatever
 * OPENBLAS_NUM_THREADS says, and again here): elman splits the work over
 * its own threads instead.  Not to be called while another thread is inside
 * an elman function. */
EL_API el_status el_set_threads(int threads);
/* The number of threads set (1 until el_set_threads). */
EL_API int el_get_threads(void);

/* With sharing 1 (the default) the workers take parts of the work; with 0
 * the calling thread runs every part itself while they sleep, with the
 * same results to the bit, for where a second thread slows the work down
 * (a host that runs both virtual CPUs on one physical core).  elman's
 * programs time training batches both ways now and then and keep the
 * faster (el_thread_check, below).  Not to be called while another thread
 * is inside an elman function. */
EL_API void el_set_thread_sharing(int sharing);
/* 1 or 0, as el_set_thread_sharing last set it (1 until then). */
EL_API int el_get_thread_sharing(void);

/* Keeps el_set_thread_sharing at whichever way trains faster, for a
 * program's training loop with two threads or more.  Each period of
 * EL_THREAD_CHECK_PERIOD batches, after its first (which runs as the last
 * period chose, and pays for any allocations of a new batch shape), it
 * times EL_THREAD_CHECK_TRIALS batches each way, alternating, shared
 * first, and the rest of the period runs the way whose best trial took
 * less time per unit.  Both ways give the same results to the bit, so the
 * choice, though it depends on timing, never changes what is trained.
 * Where sharing is 1.4x faster, the trials cost under 1% of the time.
 *
 *     el_thread_check check = {0};
 *     for (each batch) {
 *         el_thread_check_begin(&check);
 *         ... forward, backward, optimizer step ...
 *         el_thread_check_end(&check, words_in_batch);
 *     }
 *
 * With one thread both calls only count the batch.  The fields are the
 * check's own.  As el_set_thread_sharing, neither call is to be made while
 * another thread is inside an elman function. */
#define EL_THREAD_CHECK_PERIOD 200
#define EL_THREAD_CHECK_TRIALS 4

typedef struct el_thread_check {
    long batch;     /* batches begun */
    double started; /* when the current batch began, in seconds */
    double best[2]; /* least seconds per unit of a trial: alone [0], shared [1] */
} el_thread_check;

/* Before a batch: sets the sharing it runs with. */
EL_API void el_thread_check_begin(el_thread_check *check);
/* After it: units is its size (words, characters, sequences), by which
 * batches of different sizes compare; a batch of units <= 0 (one that
 * failed, say) is not timed. */
EL_API void el_thread_check_end(el_thread_check *check, double units);

/* OpenBLAS's own description of itself (version, kernel, thread limit). */
EL_API const char *el_blas_info(void);

#ifdef __cplusplus
}
#endif
#endif
