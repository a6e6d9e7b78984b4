/* Attention of a decoder over an encoder's outputs (elman/attention.h):
 * the key side once per batch, then one query per decoder step. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elman/attention.h"
#include "core/blas.h"
#include "core/ensure.h"
#include "core/fastmath.h"
#include "core/internal.h"

static const char *const attention_names[] = {"none", "additive", "dot", "general"};
#define ATTENTION_COUNT ((int)(sizeof attention_names / sizeof attention_names[0]))

el_status el_attention_parse(const char *text, el_attention *out)
{
    EL_REQUIRE(text, "el_attention_parse");
    EL_REQUIRE(out, "el_attention_parse");
    for (int i = 0; i < ATTENTION_COUNT; i++)
        if (!strcmp(text, attention_names[i])) {
            *out = (el_attention)i;
            return EL_OK;
        }
    return el__fail(EL_ERR_INVALID,
                    "el_attention_parse: unknown attention '%s' (none, additive, dot or general)",
                    text);
}

const char *el_attention_name(el_attention a)
{
    return (int)a >= 0 && (int)a < ATTENTION_COUNT ? attention_names[a] : "unknown";
}

/* Time-major throughout: row s * B + b of the key side is source step s of
 * example b; row t * B + b of the per-step arrays is step t of example b. */
struct el_attention_cache {
    int S, B, steps, K, H;
    int ran;      /* steps forward has run since the keys: 1 + the latest */
    int *lengths; /* B of them, each in [0, S] */
    int lengths_cap;
    el_tensor proj;    /* (S, B, H): Ua k + b, W k, or k (directions summed) */
    el_tensor queries; /* (steps, B, H) */
    el_tensor weights; /* (steps, B, S) */
    el_tensor act;     /* additive: (steps, B, S, H), tanh(Wa q + Ua k) */
    el_tensor wq;      /* additive: (B, H), Wa q + b for the step running */
    el_tensor dwq;     /* additive: (steps, B, H), the gradient of Wa q */
    el_tensor dproj;   /* (S, B, H), summed over the steps */
    el_tensor dkeys;   /* (S, B, K), the contexts' direct share, summed */
    el_tensor score;   /* (B, S): one step's scores, or its weights' gradient */
};

el_status el_attention_layer_init(el_attention_layer *a, const char *name, el_attention kind,
                                  int query_size, int key_size, el_rng *rng)
{
    const char *fn = "el_attention_layer_init";
    EL_REQUIRE(a, fn);
    memset(a, 0, sizeof *a);
    if (kind <= EL_ATTENTION_NONE || kind > EL_ATTENTION_GENERAL)
        return el__fail(EL_ERR_INVALID, "%s: attention %d is none of additive, dot and general", fn,
                        (int)kind);
    if (query_size < 1 || key_size < 1)
        return el__fail(EL_ERR_INVALID, "%s: query size %d and key size %d must be positive", fn,
                        query_size, key_size);
    if (kind == EL_ATTENTION_DOT && key_size != query_size && key_size != 2 * query_size)
        return el__fail(EL_ERR_INVALID,
                        "%s: dot attention needs keys of the query's size %d or twice it, not %d",
                        fn, query_size, key_size);
    a->kind = kind;
    a->query_size = query_size;
    a->key_size = key_size;
    char part[128];
    const char *prefix = name && name[0] ? name : NULL;
    el_status s = EL_OK;
#define PART(p)                                                                                    \
    (snprintf(part, sizeof part, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", p), part)
    if (kind == EL_ATTENTION_ADDITIVE) {
        s = el_dense_init(&a->Wa, PART("Wa"), query_size, query_size, 1, rng);
        if (!s) s = el_dense_init(&a->Ua, PART("Ua"), key_size, query_size, 1, rng);
        if (!s) s = el_dense_init(&a->Va, PART("Va"), query_size, 1, 1, rng);
    } else if (kind == EL_ATTENTION_GENERAL) {
        s = el_dense_init(&a->W, PART("W"), key_size, query_size, 0, rng);
    }
#undef PART
    if (s) el_attention_layer_free(a);
    return s;
}

void el_attention_layer_free(el_attention_layer *a)
{
    if (!a) return;
    el_dense_free(&a->Wa);
    el_dense_free(&a->Ua);
    el_dense_free(&a->Va);
    el_dense_free(&a->W);
}

el_status el_attention_layer_params(el_attention_layer *a, el_param_list *list)
{
    EL_REQUIRE(a, "el_attention_layer_params");
    el_status s = EL_OK;
    if (a->kind == EL_ATTENTION_ADDITIVE) {
        s = el_dense_params(&a->Wa, list);
        if (!s) s = el_dense_params(&a->Ua, list);
        if (!s) s = el_dense_params(&a->Va, list);
    } else if (a->kind == EL_ATTENTION_GENERAL) {
        s = el_dense_params(&a->W, list);
    }
    return s;
}

el_status el_attention_cache_create(el_attention_cache **out)
{
    EL_REQUIRE(out, "el_attention_cache_create");
    *out = el__alloc_zero(1, sizeof **out);
    return *out ? EL_OK : el__fail(EL_ERR_NOMEM, "el_attention_cache_create: out of memory");
}

void el_attention_cache_free(el_attention_cache *c)
{
    if (!c) return;
    el__free(c->lengths);
    el_tensor *t[] = {&c->proj, &c->queries, &c->weights, &c->act,  &c->wq,
                      &c->dwq,  &c->dproj,   &c->dkeys,   &c->score};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) el_tensor_free(t[i]);
    el__free(c);
}

/* ---- checks ------------------------------------------------------------ */

static el_status check_matrix(const char *fn, const char *what, const el_tensor *t, int rows,
                              int cols)
{
    if (t->ndim >= 2 && (int)el_tensor_rows(t) == rows && (int)el_tensor_cols(t) == cols)
        return EL_OK;
    char shape[64];
    return el__fail(EL_ERR_SHAPE, "%s: %s is %s, expected %dx%d", fn, what,
                    el_tensor_shape_string(t, shape, sizeof shape), rows, cols);
}

static el_status check_keys(const char *fn, const el_attention_layer *a,
                            const el_attention_cache *c, const el_tensor *keys)
{
    EL_REQUIRE(keys, fn);
    if (keys->ndim == 3 && keys->shape[0] == c->S && keys->shape[1] == c->B &&
        keys->shape[2] == a->key_size)
        return EL_OK;
    char shape[64];
    return el__fail(EL_ERR_SHAPE, "%s: keys are %s, expected %dx%dx%d", fn,
                    el_tensor_shape_string(keys, shape, sizeof shape), c->S, c->B, a->key_size);
}

static el_status check_step(const char *fn, const el_attention_cache *c, int t)
{
    if (c->steps == 0) return el__fail(EL_ERR_STATE, "%s: no keys (el_attention_forward_keys)", fn);
    if (t < 0 || t >= c->steps)
        return el__fail(EL_ERR_INVALID, "%s: step %d outside the %d prepared", fn, t, c->steps);
    return EL_OK;
}

/* ---- forward ----------------------------------------------------------- */

el_status el_attention_forward_keys(const el_attention_layer *a, el_attention_cache *c,
                                    const el_tensor *keys, const int *lengths, int steps)
{
    const char *fn = "el_attention_forward_keys";
    EL_REQUIRE(a, fn);
    EL_REQUIRE(c, fn);
    EL_REQUIRE(keys, fn);
    if (keys->ndim != 3 || keys->shape[2] != a->key_size) {
        char shape[64];
        return el__fail(EL_ERR_SHAPE, "%s: keys are %s, expected (S, B, %d)", fn,
                        el_tensor_shape_string(keys, shape, sizeof shape), a->key_size);
    }
    if (steps < 1) return el__fail(EL_ERR_INVALID, "%s: %d steps", fn, steps);
    int S = keys->shape[0], B = keys->shape[1], H = a->query_size, K = a->key_size;
    for (int b = 0; lengths && b < B; b++)
        if (lengths[b] < 0 || lengths[b] > S)
            return el__fail(EL_ERR_INVALID, "%s: length %d of example %d outside [0, %d]", fn,
                            lengths[b], b, S);
    c->steps = 0;
    if (B > c->lengths_cap) {
        int *l = el__alloc((size_t)B * sizeof *l);
        if (!l) return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
        el__free(c->lengths);
        c->lengths = l;
        c->lengths_cap = B;
    }
    int additive = a->kind == EL_ATTENTION_ADDITIVE;
    el_status s = el__ensure3(&c->proj, S, B, H);
    if (!s) s = el__ensure3(&c->queries, steps, B, H);
    if (!s) s = el__ensure3(&c->weights, steps, B, S);
    if (!s && additive) s = el_tensor_ensure(&c->act, 4, (int[]){steps, B, S, H});
    if (!s && additive) s = el__ensure2(&c->wq, B, H);
    if (!s && additive) s = el__ensure3(&c->dwq, steps, B, H);
    if (!s) s = el__ensure3(&c->dproj, S, B, H);
    if (!s) s = el__ensure3(&c->dkeys, S, B, K);
    if (!s) s = el__ensure2(&c->score, B, S);
    if (s) return s;
    c->S = S, c->B = B, c->K = K, c->H = H, c->steps = steps;
    for (int b = 0; b < B; b++) c->lengths[b] = lengths ? lengths[b] : S;
    c->ran = 0;
    el_tensor_fill(&c->dproj, 0.0f);
    if (additive) el_tensor_fill(&c->dwq, 0.0f);
    el_tensor_fill(&c->dkeys, 0.0f);
    int rows = S * B;
    float *p = c->proj.data;
    if (a->kind == EL_ATTENTION_ADDITIVE || a->kind == EL_ATTENTION_GENERAL) {
        const el_dense *d = additive ? &a->Ua : &a->W;
        el__gemm_parallel(0, 1, rows, H, K, 1.0f, keys->data, K, d->weight.value.data, K, 0.0f, p,
                          H);
        if (additive)
            for (int r = 0; r < rows; r++)
                for (int h = 0; h < H; h++) p[(size_t)r * H + h] += d->bias.value.data[h];
    } else {
        for (int r = 0; r < rows; r++) {
            const float *k = keys->data + (size_t)r * K;
            for (int h = 0; h < H; h++) p[(size_t)r * H + h] = K == H ? k[h] : k[h] + k[H + h];
        }
    }
    return EL_OK;
}

/* Sums in LANES partial sums, which the compiler keeps in one vector
 * register (one running sum is a chain it cannot vectorise without
 * reassociating). */
#define LANES 16

static float lanes_sum(const float *acc)
{
    float sum = 0.0f;
    for (int j = 0; j < LANES; j++) sum += acc[j];
    return sum;
}

/* act = tanh(wq + p) over H, and its dot with va. */
EL__SIMD_CLONES
static float additive_score(int H, const float *restrict wq, const float *restrict p,
                            const float *restrict va, float *restrict act)
{
    float acc[LANES] = {0}, sum = 0.0f;
    int h = 0;
    for (; h + LANES <= H; h += LANES)
        for (int j = 0; j < LANES; j++) {
            float e = el__tanh(wq[h + j] + p[h + j]);
            act[h + j] = e;
            acc[j] += e * va[h + j];
        }
    for (; h < H; h++) {
        float e = el__tanh(wq[h] + p[h]);
        act[h] = e;
        sum += e * va[h];
    }
    return sum + lanes_sum(acc);
}

EL__SIMD_CLONES
static float dot(int n, const float *restrict x, const float *restrict y)
{
    float acc[LANES] = {0}, sum = 0.0f;
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) acc[j] += x[i + j] * y[i + j];
    for (; i < n; i++) sum += x[i] * y[i];
    return sum + lanes_sum(acc);
}

/* y += a x over n. */
EL__SIMD_CLONES
static void axpy(int n, float a, const float *restrict x, float *restrict y)
{
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* The softmax of score[0 .. len) into w, zeros from len to S. */
static void masked_softmax(const float *score, int len, int S, float *w)
{
    float top = -INFINITY;
    for (int s = 0; s < len; s++) top = score[s] > top ? score[s] : top;
    double total = 0.0;
    for (int s = 0; s < len; s++) {
        w[s] = expf(score[s] - top);
        total += w[s];
    }
    for (int s = 0; s < len; s++) w[s] = (float)(w[s] / total);
    for (int s = len; s < S; s++) w[s] = 0.0f;
}

el_status el_attention_forward_step(const el_attention_layer *a, el_attention_cache *c, int t,
                                    const el_tensor *keys, const el_tensor *query,
                                    el_tensor *context, el_tensor *weights)
{
    const char *fn = "el_attention_forward_step";
    EL_REQUIRE(a, fn);
    EL_REQUIRE(c, fn);
    EL_REQUIRE(query, fn);
    EL_REQUIRE(context, fn);
    el_status s = check_step(fn, c, t);
    if (!s) s = check_keys(fn, a, c, keys);
    if (!s) s = check_matrix(fn, "query", query, c->B, c->H);
    if (!s) s = el__size_output(fn, "context", context, 2, (int[]){c->B, c->K});
    if (!s && weights) s = el__size_output(fn, "weights", weights, 2, (int[]){c->B, c->S});
    if (s) return s;
    int S = c->S, B = c->B, H = c->H, K = c->K;
    float *q = c->queries.data + (size_t)t * B * H;
    c->ran = t + 1 > c->ran ? t + 1 : c->ran;
    memcpy(q, query->data, (size_t)B * H * sizeof(float));
    float *w_all = c->weights.data + (size_t)t * B * S;
    if (a->kind == EL_ATTENTION_ADDITIVE) {
        el__gemm(0, 1, B, H, H, 1.0f, q, H, a->Wa.weight.value.data, H, 0.0f, c->wq.data, H);
        const float *bw = a->Wa.bias.value.data, *va = a->Va.weight.value.data;
        float bv = a->Va.bias.value.data[0];
        for (int b = 0; b < B; b++) {
            float *wq = c->wq.data + (size_t)b * H;
            for (int h = 0; h < H; h++) wq[h] += bw[h];
            float *act = c->act.data + ((size_t)t * B + b) * S * H;
            for (int i = 0; i < c->lengths[b]; i++)
                c->score.data[(size_t)b * S + i] =
                    additive_score(H, wq, c->proj.data + ((size_t)i * B + b) * H, va,
                                   act + (size_t)i * H) +
                    bv;
        }
    } else {
        for (int b = 0; b < B; b++)
            for (int i = 0; i < c->lengths[b]; i++)
                c->score.data[(size_t)b * S + i] =
                    dot(H, q + (size_t)b * H, c->proj.data + ((size_t)i * B + b) * H);
    }
    for (int b = 0; b < B; b++) {
        float *w = w_all + (size_t)b * S, *ctx = context->data + (size_t)b * K;
        masked_softmax(c->score.data + (size_t)b * S, c->lengths[b], S, w);
        memset(ctx, 0, (size_t)K * sizeof(float));
        for (int i = 0; i < c->lengths[b]; i++)
            axpy(K, w[i], keys->data + ((size_t)i * B + b) * K, ctx);
    }
    if (weights) memcpy(weights->data, w_all, (size_t)B * S * sizeof(float));
    return EL_OK;
}

/* ---- backward ---------------------------------------------------------- */

/* dpre = ds va (1 - act^2), added to dp and dwq; dva += ds act. */
EL__SIMD_CLONES
static void additive_backward(int H, float ds, const float *restrict va, const float *restrict act,
                              float *restrict dva, float *restrict dp, float *restrict dwq)
{
    for (int h = 0; h < H; h++) {
        float e = act[h];
        float dpre = ds * va[h] * (1.0f - e * e);
        dva[h] += ds * e;
        dp[h] += dpre;
        dwq[h] += dpre;
    }
}

el_status el_attention_backward_step(el_attention_layer *a, el_attention_cache *c, int t,
                                     const el_tensor *keys, const el_tensor *dcontext,
                                     el_tensor *dquery)
{
    const char *fn = "el_attention_backward_step";
    EL_REQUIRE(a, fn);
    EL_REQUIRE(c, fn);
    EL_REQUIRE(dcontext, fn);
    EL_REQUIRE(dquery, fn);
    el_status s = check_step(fn, c, t);
    if (!s) s = check_keys(fn, a, c, keys);
    if (!s) s = check_matrix(fn, "dcontext", dcontext, c->B, c->K);
    if (!s) s = el__size_output(fn, "dquery", dquery, 2, (int[]){c->B, c->H});
    if (s) return s;
    int S = c->S, B = c->B, H = c->H, K = c->K;
    const float *q = c->queries.data + (size_t)t * B * H;
    const float *w_all = c->weights.data + (size_t)t * B * S;
    float *ds_all = c->score.data;
    /* The scores' gradient through the softmax; the keys' direct share. */
    for (int b = 0; b < B; b++) {
        const float *w = w_all + (size_t)b * S, *dctx = dcontext->data + (size_t)b * K;
        float *ds = ds_all + (size_t)b * S;
        double sum = 0.0;
        for (int i = 0; i < c->lengths[b]; i++) {
            size_t row = (size_t)i * B + b;
            ds[i] = dot(K, dctx, keys->data + row * K);
            sum += (double)w[i] * ds[i];
            axpy(K, w[i], dctx, c->dkeys.data + row * K);
        }
        for (int i = 0; i < c->lengths[b]; i++) ds[i] = w[i] * (float)(ds[i] - sum);
    }
    float *dq = dquery->data;
    if (a->kind == EL_ATTENTION_ADDITIVE) {
        float *dwq = c->dwq.data + (size_t)t * B * H;
        memset(dwq, 0, (size_t)B * H * sizeof(float));
        const float *va = a->Va.weight.value.data;
        float *dva = a->Va.weight.grad.data;
        double dbv = 0.0;
        for (int b = 0; b < B; b++) {
            const float *act = c->act.data + ((size_t)t * B + b) * S * H;
            for (int i = 0; i < c->lengths[b]; i++) {
                float ds = ds_all[(size_t)b * S + i];
                dbv += ds;
                additive_backward(H, ds, va, act + (size_t)i * H, dva,
                                  c->dproj.data + ((size_t)i * B + b) * H, dwq + (size_t)b * H);
            }
        }
        a->Va.bias.grad.data[0] += (float)dbv;
        el__gemm(0, 0, B, H, H, 1.0f, dwq, H, a->Wa.weight.value.data, H, 0.0f, dq, H);
    } else {
        memset(dq, 0, (size_t)B * H * sizeof(float));
        for (int b = 0; b < B; b++)
            for (int i = 0; i < c->lengths[b]; i++) {
                size_t row = (size_t)i * B + b;
                float ds = ds_all[(size_t)b * S + i];
                axpy(H, ds, c->proj.data + row * H, dq + (size_t)b * H);
                axpy(H, ds, q + (size_t)b * H, c->dproj.data + row * H);
            }
    }
    return EL_OK;
}

/* bias += the column sums of x (rows x n). */
static void add_column_sums(float *bias, const float *x, int rows, int n)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < n; j++) bias[j] += x[(size_t)r * n + j];
}

el_status el_attention_backward_keys(el_attention_layer *a, el_attention_cache *c,
                                     const el_tensor *keys, el_tensor *dkeys)
{
    const char *fn = "el_attention_backward_keys";
    EL_REQUIRE(a, fn);
    EL_REQUIRE(c, fn);
    EL_REQUIRE(dkeys, fn);
    el_status s = c->steps ? EL_OK : check_step(fn, c, 0);
    if (!s) s = check_keys(fn, a, c, keys);
    if (!s) s = el__size_output(fn, "dkeys", dkeys, 3, (int[]){c->S, c->B, c->K});
    if (s) return s;
    int rows = c->S * c->B, H = c->H, K = c->K;
    memcpy(dkeys->data, c->dkeys.data, (size_t)rows * K * sizeof(float));
    const float *dp = c->dproj.data;
    if (a->kind == EL_ATTENTION_ADDITIVE) {
        int n = c->ran * c->B;
        el__gemm_parallel(1, 0, H, H, n, 1.0f, c->dwq.data, H, c->queries.data, H, 1.0f,
                          a->Wa.weight.grad.data, H);
        add_column_sums(a->Wa.bias.grad.data, c->dwq.data, n, H);
        add_column_sums(a->Ua.bias.grad.data, dp, rows, H);
    }
    if (a->kind == EL_ATTENTION_ADDITIVE || a->kind == EL_ATTENTION_GENERAL) {
        el_dense *d = a->kind == EL_ATTENTION_ADDITIVE ? &a->Ua : &a->W;
        el__gemm_parallel(1, 0, H, K, rows, 1.0f, dp, H, keys->data, K, 1.0f, d->weight.grad.data,
                          K);
        el__gemm_parallel(0, 0, rows, K, H, 1.0f, dp, H, d->weight.value.data, K, 1.0f, dkeys->data,
                          K);
    } else {
        for (int r = 0; r < rows; r++)
            for (int half = 0; half < K / H; half++)
                for (int h = 0; h < H; h++)
                    dkeys->data[(size_t)r * K + half * H + h] += dp[(size_t)r * H + h];
    }
    return EL_OK;
}
