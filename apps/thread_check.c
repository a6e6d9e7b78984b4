#include "thread_check.h"

#include "elman/runtime.h"
#include "progress.h"

/* Each period, after one batch run as the last period chose (a run's first
 * batch pays for its allocations), the trials alternate, shared first; the
 * rest of the period goes the faster way.  With the best batch of each way compared, one batch
 * slowed by the host does not decide.  Where sharing is faster, as on most
 * machines, the trials cost 4 batches in 200 at one thread's speed: at
 * 1.4x, under 1% of the time. */
static int trial_index(const thread_check *c)
{
    long position = c->batch % THREAD_CHECK_PERIOD - 1;
    return position >= 0 && position < 2 * THREAD_CHECK_TRIALS ? (int)position : -1;
}

void thread_check_begin(thread_check *c)
{
    if (el_get_threads() < 2) return;
    int trial = trial_index(c);
    if (trial == 0) c->best[0] = c->best[1] = 0;
    if (trial >= 0) el_set_thread_sharing(trial % 2 == 0);
    c->started = progress_now();
}

void thread_check_end(thread_check *c, double units)
{
    int trial = el_get_threads() < 2 ? -1 : trial_index(c);
    c->batch++;
    if (trial < 0 || units <= 0) return;
    int way = trial % 2 == 0;
    double per_unit = (progress_now() - c->started) / units;
    if (c->best[way] == 0 || per_unit < c->best[way]) c->best[way] = per_unit;
    if (trial == 2 * THREAD_CHECK_TRIALS - 1)
        el_set_thread_sharing(!(c->best[0] > 0 && c->best[1] > 0 && c->best[0] < c->best[1]));
}
