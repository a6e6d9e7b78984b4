/* elman: version and threading.
 *
 * el_set_threads(n) sets both elman's own worker threads and OpenBLAS's.
 * elman splits whole passes of a recurrent layer between its threads (each
 * takes every n-th sequence through the time loop), because OpenBLAS's
 * threads, which split one matrix product at a time, do not pay for the
 * small products of a time step; inside those passes OpenBLAS runs single-
 * threaded.  Elsewhere (dense layers, say) OpenBLAS uses the n threads.
 * The library starts with one thread of its own and OpenBLAS's default; its
 * programs set one thread unless --threads says otherwise. */
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

/* OpenBLAS's own description of itself (version, kernel, thread limit). */
EL_API const char *el_blas_info(void);

#ifdef __cplusplus
}
#endif
#endif
