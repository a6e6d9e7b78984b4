/* The error discipline of the public API (status.h): a bad call returns a
 * status and leaves a message saying what and where, never crashes, writes
 * nothing on refusal, and an allocation failure anywhere comes back as
 * EL_ERR_NOMEM without leaking what was allocated before it.
 *
 * One file of over 700 lines: the error discipline of every public
 * function, side by side, so that one reading shows the same rule applied
 * everywhere. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "support.h"

/* Asserts the last message contains every one of the given strings. */
static void assert_message_has(const char *a, const char *b, const char *c)
{
    const char *parts[] = {a, b, c};
    for (int i = 0; i < 3; i++)
        cr_assert(parts[i] == NULL || strstr(el_last_error(), parts[i]) != NULL,
                  "message \"%s\" lacks \"%s\"", el_last_error(), parts[i]);
}

static el_tensor make(int ndim, const int *shape, float value)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, ndim, shape));
    el_tensor_fill(&t, value);
    return t;
}

/* A tensor over the caller's memory (capacity 0), which cannot be resized. */
static el_tensor wrap(float *data, int ndim, const int *shape)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_wrap(&t, data, ndim, shape));
    return t;
}

/* Asserts every element of t still holds value: a refused call wrote nothing. */
static void assert_untouched(const el_tensor *t, float value, const char *what)
{
    for (size_t i = 0; i < t->size; i++)
        cr_assert_eq(t->data[i], value, "%s: element %zu was written (%g)", what, i, t->data[i]);
}

/* ---- messages ---------------------------------------------------------- */

Test(errors, status_names)
{
    cr_assert_str_eq(el_status_name(EL_OK), "EL_OK");
    cr_assert_str_eq(el_status_name(EL_ERR_INVALID), "EL_ERR_INVALID");
    cr_assert_str_eq(el_status_name(EL_ERR_SHAPE), "EL_ERR_SHAPE");
    cr_assert_str_eq(el_status_name(EL_ERR_NOMEM), "EL_ERR_NOMEM");
    cr_assert_str_eq(el_status_name(EL_ERR_IO), "EL_ERR_IO");
    cr_assert_str_eq(el_status_name(EL_ERR_FORMAT), "EL_ERR_FORMAT");
    cr_assert_str_eq(el_status_name(EL_ERR_STATE), "EL_ERR_STATE");
    cr_assert_not_null(el_status_name((el_status)99), "an unknown status still has a name");
}

Test(errors, last_error_keeps_the_latest_failure_until_cleared)
{
    el_tensor t = {0};
    el_clear_error();
    cr_assert_str_eq(el_last_error(), "");
    EL_TEST_FAILS(el_tensor_alloc(&t, 0, (int[]){1}), EL_ERR_INVALID);
    assert_message_has("el_tensor_alloc", NULL, NULL);

    /* A success does not erase the message of the last failure. */
    EL_TEST_OK(el_tensor_alloc(&t, 1, (int[]){2}));
    assert_message_has("el_tensor_alloc", NULL, NULL);

    EL_TEST_FAILS(el_tensor_reshape(&t, 1, (int[]){3}), EL_ERR_SHAPE);
    assert_message_has("el_tensor_reshape", NULL, NULL);
    cr_assert_null(strstr(el_last_error(), "el_tensor_alloc"), "the newer failure replaces it");

    el_clear_error();
    cr_assert_str_eq(el_last_error(), "");
    el_tensor_free(&t);
}

static void *fail_in_thread(void *message_out)
{
    el_tensor t = {0};
    el_tensor_alloc(&t, 9, (int[]){1});
    strncpy(message_out, el_last_error(), 255);
    return NULL;
}

/* Messages are per thread (status.h): another thread's failure is not ours. */
Test(errors, messages_are_per_thread)
{
    char theirs[256] = {0};
    el_clear_error();
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, fail_in_thread, theirs), 0);
    cr_assert_eq(pthread_join(thread, NULL), 0);
    cr_assert(strstr(theirs, "el_tensor_alloc") != NULL, "the thread saw \"%s\"", theirs);
    cr_assert_str_eq(el_last_error(), "", "this thread's message changed");
}

/* ---- shape mismatches -------------------------------------------------- */

Test(errors, matmul_inner_mismatch_names_both_shapes)
{
    el_tensor a = make(2, (int[]){3, 4}, 1), b = make(2, (int[]){5, 2}, 1);
    el_tensor c = make(2, (int[]){3, 2}, 7);
    EL_TEST_FAILS(el_matmul(&a, EL_NO_TRANS, &b, EL_NO_TRANS, &c, 1, 0), EL_ERR_SHAPE);
    assert_message_has("el_matmul", "3x4", "5x2");
    assert_untouched(&c, 7, "C");

    /* The message gives op(A) and op(B), the shapes the caller multiplies. */
    el_tensor at = make(2, (int[]){4, 3}, 1), bt = make(2, (int[]){2, 5}, 1);
    EL_TEST_FAILS(el_matmul(&at, EL_TRANS, &bt, EL_TRANS, &c, 1, 0), EL_ERR_SHAPE);
    assert_message_has("el_matmul", "3x4", "5x2");
    assert_untouched(&c, 7, "C");

    el_tensor_free(&a);
    el_tensor_free(&b);
    el_tensor_free(&c);
    el_tensor_free(&at);
    el_tensor_free(&bt);
}

Test(errors, matmul_output_mismatch_names_both_shapes)
{
    el_tensor a = make(2, (int[]){3, 4}, 1), b = make(2, (int[]){4, 2}, 1);
    float memory[6] = {7, 7, 7, 7, 7, 7};
    el_tensor c = wrap(memory, 2, (int[]){2, 3});
    EL_TEST_FAILS(el_matmul(&a, EL_NO_TRANS, &b, EL_NO_TRANS, &c, 1, 0), EL_ERR_SHAPE);
    assert_message_has("el_matmul", "2x3", "view cannot be resized");
    assert_untouched(&c, 7, "C");

    /* With beta != 0, C is read, so even an owned C must have the shape. */
    el_tensor owned = make(2, (int[]){2, 3}, 7);
    EL_TEST_FAILS(el_matmul(&a, EL_NO_TRANS, &b, EL_NO_TRANS, &owned, 1, 1), EL_ERR_SHAPE);
    assert_message_has("el_matmul", "2x3", "3x2");
    assert_untouched(&owned, 7, "C");
    el_tensor_free(&owned);

    el_tensor dc = make(2, (int[]){3, 3}, 1), da = make(2, (int[]){3, 4}, 7);
    EL_TEST_FAILS(el_matmul_backward(&a, EL_NO_TRANS, &b, EL_NO_TRANS, &dc, &da, NULL, 1, 0),
                  EL_ERR_SHAPE);
    assert_message_has("el_matmul_backward", "3x3", "3x2");
    assert_untouched(&da, 7, "dA");

    el_tensor_free(&a);
    el_tensor_free(&b);
    el_tensor_free(&c);
    el_tensor_free(&dc);
    el_tensor_free(&da);
}

typedef el_status (*ternary_fn)(const el_tensor *, const el_tensor *, el_tensor *);

/* Element-wise functions of the form f(out, in1, in2): a size mismatch in any
 * position is refused with the function's name and the offending shape. */
Test(errors, elementwise_size_mismatch)
{
    static const struct {
        const char *name;
        ternary_fn fn;
    } ops[] = {
        {"el_add", el_add},
        {"el_sub", el_sub},
        {"el_mul", el_mul},
        {"el_relu_backward", el_relu_backward},
        {"el_sigmoid_backward", el_sigmoid_backward},
        {"el_tanh_backward", el_tanh_backward},
        {"el_softmax_backward", el_softmax_backward},
        {"el_log_softmax_backward", el_log_softmax_backward},
    };
    el_tensor good = make(2, (int[]){2, 3}, 0.5f), odd = make(2, (int[]){3, 3}, 0.5f);
    el_tensor out = make(2, (int[]){2, 3}, 7);
    float memory[9] = {7, 7, 7, 7, 7, 7, 7, 7, 7};
    el_tensor view = wrap(memory, 2, (int[]){3, 3});
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        cr_assert_eq(ops[i].fn(&good, &odd, &out), EL_ERR_SHAPE, "%s", ops[i].name);
        assert_message_has(ops[i].name, "3x3", NULL);
        cr_assert_eq(ops[i].fn(&odd, &good, &out), EL_ERR_SHAPE, "%s", ops[i].name);
        assert_message_has(ops[i].name, "3x3", NULL);
        /* An output of another shape sizes itself, unless it is a view. */
        cr_assert_eq(ops[i].fn(&good, &good, &view), EL_ERR_SHAPE, "%s", ops[i].name);
        assert_message_has(ops[i].name, "3x3", "view cannot be resized");
        assert_untouched(&out, 7, ops[i].name);
        assert_untouched(&view, 7, ops[i].name);
        assert_untouched(&odd, 0.5f, ops[i].name);
        el_tensor grown = make(1, (int[]){1}, 7);
        EL_TEST_OK(ops[i].fn(&good, &good, &grown));
        cr_assert(el_tensor_same_shape(&grown, &good), "%s: the output took the input's shape",
                  ops[i].name);
        el_tensor_free(&grown);
    }
    el_tensor_free(&good);
    el_tensor_free(&odd);
    el_tensor_free(&out);
}

typedef el_status (*unary_fn)(const el_tensor *, el_tensor *);

Test(errors, activation_forward_size_mismatch)
{
    static const struct {
        const char *name;
        unary_fn fn;
    } ops[] = {
        {"el_relu_forward", el_relu_forward},
        {"el_sigmoid_forward", el_sigmoid_forward},
        {"el_tanh_forward", el_tanh_forward},
        {"el_softmax_forward", el_softmax_forward},
        {"el_log_softmax_forward", el_log_softmax_forward},
    };
    float memory[5] = {7, 7, 7, 7, 7};
    el_tensor x = make(2, (int[]){2, 3}, 0.5f), y = wrap(memory, 1, (int[]){5});
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        cr_assert_eq(ops[i].fn(&x, &y), EL_ERR_SHAPE, "%s", ops[i].name);
        assert_message_has(ops[i].name, "2x3", "view cannot be resized");
        assert_untouched(&y, 7, ops[i].name);
    }
    /* el_tensor_copy writes into its object, which must have x's size. */
    el_tensor small = make(1, (int[]){5}, 7);
    cr_assert_eq(el_tensor_copy(&small, &x), EL_ERR_SHAPE);
    assert_message_has("el_tensor_copy", "2x3", NULL);
    assert_untouched(&small, 7, "el_tensor_copy");
    el_tensor_free(&small);
    el_tensor_free(&x);
    el_tensor_free(&y);
}

Test(errors, other_ops_size_mismatch)
{
    el_tensor x = make(2, (int[]){2, 3}, 1), y = make(2, (int[]){3, 2}, 1);
    el_tensor small = make(1, (int[]){4}, 7), bias = make(1, (int[]){2}, 7);
    float memory[4] = {7, 7, 7, 7};
    el_tensor view = wrap(memory, 1, (int[]){4});
    EL_TEST_FAILS(el_scale(&x, 2, &view), EL_ERR_SHAPE);
    assert_message_has("el_scale", "view cannot be resized", NULL);
    EL_TEST_FAILS(el_axpy(&small, 2, &x), EL_ERR_SHAPE);
    assert_message_has("el_axpy", NULL, NULL);
    /* add_row and sum_rows need the column count, not just the size. */
    EL_TEST_FAILS(el_add_row(&x, &bias), EL_ERR_SHAPE);
    assert_message_has("el_add_row", "3 columns", NULL);
    EL_TEST_FAILS(el_sum_rows(&x, &bias, 1), EL_ERR_SHAPE);
    assert_message_has("el_sum_rows", "3 columns", NULL);
    EL_TEST_FAILS(el_mul_backward(&x, &y, &x, &view, NULL), EL_ERR_SHAPE);
    assert_message_has("el_mul_backward", "view cannot be resized", NULL);
    EL_TEST_FAILS(el_mul_backward(&x, &small, &x, NULL, NULL), EL_ERR_SHAPE);
    assert_message_has("el_mul_backward", NULL, NULL);
    assert_untouched(&small, 7, "small");
    assert_untouched(&bias, 7, "bias");
    assert_untouched(&x, 1, "x");
    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&small);
    el_tensor_free(&bias);
}

/* A dense layer "fc", 3 -> 2, with seeded weights. */
static el_dense make_dense(void)
{
    el_rng rng;
    el_rng_seed(&rng, 3);
    el_dense fc;
    EL_TEST_OK(el_dense_init(&fc, "fc", 3, 2, 1, &rng));
    return fc;
}

Test(errors, dense_forward_shape_mismatch)
{
    el_dense fc = make_dense();
    el_tensor x = make(2, (int[]){5, 4}, 1), y = make(2, (int[]){5, 2}, 7);
    EL_TEST_FAILS(el_dense_forward(&fc, &x, &y), EL_ERR_SHAPE);
    assert_message_has("el_dense_forward", "fc.weight", "5x4");
    assert_untouched(&y, 7, "y");

    /* y sizes itself, unless it is a view. */
    float memory[15];
    for (int i = 0; i < 15; i++) memory[i] = 7;
    el_tensor x3 = make(2, (int[]){5, 3}, 1), y3 = wrap(memory, 2, (int[]){5, 3});
    EL_TEST_FAILS(el_dense_forward(&fc, &x3, &y3), EL_ERR_SHAPE);
    assert_message_has("5x3", "5x2", "view cannot be resized");
    assert_untouched(&y3, 7, "y");
    el_tensor grown = make(2, (int[]){5, 3}, 7);
    EL_TEST_OK(el_dense_forward(&fc, &x3, &grown));
    cr_assert(grown.ndim == 2 && grown.shape[0] == 5 && grown.shape[1] == 2);

    el_dense_free(&fc);
    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&x3);
    el_tensor_free(&grown);
}

/* An id out of range is refused before any row is copied or accumulated. */
Test(errors, embedding_id_out_of_range_touches_nothing)
{
    el_embedding emb;
    EL_TEST_OK(el_embedding_init(&emb, "emb", 4, 2, -1, NULL));
    el_tensor y = make(2, (int[]){3, 2}, 7), dy = make(2, (int[]){3, 2}, 1);
    EL_TEST_FAILS(el_embedding_forward(&emb, (int[]){1, 4, 0}, 3, &y), EL_ERR_INVALID);
    assert_message_has("el_embedding_forward", "id 4 at position 1", "emb.weight");
    assert_untouched(&y, 7, "y");
    EL_TEST_FAILS(el_embedding_backward(&emb, (int[]){1, 2, -1}, 3, &dy), EL_ERR_INVALID);
    assert_untouched(&emb.weight.grad, 0, "the weight gradient");
    el_embedding_free(&emb);
    EL_TEST_FAILS(el_embedding_init(&emb, "emb", 4, 2, 4, NULL), EL_ERR_INVALID);
    assert_message_has("padding id 4", NULL, NULL);
    el_tensor_free(&y);
    el_tensor_free(&dy);
}

Test(errors, dense_backward_shape_mismatch_accumulates_nothing)
{
    el_dense fc = make_dense();
    el_tensor x = make(2, (int[]){5, 3}, 1), wide = make(2, (int[]){5, 4}, 1);
    el_tensor dy = make(2, (int[]){5, 2}, 1), bad_dy = make(2, (int[]){5, 3}, 1);
    float memory[10] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
    el_tensor bad_dx = wrap(memory, 2, (int[]){5, 2});

    EL_TEST_FAILS(el_dense_backward(&fc, &wide, &dy, NULL), EL_ERR_SHAPE);
    assert_message_has("el_dense_backward", "fc.weight", "5x4");
    EL_TEST_FAILS(el_dense_backward(&fc, &x, &bad_dy, NULL), EL_ERR_SHAPE);
    assert_message_has("el_dense_backward", "5x3", "5x2");
    /* A wrong dx must be found before dW and db are accumulated: a caller
     * that fixes dx and retries would otherwise count the batch twice. */
    EL_TEST_FAILS(el_dense_backward(&fc, &x, &dy, &bad_dx), EL_ERR_SHAPE);
    assert_message_has("el_dense_backward", "view cannot be resized", NULL);
    assert_untouched(&bad_dx, 7, "dx");
    assert_untouched(&fc.weight.grad, 0, "fc.weight.grad");
    assert_untouched(&fc.bias.grad, 0, "fc.bias.grad");

    el_dense_free(&fc);
    el_tensor_free(&x);
    el_tensor_free(&wide);
    el_tensor_free(&dy);
    el_tensor_free(&bad_dy);
}

Test(errors, dense_init_refuses_bad_sizes)
{
    el_dense fc;
    EL_TEST_FAILS(el_dense_init(&fc, "fc", 0, 2, 1, NULL), EL_ERR_INVALID);
    assert_message_has("el_dense_init", NULL, NULL);
    cr_assert_null(fc.weight.value.data);
    EL_TEST_FAILS(el_dense_init(&fc, "fc", 3, -2, 1, NULL), EL_ERR_INVALID);
    cr_assert_null(fc.weight.value.data);
}

Test(errors, loss_shape_mismatch)
{
    el_tensor pred = make(2, (int[]){2, 3}, 1), target = make(1, (int[]){5}, 1);
    float memory[5] = {7, 7, 7, 7, 7};
    el_tensor grad = wrap(memory, 1, (int[]){5}), ok_target = make(2, (int[]){2, 3}, 0);
    float loss = -1;
    EL_TEST_FAILS(el_mse_loss(&pred, &target, &loss, NULL), EL_ERR_SHAPE);
    assert_message_has("el_mse_loss", "2x3", NULL);
    EL_TEST_FAILS(el_mse_loss(&pred, &ok_target, &loss, &grad), EL_ERR_SHAPE);
    assert_message_has("el_mse_loss", "dpred", "view cannot be resized");
    EL_TEST_FAILS(el_bce_with_logits_loss(&pred, &target, NULL, &loss, NULL), EL_ERR_SHAPE);
    assert_message_has("el_bce_with_logits_loss", NULL, NULL);
    EL_TEST_FAILS(el_bce_with_logits_loss(&pred, &ok_target, NULL, &loss, &grad), EL_ERR_SHAPE);
    EL_TEST_FAILS(el_cross_entropy_loss(&pred, (int[]){0, 1}, NULL, EL_IGNORE_NONE, &loss, &grad),
                  EL_ERR_SHAPE);
    assert_message_has("el_cross_entropy_loss", "dlogits", NULL);
    cr_assert_eq(loss, -1, "a refused loss is not written");
    assert_untouched(&grad, 7, "gradient");
    /* An owned gradient of another shape sizes itself. */
    el_tensor owned = make(1, (int[]){5}, 7);
    EL_TEST_OK(el_mse_loss(&pred, &ok_target, &loss, &owned));
    cr_assert(el_tensor_same_shape(&owned, &pred), "dpred took pred's shape");
    el_tensor_free(&owned);
    el_tensor_free(&pred);
    el_tensor_free(&target);
    el_tensor_free(&ok_target);
}

Test(errors, cross_entropy_target_out_of_range_names_the_row)
{
    el_tensor logits = make(2, (int[]){4, 3}, 0.25f), dlogits = make(2, (int[]){4, 3}, 7);
    float loss = -1;
    EL_TEST_FAILS(
        el_cross_entropy_loss(&logits, (int[]){0, 2, 3, 1}, NULL, EL_IGNORE_NONE, &loss, &dlogits),
        EL_ERR_INVALID);
    assert_message_has("el_cross_entropy_loss", "row 2", "3");
    EL_TEST_FAILS(
        el_cross_entropy_loss(&logits, (int[]){0, -1, 2, 1}, NULL, EL_IGNORE_NONE, &loss, &dlogits),
        EL_ERR_INVALID);
    assert_message_has("row 1", "-1", NULL);
    EL_TEST_FAILS(
        el_cross_entropy_loss(&logits, (int[]){0, 1, 2, 9}, NULL, EL_IGNORE_NONE, &loss, &dlogits),
        EL_ERR_INVALID);
    assert_message_has("row 3", NULL, NULL);
    cr_assert_eq(loss, -1);
    assert_untouched(&dlogits, 7, "dlogits");
    /* The same target is skipped, not refused, when it is ignore_index. */
    EL_TEST_OK(el_cross_entropy_loss(&logits, (int[]){0, 1, 2, 9}, NULL, 9, &loss, &dlogits));
    el_tensor_free(&logits);
    el_tensor_free(&dlogits);
}

Test(errors, other_bad_arguments)
{
    EL_TEST_FAILS(el_set_threads(0), EL_ERR_INVALID);
    assert_message_has("el_set_threads", NULL, NULL);
    EL_TEST_FAILS(el_set_threads(65), EL_ERR_INVALID);

    el_rng rng;
    el_rng_seed(&rng, 1);
    el_tensor x = make(1, (int[]){4}, 1), y = make(1, (int[]){4}, 7), mask = make(1, (int[]){4}, 7);
    const el_dropout bad_p[] = {
        {.p = -0.1f, .training = 1}, {.p = 1.5f, .training = 1}, {.p = NAN, .training = 0}};
    for (int i = 0; i < 3; i++) {
        EL_TEST_FAILS(el_dropout_forward(&bad_p[i], &rng, &x, &y, &mask), EL_ERR_INVALID);
        assert_message_has("el_dropout_forward", NULL, NULL);
    }
    float memory[3] = {7, 7, 7};
    el_tensor short_mask = wrap(memory, 1, (int[]){3});
    const el_dropout train = {.p = 0.5f, .training = 1};
    EL_TEST_FAILS(el_dropout_forward(&train, &rng, &x, &y, &short_mask), EL_ERR_SHAPE);
    assert_message_has("el_dropout_forward", "mask", "view cannot be resized");
    EL_TEST_FAILS(el_dropout_backward(&train, &short_mask, &x, &y), EL_ERR_SHAPE);
    assert_untouched(&y, 7, "y");
    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&mask);
}

/* ---- NULL arguments ---------------------------------------------------- */

/* Asserts that a call refused a NULL argument with EL_ERR_INVALID and a
 * message naming fn; fn is NULL where the message names a callee instead
 * (el_dense_params reports el_param_list_add's). */
static void check_refused(el_status status, const char *call, const char *fn)
{
    cr_assert_eq(status, EL_ERR_INVALID, "%s returned %s", call, el_status_name(status));
    cr_assert(el_last_error()[0] != '\0', "%s left no message", call);
    if (fn)
        cr_assert(strstr(el_last_error(), fn) != NULL, "%s: message \"%s\" does not name %s", call,
                  el_last_error(), fn);
}

#define EXPECT_NULL_REFUSED(call, fn) (el_clear_error(), check_refused((call), #call, (fn)))

Test(errors, null_tensor_arguments)
{
    int shape[] = {2, 3};
    float buffer[6] = {0};
    el_tensor t = make(2, shape, 1), e = {0};
    EXPECT_NULL_REFUSED(el_tensor_alloc(NULL, 2, shape), "el_tensor_alloc");
    EXPECT_NULL_REFUSED(el_tensor_alloc(&e, 2, NULL), "el_tensor_alloc");
    EXPECT_NULL_REFUSED(el_tensor_ensure(NULL, 2, shape), "el_tensor_ensure");
    EXPECT_NULL_REFUSED(el_tensor_ensure(&e, 2, NULL), "el_tensor_ensure");
    EXPECT_NULL_REFUSED(el_tensor_view(NULL, &t, 0, 2, shape), "el_tensor_view");
    EXPECT_NULL_REFUSED(el_tensor_view(&e, NULL, 0, 2, shape), "el_tensor_view");
    EXPECT_NULL_REFUSED(el_tensor_view(&e, &t, 0, 2, NULL), "el_tensor_view");
    EXPECT_NULL_REFUSED(el_tensor_wrap(NULL, buffer, 2, shape), "el_tensor_wrap");
    EXPECT_NULL_REFUSED(el_tensor_wrap(&e, buffer, 2, NULL), "el_tensor_wrap");
    EXPECT_NULL_REFUSED(el_tensor_reshape(NULL, 2, shape), "el_tensor_reshape");
    EXPECT_NULL_REFUSED(el_tensor_reshape(&t, 2, NULL), "el_tensor_reshape");
    EXPECT_NULL_REFUSED(el_tensor_copy(NULL, &t), "el_tensor_copy");
    EXPECT_NULL_REFUSED(el_tensor_copy(&t, NULL), "el_tensor_copy");
    cr_assert_null(e.data);
    el_tensor_free(&t);
}

Test(errors, null_ops_arguments)
{
    el_tensor a = make(2, (int[]){2, 2}, 1), b = make(2, (int[]){2, 2}, 1);
    el_tensor c = make(2, (int[]){2, 2}, 1), row = make(1, (int[]){2}, 1);
    EXPECT_NULL_REFUSED(el_matmul(&a, EL_NO_TRANS, &b, EL_NO_TRANS, NULL, 1, 0), "el_matmul");
    EXPECT_NULL_REFUSED(el_matmul(NULL, EL_NO_TRANS, &b, EL_NO_TRANS, &c, 1, 0), "el_matmul");
    EXPECT_NULL_REFUSED(el_matmul(&a, EL_NO_TRANS, NULL, EL_NO_TRANS, &c, 1, 0), "el_matmul");
    EXPECT_NULL_REFUSED(el_matmul_backward(NULL, EL_NO_TRANS, &b, EL_NO_TRANS, &c, &c, &c, 1, 0),
                        "el_matmul_backward");
    EXPECT_NULL_REFUSED(el_matmul_backward(&a, EL_NO_TRANS, NULL, EL_NO_TRANS, &c, &c, &c, 1, 0),
                        "el_matmul_backward");
    EXPECT_NULL_REFUSED(el_matmul_backward(&a, EL_NO_TRANS, &b, EL_NO_TRANS, NULL, &c, &c, 1, 0),
                        "el_matmul_backward");
    ternary_fn binary[] = {el_add, el_sub, el_mul};
    for (int i = 0; i < 3; i++) {
        EXPECT_NULL_REFUSED(binary[i](NULL, &a, &c), NULL);
        EXPECT_NULL_REFUSED(binary[i](&a, NULL, &c), NULL);
        EXPECT_NULL_REFUSED(binary[i](&a, &b, NULL), NULL);
    }
    EXPECT_NULL_REFUSED(el_mul_backward(NULL, &b, &c, &c, &c), "el_mul_backward");
    EXPECT_NULL_REFUSED(el_mul_backward(&a, NULL, &c, &c, &c), "el_mul_backward");
    EXPECT_NULL_REFUSED(el_mul_backward(&a, &b, NULL, &c, &c), "el_mul_backward");
    EXPECT_NULL_REFUSED(el_scale(&a, 2, NULL), "el_scale");
    EXPECT_NULL_REFUSED(el_scale(NULL, 2, &c), "el_scale");
    EXPECT_NULL_REFUSED(el_axpy(NULL, 2, &a), "el_axpy");
    EXPECT_NULL_REFUSED(el_axpy(&c, 2, NULL), "el_axpy");
    EXPECT_NULL_REFUSED(el_add_row(NULL, &row), "el_add_row");
    EXPECT_NULL_REFUSED(el_add_row(&c, NULL), "el_add_row");
    EXPECT_NULL_REFUSED(el_sum_rows(&a, NULL, 0), "el_sum_rows");
    EXPECT_NULL_REFUSED(el_sum_rows(NULL, &row, 0), "el_sum_rows");
    el_tensor_free(&a);
    el_tensor_free(&b);
    el_tensor_free(&c);
    el_tensor_free(&row);
}

Test(errors, null_activation_arguments)
{
    static const unary_fn forward[] = {el_relu_forward, el_sigmoid_forward, el_tanh_forward,
                                       el_softmax_forward, el_log_softmax_forward};
    static const ternary_fn backward[] = {el_relu_backward, el_sigmoid_backward, el_tanh_backward,
                                          el_softmax_backward, el_log_softmax_backward};
    el_tensor x = make(2, (int[]){2, 2}, 0.5f), y = make(2, (int[]){2, 2}, 0.5f);
    for (int i = 0; i < 5; i++) {
        EXPECT_NULL_REFUSED(forward[i](&x, NULL), NULL);
        EXPECT_NULL_REFUSED(forward[i](NULL, &y), NULL);
        EXPECT_NULL_REFUSED(backward[i](NULL, &y, &x), NULL);
        EXPECT_NULL_REFUSED(backward[i](&y, NULL, &x), NULL);
        EXPECT_NULL_REFUSED(backward[i](&y, &x, NULL), NULL);
    }
    el_tensor_free(&x);
    el_tensor_free(&y);
}

Test(errors, null_loss_arguments)
{
    el_tensor x = make(2, (int[]){2, 3}, 0.5f), t = make(2, (int[]){2, 3}, 1);
    int targets[] = {0, 1};
    float loss;
    EXPECT_NULL_REFUSED(el_mse_loss(NULL, &t, &loss, NULL), "el_mse_loss");
    EXPECT_NULL_REFUSED(el_mse_loss(&x, NULL, &loss, NULL), "el_mse_loss");
    EXPECT_NULL_REFUSED(el_mse_loss(&x, &t, NULL, NULL), "el_mse_loss");
    EXPECT_NULL_REFUSED(el_cross_entropy_loss(NULL, targets, NULL, EL_IGNORE_NONE, &loss, NULL),
                        "el_cross_entropy_loss");
    EXPECT_NULL_REFUSED(el_cross_entropy_loss(&x, NULL, NULL, EL_IGNORE_NONE, &loss, NULL),
                        "el_cross_entropy_loss");
    EXPECT_NULL_REFUSED(el_cross_entropy_loss(&x, targets, NULL, EL_IGNORE_NONE, NULL, NULL),
                        "el_cross_entropy_loss");
    EXPECT_NULL_REFUSED(el_bce_with_logits_loss(NULL, &t, NULL, &loss, NULL),
                        "el_bce_with_logits_loss");
    EXPECT_NULL_REFUSED(el_bce_with_logits_loss(&x, NULL, NULL, &loss, NULL),
                        "el_bce_with_logits_loss");
    EXPECT_NULL_REFUSED(el_bce_with_logits_loss(&x, &t, NULL, NULL, NULL),
                        "el_bce_with_logits_loss");
    el_tensor_free(&x);
    el_tensor_free(&t);
}

Test(errors, null_layer_arguments)
{
    el_dense fc = make_dense();
    el_param_list list = {0};
    el_rng rng;
    el_rng_seed(&rng, 1);
    el_tensor x = make(2, (int[]){2, 3}, 1), y = make(2, (int[]){2, 2}, 1);
    el_tensor mask = make(2, (int[]){2, 3}, 1), out = make(2, (int[]){2, 3}, 1);
    const el_dropout train = {.p = 0.5f, .training = 1};
    EXPECT_NULL_REFUSED(el_dense_init(NULL, "fc", 3, 2, 1, NULL), "el_dense_init");
    EXPECT_NULL_REFUSED(el_dense_params(NULL, &list), "el_dense_params");
    EXPECT_NULL_REFUSED(el_dense_params(&fc, NULL), NULL);
    EXPECT_NULL_REFUSED(el_dense_forward(NULL, &x, &y), "el_dense_forward");
    EXPECT_NULL_REFUSED(el_dense_forward(&fc, NULL, &y), "el_dense_forward");
    EXPECT_NULL_REFUSED(el_dense_forward(&fc, &x, NULL), "el_dense_forward");
    EXPECT_NULL_REFUSED(el_dense_backward(NULL, &x, &y, NULL), "el_dense_backward");
    EXPECT_NULL_REFUSED(el_dense_backward(&fc, NULL, &y, NULL), "el_dense_backward");
    EXPECT_NULL_REFUSED(el_dense_backward(&fc, &x, NULL, NULL), "el_dense_backward");
    EXPECT_NULL_REFUSED(el_dropout_forward(NULL, &rng, &x, &out, &mask), "el_dropout_forward");
    EXPECT_NULL_REFUSED(el_dropout_forward(&train, NULL, &x, &out, &mask), "el_dropout_forward");
    EXPECT_NULL_REFUSED(el_dropout_forward(&train, &rng, NULL, &out, &mask), "el_dropout_forward");
    EXPECT_NULL_REFUSED(el_dropout_forward(&train, &rng, &x, NULL, &mask), "el_dropout_forward");
    EXPECT_NULL_REFUSED(el_dropout_forward(&train, &rng, &x, &out, NULL), "el_dropout_forward");
    EXPECT_NULL_REFUSED(el_dropout_backward(NULL, &mask, &x, &out), "el_dropout_backward");
    EXPECT_NULL_REFUSED(el_dropout_backward(&train, NULL, &x, &out), "el_dropout_backward");
    EXPECT_NULL_REFUSED(el_dropout_backward(&train, &mask, NULL, &out), "el_dropout_backward");
    EXPECT_NULL_REFUSED(el_dropout_backward(&train, &mask, &x, NULL), "el_dropout_backward");
    cr_assert_eq(list.count, 0);
    el_dense_free(&fc);
    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&mask);
    el_tensor_free(&out);
}

Test(errors, null_param_optimizer_and_init_arguments)
{
    int shape[] = {2};
    el_param p;
    EL_TEST_OK(el_param_init(&p, NULL, "p", 1, shape));
    el_param_list list = {0};
    EL_TEST_OK(el_param_list_add(&list, &p));
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    el_optimizer *opt = NULL;
    el_optimizer_kind kind;
    el_rng rng;
    el_rng_seed(&rng, 1);
    el_param q = {0};
    EXPECT_NULL_REFUSED(el_param_init(NULL, "a", "b", 1, shape), "el_param_init");
    EXPECT_NULL_REFUSED(el_param_init(&q, "a", NULL, 1, shape), "el_param_init");
    EXPECT_NULL_REFUSED(el_param_init(&q, "a", "b", 1, NULL), NULL);
    cr_assert_null(q.value.data);
    EXPECT_NULL_REFUSED(el_param_list_add(NULL, &p), "el_param_list_add");
    EXPECT_NULL_REFUSED(el_param_list_add(&list, NULL), "el_param_list_add");
    EXPECT_NULL_REFUSED(el_clip_grad_norm(NULL, 1, NULL), "el_clip_grad_norm");
    EXPECT_NULL_REFUSED(el_optimizer_create(NULL, &config, &list), "el_optimizer_create");
    EXPECT_NULL_REFUSED(el_optimizer_create(&opt, NULL, &list), "el_optimizer_create");
    EXPECT_NULL_REFUSED(el_optimizer_create(&opt, &config, NULL), "el_optimizer_create");
    cr_assert_null(opt);
    EXPECT_NULL_REFUSED(el_optimizer_step(NULL), "el_optimizer_step");
    EXPECT_NULL_REFUSED(el_optimizer_state_at(NULL, 0, NULL, NULL), "el_optimizer_state_at");
    EXPECT_NULL_REFUSED(el_optimizer_kind_parse("sgd", NULL), "el_optimizer_kind_parse");
    EXPECT_NULL_REFUSED(el_optimizer_kind_parse(NULL, &kind), NULL);
    EXPECT_NULL_REFUSED(el_lr_schedule_check(NULL), "el_lr_schedule_check");
    EXPECT_NULL_REFUSED(el_init_uniform(NULL, &rng, 0, 1), "el_init_uniform");
    EXPECT_NULL_REFUSED(el_init_normal(&p.value, NULL, 0, 1), "el_init_normal");
    EXPECT_NULL_REFUSED(el_init_xavier_uniform(NULL, &rng, 1), "el_init_xavier_uniform");
    EXPECT_NULL_REFUSED(el_init_xavier_normal(NULL, &rng, 1), "el_init_xavier_normal");
    EXPECT_NULL_REFUSED(el_init_kaiming_uniform(NULL, &rng, 1, EL_FAN_IN),
                        "el_init_kaiming_uniform");
    EXPECT_NULL_REFUSED(el_init_kaiming_normal(NULL, &rng, 1, EL_FAN_IN), "el_init_kaiming_normal");
    el_param_list_free(&list);
    el_param_free(&p);
}

Test(errors, null_rnn_arguments)
{
    const el_rnn_config config = {
        .cell = EL_CELL_GRU, .input_size = 3, .hidden_size = 2, .num_layers = 1};
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, "rnn", &config, NULL));
    el_rnn_cache *cache = NULL;
    EL_TEST_OK(el_rnn_cache_create(&cache));
    el_param_list list = {0};
    el_cell cell;
    el_tensor x = make(3, (int[]){4, 2, 3}, 1), y = make(3, (int[]){4, 2, 2}, 0);
    EXPECT_NULL_REFUSED(el_cell_parse("gru", NULL), "el_cell_parse");
    EXPECT_NULL_REFUSED(el_cell_parse(NULL, &cell), NULL);
    EXPECT_NULL_REFUSED(el_rnn_init(NULL, "rnn", &config, NULL), "el_rnn_init");
    EXPECT_NULL_REFUSED(el_rnn_init(&(el_rnn){0}, "rnn", NULL, NULL), "el_rnn_init");
    EXPECT_NULL_REFUSED(el_rnn_params(NULL, &list), "el_rnn_params");
    EXPECT_NULL_REFUSED(el_rnn_params(&rnn, NULL), NULL);
    EXPECT_NULL_REFUSED(el_rnn_cache_create(NULL), "el_rnn_cache_create");
    EXPECT_NULL_REFUSED(el_rnn_forward(NULL, cache, NULL, &x, NULL, NULL, NULL, &y, NULL, NULL),
                        "el_rnn_forward");
    EXPECT_NULL_REFUSED(el_rnn_forward(&rnn, NULL, NULL, &x, NULL, NULL, NULL, &y, NULL, NULL),
                        "el_rnn_forward");
    EXPECT_NULL_REFUSED(el_rnn_forward(&rnn, cache, NULL, NULL, NULL, NULL, NULL, &y, NULL, NULL),
                        "el_rnn_forward");
    EXPECT_NULL_REFUSED(el_rnn_backward(NULL, cache, NULL, NULL, NULL, NULL, NULL, NULL),
                        "el_rnn_backward");
    EXPECT_NULL_REFUSED(el_rnn_backward(&rnn, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                        "el_rnn_backward");
    /* y is optional: a forward that wants only the final state runs. */
    el_tensor hn = {0};
    cr_assert_eq(el_rnn_forward(&rnn, cache, NULL, &x, NULL, NULL, NULL, NULL, &hn, NULL), EL_OK);
    cr_assert(hn.ndim == 3 && hn.shape[0] == 1 && hn.shape[1] == 2 && hn.shape[2] == 2);
    el_tensor_free(&hn);
    cr_assert_eq(list.count, 0);
    cr_assert_null(el_rnn_layer(NULL, 0, 0));
    el_rnn_free(NULL);
    el_rnn_cache_free(NULL);
    el_rnn_cache_free(cache);
    el_rnn_free(&rnn);
    el_tensor_free(&x);
    el_tensor_free(&y);
}

/* Functions without a status take NULL quietly and return a neutral value. */
Test(errors, null_is_harmless_where_no_status_is_returned)
{
    char buf[16];
    el_tensor_free(NULL);
    el_tensor_fill(NULL, 1);
    cr_assert_eq(el_tensor_rows(NULL), 0);
    cr_assert_eq(el_tensor_cols(NULL), 0);
    cr_assert_eq(el_tensor_same_shape(NULL, NULL), 0);
    cr_assert_str_eq(el_tensor_shape_string(NULL, buf, sizeof buf), "(empty)");
    cr_assert_null(el_tensor_shape_string(NULL, NULL, 0));
    cr_assert_eq(el_sum(NULL), 0.0);
    cr_assert_eq(el_mean(NULL), 0.0);
    cr_assert_eq(el_norm(NULL), 0.0);
    el_sum_backward(NULL, 1);
    el_mean_backward(NULL, 1);
    el_param_free(NULL);
    el_param_list_free(NULL);
    cr_assert_null(el_param_list_find(NULL, "x"));
    cr_assert_eq(el_param_list_numel(NULL), 0);
    el_param_list_zero_grad(NULL);
    el_dense_free(NULL);
    el_optimizer_free(NULL);
    el_optimizer_zero_grad(NULL);
    el_optimizer_set_lr(NULL, 1);
    el_optimizer_set_step_count(NULL, 1);
    el_rnn_set_training(NULL, 1);
    el_ids_clear(NULL);
    cr_assert_eq(el_optimizer_lr(NULL), 0.0);
    cr_assert_null(el_optimizer_get_config(NULL));
    cr_assert_eq(el_optimizer_step_count(NULL), 0);
    cr_assert_eq(el_optimizer_state_count(NULL), 0);
    cr_assert_null(el_optimizer_find_state(NULL, "x"));
    cr_assert_eq(el_lr_at(NULL, 3), 0.0);
}

/* ---- out of memory ----------------------------------------------------- */

/* Each call under test allocates fewer than 64 times. */
static void sweep(const char *what, el_test_attempt attempt) { el_test_sweep(what, attempt, 64); }

static el_status try_tensor_alloc(long n)
{
    el_tensor t = {0};
    el_test_arm(n);
    el_status s = el_test_disarm(el_tensor_alloc(&t, 2, (int[]){3, 4}));
    if (s) cr_assert_null(t.data);
    el_tensor_free(&t);
    return s;
}

static el_status try_tensor_ensure_empty(long n)
{
    el_tensor t = {0};
    el_test_arm(n);
    el_status s = el_test_disarm(el_tensor_ensure(&t, 1, (int[]){10}));
    if (s) cr_assert_null(t.data);
    el_tensor_free(&t);
    return s;
}

/* A workspace that cannot grow keeps its old memory, shape and contents. */
static el_status try_tensor_ensure_grow(long n)
{
    el_tensor t = make(2, (int[]){2, 3}, 5);
    float *data = t.data;
    el_test_arm(n);
    el_status s = el_test_disarm(el_tensor_ensure(&t, 2, (int[]){20, 30}));
    if (s) {
        cr_assert_eq(t.data, data);
        cr_assert_eq(t.size, 6);
        cr_assert_eq(t.shape[0], 2);
        assert_untouched(&t, 5, "the old workspace");
    }
    el_tensor_free(&t);
    return s;
}

static el_status try_param_init(long n)
{
    el_param p;
    el_test_arm(n);
    el_status s = el_test_disarm(el_param_init(&p, "fc", "weight", 2, (int[]){4, 3}));
    if (s) {
        cr_assert_null(p.value.data);
        cr_assert_null(p.grad.data);
    }
    el_param_free(&p);
    return s;
}

static el_status try_param_list_add_first(long n)
{
    el_param p = {.name = "p"};
    el_param_list list = {0};
    el_test_arm(n);
    el_status s = el_test_disarm(el_param_list_add(&list, &p));
    if (s) cr_assert_eq(list.count, 0);
    el_param_list_free(&list);
    return s;
}

/* Adding to a full list grows it; a failed growth keeps what was listed.
 * Every add after the first runs under the hook, so with n = 0 the first
 * add that has to grow the list fails. */
static el_status try_param_list_add_growing(long n)
{
    enum { count = 100 };
    static el_param params[count];
    el_param_list list = {0};
    el_status s = EL_OK;
    int added = 0;
    for (; added < count; added++) {
        snprintf(params[added].name, EL_NAME_MAX, "p%d", added);
        if (added == 0) {
            EL_TEST_OK(el_param_list_add(&list, &params[added]));
            continue;
        }
        el_test_arm(n);
        s = el_test_disarm(el_param_list_add(&list, &params[added]));
        if (s) break;
    }
    if (s) {
        cr_assert_eq(list.count, added, "a refused add changes the count");
        for (int i = 0; i < added; i++) cr_assert_eq(list.items[i], &params[i]);
    }
    el_param_list_free(&list);
    return s;
}

static el_status try_dense_init(long n, int has_bias)
{
    el_dense fc;
    el_rng rng;
    el_rng_seed(&rng, 1);
    el_test_arm(n);
    el_status s = el_test_disarm(el_dense_init(&fc, "fc", 3, 2, has_bias, &rng));
    if (s) {
        cr_assert_null(fc.weight.value.data);
        cr_assert_null(fc.bias.value.data);
    }
    el_dense_free(&fc);
    return s;
}

static el_status try_dense_init_bias(long n) { return try_dense_init(n, 1); }
static el_status try_dense_init_no_bias(long n) { return try_dense_init(n, 0); }

static el_status try_dense_params(long n)
{
    el_dense fc = make_dense();
    el_param_list list = {0};
    el_test_arm(n);
    el_status s = el_test_disarm(el_dense_params(&fc, &list));
    if (s) cr_assert_eq(list.count, 0);
    el_param_list_free(&list);
    el_dense_free(&fc);
    return s;
}

/* Creates an optimizer over two dense layers (four parameters) with
 * allocations failing after n. */
static el_status try_optimizer(long n, el_optimizer_config config)
{
    el_rng rng;
    el_rng_seed(&rng, 2);
    el_dense a, b;
    el_param_list list = {0};
    EL_TEST_OK(el_dense_init(&a, "a", 3, 4, 1, &rng));
    EL_TEST_OK(el_dense_init(&b, "b", 4, 2, 1, &rng));
    EL_TEST_OK(el_dense_params(&a, &list));
    EL_TEST_OK(el_dense_params(&b, &list));
    el_optimizer *opt = NULL;
    el_test_arm(n);
    el_status s = el_test_disarm(el_optimizer_create(&opt, &config, &list));
    if (s) cr_assert_null(opt);
    el_optimizer_free(opt);
    el_param_list_free(&list);
    el_dense_free(&a);
    el_dense_free(&b);
    return s;
}

static el_status try_sgd(long n) { return try_optimizer(n, el_optimizer_defaults(EL_OPT_SGD)); }

static el_status try_sgd_momentum(long n)
{
    el_optimizer_config c = el_optimizer_defaults(EL_OPT_SGD);
    c.momentum = 0.9f;
    return try_optimizer(n, c);
}

static el_status try_adam(long n) { return try_optimizer(n, el_optimizer_defaults(EL_OPT_ADAM)); }

static el_status try_adamw(long n) { return try_optimizer(n, el_optimizer_defaults(EL_OPT_ADAMW)); }

/* Two bidirectional LSTM layers with dropout between them: every kind of
 * buffer the recurrent code sizes. */
static const el_rnn_config rnn_config = {.cell = EL_CELL_LSTM,
                                         .input_size = 3,
                                         .hidden_size = 4,
                                         .num_layers = 2,
                                         .bidirectional = 1,
                                         .dropout = 0.25f};

static el_status try_rnn_init(long n)
{
    el_rnn rnn;
    el_rng rng;
    el_rng_seed(&rng, 1);
    el_test_arm(n);
    el_status s = el_test_disarm(el_rnn_init(&rnn, "encoder", &rnn_config, &rng));
    if (s) cr_assert_null(rnn.layers);
    el_rnn_free(&rnn);
    return s;
}

static el_status try_rnn_params(long n)
{
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, "encoder", &rnn_config, NULL));
    el_param_list list = {0};
    el_test_arm(n);
    el_status s = el_test_disarm(el_rnn_params(&rnn, &list));
    el_param_list_free(&list);
    el_rnn_free(&rnn);
    return s;
}

static el_status try_rnn_cache_create(long n)
{
    el_rnn_cache *cache = NULL;
    el_test_arm(n);
    el_status s = el_test_disarm(el_rnn_cache_create(&cache));
    if (s) cr_assert_null(cache);
    el_rnn_cache_free(cache);
    return s;
}

/* A recurrent layer, its cache and a (T, B, in) batch with mixed lengths. */
typedef struct rnn_case {
    el_rnn rnn;
    el_rnn_cache *cache;
    el_rng rng;
    el_tensor x, y, dy;
} rnn_case;

static const int rnn_lengths[] = {5, 2, 0};

static void rnn_case_init(rnn_case *c)
{
    el_rng_seed(&c->rng, 4);
    EL_TEST_OK(el_rnn_init(&c->rnn, "encoder", &rnn_config, &c->rng));
    EL_TEST_OK(el_rnn_cache_create(&c->cache));
    c->x = make(3, (int[]){5, 3, 3}, 0.5f);
    c->y = make(3, (int[]){5, 3, 8}, 0);
    c->dy = make(3, (int[]){5, 3, 8}, 1);
}

static el_status rnn_case_forward(rnn_case *c)
{
    return el_rnn_forward(&c->rnn, c->cache, &c->rng, &c->x, rnn_lengths, NULL, NULL, &c->y, NULL,
                          NULL);
}

static el_status rnn_case_backward(rnn_case *c)
{
    return el_rnn_backward(&c->rnn, c->cache, &c->dy, NULL, NULL, NULL, NULL, NULL);
}

static void rnn_case_free(rnn_case *c)
{
    el_rnn_cache_free(c->cache);
    el_rnn_free(&c->rnn);
    el_tensor_free(&c->x);
    el_tensor_free(&c->y);
    el_tensor_free(&c->dy);
}

/* The first forward call sizes the cache.  After running out of memory part
 * way, the same cache must work once memory is back, and backward must not
 * run on the failed call. */
static el_status try_rnn_forward(long n)
{
    rnn_case c;
    rnn_case_init(&c);
    el_test_arm(n);
    el_status s = el_test_disarm(rnn_case_forward(&c));
    if (s) {
        EL_TEST_FAILS(rnn_case_backward(&c), EL_ERR_STATE);
        EL_TEST_OK(rnn_case_forward(&c));
        EL_TEST_OK(rnn_case_backward(&c));
    }
    rnn_case_free(&c);
    return s;
}

static el_status try_rnn_backward(long n)
{
    rnn_case c;
    rnn_case_init(&c);
    EL_TEST_OK(rnn_case_forward(&c));
    el_test_arm(n);
    el_status s = el_test_disarm(rnn_case_backward(&c));
    if (s) EL_TEST_OK(rnn_case_backward(&c));
    rnn_case_free(&c);
    return s;
}

/* The same for one-hot ids: the first call also sizes the ids and the
 * transposed W_ih. */
static el_status try_rnn_forward_ids(long n)
{
    rnn_case c;
    rnn_case_init(&c);
    int ids[15];
    for (int i = 0; i < 15; i++) ids[i] = i % 3;
    el_test_arm(n);
    el_status s = el_test_disarm(el_rnn_forward_ids(&c.rnn, c.cache, &c.rng, ids, 5, 3, rnn_lengths,
                                                    NULL, NULL, &c.y, NULL, NULL));
    if (s)
        EL_TEST_FAILS(rnn_case_backward(&c), EL_ERR_STATE);
    else
        EL_TEST_OK(rnn_case_backward(&c));
    rnn_case_free(&c);
    return s;
}

static el_status try_rnn_stepper(long n)
{
    el_rnn_config one_way = rnn_config;
    one_way.bidirectional = 0;
    el_rnn rnn;
    EL_TEST_OK(el_rnn_init(&rnn, NULL, &one_way, NULL));
    el_rnn_stepper *stepper = NULL;
    el_test_arm(n);
    el_status s = el_test_disarm(el_rnn_stepper_create(&stepper, &rnn, 2));
    if (s)
        cr_assert_null(stepper);
    else
        EL_TEST_OK(el_rnn_step_ids(stepper, (int[]){0, 2}, NULL));
    el_rnn_stepper_free(stepper);
    el_rnn_free(&rnn);
    return s;
}

static el_status try_sampler(long n)
{
    el_sampler *sampler = NULL;
    el_sampling how = el_sampling_defaults();
    el_test_arm(n);
    el_status s = el_test_disarm(el_sampler_create(&sampler, 7, &how));
    if (s) cr_assert_null(sampler);
    el_sampler_free(sampler);
    return s;
}

static const el_charlm_config charlm_config = {EL_CELL_LSTM, 9, 4, 2, 0.0f};

static el_status try_charlm_init(long n)
{
    el_charlm m;
    el_test_arm(n);
    el_status s = el_test_disarm(el_charlm_init(&m, &charlm_config, NULL));
    if (!s) el_charlm_free(&m);
    return s;
}

/* A first training step sizes the model's workspaces and the state; after
 * running out of memory the same model and state train once memory is back. */
static el_status try_charlm_train_step(long n)
{
    el_charlm m;
    EL_TEST_OK(el_charlm_init(&m, &charlm_config, NULL));
    int ids[12] = {4, 5, 6, 7, 8, 4, 5, 6, 7, 8, 4, 5};
    el_charlm_state state = {0};
    float loss;
    el_test_arm(n);
    el_status s = el_test_disarm(el_charlm_train_step(&m, ids, ids, 4, 3, &state, NULL, &loss));
    if (s) EL_TEST_OK(el_charlm_train_step(&m, ids, ids, 4, 3, &state, NULL, &loss));
    el_charlm_state_free(&state);
    el_charlm_free(&m);
    return s;
}

static el_status try_charlm_generator(long n)
{
    el_charlm m;
    EL_TEST_OK(el_charlm_init(&m, &charlm_config, NULL));
    el_charlm_generator *g = NULL;
    el_sampling how = el_sampling_defaults();
    el_test_arm(n);
    el_status s = el_test_disarm(el_charlm_generator_create(&g, &m, &how));
    if (s)
        cr_assert_null(g);
    else
        EL_TEST_OK(el_charlm_generator_feed(g, 5));
    el_charlm_generator_free(g);
    el_charlm_free(&m);
    return s;
}

Test(errors, out_of_memory_in_character_models)
{
    sweep("el_rnn_forward_ids (first call)", try_rnn_forward_ids);
    sweep("el_rnn_stepper_create", try_rnn_stepper);
    sweep("el_sampler_create", try_sampler);
    sweep("el_charlm_init", try_charlm_init);
    sweep("el_charlm_train_step (first call)", try_charlm_train_step);
    sweep("el_charlm_generator_create", try_charlm_generator);
}

Test(errors, out_of_memory_in_tensors)
{
    sweep("el_tensor_alloc", try_tensor_alloc);
    sweep("el_tensor_ensure (empty)", try_tensor_ensure_empty);
    sweep("el_tensor_ensure (growing)", try_tensor_ensure_grow);
}

Test(errors, out_of_memory_in_parameters)
{
    sweep("el_param_init", try_param_init);
    sweep("el_param_list_add (first)", try_param_list_add_first);
    sweep("el_param_list_add (growing)", try_param_list_add_growing);
}

Test(errors, out_of_memory_in_dense_layers)
{
    sweep("el_dense_init", try_dense_init_bias);
    sweep("el_dense_init (no bias)", try_dense_init_no_bias);
    sweep("el_dense_params", try_dense_params);
}

Test(errors, out_of_memory_in_optimizers)
{
    sweep("el_optimizer_create (SGD)", try_sgd);
    sweep("el_optimizer_create (SGD with momentum)", try_sgd_momentum);
    sweep("el_optimizer_create (Adam)", try_adam);
    sweep("el_optimizer_create (AdamW)", try_adamw);
}

Test(errors, out_of_memory_in_recurrent_layers)
{
    sweep("el_rnn_init", try_rnn_init);
    sweep("el_rnn_params", try_rnn_params);
    sweep("el_rnn_cache_create", try_rnn_cache_create);
    sweep("el_rnn_forward (first call)", try_rnn_forward);
    sweep("el_rnn_backward (first call)", try_rnn_backward);
}

/* Calls that need no new memory work even when every allocation would fail:
 * a workspace that fits, views, and a training step. */
Test(errors, no_allocation_where_none_is_needed)
{
    el_tensor t = make(2, (int[]){4, 5}, 1), v = {0};
    el_dense fc = make_dense();
    el_param_list list = {0};
    EL_TEST_OK(el_dense_params(&fc, &list));
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    el_optimizer *opt = NULL;
    EL_TEST_OK(el_optimizer_create(&opt, &config, &list));

    el__fail_allocations_after(0);
    EL_TEST_OK(el_tensor_ensure(&t, 2, (int[]){2, 10}));
    EL_TEST_OK(el_tensor_view(&v, &t, 5, 1, (int[]){5}));
    EL_TEST_OK(el_tensor_reshape(&t, 1, (int[]){20}));
    EL_TEST_OK(el_tensor_ensure(&t, 1, (int[]){3}));
    el_tensor_fill(&fc.weight.grad, 0.5f);
    EL_TEST_OK(el_clip_grad_norm(&list, 1.0f, NULL));
    EL_TEST_OK(el_optimizer_step(opt));
    el__fail_allocations_after(-1);

    el_optimizer_free(opt);
    el_param_list_free(&list);
    el_dense_free(&fc);
    el_tensor_free(&t);
}

/* An empty tensor reads "(empty)" in every message, never "0x0". */
Test(errors, an_empty_tensor_is_written_empty)
{
    el_tensor empty = {0}, b = make(2, (int[]){3, 2}, 1), c = {0};
    EL_TEST_FAILS(el_matmul(&empty, EL_NO_TRANS, &b, EL_NO_TRANS, &c, 1, 0), EL_ERR_SHAPE);
    assert_message_has("el_matmul", "op(A) is (empty)", "op(B) is 3x2");
    cr_assert_null(strstr(el_last_error(), "0x0"), "message \"%s\"", el_last_error());
    EL_TEST_FAILS(el_matmul(&b, EL_TRANS, &b, EL_NO_TRANS, &c, 1, 1), EL_ERR_SHAPE);
    assert_message_has("el_matmul", "C is (empty)", NULL);
    EL_TEST_FAILS(el_add(&empty, &b, &c), EL_ERR_SHAPE);
    assert_message_has("el_add", "(empty)", NULL);
    el_tensor_free(&b);
}

/* Outputs size themselves on the first call of a shape and are reused
 * after it: a loop allocates nothing once it runs. */
Test(errors, outputs_are_sized_once_and_reused)
{
    el_tensor a = make(2, (int[]){4, 3}, 0.5f), b = make(2, (int[]){3, 5}, 0.25f);
    el_tensor c = {0}, y = {0}, dx = {0}, bias = {0};
    EL_TEST_OK(el_matmul(&a, EL_NO_TRANS, &b, EL_NO_TRANS, &c, 1, 0));
    EL_TEST_OK(el_tanh_forward(&c, &y));
    EL_TEST_OK(el_tanh_backward(&y, &c, &dx));
    EL_TEST_OK(el_sum_rows(&c, &bias, 0));
    cr_assert(c.ndim == 2 && c.shape[0] == 4 && c.shape[1] == 5);
    cr_assert(el_tensor_same_shape(&y, &c) && el_tensor_same_shape(&dx, &c));
    cr_assert(bias.ndim == 1 && bias.shape[0] == 5);
    const float *pc = c.data, *py = y.data, *pdx = dx.data;
    for (int i = 0; i < 3; i++) {
        EL_TEST_OK(el_matmul(&a, EL_NO_TRANS, &b, EL_NO_TRANS, &c, 1, 0));
        EL_TEST_OK(el_tanh_forward(&c, &y));
        EL_TEST_OK(el_tanh_backward(&y, &c, &dx));
    }
    cr_assert(c.data == pc && y.data == py && dx.data == pdx, "an output was reallocated");
    cr_assert_float_eq(c.data[0], 3 * 0.5f * 0.25f, 1e-6f);
    el_tensor *all[] = {&a, &b, &c, &y, &dx, &bias};
    for (int i = 0; i < 6; i++) el_tensor_free(all[i]);
}

/* A view of the right shape is an output like any other: written in place. */
Test(errors, a_view_of_the_right_shape_is_written)
{
    el_tensor x = make(2, (int[]){2, 3}, -1.0f);
    float memory[6] = {7, 7, 7, 7, 7, 7};
    el_tensor y = wrap(memory, 2, (int[]){2, 3});
    EL_TEST_OK(el_relu_forward(&x, &y));
    EL_TEST_OK(el_scale(&x, 2, &y));
    for (int i = 0; i < 6; i++) cr_assert_eq(memory[i], -2.0f);
    el_tensor_free(&x);
}
