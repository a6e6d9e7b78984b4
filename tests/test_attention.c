/* The attention layer (include/elman/attention.h) against PyTorch
 * (tests/fixtures/attention.txt, tools/make_attention_fixtures.py) and
 * against finite differences, with the padded source steps masked, and an
 * example of no source at all. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "gradcheck.h"
#include "support.h"

#define RTOL 1e-5
#define ATOL 1e-6

enum { MAX_BATCH = 8 };

/* One layer driven over T decoder steps: every step's query, context and
 * weights, and the loss sum(context dcontext) the finite differences take. */
typedef struct att_case {
    el_attention_layer layer;
    el_attention_cache *cache;
    el_param_list params;
    int S, B, T, K, H;
    int lengths[MAX_BATCH];
    el_tensor keys, queries, dcontext; /* (S, B, K), (T, B, H), (T, B, K) */
    el_tensor context, weights;        /* (T, B, K), (T, B, S) */
    el_tensor dqueries, dkeys;         /* (T, B, H), (S, B, K) */
} att_case;

static void case_init(att_case *c, el_attention kind, int S, int B, int T, int H, int K,
                      el_rng *rng)
{
    memset(c, 0, sizeof *c);
    c->S = S, c->B = B, c->T = T, c->H = H, c->K = K;
    EL_TEST_OK(el_attention_layer_init(&c->layer, NULL, kind, H, K, rng));
    EL_TEST_OK(el_attention_layer_params(&c->layer, &c->params));
    EL_TEST_OK(el_attention_cache_create(&c->cache));
    EL_TEST_OK(el_tensor_alloc(&c->keys, 3, (int[]){S, B, K}));
    EL_TEST_OK(el_tensor_alloc(&c->queries, 3, (int[]){T, B, H}));
    EL_TEST_OK(el_tensor_alloc(&c->dcontext, 3, (int[]){T, B, K}));
    EL_TEST_OK(el_tensor_alloc(&c->context, 3, (int[]){T, B, K}));
    EL_TEST_OK(el_tensor_alloc(&c->weights, 3, (int[]){T, B, S}));
    EL_TEST_OK(el_tensor_alloc(&c->dqueries, 3, (int[]){T, B, H}));
    for (int b = 0; b < B; b++) c->lengths[b] = S;
}

static void case_free(att_case *c)
{
    el_tensor *t[] = {&c->keys,    &c->queries,  &c->dcontext, &c->context,
                      &c->weights, &c->dqueries, &c->dkeys};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) el_tensor_free(t[i]);
    el_attention_cache_free(c->cache);
    el_param_list_free(&c->params);
    el_attention_layer_free(&c->layer);
}

static el_tensor row_block(el_tensor *all, int t, int rows, int cols)
{
    el_tensor v;
    EL_TEST_OK(el_tensor_view(&v, all, (size_t)t * rows * cols, 2, (int[]){rows, cols}));
    return v;
}

static void run_forward(att_case *c)
{
    EL_TEST_OK(el_attention_forward_keys(&c->layer, c->cache, &c->keys, c->lengths, c->T));
    for (int t = 0; t < c->T; t++) {
        el_tensor q = row_block(&c->queries, t, c->B, c->H);
        el_tensor ctx = row_block(&c->context, t, c->B, c->K);
        el_tensor w = row_block(&c->weights, t, c->B, c->S);
        EL_TEST_OK(el_attention_forward_step(&c->layer, c->cache, t, &c->keys, &q, &ctx, &w));
    }
}

static void run_backward(att_case *c)
{
    el_param_list_zero_grad(&c->params);
    for (int t = c->T - 1; t >= 0; t--) {
        el_tensor dctx = row_block(&c->dcontext, t, c->B, c->K);
        el_tensor dq = row_block(&c->dqueries, t, c->B, c->H);
        EL_TEST_OK(el_attention_backward_step(&c->layer, c->cache, t, &c->keys, &dctx, &dq));
    }
    EL_TEST_OK(el_attention_backward_keys(&c->layer, c->cache, &c->keys, &c->dkeys));
}

static double case_loss(void *ctx)
{
    att_case *c = ctx;
    run_forward(c);
    return el_test_weighted_sum(&c->dcontext, &c->context);
}

/* ---- PyTorch ----------------------------------------------------------- */

static void check_against_torch(el_attention kind, int key_size)
{
    char cfg[32], key[EL_FIXTURE_NAME_MAX];
    snprintf(cfg, sizeof cfg, "%s_k%d", el_attention_name(kind), key_size);
    el_fixture fx;
    el_fixture_load(&fx, "attention.txt");
    const el_fixture_array *keys = el_fixture_get(&fx, el_fixture_key(key, "%s.keys", cfg));
    const el_fixture_array *queries = el_fixture_get(&fx, el_fixture_key(key, "%s.queries", cfg));
    att_case c;
    case_init(&c, kind, keys->shape[0], keys->shape[1], queries->shape[0], queries->shape[2],
              key_size, NULL);
    memcpy(c.keys.data, keys->data, c.keys.size * sizeof(float));
    memcpy(c.queries.data, queries->data, c.queries.size * sizeof(float));
    el_fixture_ints(&fx, el_fixture_key(key, "%s.lengths", cfg), c.lengths, (size_t)c.B);
    const el_fixture_array *dctx = el_fixture_get(&fx, el_fixture_key(key, "%s.dcontext", cfg));
    memcpy(c.dcontext.data, dctx->data, c.dcontext.size * sizeof(float));
    for (int i = 0; i < c.params.count; i++) {
        el_param *p = c.params.items[i];
        const el_fixture_array *v = el_fixture_get(&fx, el_fixture_key(key, "%s.%s", cfg, p->name));
        cr_assert_eq(v->size, p->value.size, "%s", p->name);
        memcpy(p->value.data, v->data, v->size * sizeof(float));
    }
    run_forward(&c);
    run_backward(&c);
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.context", cfg), &c.context, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.weights", cfg), &c.weights, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.dqueries", cfg), &c.dqueries, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.dkeys", cfg), &c.dkeys, RTOL, ATOL);
    for (int i = 0; i < c.params.count; i++) {
        el_param *p = c.params.items[i];
        el_fixture_expect_tensor(&fx, el_fixture_key(key, "%s.d%s", cfg, p->name), &p->grad, RTOL,
                                 ATOL);
    }
    case_free(&c);
    el_fixture_free(&fx);
}

Test(attention, additive_matches_pytorch) { check_against_torch(EL_ATTENTION_ADDITIVE, 3); }
Test(attention, additive_over_two_directions_matches_pytorch)
{
    check_against_torch(EL_ATTENTION_ADDITIVE, 6);
}
Test(attention, dot_matches_pytorch) { check_against_torch(EL_ATTENTION_DOT, 3); }
Test(attention, dot_over_two_directions_matches_pytorch)
{
    check_against_torch(EL_ATTENTION_DOT, 6);
}
Test(attention, general_matches_pytorch) { check_against_torch(EL_ATTENTION_GENERAL, 3); }
Test(attention, general_over_two_directions_matches_pytorch)
{
    check_against_torch(EL_ATTENTION_GENERAL, 6);
}

/* ---- finite differences ------------------------------------------------ */

static void fill_normal(el_tensor *t, el_rng *rng)
{
    for (size_t i = 0; i < t->size; i++) t->data[i] = (float)el_rng_normal(rng);
}

static void check_gradients(el_attention kind, int key_size)
{
    el_rng rng;
    el_rng_seed(&rng, 40 + (unsigned)kind * 7 + (unsigned)key_size);
    att_case c;
    case_init(&c, kind, 5, 3, 3, 4, key_size, &rng);
    c.lengths[0] = 5, c.lengths[1] = 2, c.lengths[2] = 3;
    fill_normal(&c.keys, &rng);
    fill_normal(&c.queries, &rng);
    fill_normal(&c.dcontext, &rng);
    run_forward(&c);
    run_backward(&c);
    const el_test_gradcheck_opts opts = {.eps = 1e-2, .tolerance = 1e-2, .floor = 1e-2};
    el_test_gradcheck("queries", case_loss, &c, &c.queries, &c.dqueries, &opts);
    el_test_gradcheck("keys", case_loss, &c, &c.keys, &c.dkeys, &opts);
    for (int i = 0; i < c.params.count; i++) {
        el_param *p = c.params.items[i];
        el_test_gradcheck(p->name, case_loss, &c, &p->value, &p->grad, &opts);
    }
    case_free(&c);
}

Test(attention, additive_gradients) { check_gradients(EL_ATTENTION_ADDITIVE, 4); }
Test(attention, additive_gradients_two_directions) { check_gradients(EL_ATTENTION_ADDITIVE, 8); }
Test(attention, dot_gradients) { check_gradients(EL_ATTENTION_DOT, 4); }
Test(attention, dot_gradients_two_directions) { check_gradients(EL_ATTENTION_DOT, 8); }
Test(attention, general_gradients) { check_gradients(EL_ATTENTION_GENERAL, 4); }
Test(attention, general_gradients_two_directions) { check_gradients(EL_ATTENTION_GENERAL, 8); }

/* ---- masking and contracts --------------------------------------------- */

/* An example with no source steps gets zero weights, a zero context and no
 * gradient, and no NaN anywhere; the padded steps of the others get weight
 * 0 and the rest sums to 1. */
Test(attention, an_empty_source_gives_zeros_not_nan)
{
    for (el_attention kind = EL_ATTENTION_ADDITIVE; kind <= EL_ATTENTION_GENERAL; kind++) {
        el_rng rng;
        el_rng_seed(&rng, 50);
        att_case c;
        case_init(&c, kind, 4, 3, 2, 3, 6, &rng);
        c.lengths[0] = 0, c.lengths[1] = 4, c.lengths[2] = 1;
        fill_normal(&c.keys, &rng);
        fill_normal(&c.queries, &rng);
        fill_normal(&c.dcontext, &rng);
        run_forward(&c);
        run_backward(&c);
        for (int t = 0; t < c.T; t++)
            for (int b = 0; b < c.B; b++) {
                const float *w = c.weights.data + ((size_t)t * c.B + b) * c.S;
                double sum = 0;
                for (int s = 0; s < c.S; s++) {
                    cr_assert(s < c.lengths[b] || w[s] == 0.0f, "a padded step has weight");
                    sum += w[s];
                }
                cr_assert_float_eq(sum, c.lengths[b] ? 1.0 : 0.0, 1e-6, "example %d: %g", b, sum);
                for (int k = 0; k < c.K; k++) {
                    float v = c.context.data[((size_t)t * c.B) * c.K + k];
                    cr_assert(v == 0.0f, "%s: the empty example's context is %g",
                              el_attention_name(kind), v);
                }
                for (int h = 0; h < c.H; h++)
                    cr_assert(c.dqueries.data[((size_t)t * c.B) * c.H + h] == 0.0f);
            }
        for (size_t i = 0; i < c.dkeys.size; i++) cr_assert(isfinite(c.dkeys.data[i]));
        for (int s = 0; s < c.S; s++)
            for (int k = 0; k < c.K; k++)
                cr_assert(c.dkeys.data[((size_t)s * c.B) * c.K + k] == 0.0f);
        for (int i = 0; i < c.params.count; i++)
            for (size_t j = 0; j < c.params.items[i]->grad.size; j++)
                cr_assert(isfinite(c.params.items[i]->grad.data[j]));
        case_free(&c);
    }
}

Test(attention, parameter_names_follow_the_tutorial)
{
    el_attention_layer a;
    EL_TEST_OK(el_attention_layer_init(&a, "decoder.attention", EL_ATTENTION_ADDITIVE, 4, 8, NULL));
    el_param_list list = {0};
    EL_TEST_OK(el_attention_layer_params(&a, &list));
    const char *names[] = {"decoder.attention.Wa.weight", "decoder.attention.Wa.bias",
                           "decoder.attention.Ua.weight", "decoder.attention.Ua.bias",
                           "decoder.attention.Va.weight", "decoder.attention.Va.bias"};
    cr_assert_eq(list.count, 6);
    for (int i = 0; i < 6; i++) cr_assert_str_eq(list.items[i]->name, names[i]);
    cr_assert_eq(list.items[2]->value.shape[1], 8, "Ua reads the keys");
    el_param_list_free(&list);
    el_attention_layer_free(&a);
    EL_TEST_OK(el_attention_layer_init(&a, "decoder.attention", EL_ATTENTION_GENERAL, 4, 8, NULL));
    EL_TEST_OK(el_attention_layer_params(&a, &list));
    cr_assert_eq(list.count, 1);
    cr_assert_str_eq(list.items[0]->name, "decoder.attention.W.weight");
    el_param_list_free(&list);
    el_attention_layer_free(&a);
    EL_TEST_OK(el_attention_layer_init(&a, "decoder.attention", EL_ATTENTION_DOT, 4, 8, NULL));
    EL_TEST_OK(el_attention_layer_params(&a, &list));
    cr_assert_eq(list.count, 0, "dot has no parameters");
    el_param_list_free(&list);
    el_attention_layer_free(&a);
}

Test(attention, refuses_bad_arguments)
{
    el_attention_layer a;
    EL_TEST_FAILS(el_attention_layer_init(&a, NULL, EL_ATTENTION_DOT, 4, 6, NULL), EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "twice"), "%s", el_last_error());
    EL_TEST_FAILS(el_attention_layer_init(&a, NULL, EL_ATTENTION_NONE, 4, 4, NULL), EL_ERR_INVALID);
    el_rng rng;
    el_rng_seed(&rng, 51);
    att_case c;
    case_init(&c, EL_ATTENTION_ADDITIVE, 4, 2, 2, 3, 3, &rng);
    el_tensor q = row_block(&c.queries, 0, c.B, c.H), ctx = {0};
    EL_TEST_FAILS(el_attention_forward_step(&c.layer, c.cache, 0, &c.keys, &q, &ctx, NULL),
                  EL_ERR_STATE);
    c.lengths[1] = 5;
    EL_TEST_FAILS(el_attention_forward_keys(&c.layer, c.cache, &c.keys, c.lengths, 2),
                  EL_ERR_INVALID);
    cr_assert(strstr(el_last_error(), "length 5 of example 1"), "%s", el_last_error());
    EL_TEST_OK(el_attention_forward_keys(&c.layer, c.cache, &c.keys, NULL, 2));
    EL_TEST_FAILS(el_attention_forward_step(&c.layer, c.cache, 2, &c.keys, &q, &ctx, NULL),
                  EL_ERR_INVALID);
    EL_TEST_FAILS(el_attention_forward_step(&c.layer, c.cache, 0, &c.keys, &c.queries, &ctx, NULL),
                  EL_ERR_SHAPE);
    EL_TEST_OK(el_attention_forward_step(&c.layer, c.cache, 0, &c.keys, &q, &ctx, NULL));
    cr_assert_eq(ctx.shape[0], 2);
    cr_assert_eq(ctx.shape[1], 3);
    el_tensor_free(&ctx);
    case_free(&c);
}
