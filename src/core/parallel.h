/* elman's own worker threads.  Not installed.
 *
 * OpenBLAS's threads split one matrix product at a time, which does not pay
 * for the small products of a recurrent time step.  elman instead splits
 * whole passes: el__parallel_run runs a task in parts on every thread at
 * once, and returns when all have finished.  OpenBLAS runs
 * single-threaded once el_set_threads has been called, so that the two kinds
 * of threads never compete for the cores. */
#ifndef ELMAN_PARALLEL_H
#define ELMAN_PARALLEL_H

#include "elman/status.h"

typedef void (*el__task)(void *context, int index, int count);

/* Sets the number of threads (1 .. EL__MAX_THREADS), creating or ending the
 * workers; called by el_set_threads. */
el_status el__parallel_set_threads(int threads);
int el__parallel_threads(void);

/* Whether the workers take parts (1, the default) or the caller runs every
 * part itself (0); called by el_set_thread_sharing. */
void el__parallel_set_sharing(int sharing);
int el__parallel_sharing(void);

/* Runs task(context, i, count) for i = 0 .. count-1 and returns when every
 * one has returned.  count is parts_per_thread times the number of threads
 * set, or 1 when parts_per_thread is 0 (work too small to split) or there
 * is one thread.  The threads, the caller's among them, take the parts in
 * turn as they come free, so a part must not depend on which thread runs
 * it.  More parts balance the threads better, but each part of a time loop
 * reads the whole recurrent weight at every step. */
void el__parallel_run(el__task task, void *context, int parts_per_thread);

/* The parts per thread for work that splits freely (by rows or columns of
 * independent products): enough to even out a late or slowed thread. */
#define EL__PARTS_PER_THREAD 2

/* The share [*begin, *end) of n items that part index of count takes. */
void el__split(int n, int index, int count, int *begin, int *end);

#define EL__MAX_THREADS 64

#endif
