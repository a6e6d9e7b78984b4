/* elman's thread pool (src/core/parallel.c): a task's parts each run once, on
 * whichever thread takes them, whether the workers are spinning or asleep
 * when it begins, and never one of an earlier task's parts late. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <pthread.h>
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

/* Long enough for the workers to stop spinning and sleep. */
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
    volatile unsigned sink = 0; /* slow enough for a sleeping worker to wake */
    for (int i = 0; i < 20000; i++) sink += (unsigned)i;
    if (count == r->count && index >= 0 && index < count) r->thread[index] = pthread_self();
}

/* Without sharing, the caller runs every part of the thread count's split
 * itself; with it again, the workers take parts (given time: the parts
 * here are slow enough for a sleeping worker to wake during a task). */
Test(parallel, without_sharing_the_caller_runs_every_part)
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
    int on_a_worker = 0;
    for (int run = 0; run < 200 && !on_a_worker; run++) {
        runners r = {.count = MAX_PARTS};
        el__parallel_run(note_runner, &r, MAX_PARTS / 3);
        for (int i = 0; i < r.count; i++)
            on_a_worker |= !pthread_equal(r.thread[i], pthread_self());
    }
    cr_assert(on_a_worker, "with sharing, no part ran on a worker in 200 tasks");
    EL_TEST_OK(el__parallel_set_threads(1));
}

Test(parallel, thread_counts_out_of_range)
{
    EL_TEST_FAILS(el__parallel_set_threads(0), EL_ERR_INVALID);
    EL_TEST_FAILS(el__parallel_set_threads(EL__MAX_THREADS + 1), EL_ERR_INVALID);
    cr_assert_eq(el__parallel_threads(), 1);
}
