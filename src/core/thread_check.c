/* Choosing, while a program trains, whether the second thread helps
 * (el_thread_check in elman/runtime.h).
 *
 * On most machines two threads train faster than one.  On a virtual
 * machine whose host runs both virtual CPUs on one physical core, or
 * lends the core to another guest, the second thread can make the work
 * slower; the calling thread running every part itself then wins.  The
 * best trial of each way is compared, not the mean, so that one batch the
 * host slowed does not decide. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <time.h>

#include "elman/runtime.h"
#include "core/internal.h"

static double monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static el__seconds_fn check_clock = monotonic_seconds;

el__seconds_fn el__thread_check_set_clock(el__seconds_fn now)
{
    el__seconds_fn old = check_clock;
    check_clock = now ? now : monotonic_seconds;
    return old;
}

/* The trial a batch is (0 .. 2 * trials - 1, even ones shared), or -1. */
static int trial_index(const el_thread_check *check)
{
    long position = check->batch % EL_THREAD_CHECK_PERIOD - 1;
    return position >= 0 && position < 2 * EL_THREAD_CHECK_TRIALS ? (int)position : -1;
}

void el_thread_check_begin(el_thread_check *check)
{
    if (!check || el_get_threads() < 2) return;
    int trial = trial_index(check);
    if (trial == 0) check->best[0] = check->best[1] = 0;
    if (trial >= 0) el_set_thread_sharing(trial % 2 == 0);
    check->started = check_clock();
}

void el_thread_check_end(el_thread_check *check, double units)
{
    if (!check) return;
    int trial = el_get_threads() < 2 ? -1 : trial_index(check);
    check->batch++;
    if (trial < 0) return;
    int way = trial % 2 == 0;
    if (units > 0) {
        double per_unit = (check_clock() - check->started) / units;
        if (check->best[way] == 0 || per_unit < check->best[way]) check->best[way] = per_unit;
    }
    /* Sharing, unless alone was timed and faster: a period whose trials
     * all failed keeps the default. */
    if (trial == 2 * EL_THREAD_CHECK_TRIALS - 1)
        el_set_thread_sharing(
            !(check->best[0] > 0 && check->best[1] > 0 && check->best[0] < check->best[1]));
}
