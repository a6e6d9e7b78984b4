#define _POSIX_C_SOURCE 200809L /* setenv */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

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
static void one_blas_thread(void) { openblas_set_num_threads(1); }

/* OpenBLAS's kernel choice, made when it loads, by CPU model.  A model newer
 * than its tables (OpenBLAS 0.3.21, Debian 12's, does not know Intel's
 * family 6 model 207) falls back to the generic Prescott (SSE3) kernels,
 * which multiply several times slower than the AVX-512 ones the CPU runs.
 * When OpenBLAS says Prescott on a CPU with AVX-512 (or AVX2 and FMA), and
 * nobody chose a kernel set with OPENBLAS_CORETYPE, elman makes the choice
 * again with the newest set the CPU runs, through the two functions
 * OpenBLAS's own OPENBLAS_CORETYPE handling goes through.  They exist only
 * in builds for several CPUs (DYNAMIC_ARCH, as Debian's), hence weak. */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static const char *better_kernels(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

static void choose_blas_kernels(void)
{
    if (!gotoblas_dynamic_init || !gotoblas_dynamic_quit || getenv("OPENBLAS_CORETYPE")) return;
    const char *name = openblas_get_corename();
    const char *better = better_kernels();
    if (!name || strcmp(name, "Prescott") != 0 || !better) return;
    /* On this virtual machine a forced choice came out Prescott again in
     * about 1 process of 100 (the variable set, the CPU checks stable over
     * millions of calls): so look, and try again, a bounded number of times
     * (docs/benchmarks.md). */
    setenv("OPENBLAS_CORETYPE", better, 0);
    for (int attempt = 0; attempt < 4 && strcmp(openblas_get_corename(), "Prescott") == 0;
         attempt++) {
        gotoblas_dynamic_quit();
        gotoblas_dynamic_init();
    }
    unsetenv("OPENBLAS_CORETYPE");
}

__attribute__((constructor)) static void set_up_blas(void)
{
    choose_blas_kernels();
    one_blas_thread();
}

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
