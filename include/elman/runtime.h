/* elman: version and threading.
 *
 * Matrix products run in OpenBLAS, whose thread pool is process-wide.  On
 * small machines and RNN-sized matrices a second BLAS thread is often slower
 * than one, so elman's programs set one thread unless --threads N says
 * otherwise.  The library itself leaves OpenBLAS's own default (its
 * OPENBLAS_NUM_THREADS variable, else the core count) until el_set_threads. */
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

/* Sets the number of threads OpenBLAS uses (1 .. 256). */
EL_API el_status el_set_threads(int threads);
/* The number of threads OpenBLAS uses now. */
EL_API int el_get_threads(void);

/* OpenBLAS's own description of itself (version, kernel, thread limit). */
EL_API const char *el_blas_info(void);

#ifdef __cplusplus
}
#endif
#endif
