#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- temporary directories and whole files -------------------------------- */

void el_test_make_dir(char dir[static 64], const char *name)
{
    snprintf(dir, 64, "/tmp/elman-%s-XXXXXX", name);
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

void el_test_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    for (struct dirent *e = readdir(d); e; e = readdir(d)) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char child[512];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        el_test_remove_tree(child);
    }
    closedir(d);
    rmdir(path);
}

int el_test_count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
    int n = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

unsigned char *el_test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    rewind(f);
    unsigned char *bytes = malloc((size_t)n + 1);
    cr_assert_not_null(bytes);
    cr_assert_eq(fread(bytes, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return bytes;
}

void el_test_write_file(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}
