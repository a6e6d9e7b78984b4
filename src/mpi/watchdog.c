/* The watchdog: a thread that ends the whole job when a collective has not
 * completed in time.  A rank that died or hangs leaves the others blocked
 * inside MPI for ever, where no code of theirs runs; only another thread
 * can notice, and MPI_Abort is the one call that ends every rank. */
#define _POSIX_C_SOURCE 200809L /* pthread_condattr_setclock, clock_gettime */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mpi/internal.h"

static int before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *watch(void *arg)
{
    el_mpi *mpi = arg;
    pthread_mutex_lock(&mpi->lock);
    while (!mpi->quit) {
        if (!mpi->busy) {
            pthread_cond_wait(&mpi->cond, &mpi->lock);
            continue;
        }
        /* Woken early by leave or by the next enter: the loop looks again. */
        pthread_cond_timedwait(&mpi->cond, &mpi->lock, &mpi->deadline);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (mpi->busy && !mpi->quit && !before(&now, &mpi->deadline)) {
            fprintf(stderr,
                    "elman-mpi: rank %d: %s has not completed in %g s: a rank died or stopped "
                    "answering; aborting the job\n",
                    mpi->rank, mpi->what, mpi->timeout);
            fflush(stderr);
            pthread_mutex_unlock(&mpi->lock);
            MPI_Abort(mpi->comm, 1);
            return NULL;
        }
    }
    pthread_mutex_unlock(&mpi->lock);
    return NULL;
}

el_status el__mpi_watchdog_start(el_mpi *mpi)
{
    pthread_condattr_t attr;
    int failed = pthread_condattr_init(&attr);
    if (!failed) failed = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!failed) failed = pthread_cond_init(&mpi->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (failed) return el_set_error(EL_ERR_STATE, "el_mpi_create: %s", strerror(failed));
    if ((failed = pthread_mutex_init(&mpi->lock, NULL))) {
        pthread_cond_destroy(&mpi->cond);
        return el_set_error(EL_ERR_STATE, "el_mpi_create: %s", strerror(failed));
    }
    if ((failed = pthread_create(&mpi->watchdog, NULL, watch, mpi))) {
        pthread_mutex_destroy(&mpi->lock);
        pthread_cond_destroy(&mpi->cond);
        return el_set_error(EL_ERR_STATE, "el_mpi_create: cannot start the watchdog: %s",
                            strerror(failed));
    }
    mpi->watchdog_started = 1;
    return EL_OK;
}

void el__mpi_watchdog_stop(el_mpi *mpi)
{
    if (!mpi->watchdog_started) return;
    pthread_mutex_lock(&mpi->lock);
    mpi->quit = 1;
    pthread_cond_signal(&mpi->cond);
    pthread_mutex_unlock(&mpi->lock);
    pthread_join(mpi->watchdog, NULL);
    pthread_mutex_destroy(&mpi->lock);
    pthread_cond_destroy(&mpi->cond);
    mpi->watchdog_started = 0;
}

void el__mpi_enter(el_mpi *mpi, const char *what)
{
    if (!mpi->watchdog_started) return;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    double whole = (double)(time_t)mpi->timeout;
    deadline.tv_sec += (time_t)whole;
    deadline.tv_nsec += (long)((mpi->timeout - whole) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mpi->lock);
    mpi->busy = 1;
    mpi->what = what;
    mpi->deadline = deadline;
    pthread_cond_signal(&mpi->cond);
    pthread_mutex_unlock(&mpi->lock);
}

void el__mpi_leave(el_mpi *mpi)
{
    if (!mpi->watchdog_started) return;
    pthread_mutex_lock(&mpi->lock);
    mpi->busy = 0;
    pthread_mutex_unlock(&mpi->lock);
}
