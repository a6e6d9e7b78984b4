/* el_thread_check (src/core/thread_check.c): which batches it times each way,
 * and which way it keeps, on a clock the test runs, so that which way is
 * faster is the test's to say and nothing here depends on the machine. */
#include <criterion/criterion.h>

#include "core/internal.h"
#include "support.h"

static double fake_now;

static double fake_clock(void) { return fake_now; }

static void use_fake_clock(void)
{
    fake_now = 1000;
    el__thread_check_set_clock(fake_clock);
    EL_TEST_OK(el_set_threads(2));
    el_set_thread_sharing(1);
}

static void restore(void)
{
    el__thread_check_set_clock(NULL);
    el_set_thread_sharing(1);
    EL_TEST_OK(el_set_threads(1));
}

/* How long a batch takes, and its units, by the way it runs. */
typedef struct batch_cost {
    double seconds[2]; /* alone [0], shared [1] */
    double units[2];
} batch_cost;

enum { MAX_BATCHES = 2 * EL_THREAD_CHECK_PERIOD + 20 };

/* Runs batches, from first to end, each as el_thread_check_begin set it;
 * the batch numbered slow (if any) takes 100 times as long.  sharing[i] is
 * the way batch i ran. */
static void run_batches(el_thread_check *check, const batch_cost *cost, long first, long end,
                        long slow, int *sharing)
{
    for (long i = first; i < end; i++) {
        el_thread_check_begin(check);
        int way = el_get_thread_sharing();
        sharing[i] = way;
        fake_now += cost->seconds[way] * (i == slow ? 100 : 1);
        el_thread_check_end(check, cost->units[way]);
    }
}

/* Asserts each period's pattern: its first batch as the last period
 * chose (sharing before any), trials alternating shared first, then the
 * way chosen. */
static void assert_pattern(const int *sharing, long count, int chosen)
{
    for (long i = 0; i < count; i++) {
        long position = i % EL_THREAD_CHECK_PERIOD;
        int want = position == 0                            ? (i == 0 ? 1 : chosen)
                   : position <= 2 * EL_THREAD_CHECK_TRIALS ? (int)(position % 2)
                                                            : chosen;
        cr_assert_eq(sharing[i], want, "batch %ld (position %ld in its period) ran with sharing %d",
                     i, position, sharing[i]);
    }
}

TestSuite(thread_check, .init = use_fake_clock, .fini = restore);

Test(thread_check, alone_is_kept_where_it_is_faster)
{
    el_thread_check check = {0};
    int sharing[MAX_BATCHES];
    batch_cost cost = {{1.0, 2.0}, {10, 10}};
    run_batches(&check, &cost, 0, MAX_BATCHES, -1, sharing);
    cr_assert_eq(check.batch, MAX_BATCHES);
    assert_pattern(sharing, MAX_BATCHES, 0);
}

Test(thread_check, sharing_is_kept_where_it_is_faster)
{
    el_thread_check check = {0};
    int sharing[MAX_BATCHES];
    batch_cost cost = {{2.0, 1.0}, {10, 10}};
    run_batches(&check, &cost, 0, MAX_BATCHES, -1, sharing);
    assert_pattern(sharing, MAX_BATCHES, 1);
}

/* Each period decides afresh: alone faster in the first, sharing in the
 * second. */
Test(thread_check, each_period_decides_again)
{
    el_thread_check check = {0};
    int sharing[MAX_BATCHES];
    batch_cost alone_faster = {{1.0, 2.0}, {10, 10}}, shared_faster = {{2.0, 1.0}, {10, 10}};
    run_batches(&check, &alone_faster, 0, EL_THREAD_CHECK_PERIOD + 1, -1, sharing);
    run_batches(&check, &shared_faster, EL_THREAD_CHECK_PERIOD + 1, 2 * EL_THREAD_CHECK_PERIOD, -1,
                sharing);
    assert_pattern(sharing, EL_THREAD_CHECK_PERIOD + 1, 0);
    for (long i = EL_THREAD_CHECK_PERIOD + 2 * EL_THREAD_CHECK_TRIALS + 1;
         i < 2 * EL_THREAD_CHECK_PERIOD; i++)
        cr_assert_eq(sharing[i], 1, "batch %ld", i);
}

/* Batches of different sizes compare by time per unit: the alone trials
 * take longer but do 10 times the units. */
Test(thread_check, batches_compare_per_unit)
{
    el_thread_check check = {0};
    int sharing[MAX_BATCHES];
    batch_cost cost = {{5.0, 1.0}, {100, 10}};
    run_batches(&check, &cost, 0, EL_THREAD_CHECK_PERIOD, -1, sharing);
    assert_pattern(sharing, EL_THREAD_CHECK_PERIOD, 0);
}

/* The best trial of each way decides, so one alone batch that the host
 * slowed a hundredfold does not (a mean would choose sharing). */
Test(thread_check, one_slow_batch_does_not_decide)
{
    el_thread_check check = {0};
    int sharing[MAX_BATCHES];
    batch_cost cost = {{1.0, 2.0}, {10, 10}};
    run_batches(&check, &cost, 0, EL_THREAD_CHECK_PERIOD, 2, sharing);
    cr_assert_eq(sharing[2], 0, "batch 2 is an alone trial");
    assert_pattern(sharing, EL_THREAD_CHECK_PERIOD, 0);
}

/* Batches of no units (failed ones) are not timed, and with no timing the
 * check keeps sharing, the default. */
Test(thread_check, untimed_trials_keep_sharing)
{
    el_thread_check check = {0};
    int sharing[MAX_BATCHES];
    batch_cost cost = {{1.0, 2.0}, {0, 0}};
    run_batches(&check, &cost, 0, EL_THREAD_CHECK_PERIOD, -1, sharing);
    assert_pattern(sharing, EL_THREAD_CHECK_PERIOD, 1);
    cr_assert_eq(check.best[0], 0);
    cr_assert_eq(check.best[1], 0);
}

/* With one thread there is nothing to choose: the sharing a caller set
 * stays, and the batches are only counted. */
Test(thread_check, one_thread_changes_nothing)
{
    EL_TEST_OK(el_set_threads(1));
    el_thread_check check = {0};
    int sharing[MAX_BATCHES];
    batch_cost cost = {{1.0, 2.0}, {10, 10}};
    for (int set = 0; set <= 1; set++) {
        el_set_thread_sharing(set);
        run_batches(&check, &cost, 0, MAX_BATCHES, -1, sharing);
        for (long i = 0; i < MAX_BATCHES; i++) cr_assert_eq(sharing[i], set, "batch %ld", i);
    }
    cr_assert_eq(check.batch, 2 * MAX_BATCHES);
}
