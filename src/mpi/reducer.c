/* The gradient reducer: one flat buffer, laid out once as
 *     gradients (in list order) | extras | weight | stop flag
 * and all-reduced in buckets, so a step allocates nothing and the flag and
 * the weight ride in the last bucket instead of costing a collective. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpi/internal.h"

enum { DEFAULT_BUCKET_BYTES = 4 << 20 };

struct el_mpi_reducer {
    el_mpi *mpi;
    el_param_list *list;
    int extra_count;
    size_t numel;  /* gradient elements */
    size_t total;  /* numel + extra_count + 2 */
    size_t bucket; /* elements a bucket holds (the last may hold fewer) */
    int buckets;
    float *buffer; /* only with more than one rank */
};

el_status el_mpi_reducer_create(el_mpi_reducer **out, el_mpi *mpi, el_param_list *list,
                                int extra_count, size_t bucket_bytes)
{
    static const char fn[] = "el_mpi_reducer_create";
    if (out == NULL || mpi == NULL || list == NULL)
        return el_set_error(EL_ERR_INVALID, "%s: %s is NULL", fn,
                            out == NULL   ? "out"
                            : mpi == NULL ? "mpi"
                                          : "list");
    *out = NULL;
    if (extra_count < 0)
        return el_set_error(EL_ERR_INVALID, "%s: extra_count %d is negative", fn, extra_count);
    if (bucket_bytes == 0) bucket_bytes = DEFAULT_BUCKET_BYTES;
    /* A bucket is one MPI call, whose count is an int. */
    if (bucket_bytes < sizeof(float) || bucket_bytes / sizeof(float) > INT_MAX)
        return el_set_error(EL_ERR_INVALID, "%s: bucket_bytes %zu is not between 4 and %zu", fn,
                            bucket_bytes, (size_t)INT_MAX * sizeof(float));
    size_t numel = el_param_list_numel(list);
    size_t total = numel + (size_t)extra_count + 2;
    size_t bucket = bucket_bytes / sizeof(float);
    size_t buckets = (total + bucket - 1) / bucket;
    if (buckets > INT_MAX || total > SIZE_MAX / sizeof(float))
        return el_set_error(EL_ERR_NOMEM, "%s: %zu elements in buckets of %zu: too many", fn, total,
                            bucket);
    el_status s = el__mpi_check_hash(mpi, fn, "the names and shapes of the parameters",
                                     el__mpi_layout_hash(list));
    if (s) return s;
    el_mpi_reducer *r = calloc(1, sizeof *r);
    if (r == NULL) return el_set_error(EL_ERR_NOMEM, "%s: out of memory", fn);
    *r = (el_mpi_reducer){mpi, list, extra_count, numel, total, bucket, (int)buckets, NULL};
    if (mpi->size > 1 && (r->buffer = malloc(total * sizeof(float))) == NULL) {
        free(r);
        return el_set_error(EL_ERR_NOMEM, "%s: out of memory for %zu floats", fn, total);
    }
    *out = r;
    return EL_OK;
}

void el_mpi_reducer_free(el_mpi_reducer *reducer)
{
    if (reducer == NULL) return;
    free(reducer->buffer);
    free(reducer);
}

int el_mpi_reducer_buckets(const el_mpi_reducer *reducer) { return reducer ? reducer->buckets : 0; }

size_t el_mpi_reducer_bytes(const el_mpi_reducer *reducer)
{
    return reducer ? reducer->total * sizeof(float) : 0;
}

static void scale_grads(el_param_list *list, float factor)
{
    for (int i = 0; i < list->count; i++) {
        el_tensor *g = &list->items[i]->grad;
        for (size_t j = 0; j < g->size; j++) g->data[j] *= factor;
    }
}

/* Packs the gradients times scale, all-reduces, and unpacks them times
 * 1 / (the summed weight) when mean, else as they are. */
static el_status reduce(el_mpi_reducer *r, const char *fn, int mean, float weight, float *extra,
                        int *stop)
{
    float *buffer = r->buffer;
    float *at = buffer;
    for (int i = 0; i < r->list->count; i++) {
        const el_tensor *g = &r->list->items[i]->grad;
        if (mean)
            for (size_t j = 0; j < g->size; j++) at[j] = g->data[j] * weight;
        else
            memcpy(at, g->data, g->size * sizeof(float));
        at += g->size;
    }
    if (r->extra_count > 0) memcpy(at, extra, (size_t)r->extra_count * sizeof(float));
    at[r->extra_count] = weight;
    at[r->extra_count + 1] = stop != NULL && *stop ? 1.0f : 0.0f;

    el__mpi_enter(r->mpi, fn);
    int rc = MPI_SUCCESS;
    for (size_t start = 0; start < r->total && rc == MPI_SUCCESS; start += r->bucket) {
        size_t n = r->total - start < r->bucket ? r->total - start : r->bucket;
        rc = MPI_Allreduce(MPI_IN_PLACE, buffer + start, (int)n, MPI_FLOAT, MPI_SUM, r->mpi->comm);
    }
    el__mpi_leave(r->mpi);
    if (rc != MPI_SUCCESS) return el_set_error(EL_ERR_STATE, "%s: MPI_Allreduce failed", fn);

    float total_weight = at[r->extra_count];
    float factor = !mean ? 1.0f : total_weight > 0.0f ? 1.0f / total_weight : 0.0f;
    at = buffer;
    for (int i = 0; i < r->list->count; i++) {
        el_tensor *g = &r->list->items[i]->grad;
        if (mean)
            for (size_t j = 0; j < g->size; j++) g->data[j] = at[j] * factor;
        else
            memcpy(g->data, at, g->size * sizeof(float));
        at += g->size;
    }
    if (r->extra_count > 0) memcpy(extra, at, (size_t)r->extra_count * sizeof(float));
    if (stop != NULL) *stop = at[r->extra_count + 1] > 0.5f;
    return EL_OK;
}

static el_status check(const el_mpi_reducer *r, const char *fn, const float *extra)
{
    if (r == NULL) return el_set_error(EL_ERR_INVALID, "%s: reducer is NULL", fn);
    if (extra == NULL && r->extra_count > 0)
        return el_set_error(EL_ERR_INVALID, "%s: extra is NULL, expected %d floats", fn,
                            r->extra_count);
    if (el_param_list_numel(r->list) != r->numel)
        return el_set_error(EL_ERR_STATE, "%s: the list changed since el_mpi_reducer_create", fn);
    return EL_OK;
}

el_status el_mpi_reducer_sum(el_mpi_reducer *reducer, float *extra, int *stop)
{
    static const char fn[] = "el_mpi_reducer_sum";
    el_status s = check(reducer, fn, extra);
    if (s || reducer->mpi->size == 1) return s;
    return reduce(reducer, fn, 0, 0.0f, extra, stop);
}

el_status el_mpi_reducer_mean(el_mpi_reducer *reducer, double weight, float *extra, int *stop)
{
    static const char fn[] = "el_mpi_reducer_mean";
    el_status s = check(reducer, fn, extra);
    if (s) return s;
    if (!(weight >= 0.0) || weight > 16777216.0)
        return el_set_error(EL_ERR_INVALID, "%s: weight %g is not between 0 and 2^24", fn, weight);
    /* One rank: the mean of one gradient is itself, left bit for bit. */
    if (reducer->mpi->size == 1) {
        if (weight == 0.0) scale_grads(reducer->list, 0.0f);
        return EL_OK;
    }
    return reduce(reducer, fn, 1, (float)weight, extra, stop);
}
