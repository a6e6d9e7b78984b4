/* POSIX threads rather than C11's <threads.h>: the sanitizers (ASan,
 * TSan) follow threads only through pthread_create. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/internal.h"
#include "core/parallel.h"

/* The pool is process-wide, as OpenBLAS's is: threads are a property of the
 * machine the program runs on, not of a model.  Workers wait for a new
 * generation number, spinning briefly (a time step's task follows the last
 * within microseconds) and then sleeping on a condition variable, so that an
 * idle pool costs no CPU.
 *
 * The generation, the number of parts and the next part to take share one
 * atomic word, so that taking a part and learning whose part it is are one
 * step.  A worker that wakes late, after the caller has run every part
 * itself and gone on to the next task, takes parts of that one or none;
 * with a counter of its own, reset for each task, it could have taken a
 * part of the new task before the reset, and that part would run twice.
 * So the caller waits for the parts to be done, not for every worker to
 * check in: a worker asleep when a task begins does not hold it up.  (On
 * a virtual machine a worker can wake late, and with another program busy
 * on the machine, waiting for it made two threads slower than one.) */
typedef struct pool {
    int threads; /* including the caller */
    pthread_t workers[EL__MAX_THREADS];
    pthread_mutex_t lock;
    pthread_cond_t wake;
    _Atomic uint64_t work;        /* generation << 32 | parts << 16 | next part */
    uint32_t generation_at_start; /* workers begin waiting for the one after */
    atomic_int done;              /* parts of the current task finished */
    atomic_int stop;
    el__task task;
    void *context;
    int initialised;
    int sharing; /* 0: the caller runs every part itself (el_set_thread_sharing) */
} pool;

static pool the_pool = {.threads = 1, .sharing = 1};

enum { SPINS_BEFORE_SLEEP = 1 << 10 };

static uint32_t generation_of(uint64_t work) { return (uint32_t)(work >> 32); }

/* Runs parts of the current task until none is left.  A part is taken by
 * advancing the shared word, and only then are the task and its context
 * read: until that part is done, the caller cannot go on to write the next
 * task's.  So a worker that woke for an earlier task safely takes parts of
 * whichever task is current. */
static void run_parts(void)
{
    uint64_t work = atomic_load_explicit(&the_pool.work, memory_order_acquire);
    for (;;) {
        int parts = (int)(work >> 16 & 0xffff), part = (int)(work & 0xffff);
        if (part >= parts) return;
        if (!atomic_compare_exchange_weak_explicit(&the_pool.work, &work, work + 1,
                                                   memory_order_acquire, memory_order_acquire))
            continue;
        the_pool.task(the_pool.context, part, parts);
        atomic_fetch_add_explicit(&the_pool.done, 1, memory_order_release);
        work = atomic_load_explicit(&the_pool.work, memory_order_acquire);
    }
}

/* Makes a new generation with parts parts (none, to stop the workers) and
 * wakes the workers for it. */
static void publish(int parts)
{
    pthread_mutex_lock(&the_pool.lock);
    uint32_t generation = generation_of(atomic_load(&the_pool.work)) + 1;
    atomic_store_explicit(&the_pool.work, (uint64_t)generation << 32 | (uint64_t)parts << 16,
                          memory_order_release);
    pthread_cond_broadcast(&the_pool.wake);
    pthread_mutex_unlock(&the_pool.lock);
}

/* Tells the CPU that this is a spin-wait: on x86 the pause instruction
 * keeps the loop from flooding the pipeline, and leaves the core to the
 * thread beside it when the two share one (as virtual CPUs often do). */
static inline void spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *arg)
{
    (void)arg;
    uint32_t seen = the_pool.generation_at_start, now = seen;
    for (;;) {
        for (int spin = 0; spin < SPINS_BEFORE_SLEEP; spin++) {
            now = generation_of(atomic_load_explicit(&the_pool.work, memory_order_acquire));
            if (now != seen) break;
            spin_pause();
        }
        if (now == seen) {
            pthread_mutex_lock(&the_pool.lock);
            while ((now = generation_of(atomic_load(&the_pool.work))) == seen)
                pthread_cond_wait(&the_pool.wake, &the_pool.lock);
            pthread_mutex_unlock(&the_pool.lock);
        }
        seen = now;
        if (atomic_load(&the_pool.stop)) return NULL;
        run_parts();
    }
}

static void stop_workers(void)
{
    if (the_pool.threads <= 1) return;
    atomic_store(&the_pool.stop, 1);
    publish(0);
    for (int i = 1; i < the_pool.threads; i++) pthread_join(the_pool.workers[i], NULL);
    atomic_store(&the_pool.stop, 0);
    the_pool.threads = 1;
}

el_status el__parallel_set_threads(int threads)
{
    if (threads < 1 || threads > EL__MAX_THREADS)
        return el__fail(EL_ERR_INVALID, "el_set_threads: %d threads (1 to %d allowed)", threads,
                        EL__MAX_THREADS);
    if (threads == the_pool.threads) return EL_OK;
    if (!the_pool.initialised) {
        if (pthread_mutex_init(&the_pool.lock, NULL) != 0 ||
            pthread_cond_init(&the_pool.wake, NULL) != 0)
            return el__fail(EL_ERR_NOMEM, "el_set_threads: cannot create a lock");
        the_pool.initialised = 1;
    }
    stop_workers();
    the_pool.generation_at_start = generation_of(atomic_load(&the_pool.work));
    for (int i = 1; i < threads; i++) {
        if (pthread_create(&the_pool.workers[i], NULL, worker_main, NULL) != 0) {
            the_pool.threads = i;
            stop_workers();
            return el__fail(EL_ERR_NOMEM, "el_set_threads: cannot start thread %d", i);
        }
        the_pool.threads = i + 1;
    }
    return EL_OK;
}

int el__parallel_threads(void) { return the_pool.threads; }

void el__parallel_set_sharing(int sharing) { the_pool.sharing = sharing != 0; }

int el__parallel_sharing(void) { return the_pool.sharing; }

/* A task is cut into parts, which the threads take in turn as they come
 * free.  A worker woken from sleep can start late on a virtual machine,
 * and the host may slow one CPU and not the other: with halves fixed in
 * advance the caller would wait for the slower thread.  Which thread runs
 * a part never changes its result, so the results depend on the number
 * of threads only, as before. */
void el__parallel_run(el__task task, void *context, int parts_per_thread)
{
    int count = parts_per_thread < 1 ? 1 : the_pool.threads;
    if (count == 1) {
        task(context, 0, 1);
        return;
    }
    int parts = count * parts_per_thread; /* at most 64 threads of a few parts: below 2^16 */
    if (!the_pool.sharing) {              /* the same parts, so the same results, on this thread */
        for (int i = 0; i < parts; i++) task(context, i, parts);
        return;
    }
    the_pool.task = task;
    the_pool.context = context;
    atomic_store_explicit(&the_pool.done, 0, memory_order_relaxed);
    publish(parts);
    run_parts();
    while (atomic_load_explicit(&the_pool.done, memory_order_acquire) != parts) spin_pause();
}

void el__split(int n, int index, int count, int *begin, int *end)
{
    *begin = (int)((long long)n * index / count);
    *end = (int)((long long)n * (index + 1) / count);
}
