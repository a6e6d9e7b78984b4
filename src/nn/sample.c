#include <math.h>
#include <stdlib.h>

#include "elman/sample.h"
#include "core/internal.h"

struct el_sampler {
    el_sampling how;
    int classes;
    float *prob; /* (classes) unnormalised probabilities */
    int *order;  /* (classes) the allowed ids, most probable first when sorted */
};

el_sampling el_sampling_defaults(void) { return (el_sampling){1.0, 0, 1.0, 0}; }

el_status el_sampler_create(el_sampler **out, int classes, const el_sampling *how)
{
    EL_REQUIRE(out, "el_sampler_create");
    EL_REQUIRE(how, "el_sampler_create");
    *out = NULL;
    if (!(how->temperature >= 0 && isfinite(how->temperature)))
        return el__fail(EL_ERR_INVALID, "el_sampler_create: temperature %g is not a number >= 0",
                        how->temperature);
    if (how->top_k < 0)
        return el__fail(EL_ERR_INVALID, "el_sampler_create: top_k %d is negative", how->top_k);
    if (!(how->top_p > 0 && how->top_p <= 1))
        return el__fail(EL_ERR_INVALID, "el_sampler_create: top_p %g outside (0, 1]", how->top_p);
    if (how->first_id < 0 || how->first_id >= classes)
        return el__fail(EL_ERR_INVALID, "el_sampler_create: first_id %d leaves no id of %d to draw",
                        how->first_id, classes);
    el_sampler *s = el__alloc_zero(1, sizeof *s);
    if (s) {
        s->prob = el__alloc((size_t)classes * sizeof *s->prob);
        s->order = el__alloc((size_t)classes * sizeof *s->order);
    }
    if (!s || !s->prob || !s->order) {
        el_sampler_free(s);
        return el__fail(EL_ERR_NOMEM, "el_sampler_create: out of memory for %d classes", classes);
    }
    s->how = *how;
    s->classes = classes;
    *out = s;
    return EL_OK;
}

void el_sampler_free(el_sampler *s)
{
    if (!s) return;
    el__free(s->prob);
    el__free(s->order);
    el__free(s);
}

/* qsort has no context argument, so the comparison reads the probabilities
 * through this per-thread pointer. */
static _Thread_local const float *sorting_prob;

static int more_probable_first(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    float pi = sorting_prob[i], pj = sorting_prob[j];
    if (pi != pj) return pi > pj ? -1 : 1;
    return (i > j) - (i < j);
}

el_status el_sampler_draw(el_sampler *s, const float *logits, el_rng *rng, int *id)
{
    EL_REQUIRE(s, "el_sampler_draw");
    EL_REQUIRE(logits, "el_sampler_draw");
    EL_REQUIRE(id, "el_sampler_draw");
    int first = s->how.first_id, n = s->classes, best = first;
    for (int i = first; i < n; i++) {
        if (isnan(logits[i]))
            return el__fail(EL_ERR_INVALID, "el_sampler_draw: logit %d is NaN", i);
        if (logits[i] > logits[best]) best = i;
    }
    if (s->how.temperature == 0) {
        *id = best;
        return EL_OK;
    }
    EL_REQUIRE(rng, "el_sampler_draw");
    /* In double: a low temperature would overflow float's exponent range. */
    double scale = 1.0 / s->how.temperature, top = logits[best], sum = 0;
    int kept = 0;
    for (int i = first; i < n; i++) {
        s->prob[i] = (float)exp(((double)logits[i] - top) * scale);
        s->order[kept++] = i;
    }
    int limit_k = s->how.top_k > 0 && s->how.top_k < kept;
    if (limit_k || s->how.top_p < 1) {
        sorting_prob = s->prob;
        qsort(s->order, (size_t)kept, sizeof *s->order, more_probable_first);
        if (limit_k) kept = s->how.top_k;
        if (s->how.top_p < 1) {
            double total = 0, running = 0;
            for (int k = 0; k < kept; k++) total += s->prob[s->order[k]];
            int k = 0;
            while (k < kept && running < s->how.top_p * total) running += s->prob[s->order[k++]];
            kept = k;
        }
    }
    for (int k = 0; k < kept; k++) sum += s->prob[s->order[k]];
    double u = (double)el_rng_uniform(rng) * sum, running = 0;
    for (int k = 0; k < kept; k++) {
        running += s->prob[s->order[k]];
        if (u < running) {
            *id = s->order[k];
            return EL_OK;
        }
    }
    *id = s->order[kept - 1]; /* u rounded up to the sum */
    return EL_OK;
}
