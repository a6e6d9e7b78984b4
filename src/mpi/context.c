/* The context: which ranks there are, and the collectives run once at the
 * start of training (broadcast, agreement checks). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/internal.h"

el_mpi_config el_mpi_defaults(void)
{
    el_mpi_config config = {.timeout = 60.0};
    return config;
}

int el_mpi_launched(void)
{
    return getenv("OMPI_COMM_WORLD_SIZE") != NULL || getenv("PMIX_RANK") != NULL;
}

static el_status check_config(const char *fn, const el_mpi_config *config)
{
    if (!(config->timeout >= 0.0) || config->timeout > 1e9)
        return el_set_error(EL_ERR_INVALID, "%s: timeout %g s is not between 0 and 1e9", fn,
                            config->timeout);
    return EL_OK;
}

/* Sets up mpi over comm (not duplicated here) and starts the watchdog. */
static el_status start(el_mpi *mpi, MPI_Comm comm, const el_mpi_config *config)
{
    mpi->uses_mpi = 1;
    mpi->comm = comm;
    mpi->timeout = config->timeout;
    MPI_Comm_rank(comm, &mpi->rank);
    MPI_Comm_size(comm, &mpi->size);
    /* Errors come back as codes, turned into el_status, rather than ending
     * the job from inside MPI without a word from elman. */
    MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
    if (mpi->size > 1 && mpi->timeout > 0.0) return el__mpi_watchdog_start(mpi);
    return EL_OK;
}

el_status el_mpi_create(el_mpi **out, const el_mpi_config *config)
{
    if (out == NULL) return el_set_error(EL_ERR_INVALID, "el_mpi_create: out is NULL");
    *out = NULL;
    el_mpi_config defaults = el_mpi_defaults();
    if (config == NULL) config = &defaults;
    el_status s = check_config("el_mpi_create", config);
    if (s) return s;
    el_mpi *mpi = calloc(1, sizeof *mpi);
    if (mpi == NULL) return el_set_error(EL_ERR_NOMEM, "el_mpi_create: out of memory");
    mpi->size = 1;
    mpi->comm = MPI_COMM_NULL;
    if (!el_mpi_launched()) {
        *out = mpi;
        return EL_OK;
    }
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
        int provided = 0;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
            free(mpi);
            return el_set_error(EL_ERR_STATE, "el_mpi_create: MPI_Init_thread failed");
        }
        mpi->finalize = 1;
    }
    MPI_Comm comm;
    if (MPI_Comm_dup(MPI_COMM_WORLD, &comm) != MPI_SUCCESS) {
        el_mpi_free(mpi);
        return el_set_error(EL_ERR_STATE, "el_mpi_create: MPI_Comm_dup failed");
    }
    s = start(mpi, comm, config);
    if (s) {
        el_mpi_free(mpi);
        return s;
    }
    *out = mpi;
    return EL_OK;
}

el_status el_mpi_create_comm(el_mpi **out, MPI_Comm comm, const el_mpi_config *config)
{
    if (out == NULL) return el_set_error(EL_ERR_INVALID, "el_mpi_create_comm: out is NULL");
    *out = NULL;
    el_mpi_config defaults = el_mpi_defaults();
    if (config == NULL) config = &defaults;
    el_status s = check_config("el_mpi_create_comm", config);
    if (s) return s;
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised || comm == MPI_COMM_NULL)
        return el_set_error(EL_ERR_STATE, "el_mpi_create_comm: %s",
                            initialised ? "comm is MPI_COMM_NULL" : "MPI is not initialised");
    el_mpi *mpi = calloc(1, sizeof *mpi);
    if (mpi == NULL) return el_set_error(EL_ERR_NOMEM, "el_mpi_create_comm: out of memory");
    MPI_Comm dup;
    if (MPI_Comm_dup(comm, &dup) != MPI_SUCCESS) {
        free(mpi);
        return el_set_error(EL_ERR_STATE, "el_mpi_create_comm: MPI_Comm_dup failed");
    }
    s = start(mpi, dup, config);
    if (s) {
        el_mpi_free(mpi);
        return s;
    }
    *out = mpi;
    return EL_OK;
}

void el_mpi_free(el_mpi *mpi)
{
    if (mpi == NULL) return;
    el__mpi_watchdog_stop(mpi);
    if (mpi->comm != MPI_COMM_NULL) MPI_Comm_free(&mpi->comm);
    if (mpi->finalize) MPI_Finalize();
    free(mpi);
}

int el_mpi_rank(const el_mpi *mpi) { return mpi ? mpi->rank : 0; }

int el_mpi_size(const el_mpi *mpi) { return mpi ? mpi->size : 1; }

uint64_t el__mpi_hash(uint64_t hash, const void *bytes, size_t size)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < size; i++) {
        hash ^= p[i];
        hash *= 1099511628211ull;
    }
    return hash;
}

uint64_t el__mpi_layout_hash(const el_param_list *list)
{
    uint64_t hash = el__mpi_hash(EL__MPI_HASH_START, &list->count, sizeof list->count);
    for (int i = 0; i < list->count; i++) {
        const el_param *p = list->items[i];
        hash = el__mpi_hash(hash, p->name, strlen(p->name) + 1);
        hash = el__mpi_hash(hash, &p->value.ndim, sizeof p->value.ndim);
        hash = el__mpi_hash(hash, p->value.shape, sizeof p->value.shape);
    }
    return hash;
}

el_status el__mpi_check_hash(el_mpi *mpi, const char *fn, const char *what, uint64_t hash)
{
    if (mpi->size == 1) return EL_OK;
    /* The minimum of ~hash is ~(the maximum of hash): both in one call. */
    uint64_t both[2] = {hash, ~hash};
    el__mpi_enter(mpi, fn);
    int rc = MPI_Allreduce(MPI_IN_PLACE, both, 2, MPI_UINT64_T, MPI_MIN, mpi->comm);
    el__mpi_leave(mpi);
    if (rc != MPI_SUCCESS) return el_set_error(EL_ERR_STATE, "%s: MPI_Allreduce failed", fn);
    if (both[0] != ~both[1])
        return el_set_error(EL_ERR_STATE, "%s: the ranks disagree on %s", fn, what);
    return EL_OK;
}

el_status el_mpi_check_same(el_mpi *mpi, const char *what, const void *bytes, size_t size)
{
    if (mpi == NULL || what == NULL || (bytes == NULL && size > 0))
        return el_set_error(EL_ERR_INVALID, "el_mpi_check_same: %s is NULL",
                            mpi == NULL    ? "mpi"
                            : what == NULL ? "what"
                                           : "bytes");
    return el__mpi_check_hash(mpi, "el_mpi_check_same", what,
                              el__mpi_hash(EL__MPI_HASH_START, bytes, size));
}

el_status el_mpi_sum(el_mpi *mpi, float *data, size_t count)
{
    if (mpi == NULL || (data == NULL && count > 0))
        return el_set_error(EL_ERR_INVALID, "el_mpi_sum: %s is NULL", mpi == NULL ? "mpi" : "data");
    if (mpi->size == 1) return EL_OK;
    el__mpi_enter(mpi, "el_mpi_sum");
    int rc = MPI_SUCCESS;
    for (size_t done = 0; done < count && rc == MPI_SUCCESS;) {
        int n = count - done > INT_MAX ? INT_MAX : (int)(count - done);
        rc = MPI_Allreduce(MPI_IN_PLACE, data + done, n, MPI_FLOAT, MPI_SUM, mpi->comm);
        done += (size_t)n;
    }
    el__mpi_leave(mpi);
    if (rc != MPI_SUCCESS) return el_set_error(EL_ERR_STATE, "el_mpi_sum: MPI_Allreduce failed");
    return EL_OK;
}

el_status el_mpi_broadcast(el_mpi *mpi, el_param_list *list)
{
    if (mpi == NULL || list == NULL)
        return el_set_error(EL_ERR_INVALID, "el_mpi_broadcast: %s is NULL",
                            mpi == NULL ? "mpi" : "list");
    if (mpi->size == 1) return EL_OK;
    el_status s = el__mpi_check_hash(mpi, "el_mpi_broadcast", "the names and shapes of the tensors",
                                     el__mpi_layout_hash(list));
    if (s) return s;
    el__mpi_enter(mpi, "el_mpi_broadcast");
    int rc = MPI_SUCCESS;
    for (int i = 0; i < list->count && rc == MPI_SUCCESS; i++) {
        float *data = list->items[i]->value.data;
        for (size_t done = 0, size = list->items[i]->value.size;
             done < size && rc == MPI_SUCCESS;) {
            int n = size - done > INT_MAX ? INT_MAX : (int)(size - done);
            rc = MPI_Bcast(data + done, n, MPI_FLOAT, 0, mpi->comm);
            done += (size_t)n;
        }
    }
    el__mpi_leave(mpi);
    if (rc != MPI_SUCCESS) return el_set_error(EL_ERR_STATE, "el_mpi_broadcast: MPI_Bcast failed");
    return EL_OK;
}
