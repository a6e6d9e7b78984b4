#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/internal.h"
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

static const char *sweeping; /* the call under test, for messages */
static long allowed;         /* the allocations it is allowed */

void el_test_arm(long n)
{
    allowed = n;
    el__fail_allocations_after(n);
}

el_status el_test_disarm(el_status s)
{
    el__fail_allocations_after(-1);
    cr_assert(s == EL_OK || s == EL_ERR_NOMEM, "%s with %ld allocations allowed: %s (%s)", sweeping,
              allowed, el_status_name(s), el_last_error());
    cr_assert(s == EL_OK || strstr(el_last_error(), "memory") != NULL, "%s: message \"%s\"",
              sweeping, el_last_error());
    return s;
}

void el_test_sweep(const char *what, el_test_attempt attempt, long most)
{
    sweeping = what;
    for (long n = 0; n < most; n++) {
        el_status s = attempt(n);
        el_test_assert_no_leaks();
        if (s == EL_OK) {
            cr_assert_gt(n, 0, "%s succeeded with allocation failing at once", what);
            return;
        }
        cr_assert_eq(s, EL_ERR_NOMEM, "%s with %ld allocations: %s (%s)", what, n,
                     el_status_name(s), el_last_error());
    }
    cr_assert_fail("%s still fails with %ld allocations allowed", what, most);
}
