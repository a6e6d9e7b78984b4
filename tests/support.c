#include <criterion/criterion.h>
#include <math.h>

#include "support.h"

#if defined(__SANITIZE_ADDRESS__)
#define EL_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EL_TEST_LSAN 1
#endif
#endif
#ifdef EL_TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

void el_test_assert_no_leaks(void)
{
#ifdef EL_TEST_LSAN
    cr_assert_eq(__lsan_do_recoverable_leak_check(), 0, "LeakSanitizer found leaks (above)");
#endif
}

void el_test_assert_close(const char *what, const float *got, const float *want, size_t n,
                          double rtol, double atol)
{
    size_t worst = 0;
    double worst_excess = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double allowed = atol + rtol * fabs((double)want[i]);
        double excess = fabs((double)got[i] - (double)want[i]) - allowed;
        if (isnan(got[i]) != isnan(want[i])) excess = INFINITY;
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    cr_assert(n == 0 || worst_excess <= 0,
              "%s: element %zu is %.9g, expected %.9g (rtol %g, atol %g, %zu elements)", what,
              worst, (double)got[worst], (double)want[worst], rtol, atol, n);
}

void el_test_random_tensor(el_tensor *t, el_rng *rng, int ndim, const int *shape, float low,
                           float high)
{
    EL_TEST_OK(el_tensor_alloc(t, ndim, shape));
    EL_TEST_OK(el_init_uniform(t, rng, low, high));
}
