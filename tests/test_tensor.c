/* The tensor value type: allocation, workspaces, views, shapes and the
 * refusal of shapes that are invalid or too large. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "support.h"

/* Asserts that the last error message mentions text. */
static void assert_message_has(const char *text)
{
    cr_assert(strstr(el_last_error(), text) != NULL, "message \"%s\" lacks \"%s\"", el_last_error(),
              text);
}

Test(tensor, alloc_is_zero_filled_with_its_shape)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, 3, (int[]){2, 3, 4}));
    cr_assert_eq(t.ndim, 3);
    cr_assert_eq(t.size, 24);
    cr_assert_eq(t.capacity, 24);
    cr_assert_eq(t.shape[0], 2);
    cr_assert_eq(t.shape[1], 3);
    cr_assert_eq(t.shape[2], 4);
    cr_assert_eq(t.shape[3], 0, "unused trailing dimensions are 0");
    for (size_t i = 0; i < t.size; i++) cr_assert_eq(t.data[i], 0.0f, "element %zu", i);
    /* internal.h promises cache-line alignment for every allocation. */
    cr_assert_eq((uintptr_t)t.data % 64, 0);
    el_tensor_free(&t);
    cr_assert_null(t.data);
    cr_assert_eq(t.ndim, 0);
    cr_assert_eq(t.size, 0);
}

Test(tensor, rows_and_cols_take_the_last_dimension_as_columns)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, 4, (int[]){2, 3, 4, 5}));
    cr_assert_eq(el_tensor_rows(&t), 24);
    cr_assert_eq(el_tensor_cols(&t), 5);
    el_tensor_free(&t);

    EL_TEST_OK(el_tensor_alloc(&t, 1, (int[]){7}));
    cr_assert_eq(el_tensor_rows(&t), 1);
    cr_assert_eq(el_tensor_cols(&t), 7);
    el_tensor_free(&t);

    cr_assert_eq(el_tensor_rows(&t), 0, "an empty tensor has no rows");
    cr_assert_eq(el_tensor_cols(&t), 0);
}

Test(tensor, ensure_reuses_memory_that_fits)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, 2, (int[]){4, 5}));
    float *data = t.data;

    EL_TEST_OK(el_tensor_ensure(&t, 2, (int[]){2, 3}));
    cr_assert_eq(t.data, data, "a smaller shape must reuse the memory");
    cr_assert_eq(t.size, 6);
    cr_assert_eq(t.capacity, 20);
    cr_assert_eq(t.shape[0], 2);
    cr_assert_eq(t.shape[1], 3);

    EL_TEST_OK(el_tensor_ensure(&t, 3, (int[]){5, 2, 2}));
    cr_assert_eq(t.data, data, "the full capacity must still fit");
    cr_assert_eq(t.size, 20);
    cr_assert_eq(t.ndim, 3);
    el_tensor_free(&t);
}

Test(tensor, ensure_grows_when_too_small)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, 1, (int[]){4}));
    float *data = t.data;
    EL_TEST_OK(el_tensor_ensure(&t, 2, (int[]){3, 7}));
    cr_assert_neq(t.data, data, "21 elements do not fit in 4");
    cr_assert_geq(t.capacity, 21);
    cr_assert_eq(t.size, 21);
    /* Writing the whole new size must be valid (AddressSanitizer checks). */
    el_tensor_fill(&t, 1.0f);
    cr_assert_eq(t.data[20], 1.0f);
    el_tensor_free(&t);
}

Test(tensor, ensure_allocates_an_empty_tensor)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_ensure(&t, 1, (int[]){3}));
    cr_assert_not_null(t.data);
    cr_assert_geq(t.capacity, 3);
    cr_assert_eq(t.size, 3);
    el_tensor_free(&t);
}

Test(tensor, ensure_refuses_a_view)
{
    el_tensor base = {0}, view = {0};
    EL_TEST_OK(el_tensor_alloc(&base, 1, (int[]){8}));
    EL_TEST_OK(el_tensor_view(&view, &base, 0, 1, (int[]){4}));
    EL_TEST_FAILS(el_tensor_ensure(&view, 1, (int[]){16}), EL_ERR_INVALID);
    assert_message_has("el_tensor_ensure");
    cr_assert_eq(view.data, base.data, "the refused view is unchanged");
    el_tensor_free(&base);
}

Test(tensor, view_shares_memory)
{
    el_tensor base = {0}, view = {0};
    EL_TEST_OK(el_tensor_alloc(&base, 2, (int[]){3, 4}));
    EL_TEST_OK(el_tensor_view(&view, &base, 4, 2, (int[]){2, 4}));
    cr_assert_eq(view.data, base.data + 4);
    cr_assert_eq(view.capacity, 0, "a view owns nothing");
    cr_assert_eq(view.size, 8);

    el_tensor_fill(&view, 2.5f);
    cr_assert_eq(base.data[3], 0.0f, "before the view");
    cr_assert_eq(base.data[4], 2.5f);
    cr_assert_eq(base.data[11], 2.5f);

    /* Freeing the view only empties it; the base stays usable. */
    el_tensor_free(&view);
    cr_assert_null(view.data);
    cr_assert_eq(base.data[11], 2.5f);
    el_tensor_free(&base);
}

Test(tensor, view_must_lie_inside_the_base)
{
    el_tensor base = {0}, view = {0};
    EL_TEST_OK(el_tensor_alloc(&base, 2, (int[]){3, 4}));
    EL_TEST_OK(el_tensor_view(&view, &base, 9, 1, (int[]){3}));
    EL_TEST_OK(el_tensor_view(&view, &base, 12, 1, (int[]){0}));

    el_tensor_free(&view);
    EL_TEST_FAILS(el_tensor_view(&view, &base, 10, 1, (int[]){3}), EL_ERR_SHAPE);
    assert_message_has("el_tensor_view");
    EL_TEST_FAILS(el_tensor_view(&view, &base, 13, 1, (int[]){0}), EL_ERR_SHAPE);
    /* An offset so large that offset + size wraps around must not pass. */
    EL_TEST_FAILS(el_tensor_view(&view, &base, SIZE_MAX - 1, 1, (int[]){4}), EL_ERR_SHAPE);
    cr_assert_null(view.data, "a refused view is left as it was");
    el_tensor_free(&base);
}

Test(tensor, wrap_uses_caller_memory_and_never_frees_it)
{
    float buffer[6] = {1, 2, 3, 4, 5, 6};
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_wrap(&t, buffer, 2, (int[]){2, 3}));
    cr_assert_eq(t.data, buffer);
    cr_assert_eq(t.size, 6);
    cr_assert_eq(t.capacity, 0);
    cr_assert_eq(el_tensor_cols(&t), 3);
    /* Freeing stack memory would crash (or trip AddressSanitizer). */
    el_tensor_free(&t);
    cr_assert_null(t.data);
    cr_assert_eq(buffer[5], 6.0f);

    EL_TEST_FAILS(el_tensor_wrap(&t, NULL, 1, (int[]){3}), EL_ERR_INVALID);
    assert_message_has("el_tensor_wrap");
    EL_TEST_OK(el_tensor_wrap(&t, NULL, 1, (int[]){0}));
}

Test(tensor, reshape_keeps_the_element_count)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, 2, (int[]){2, 6}));
    float *data = t.data;
    EL_TEST_OK(el_tensor_reshape(&t, 3, (int[]){3, 2, 2}));
    cr_assert_eq(t.data, data);
    cr_assert_eq(t.ndim, 3);
    cr_assert_eq(el_tensor_rows(&t), 6);

    EL_TEST_OK(el_tensor_reshape(&t, 2, (int[]){2, 6}));
    el_clear_error();
    EL_TEST_FAILS(el_tensor_reshape(&t, 2, (int[]){4, 4}), EL_ERR_SHAPE);
    assert_message_has("el_tensor_reshape");
    assert_message_has("2x6");
    cr_assert_eq(t.shape[0], 2, "a refused reshape leaves the shape alone");
    cr_assert_eq(t.shape[1], 6);
    el_tensor_free(&t);
}

Test(tensor, copy_and_fill)
{
    el_tensor a = {0}, b = {0}, c = {0};
    EL_TEST_OK(el_tensor_alloc(&a, 2, (int[]){2, 3}));
    EL_TEST_OK(el_tensor_alloc(&b, 1, (int[]){6}));
    EL_TEST_OK(el_tensor_alloc(&c, 1, (int[]){5}));
    for (int i = 0; i < 6; i++) a.data[i] = (float)i * 0.5f;

    /* Only the element count has to agree. */
    EL_TEST_OK(el_tensor_copy(&b, &a));
    el_test_assert_close("copy", b.data, a.data, 6, 0.0, 0.0);

    el_tensor_fill(&c, -3.0f);
    EL_TEST_FAILS(el_tensor_copy(&c, &a), EL_ERR_SHAPE);
    assert_message_has("el_tensor_copy");
    for (int i = 0; i < 5; i++) cr_assert_eq(c.data[i], -3.0f, "a refused copy writes nothing");

    el_tensor_free(&a);
    el_tensor_free(&b);
    el_tensor_free(&c);
}

Test(tensor, same_shape_compares_every_dimension)
{
    el_tensor a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
    EL_TEST_OK(el_tensor_alloc(&a, 2, (int[]){2, 3}));
    EL_TEST_OK(el_tensor_alloc(&b, 2, (int[]){2, 3}));
    EL_TEST_OK(el_tensor_alloc(&c, 2, (int[]){3, 2}));
    EL_TEST_OK(el_tensor_alloc(&d, 1, (int[]){6}));
    EL_TEST_OK(el_tensor_alloc(&e, 3, (int[]){2, 3, 1}));
    cr_assert_eq(el_tensor_same_shape(&a, &b), 1);
    cr_assert_eq(el_tensor_same_shape(&a, &c), 0);
    cr_assert_eq(el_tensor_same_shape(&a, &d), 0);
    cr_assert_eq(el_tensor_same_shape(&a, &e), 0);
    cr_assert_eq(el_tensor_same_shape(&a, NULL), 0);
    el_tensor_free(&a);
    el_tensor_free(&b);
    el_tensor_free(&c);
    el_tensor_free(&d);
    el_tensor_free(&e);
}

Test(tensor, shape_string_writes_dimensions_and_truncates)
{
    el_tensor t = {0};
    char buf[64];
    cr_assert_str_eq(el_tensor_shape_string(&t, buf, sizeof buf), "(empty)");

    EL_TEST_OK(el_tensor_alloc(&t, 3, (int[]){20, 30, 40}));
    cr_assert_eq(el_tensor_shape_string(&t, buf, sizeof buf), buf, "returns buf");
    cr_assert_str_eq(buf, "20x30x40");

    /* A short buffer keeps a NUL-terminated prefix and nothing past it. */
    char small[5] = {'#', '#', '#', '#', '#'};
    el_tensor_shape_string(&t, small, 4);
    cr_assert_str_eq(small, "20x");
    cr_assert_eq(small[4], '#', "nothing written past bufsize");
    el_tensor_shape_string(&t, small, 1);
    cr_assert_str_eq(small, "");
    el_tensor_free(&t);

    EL_TEST_OK(el_tensor_alloc(&t, 1, (int[]){7}));
    cr_assert_str_eq(el_tensor_shape_string(&t, buf, sizeof buf), "7");
    el_tensor_free(&t);
}

Test(tensor, free_is_safe_on_empty_and_twice)
{
    el_tensor t = {0};
    el_tensor_free(&t);
    el_tensor_free(NULL);
    EL_TEST_OK(el_tensor_alloc(&t, 1, (int[]){3}));
    el_tensor_free(&t);
    el_tensor_free(&t);
    cr_assert_null(t.data);
    cr_assert_eq(t.capacity, 0);
}

/* Every shape-taking function must refuse a bad ndim and name itself. */
Test(tensor, invalid_ndim_is_refused_with_the_function_name)
{
    static const int ndims[] = {0, 5, -1};
    int shape[6] = {2, 2, 2, 2, 2, 2};
    float buffer[64] = {0};
    el_tensor base = {0};
    EL_TEST_OK(el_tensor_alloc(&base, 1, (int[]){64}));
    for (size_t i = 0; i < sizeof ndims / sizeof ndims[0]; i++) {
        int ndim = ndims[i];
        el_tensor t = {0};
        EL_TEST_FAILS(el_tensor_alloc(&t, ndim, shape), EL_ERR_INVALID);
        assert_message_has("el_tensor_alloc");
        cr_assert_null(t.data, "a refused alloc leaves the tensor empty");
        EL_TEST_FAILS(el_tensor_ensure(&t, ndim, shape), EL_ERR_INVALID);
        assert_message_has("el_tensor_ensure");
        EL_TEST_FAILS(el_tensor_view(&t, &base, 0, ndim, shape), EL_ERR_INVALID);
        assert_message_has("el_tensor_view");
        EL_TEST_FAILS(el_tensor_wrap(&t, buffer, ndim, shape), EL_ERR_INVALID);
        assert_message_has("el_tensor_wrap");
        EL_TEST_FAILS(el_tensor_reshape(&base, ndim, shape), EL_ERR_INVALID);
        assert_message_has("el_tensor_reshape");
        cr_assert_null(t.data);
    }
    cr_assert_eq(base.ndim, 1, "the refused reshapes left the base alone");
    el_tensor_free(&base);
}

Test(tensor, negative_dimension_is_refused)
{
    el_tensor t = {0};
    EL_TEST_FAILS(el_tensor_alloc(&t, 2, (int[]){3, -1}), EL_ERR_INVALID);
    assert_message_has("el_tensor_alloc");
    assert_message_has("-1");
    cr_assert_null(t.data);
    EL_TEST_FAILS(el_tensor_ensure(&t, 1, (int[]){INT_MIN}), EL_ERR_INVALID);
    assert_message_has("el_tensor_ensure");
    cr_assert_null(t.data);
}

/* Element counts whose byte size does not fit in size_t must be refused
 * before anything is allocated: (2^16)^4 elements wrap to exactly 0, and
 * 2^62 elements wrap to 0 bytes once multiplied by sizeof(float). */
Test(tensor, overflowing_shape_is_refused_as_out_of_memory)
{
    static const int shapes[][4] = {
        {65536, 65536, 65536, 65536},
        {65536, 65536, 65536, 16384},
        {INT_MAX, INT_MAX, INT_MAX, 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        el_tensor t = {0};
        EL_TEST_FAILS(el_tensor_alloc(&t, 4, shapes[i]), EL_ERR_NOMEM);
        assert_message_has("el_tensor_alloc");
        cr_assert_null(t.data);
        EL_TEST_FAILS(el_tensor_ensure(&t, 4, shapes[i]), EL_ERR_NOMEM);
        assert_message_has("el_tensor_ensure");
        cr_assert_null(t.data);
    }
}

Test(tensor, zero_size_tensor_is_owned_and_can_grow)
{
    el_tensor t = {0};
    EL_TEST_OK(el_tensor_alloc(&t, 2, (int[]){0, 5}));
    cr_assert_eq(t.size, 0);
    cr_assert_eq(el_tensor_rows(&t), 0);
    cr_assert_eq(el_tensor_cols(&t), 5);
    /* An allocated tensor is not a view, whatever its size: a workspace that
     * starts empty (a batch of 0) must still grow. */
    EL_TEST_OK(el_tensor_ensure(&t, 2, (int[]){3, 5}));
    cr_assert_eq(t.size, 15);
    el_tensor_free(&t);
}
