/* elman's thread pool (src/core/parallel.c): a task's parts each run once, on
 * whichever thread takes them, whether the workers are spinning or asleep
 * when it begins, and never one of an earlier task's parts late. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "core/parallel.h"
#include "support.h"

enum { MAX_PARTS = 4 * 3 };

typedef struct tally {
    atomic_int runs[MAX_PARTS];
    atomic_int wrong_count; /* calls whose count was not the task's */
    int count;
} tally;

static void count_part(void *context, int index, int count)
{
    tally *t = context;
    /* Uneven parts, so that the threads take them in varying order. */
    volatile unsigned sink = 0;
    for (int i = 0; i < (index * 37) % 400; i++) sink += (unsigned)i;
    /* Counted last, so that a part still running when el__parallel_run
     * returns shows as not run. */
    if (count != t->count || index < 0 || index >= count)
        atomic_fetch_add(&t->wrong_count, 1);
    else
        atomic_fetch_add(&t->runs[index], 1);
}

/* Usually long enough for the workers to stop spinning and sleep, so that
 * the runs after it begin with them asleep.  No assertion depends on it:
 * every run must give each part once whether a worker was asleep, spinning
 * or slow to wake, and the pool has no way to ask which it is. */
static void pause_a_while(void)
{
    struct timespec wait = {0, 2 * 1000 * 1000};
    nanosleep(&wait, NULL);
}

static void check_runs(int threads)
{
    EL_TEST_OK(el__parallel_set_threads(threads));
    for (int run = 0; run < 3000; run++) {
        int per_thread = 1 + run % 4;
        tally t = {.count = threads * per_thread};
        el__parallel_run(count_part, &t, per_thread);
        cr_assert_eq(atomic_load(&t.wrong_count), 0, "run %d: a part got the wrong index or count",
                     run);
        for (int i = 0; i < t.count; i++)
            cr_assert_eq(atomic_load(&t.runs[i]), 1, "run %d (%d threads): part %d ran %d times",
                         run, threads, i, atomic_load(&t.runs[i]));
        if (run % 100 == 99) pause_a_while();
    }
    EL_TEST_OK(el__parallel_set_threads(1));
}

Test(parallel, every_part_runs_once)
{
    check_runs(2);
    check_runs(3);
}

Test(parallel, one_part_where_work_is_too_small_or_one_thread)
{
    for (int threads = 1; threads <= 2; threads++) {
        EL_TEST_OK(el__parallel_set_threads(threads));
        for (int per_thread = 0; per_thread <= 2; per_thread++) {
            int count = per_thread == 0 || threads == 1 ? 1 : threads * per_thread;
            tally t = {.count = count};
            el__parallel_run(count_part, &t, per_thread);
            cr_assert_eq(atomic_load(&t.wrong_count), 0);
            for (int i = 0; i < count; i++) cr_assert_eq(atomic_load(&t.runs[i]), 1);
        }
    }
    EL_TEST_OK(el__parallel_set_threads(1));
}

/* Records which thread ran each part. */
typedef struct runners {
    pthread_t thread[MAX_PARTS];
    int count;
} runners;

static void note_runner(void *context, int index, int count)
{
    runners *r = context;
    if (count == r->count && index >= 0 && index < count) r->thread[index] = pthread_self();
}

/* A part the calling thread runs waits until a worker has run one: with
 * sharing, a worker always comes (woken by the task), however late, so the
 * task ends; without a worker taking parts it would never end, and the
 * test's timeout fails it.  No clock decides. */
typedef struct meeting {
    pthread_t caller;
    atomic_int worker_ran;
} meeting;

static void wait_for_a_worker(void *context, int index, int count)
{
    meeting *m = context;
    (void)index;
    (void)count;
    if (!pthread_equal(pthread_self(), m->caller)) {
        atomic_store(&m->worker_ran, 1);
        return;
    }
    while (!atomic_load(&m->worker_ran)) sched_yield();
}

/* Without sharing, the caller runs every part of the thread count's split
 * itself; with it again, the workers take parts. */
Test(parallel, without_sharing_the_caller_runs_every_part, .timeout = 60)
{
    EL_TEST_OK(el__parallel_set_threads(3));
    cr_assert_eq(el__parallel_sharing(), 1);
    el__parallel_set_sharing(0);
    cr_assert_eq(el__parallel_sharing(), 0);
    for (int per_thread = 1; per_thread <= 4; per_thread++) {
        tally t = {.count = 3 * per_thread};
        el__parallel_run(count_part, &t, per_thread);
        cr_assert_eq(atomic_load(&t.wrong_count), 0);
        for (int i = 0; i < t.count; i++) cr_assert_eq(atomic_load(&t.runs[i]), 1);
        runners r = {.count = 3 * per_thread};
        el__parallel_run(note_runner, &r, per_thread);
        for (int i = 0; i < r.count; i++)
            cr_assert(pthread_equal(r.thread[i], pthread_self()), "part %d ran on a worker", i);
    }
    el__parallel_set_sharing(1);
    for (int run = 0; run < 20; run++) {
        meeting m = {.caller = pthread_self()};
        el__parallel_run(wait_for_a_worker, &m, MAX_PARTS / 3);
        cr_assert_eq(atomic_load(&m.worker_ran), 1, "run %d: no part ran on a worker", run);
    }
    EL_TEST_OK(el__parallel_set_threads(1));
}

Test(parallel, thread_counts_out_of_range)
{
    EL_TEST_FAILS(el__parallel_set_threads(0), EL_ERR_INVALID);
    EL_TEST_FAILS(el__parallel_set_threads(EL__MAX_THREADS + 1), EL_ERR_INVALID);
    cr_assert_eq(el__parallel_threads(), 1);
}
