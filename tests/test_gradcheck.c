/* Finite-difference checks of every backward function of the core: each
 * test writes the forward pass as the loss sum(w * y) (so dy = w), computes
 * the analytic gradient of every input and compares it with central
 * differences.  Shapes are small so that the tests stay quick under ASan.
 *
 * One file of over 700 lines: one test program for every operation's
 * finite-difference check, all on the same few helpers (random tensors, the
 * weighted-sum loss), so that no operation is left out of it. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#include "gradcheck.h"
#include "support.h"

/* A zero tensor of t's shape. */
static void alloc_like(el_tensor *out, const el_tensor *t)
{
    EL_TEST_OK(el_tensor_alloc(out, t->ndim, t->shape));
}

/* A random tensor of t's shape, as the loss weights w for an output t. */
static void random_like(el_tensor *out, el_rng *rng, const el_tensor *t)
{
    el_test_random_tensor(out, rng, t->ndim, t->shape, -1.0f, 1.0f);
}

static void free_all(el_tensor **tensors, int n)
{
    for (int i = 0; i < n; i++) el_tensor_free(tensors[i]);
}

/* ---- activations: y = f(x), backward from y ---------------------------- */

typedef el_status (*unary_forward)(const el_tensor *x, el_tensor *y);
typedef el_status (*unary_backward)(const el_tensor *y, const el_tensor *dy, el_tensor *dx);

typedef struct unary_case {
    unary_forward forward;
    el_tensor x, y, w;
} unary_case;

static double unary_loss(void *ctx)
{
    unary_case *c = ctx;
    EL_TEST_OK(c->forward(&c->x, &c->y));
    return el_test_weighted_sum(&c->w, &c->y);
}

/* Checks backward against forward at x (taken over and freed), and that the
 * documented in-place form dx == dy gives the same gradient. */
static void check_unary(const char *what, unary_forward forward, unary_backward backward,
                        el_tensor x, el_rng *rng)
{
    unary_case c = {.forward = forward, .x = x};
    el_tensor dx = {0}, in_place = {0};
    alloc_like(&c.y, &c.x);
    random_like(&c.w, rng, &c.y);
    alloc_like(&dx, &c.x);
    alloc_like(&in_place, &c.x);

    EL_TEST_OK(forward(&c.x, &c.y));
    EL_TEST_OK(backward(&c.y, &c.w, &dx));
    el_test_gradcheck(what, unary_loss, &c, &c.x, &dx, NULL);

    EL_TEST_OK(el_tensor_copy(&in_place, &c.w));
    EL_TEST_OK(backward(&c.y, &in_place, &in_place));
    el_test_assert_close(what, in_place.data, dx.data, dx.size, 0, 0);
    free_all((el_tensor *[]){&c.x, &c.y, &c.w, &dx, &in_place}, 5);
}

/* Uniform values with magnitude in [gap, gap + 1): a step of eps < gap never
 * crosses zero, where ReLU has its kink and no derivative. */
static el_tensor away_from_zero(el_rng *rng, int ndim, const int *shape, float gap)
{
    el_tensor t = {0};
    el_test_random_tensor(&t, rng, ndim, shape, -1.0f, 1.0f);
    for (size_t i = 0; i < t.size; i++) t.data[i] += copysignf(gap, t.data[i]);
    return t;
}

static el_tensor random_tensor(el_rng *rng, int ndim, const int *shape, float low, float high)
{
    el_tensor t = {0};
    el_test_random_tensor(&t, rng, ndim, shape, low, high);
    return t;
}

/* Three rows of five: ordinary values, values of +-20 and values near 100,
 * where exp overflows float32 unless the row maximum is subtracted first.
 * The large rows keep some entries close together so that their gradients
 * are not all vanishingly small. */
static el_tensor softmax_input(el_rng *rng)
{
    el_tensor x = random_tensor(rng, 2, (int[]){3, 5}, -2.0f, 2.0f);
    const float large[10] = {20, -20, 19.2f, 18.5f, -19.5f, 100, 99.3f, -100, 98.8f, 99.9f};
    for (int j = 0; j < 10; j++) x.data[5 + j] = large[j];
    return x;
}

Test(gradcheck, relu)
{
    el_rng rng;
    el_rng_seed(&rng, 11);
    check_unary("relu", el_relu_forward, el_relu_backward,
                away_from_zero(&rng, 2, (int[]){4, 6}, 0.1f), &rng);
}

Test(gradcheck, sigmoid)
{
    el_rng rng;
    el_rng_seed(&rng, 12);
    check_unary("sigmoid", el_sigmoid_forward, el_sigmoid_backward,
                random_tensor(&rng, 2, (int[]){4, 6}, -4.0f, 4.0f), &rng);
}

Test(gradcheck, tanh)
{
    el_rng rng;
    el_rng_seed(&rng, 13);
    check_unary("tanh", el_tanh_forward, el_tanh_backward,
                random_tensor(&rng, 3, (int[]){2, 3, 4}, -2.5f, 2.5f), &rng);
}

Test(gradcheck, softmax)
{
    el_rng rng;
    el_rng_seed(&rng, 14);
    check_unary("softmax", el_softmax_forward, el_softmax_backward, softmax_input(&rng), &rng);
}

Test(gradcheck, log_softmax)
{
    el_rng rng;
    el_rng_seed(&rng, 15);
    check_unary("log_softmax", el_log_softmax_forward, el_log_softmax_backward, softmax_input(&rng),
                &rng);
}

/* ---- matrix product ----------------------------------------------------- */

typedef struct matmul_case {
    el_tensor a, b, c, w;
    el_transpose trans_a, trans_b;
    float alpha;
} matmul_case;

static double matmul_loss(void *ctx)
{
    matmul_case *m = ctx;
    EL_TEST_OK(el_matmul(&m->a, m->trans_a, &m->b, m->trans_b, &m->c, m->alpha, 0.0f));
    return el_test_weighted_sum(&m->w, &m->c);
}

/* op(A) is 3x4 and op(B) 4x5; a transposed operand is stored transposed. */
static void check_matmul(el_transpose trans_a, el_transpose trans_b, float alpha)
{
    enum { M = 3, K = 4, N = 5 };
    el_rng rng;
    el_rng_seed(&rng, 20 + 2 * trans_a + trans_b);
    matmul_case m = {.trans_a = trans_a, .trans_b = trans_b, .alpha = alpha};
    m.a = random_tensor(&rng, 2, trans_a ? (int[]){K, M} : (int[]){M, K}, -1.0f, 1.0f);
    m.b = random_tensor(&rng, 2, trans_b ? (int[]){N, K} : (int[]){K, N}, -1.0f, 1.0f);
    m.w = random_tensor(&rng, 2, (int[]){M, N}, -1.0f, 1.0f);
    EL_TEST_OK(el_tensor_alloc(&m.c, 2, (int[]){M, N}));
    el_tensor da = {0}, db = {0};
    alloc_like(&da, &m.a);
    alloc_like(&db, &m.b);

    EL_TEST_OK(el_matmul_backward(&m.a, trans_a, &m.b, trans_b, &m.w, &da, &db, alpha, 0.0f));
    char what[64];
    snprintf(what, sizeof what, "matmul %c%c alpha %g: dA", trans_a ? 'T' : 'N',
             trans_b ? 'T' : 'N', (double)alpha);
    el_test_gradcheck(what, matmul_loss, &m, &m.a, &da, NULL);
    snprintf(what, sizeof what, "matmul %c%c alpha %g: dB", trans_a ? 'T' : 'N',
             trans_b ? 'T' : 'N', (double)alpha);
    el_test_gradcheck(what, matmul_loss, &m, &m.b, &db, NULL);
    free_all((el_tensor *[]){&m.a, &m.b, &m.c, &m.w, &da, &db}, 6);
}

Test(gradcheck, matmul_nn)
{
    check_matmul(EL_NO_TRANS, EL_NO_TRANS, 1.0f);
    check_matmul(EL_NO_TRANS, EL_NO_TRANS, -0.75f);
}

Test(gradcheck, matmul_nt)
{
    check_matmul(EL_NO_TRANS, EL_TRANS, 1.0f);
    check_matmul(EL_NO_TRANS, EL_TRANS, 1.5f);
}

Test(gradcheck, matmul_tn)
{
    check_matmul(EL_TRANS, EL_NO_TRANS, 1.0f);
    check_matmul(EL_TRANS, EL_NO_TRANS, 0.5f);
}

Test(gradcheck, matmul_tt)
{
    check_matmul(EL_TRANS, EL_TRANS, 1.0f);
    check_matmul(EL_TRANS, EL_TRANS, -2.0f);
}

/* beta = 1 adds the gradient to what da and db hold. */
Test(gradcheck, matmul_backward_accumulates)
{
    el_rng rng;
    el_rng_seed(&rng, 25);
    el_tensor a = random_tensor(&rng, 2, (int[]){3, 4}, -1.0f, 1.0f);
    el_tensor b = random_tensor(&rng, 2, (int[]){5, 4}, -1.0f, 1.0f);
    el_tensor dc = random_tensor(&rng, 2, (int[]){3, 5}, -1.0f, 1.0f);
    el_tensor da = random_tensor(&rng, 2, (int[]){3, 4}, -1.0f, 1.0f);
    el_tensor db = random_tensor(&rng, 2, (int[]){5, 4}, -1.0f, 1.0f);
    el_tensor da0 = {0}, db0 = {0}, want_a = {0}, want_b = {0};
    alloc_like(&da0, &a);
    alloc_like(&db0, &b);
    alloc_like(&want_a, &a);
    alloc_like(&want_b, &b);

    EL_TEST_OK(el_matmul_backward(&a, EL_NO_TRANS, &b, EL_TRANS, &dc, &da0, &db0, 0.5f, 0.0f));
    EL_TEST_OK(el_add(&da, &da0, &want_a));
    EL_TEST_OK(el_add(&db, &db0, &want_b));
    EL_TEST_OK(el_matmul_backward(&a, EL_NO_TRANS, &b, EL_TRANS, &dc, &da, &db, 0.5f, 1.0f));
    el_test_assert_close("dA accumulated", da.data, want_a.data, da.size, 1e-6, 1e-6);
    el_test_assert_close("dB accumulated", db.data, want_b.data, db.size, 1e-6, 1e-6);
    free_all((el_tensor *[]){&a, &b, &dc, &da, &db, &da0, &db0, &want_a, &want_b}, 9);
}

/* ---- element-wise operations ------------------------------------------- */

typedef el_status (*binary_op)(const el_tensor *a, const el_tensor *b, el_tensor *y);

typedef struct binary_case {
    binary_op op;
    el_tensor a, b, y, w, da, db;
} binary_case;

static double binary_loss(void *ctx)
{
    binary_case *c = ctx;
    EL_TEST_OK(c->op(&c->a, &c->b, &c->y));
    return el_test_weighted_sum(&c->w, &c->y);
}

static void binary_setup(binary_case *c, binary_op op, uint64_t seed)
{
    el_rng rng;
    el_rng_seed(&rng, seed);
    c->op = op;
    c->a = random_tensor(&rng, 2, (int[]){3, 4}, -2.0f, 2.0f);
    c->b = random_tensor(&rng, 2, (int[]){3, 4}, -2.0f, 2.0f);
    c->w = random_tensor(&rng, 2, (int[]){3, 4}, -1.0f, 1.0f);
    alloc_like(&c->y, &c->a);
    alloc_like(&c->da, &c->a);
    alloc_like(&c->db, &c->b);
}

static void binary_check(const char *name, binary_case *c)
{
    char what[64];
    snprintf(what, sizeof what, "%s: da", name);
    el_test_gradcheck(what, binary_loss, c, &c->a, &c->da, NULL);
    snprintf(what, sizeof what, "%s: db", name);
    el_test_gradcheck(what, binary_loss, c, &c->b, &c->db, NULL);
    free_all((el_tensor *[]){&c->a, &c->b, &c->y, &c->w, &c->da, &c->db}, 6);
}

/* y = a + b passes dy to both. */
Test(gradcheck, add)
{
    binary_case c = {0};
    binary_setup(&c, el_add, 30);
    EL_TEST_OK(el_tensor_copy(&c.da, &c.w));
    EL_TEST_OK(el_tensor_copy(&c.db, &c.w));
    binary_check("add", &c);
}

/* y = a - b passes dy to a and -dy to b. */
Test(gradcheck, sub)
{
    binary_case c = {0};
    binary_setup(&c, el_sub, 31);
    EL_TEST_OK(el_tensor_copy(&c.da, &c.w));
    EL_TEST_OK(el_scale(&c.w, -1.0f, &c.db));
    binary_check("sub", &c);
}

Test(gradcheck, mul)
{
    binary_case c = {0};
    binary_setup(&c, el_mul, 32);
    EL_TEST_OK(el_mul_backward(&c.a, &c.b, &c.w, &c.da, &c.db));
    binary_check("mul", &c);
}

typedef struct scale_case {
    el_tensor x, y, y0, w;
    float s;
} scale_case;

static double scale_loss(void *ctx)
{
    scale_case *c = ctx;
    EL_TEST_OK(el_scale(&c->x, c->s, &c->y));
    return el_test_weighted_sum(&c->w, &c->y);
}

/* el_axpy accumulates into y, so each evaluation starts again from y0. */
static double axpy_loss(void *ctx)
{
    scale_case *c = ctx;
    EL_TEST_OK(el_tensor_copy(&c->y, &c->y0));
    EL_TEST_OK(el_axpy(&c->y, c->s, &c->x));
    return el_test_weighted_sum(&c->w, &c->y);
}

static void scale_setup(scale_case *c, float s, uint64_t seed)
{
    el_rng rng;
    el_rng_seed(&rng, seed);
    c->s = s;
    c->x = random_tensor(&rng, 2, (int[]){4, 5}, -2.0f, 2.0f);
    c->y0 = random_tensor(&rng, 2, (int[]){4, 5}, -2.0f, 2.0f);
    c->w = random_tensor(&rng, 2, (int[]){4, 5}, -1.0f, 1.0f);
    alloc_like(&c->y, &c->x);
}

/* y = s x: dx = s dy. */
Test(gradcheck, scale)
{
    scale_case c = {0};
    scale_setup(&c, -1.75f, 33);
    el_tensor dx = {0};
    alloc_like(&dx, &c.x);
    EL_TEST_OK(el_scale(&c.w, c.s, &dx));
    el_test_gradcheck("scale: dx", scale_loss, &c, &c.x, &dx, NULL);
    free_all((el_tensor *[]){&c.x, &c.y, &c.y0, &c.w, &dx}, 5);
}

/* y = y0 + alpha x: dx = alpha dy and dy0 = dy. */
Test(gradcheck, axpy)
{
    scale_case c = {0};
    scale_setup(&c, 0.6f, 34);
    el_tensor dx = {0};
    alloc_like(&dx, &c.x);
    EL_TEST_OK(el_scale(&c.w, c.s, &dx));
    el_test_gradcheck("axpy: dx", axpy_loss, &c, &c.x, &dx, NULL);
    el_test_gradcheck("axpy: dy0", axpy_loss, &c, &c.y0, &c.w, NULL);
    free_all((el_tensor *[]){&c.x, &c.y, &c.y0, &c.w, &dx}, 5);
}

/* el_add_row and el_sum_rows are each other's gradient: y = x + bias on
 * every row has dbias = sum_rows(dy), and out = beta out0 + sum_rows(x) has
 * dx = dout added to every row and dout0 = beta dout. */
typedef struct rows_case {
    el_tensor x, y, bias, w;    /* the matrix side, (2, 3, 4) */
    el_tensor out, out0, w_out; /* the row side, (4) */
    float beta;
} rows_case;

static double add_row_loss(void *ctx)
{
    rows_case *c = ctx;
    EL_TEST_OK(el_tensor_copy(&c->y, &c->x));
    EL_TEST_OK(el_add_row(&c->y, &c->bias));
    return el_test_weighted_sum(&c->w, &c->y);
}

static double sum_rows_loss(void *ctx)
{
    rows_case *c = ctx;
    EL_TEST_OK(el_tensor_copy(&c->out, &c->out0));
    EL_TEST_OK(el_sum_rows(&c->x, &c->out, c->beta));
    return el_test_weighted_sum(&c->w_out, &c->out);
}

Test(gradcheck, add_row_sum_rows)
{
    el_rng rng;
    el_rng_seed(&rng, 35);
    rows_case c = {.beta = 0.5f};
    c.x = random_tensor(&rng, 3, (int[]){2, 3, 4}, -2.0f, 2.0f);
    c.w = random_tensor(&rng, 3, (int[]){2, 3, 4}, -1.0f, 1.0f);
    c.bias = random_tensor(&rng, 1, (int[]){4}, -1.0f, 1.0f);
    c.out0 = random_tensor(&rng, 1, (int[]){4}, -1.0f, 1.0f);
    c.w_out = random_tensor(&rng, 1, (int[]){4}, -1.0f, 1.0f);
    alloc_like(&c.y, &c.x);
    alloc_like(&c.out, &c.out0);
    el_tensor dbias = {0}, dx = {0}, dout0 = {0};
    alloc_like(&dbias, &c.bias);
    alloc_like(&dx, &c.x);
    alloc_like(&dout0, &c.out0);

    EL_TEST_OK(el_sum_rows(&c.w, &dbias, 0.0f));
    el_test_gradcheck("add_row: dbias", add_row_loss, &c, &c.bias, &dbias, NULL);
    el_test_gradcheck("add_row: dx", add_row_loss, &c, &c.x, &c.w, NULL);

    EL_TEST_OK(el_add_row(&dx, &c.w_out)); /* dx starts at zero */
    EL_TEST_OK(el_scale(&c.w_out, c.beta, &dout0));
    el_test_gradcheck("sum_rows: dx", sum_rows_loss, &c, &c.x, &dx, NULL);
    el_test_gradcheck("sum_rows: dout0", sum_rows_loss, &c, &c.out0, &dout0, NULL);
    free_all(
        (el_tensor *[]){&c.x, &c.y, &c.bias, &c.w, &c.out, &c.out0, &c.w_out, &dbias, &dx, &dout0},
        10);
}

/* The loss c * reduce(x) for a scalar upstream gradient c. */
typedef struct reduce_case {
    double (*reduce)(const el_tensor *x);
    el_tensor x;
    float c;
} reduce_case;

static double reduce_loss(void *ctx)
{
    reduce_case *r = ctx;
    return r->c * r->reduce(&r->x);
}

static void check_reduce(const char *what, double (*reduce)(const el_tensor *),
                         void (*backward)(el_tensor *, float), uint64_t seed)
{
    el_rng rng;
    el_rng_seed(&rng, seed);
    reduce_case r = {.reduce = reduce, .c = -1.3f};
    r.x = random_tensor(&rng, 3, (int[]){2, 3, 5}, -2.0f, 2.0f);
    el_tensor dx = {0};
    alloc_like(&dx, &r.x);
    backward(&dx, r.c);
    el_test_gradcheck(what, reduce_loss, &r, &r.x, &dx, NULL);
    free_all((el_tensor *[]){&r.x, &dx}, 2);
}

Test(gradcheck, sum) { check_reduce("sum: dx", el_sum, el_sum_backward, 36); }

Test(gradcheck, mean) { check_reduce("mean: dx", el_mean, el_mean_backward, 37); }

/* ---- dense layer -------------------------------------------------------- */

typedef struct dense_case {
    el_dense layer;
    el_tensor x, y, w;
} dense_case;

static double dense_loss(void *ctx)
{
    dense_case *d = ctx;
    EL_TEST_OK(el_dense_forward(&d->layer, &d->x, &d->y));
    return el_test_weighted_sum(&d->w, &d->y);
}

/* x is (2, 3, 4): leading dimensions are rows. */
static void dense_setup(dense_case *d, el_tensor *dx, int has_bias, uint64_t seed)
{
    el_rng rng;
    el_rng_seed(&rng, seed);
    EL_TEST_OK(el_dense_init(&d->layer, "fc", 4, 3, has_bias, &rng));
    d->x = random_tensor(&rng, 3, (int[]){2, 3, 4}, -1.5f, 1.5f);
    d->w = random_tensor(&rng, 3, (int[]){2, 3, 3}, -1.0f, 1.0f);
    alloc_like(&d->y, &d->w);
    alloc_like(dx, &d->x);
}

static void dense_free(dense_case *d, el_tensor *dx)
{
    el_dense_free(&d->layer);
    free_all((el_tensor *[]){&d->x, &d->y, &d->w, dx}, 4);
}

static void check_dense(int has_bias, uint64_t seed)
{
    dense_case d = {0};
    el_tensor dx = {0};
    dense_setup(&d, &dx, has_bias, seed);
    EL_TEST_OK(el_dense_forward(&d.layer, &d.x, &d.y));
    EL_TEST_OK(el_dense_backward(&d.layer, &d.x, &d.w, &dx));
    el_test_gradcheck("dense: dx", dense_loss, &d, &d.x, &dx, NULL);
    el_test_gradcheck("dense: dweight", dense_loss, &d, &d.layer.weight.value, &d.layer.weight.grad,
                      NULL);
    if (has_bias)
        el_test_gradcheck("dense: dbias", dense_loss, &d, &d.layer.bias.value, &d.layer.bias.grad,
                          NULL);
    dense_free(&d, &dx);
}

Test(gradcheck, dense) { check_dense(1, 40); }

Test(gradcheck, dense_without_bias) { check_dense(0, 41); }

/* ---- embedding ---------------------------------------------------------- */

typedef struct embedding_case {
    el_embedding layer;
    int ids[7];
    el_tensor y, w;
} embedding_case;

static double embedding_loss(void *ctx)
{
    embedding_case *e = ctx;
    EL_TEST_OK(el_embedding_forward(&e->layer, e->ids, 7, &e->y));
    return el_test_weighted_sum(&e->w, &e->y);
}

/* Id 3 appears three times, so its gradient row is a sum; id 0 is the
 * padding id, whose analytic gradient stays zero while its numeric one is
 * not: the check runs on the rows without it, through a view. */
Test(gradcheck, embedding)
{
    embedding_case e = {.ids = {3, 1, 3, 4, 0, 3, 2}};
    el_rng rng;
    el_rng_seed(&rng, 44);
    EL_TEST_OK(el_embedding_init(&e.layer, "emb", 5, 4, 0, &rng));
    e.w = random_tensor(&rng, 2, (int[]){7, 4}, -1.0f, 1.0f);
    EL_TEST_OK(el_embedding_forward(&e.layer, e.ids, 7, &e.y));
    EL_TEST_OK(el_embedding_backward(&e.layer, e.ids, 7, &e.w));
    for (int j = 0; j < 4; j++)
        cr_expect_eq(e.layer.weight.grad.data[j], 0.0f, "the padding row has no gradient");
    el_tensor rows = {0}, grads = {0};
    EL_TEST_OK(el_tensor_view(&rows, &e.layer.weight.value, 4, 2, (int[]){4, 4}));
    EL_TEST_OK(el_tensor_view(&grads, &e.layer.weight.grad, 4, 2, (int[]){4, 4}));
    el_test_gradcheck("embedding: dweight", embedding_loss, &e, &rows, &grads, NULL);
    el_embedding_free(&e.layer);
    free_all((el_tensor *[]){&e.y, &e.w}, 2);
}

/* Two backward calls with upstream gradients w1 and w2 leave in the
 * parameters the gradient of sum(w1 y) + sum(w2 y) = sum((w1 + w2) y), while
 * dx, overwritten, is the gradient of sum(w2 y) alone. */
Test(gradcheck, dense_accumulates_parameter_gradients)
{
    dense_case d = {0};
    el_tensor dx = {0}, w1 = {0}, w2 = {0};
    dense_setup(&d, &dx, 1, 42);
    el_rng rng;
    el_rng_seed(&rng, 43);
    random_like(&w1, &rng, &d.w);
    random_like(&w2, &rng, &d.w);

    EL_TEST_OK(el_dense_backward(&d.layer, &d.x, &w1, &dx));
    EL_TEST_OK(el_dense_backward(&d.layer, &d.x, &w2, &dx));
    EL_TEST_OK(el_add(&w1, &w2, &d.w));
    el_test_gradcheck("dense twice: dweight", dense_loss, &d, &d.layer.weight.value,
                      &d.layer.weight.grad, NULL);
    el_test_gradcheck("dense twice: dbias", dense_loss, &d, &d.layer.bias.value, &d.layer.bias.grad,
                      NULL);
    EL_TEST_OK(el_tensor_copy(&d.w, &w2));
    el_test_gradcheck("dense twice: dx", dense_loss, &d, &d.x, &dx, NULL);
    free_all((el_tensor *[]){&w1, &w2}, 2);
    dense_free(&d, &dx);
}

/* ---- dropout ------------------------------------------------------------ */

typedef struct dropout_case {
    el_dropout layer;
    el_rng start; /* the generator before the first forward call */
    el_tensor x, y, w, mask, first_mask;
} dropout_case;

/* Replays the generator from the same state, so that every evaluation draws
 * the mask of the first forward call (checked), as a backward pass assumes. */
static double dropout_loss(void *ctx)
{
    dropout_case *d = ctx;
    el_rng rng = d->start;
    el_tensor *mask = d->layer.training ? &d->mask : NULL;
    EL_TEST_OK(el_dropout_forward(&d->layer, &rng, &d->x, &d->y, mask));
    if (mask)
        el_test_assert_close("replayed mask", mask->data, d->first_mask.data, mask->size, 0, 0);
    return el_test_weighted_sum(&d->w, &d->y);
}

static void check_dropout(int training, uint64_t seed)
{
    dropout_case d = {.layer = {.p = 0.4f, .training = training}};
    el_rng_seed(&d.start, seed);
    el_rng rng = d.start;
    d.x = random_tensor(&rng, 2, (int[]){4, 5}, -2.0f, 2.0f);
    d.w = random_tensor(&rng, 2, (int[]){4, 5}, -1.0f, 1.0f);
    d.start = rng;
    alloc_like(&d.y, &d.x);
    alloc_like(&d.mask, &d.x);
    alloc_like(&d.first_mask, &d.x);
    el_tensor dx = {0};
    alloc_like(&dx, &d.x);

    EL_TEST_OK(el_dropout_forward(&d.layer, &rng, &d.x, &d.y, training ? &d.mask : NULL));
    EL_TEST_OK(el_tensor_copy(&d.first_mask, &d.mask));
    if (training) {
        /* Both kinds of element, or the check would miss half of backward. */
        size_t dropped = 0;
        for (size_t i = 0; i < d.mask.size; i++) dropped += d.mask.data[i] == 0;
        cr_assert(dropped > 0 && dropped < d.mask.size, "%zu of %zu dropped", dropped, d.mask.size);
    }
    EL_TEST_OK(el_dropout_backward(&d.layer, training ? &d.mask : NULL, &d.w, &dx));
    el_test_gradcheck(training ? "dropout (training): dx" : "dropout (evaluation): dx",
                      dropout_loss, &d, &d.x, &dx, NULL);
    free_all((el_tensor *[]){&d.x, &d.y, &d.w, &d.mask, &d.first_mask, &dx}, 6);
}

Test(gradcheck, dropout_training) { check_dropout(1, 50); }

Test(gradcheck, dropout_evaluation) { check_dropout(0, 51); }

/* ---- losses: the loss itself is the scalar ------------------------------ */

/* The losses come back rounded to float32 after float32 arithmetic, which
 * puts noise of about 1e-5 into each central difference, while their mean
 * gradients can be as small as 1e-3: a floor of 1e-2 keeps that noise from
 * reading as a relative error, and a wrong gradient of such an element is
 * still caught. */
static const el_test_gradcheck_opts loss_opts = {.eps = 1e-2, .tolerance = 1e-2, .floor = 1e-2};

typedef struct loss_case {
    el_tensor input, target;
    const int *classes;
    const float *weights;
    int ignore_index;
} loss_case;

static double mse_loss(void *ctx)
{
    loss_case *c = ctx;
    float loss;
    EL_TEST_OK(el_mse_loss(&c->input, &c->target, &loss, NULL));
    return loss;
}

static double cross_entropy_loss(void *ctx)
{
    loss_case *c = ctx;
    float loss;
    EL_TEST_OK(
        el_cross_entropy_loss(&c->input, c->classes, c->weights, c->ignore_index, &loss, NULL));
    return loss;
}

static double bce_loss(void *ctx)
{
    loss_case *c = ctx;
    float loss;
    EL_TEST_OK(el_bce_with_logits_loss(&c->input, &c->target, c->weights, &loss, NULL));
    return loss;
}

Test(gradcheck, mse_loss)
{
    el_rng rng;
    el_rng_seed(&rng, 60);
    loss_case c = {0};
    c.input = random_tensor(&rng, 2, (int[]){3, 4}, -2.0f, 2.0f);
    c.target = random_tensor(&rng, 2, (int[]){3, 4}, -2.0f, 2.0f);
    el_tensor grad = {0};
    alloc_like(&grad, &c.input);
    float loss;
    EL_TEST_OK(el_mse_loss(&c.input, &c.target, &loss, &grad));
    el_test_gradcheck("mse: dpred", mse_loss, &c, &c.input, &grad, &loss_opts);
    free_all((el_tensor *[]){&c.input, &c.target, &grad}, 3);
}

/* Five rows of four classes; the last row has logits of +-20. */
static void check_cross_entropy(const char *what, const int *classes, const float *weights,
                                int ignore_index, uint64_t seed)
{
    el_rng rng;
    el_rng_seed(&rng, seed);
    loss_case c = {.classes = classes, .weights = weights, .ignore_index = ignore_index};
    c.input = random_tensor(&rng, 2, (int[]){5, 4}, -3.0f, 3.0f);
    const float large[4] = {20, -20, 19.5f, -18};
    for (int j = 0; j < 4; j++) c.input.data[16 + j] = large[j];
    el_tensor grad = {0};
    alloc_like(&grad, &c.input);
    float loss;
    EL_TEST_OK(el_cross_entropy_loss(&c.input, classes, weights, ignore_index, &loss, &grad));
    el_test_gradcheck(what, cross_entropy_loss, &c, &c.input, &grad, &loss_opts);
    free_all((el_tensor *[]){&c.input, &grad}, 2);
}

Test(gradcheck, cross_entropy)
{
    check_cross_entropy("cross entropy: dlogits", (int[]){1, 0, 3, 2, 2}, NULL, EL_IGNORE_NONE, 61);
}

/* Ignored rows (padding, target -1) get a zero gradient from both sides. */
Test(gradcheck, cross_entropy_ignore_index)
{
    check_cross_entropy("cross entropy, ignored rows: dlogits", (int[]){1, -1, 3, -1, 0}, NULL, -1,
                        62);
}

Test(gradcheck, cross_entropy_weighted)
{
    check_cross_entropy("cross entropy, weighted: dlogits", (int[]){2, 1, -1, 0, 3},
                        (float[]){0.5f, 2.0f, 1.0f, 0.25f, 1.5f}, -1, 63);
}

static void check_bce(const char *what, const float *weights, uint64_t seed)
{
    el_rng rng;
    el_rng_seed(&rng, seed);
    loss_case c = {.weights = weights};
    c.input = random_tensor(&rng, 2, (int[]){3, 4}, -4.0f, 4.0f);
    c.target = random_tensor(&rng, 2, (int[]){3, 4}, 0.0f, 1.0f);
    c.input.data[0] = 20; /* far out on both sides: the stable form */
    c.input.data[1] = -20;
    el_tensor grad = {0};
    alloc_like(&grad, &c.input);
    float loss;
    EL_TEST_OK(el_bce_with_logits_loss(&c.input, &c.target, weights, &loss, &grad));
    el_test_gradcheck(what, bce_loss, &c, &c.input, &grad, &loss_opts);
    free_all((el_tensor *[]){&c.input, &c.target, &grad}, 3);
}

Test(gradcheck, bce_with_logits) { check_bce("bce: dlogits", NULL, 64); }

Test(gradcheck, bce_with_logits_weighted)
{
    check_bce("bce, weighted: dlogits",
              (float[]){0.5f, 2, 1, 0.25f, 1.5f, 1, 3, 0.75f, 1, 2, 0.1f, 1}, 65);
}

/* ---- the checker itself ------------------------------------------------- */

/* A wrong gradient must be caught, or every test above could pass vacuously:
 * a 5 % scale error everywhere, and a single wrong element, found by index. */
Test(gradcheck, checker_detects_wrong_gradients)
{
    el_rng rng;
    el_rng_seed(&rng, 70);
    unary_case c = {.forward = el_tanh_forward};
    c.x = random_tensor(&rng, 2, (int[]){3, 4}, -2.0f, 2.0f);
    random_like(&c.w, &rng, &c.x);
    el_tensor dx = {0};
    alloc_like(&c.y, &c.x);
    alloc_like(&dx, &c.x);
    EL_TEST_OK(el_tanh_forward(&c.x, &c.y));
    EL_TEST_OK(el_tanh_backward(&c.y, &c.w, &dx));
    el_test_gradcheck_opts opts = EL_TEST_GRADCHECK_DEFAULTS;

    el_test_gradcheck_result r = el_test_gradcheck_compare(unary_loss, &c, &c.x, &dx, NULL);
    cr_assert(r.deterministic && r.error < opts.tolerance, "the right gradient fails: %g", r.error);

    EL_TEST_OK(el_scale(&dx, 1.05f, &dx));
    r = el_test_gradcheck_compare(unary_loss, &c, &c.x, &dx, NULL);
    cr_assert_gt(r.error, opts.tolerance, "a gradient 5%% too large passes: %g", r.error);

    EL_TEST_OK(el_scale(&dx, 1 / 1.05f, &dx));
    dx.data[7] = -dx.data[7];
    r = el_test_gradcheck_compare(unary_loss, &c, &c.x, &dx, NULL);
    cr_assert(r.error > opts.tolerance && r.worst == 7,
              "a sign error in element 7 gives error %g at element %zu", r.error, r.worst);
    free_all((el_tensor *[]){&c.x, &c.y, &c.w, &dx}, 4);
}

/* A loss that does not come back to the same value (here one that counts
 * its calls, as dropout drawing a fresh mask would) is reported. */
typedef struct counting_case {
    el_tensor x;
    int calls;
} counting_case;

static double counting_loss(void *ctx)
{
    counting_case *c = ctx;
    return el_sum(&c->x) + 1e-3 * c->calls++;
}

Test(gradcheck, checker_detects_hidden_state)
{
    counting_case c = {0};
    EL_TEST_OK(el_tensor_alloc(&c.x, 1, (int[]){3}));
    el_tensor dx = {0};
    alloc_like(&dx, &c.x);
    el_sum_backward(&dx, 1.0f);
    el_test_gradcheck_result r = el_test_gradcheck_compare(counting_loss, &c, &c.x, &dx, NULL);
    cr_assert_not(r.deterministic, "a loss with hidden state was taken as deterministic");
    free_all((el_tensor *[]){&c.x, &dx}, 2);
}
