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
#define EL_VERSION_MINOR 1
#define EL_VERSION_PATCH 0

/* "0.1.0", the version of the library linked at run time. */
EL_API const char *el_version(void);

/* Sets the number of threads (1 .. 64).  Not to be called while another
 * thread is inside an elman function. */
EL_API el_status el_set_threads(int threads);
/* The number of threads set (1 until el_set_threads). */
EL_API int el_get_threads(void);

/* With sharing 1 (the default) the workers take parts of the work; with 0
 * the calling thread runs every part itself while they sleep, with the
 * same results to the bit, for where a second thread slows the work down
 * (a host that runs both virtual CPUs on one physical core).  elman's
 * programs time training batches both ways now and then and keep the
 * faster.  Not to be called while another thread is inside an elman
 * function. */
EL_API void el_set_thread_sharing(int sharing);
/* 1 or 0, as el_set_thread_sharing last set it (1 until then). */
EL_API int el_get_thread_sharing(void);

/* OpenBLAS's own description of itself (version, kernel, thread limit). */
EL_API const char *el_blas_info(void);

#ifdef __cplusplus
}
#endif
#endif
