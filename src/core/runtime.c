#include <cblas.h>

#include "elman/runtime.h"
#include "core/internal.h"
#include "core/parallel.h"

#define EL_STR2(x) #x
#define EL_STR(x) EL_STR2(x)

const char *el_version(void)
{
    return EL_STR(EL_VERSION_MAJOR) "." EL_STR(EL_VERSION_MINOR) "." EL_STR(EL_VERSION_PATCH);
}

/* elman's parallel work runs on its own pool, and every matrix product on
 * one OpenBLAS thread: OpenBLAS's idle threads spin for a while after each
 * call and would steal the cores that elman's own are using.  That holds
 * from the moment the library is loaded, not only after el_set_threads, so
 * a program that never calls it does not get OpenBLAS's default of a thread
 * per core fighting elman's pool (nor results that vary with
 * OPENBLAS_NUM_THREADS). */
__attribute__((constructor)) static void one_blas_thread(void) { openblas_set_num_threads(1); }

el_status el_set_threads(int threads)
{
    el_status s = el__parallel_set_threads(threads);
    if (s) return s;
    one_blas_thread(); /* in case the program changed it since */
    return EL_OK;
}

int el_get_threads(void) { return el__parallel_threads(); }

void el_set_thread_sharing(int sharing) { el__parallel_set_sharing(sharing); }

int el_get_thread_sharing(void) { return el__parallel_sharing(); }

const char *el_blas_info(void) { return openblas_get_config(); }
