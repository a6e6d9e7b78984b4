/* Choosing, while training, whether elman's second thread helps (not part
 * of libelman).
 *
 * On most machines two threads train 1.2x to 1.5x as fast as one, and the
 * programs default to them.  On a virtual machine whose host runs both
 * virtual CPUs on one physical core, or gives the core to another guest,
 * the second thread can make the work slower.  So a program with more
 * than one thread times some training batches with the workers taking
 * parts and some with the calling thread running every part itself
 * (el_set_thread_sharing), and keeps the faster.  Both ways give the same
 * results to the bit, so the choice, which depends on timing, never
 * changes the weights. */
#ifndef ELMAN_APPS_THREAD_CHECK_H
#define ELMAN_APPS_THREAD_CHECK_H

/* Batches between the starts of two trials, and trial batches each way. */
#define THREAD_CHECK_PERIOD 200
#define THREAD_CHECK_TRIALS 4

/* All zeros to begin with. */
typedef struct thread_check {
    long batch;     /* batches begun */
    double started; /* when the current batch began */
    double best[2]; /* the least seconds per unit of a trial batch, alone [0] and shared [1] */
} thread_check;

/* Before a training batch: sets el_set_thread_sharing for it. */
void thread_check_begin(thread_check *c);

/* After it: units is its size (words, characters), by which batches of
 * different sizes compare. */
void thread_check_end(thread_check *c, double units);

#endif
