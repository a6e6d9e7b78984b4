/* The runtime's defaults before a program sets anything.  tests/meson.build
 * runs this with OPENBLAS_NUM_THREADS=4, so OpenBLAS alone would start four
 * threads. */
#include <cblas.h>
#include <criterion/criterion.h>
#include <stdio.h>

#include "elman/runtime.h"

Test(runtime, one_blas_thread_before_el_set_threads)
{
    cr_assert_eq(openblas_get_num_threads(), 1,
                 "OpenBLAS runs %d threads before el_set_threads is called",
                 openblas_get_num_threads());
    cr_assert_eq(el_get_threads(), 1);
}

Test(runtime, el_set_threads_keeps_one_blas_thread)
{
    openblas_set_num_threads(3);
    cr_assert_eq(el_set_threads(2), EL_OK);
    cr_assert_eq(openblas_get_num_threads(), 1);
    cr_assert_eq(el_get_threads(), 2);
    cr_assert_eq(el_set_threads(1), EL_OK);
}

Test(runtime, version_matches_the_header)
{
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", EL_VERSION_MAJOR, EL_VERSION_MINOR,
             EL_VERSION_PATCH);
    cr_assert_str_eq(el_version(), expected);
}

/* OpenBLAS 0.3.21 falls back to its generic Prescott kernels on CPUs newer
 * than its tables; elman chooses again when the CPU runs better ones. */
Test(runtime, no_generic_blas_kernels_on_a_vector_cpu)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        cr_skip_test("this CPU has no AVX2 and FMA");
    cr_assert_str_neq(openblas_get_corename(), "Prescott",
                      "OpenBLAS runs its generic kernels on a CPU with AVX2: %s",
                      openblas_get_config());
#else
    cr_skip_test("not an x86-64 build");
#endif
}
