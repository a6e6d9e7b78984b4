/* elman-mpi internals shared by src/mpi's files; not installed. */
#ifndef ELMAN_MPI_INTERNAL_H
#define ELMAN_MPI_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "elman/mpi.h"

struct el_mpi {
    int rank, size;
    /* 0 for a one-rank context made without a launcher: no MPI call at all. */
    int uses_mpi;
    MPI_Comm comm;
    int finalize; /* el_mpi_free finalises MPI: this context initialised it */
    double timeout;
    /* The watchdog: a thread waiting, on cond, for the deadline of the
     * collective under way (busy), woken when one starts or ends. */
    int watchdog_started;
    pthread_t watchdog;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int busy, quit;
    const char *what;
    struct timespec deadline; /* CLOCK_MONOTONIC */
};

/* The watchdog (src/mpi/watchdog.c): started with the context, it aborts the
 * job when a collective stays between enter and leave past the timeout. */
el_status el__mpi_watchdog_start(el_mpi *mpi);
void el__mpi_watchdog_stop(el_mpi *mpi);
void el__mpi_enter(el_mpi *mpi, const char *what);
void el__mpi_leave(el_mpi *mpi);

/* FNV-1a, 64 bits: continues hash over size bytes. */
uint64_t el__mpi_hash(uint64_t hash, const void *bytes, size_t size);
#define EL__MPI_HASH_START 14695981039346656037ull

/* EL_ERR_STATE naming fn and what when the ranks' hashes differ. */
el_status el__mpi_check_hash(el_mpi *mpi, const char *fn, const char *what, uint64_t hash);
/* The hash of a list's names and shapes, in order. */
uint64_t el__mpi_layout_hash(const el_param_list *list);

#endif
