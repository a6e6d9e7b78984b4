/* A read checkpoint's tensors: read-only views of F32 and I64 tensors, and
 * loading parameters and optimizer state, every name, shape and value
 * checked before the first copy. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "io/checkpoint_format.h"
#include "io/checkpoint_stored.h"
#include "core/internal.h"

static el_status check_dtype(const el_checkpoint *c, const el__ckpt_tensor *t, const char *dtype)
{
    if (strcmp(t->dtype->name, dtype) == 0) return EL_OK;
    return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' is %s, not %s", c->path, t->name,
                    t->dtype->name, dtype);
}

/* t's dimensions as ints, if there are at most EL_MAX_DIMS of them and at
 * least min_rank (el_tensor has no scalars), and t's data, if it is aligned
 * for its elements of element_size bytes. */
static el_status get_layout(const el_checkpoint *c, const el__ckpt_tensor *t, int min_rank,
                            size_t element_size, int shape[EL_MAX_DIMS], void **data)
{
    if (t->rank < min_rank || t->rank > EL_MAX_DIMS)
        return el__fail(EL_ERR_FORMAT,
                        "%s: tensor '%s' has %d dimensions; elman's tensors have "
                        "%d to %d",
                        c->path, t->name, t->rank, min_rank, EL_MAX_DIMS);
    for (int i = 0; i < t->rank; i++) {
        uint64_t d = el__ckpt_dimension(t, i);
        if (d > INT_MAX)
            return el__fail(EL_ERR_FORMAT,
                            "%s: tensor '%s' has a dimension of %" PRIu64
                            ", over elman's limit of %d",
                            c->path, t->name, d, INT_MAX);
        shape[i] = (int)d;
    }
    if (t->begin % element_size)
        return el__fail(EL_ERR_FORMAT,
                        "%s: tensor '%s' begins at byte %" PRIu64 ", not aligned for %s", c->path,
                        t->name, t->begin, t->dtype->name);
    *data = c->data ? c->data + t->begin : NULL;
    return EL_OK;
}

/* Wraps an F32 tensor's data in a view, if el_tensor can hold its shape. */
static el_status make_view(const el_checkpoint *c, const el__ckpt_tensor *t, el_tensor *view)
{
    int shape[EL_MAX_DIMS];
    void *data = NULL;
    el_status s = check_dtype(c, t, "F32");
    if (!s) s = get_layout(c, t, 1, sizeof(float), shape, &data);
    if (s) return s;
    el_tensor wrapped = {0};
    if (el_tensor_wrap(&wrapped, data, t->rank, shape) != EL_OK) {
        char why[256];
        snprintf(why, sizeof why, "%s", el_last_error());
        return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' does not fit an el_tensor (%s)", c->path,
                        t->name, why);
    }
    *view = wrapped;
    return EL_OK;
}

el_status el_checkpoint_tensor(const el_checkpoint *c, const char *name, el_tensor *view)
{
    EL_REQUIRE(c, "el_checkpoint_tensor");
    EL_REQUIRE(name, "el_checkpoint_tensor");
    EL_REQUIRE(view, "el_checkpoint_tensor");
    const el__ckpt_tensor *t = el__ckpt_find(c, name);
    if (!t) return el__fail(EL_ERR_INVALID, "%s: no tensor '%s'", c->path, name);
    return make_view(c, t, view);
}

el_status el_checkpoint_tensor_i64(const el_checkpoint *c, const char *name,
                                   el_checkpoint_i64 *view)
{
    EL_REQUIRE(c, "el_checkpoint_tensor_i64");
    EL_REQUIRE(name, "el_checkpoint_tensor_i64");
    EL_REQUIRE(view, "el_checkpoint_tensor_i64");
    const el__ckpt_tensor *t = el__ckpt_find(c, name);
    if (!t) return el__fail(EL_ERR_INVALID, "%s: no tensor '%s'", c->path, name);
    el_checkpoint_i64 found = {.ndim = t->rank};
    void *data = NULL;
    el_status s = check_dtype(c, t, "I64");
    if (!s) s = get_layout(c, t, 0, sizeof(int64_t), found.shape, &data);
    if (s) return s;
    /* The header's check that the offsets hold the shape bounds the size. */
    found.size = (size_t)((t->end - t->begin) / sizeof(int64_t));
    found.data = found.size ? data : NULL;
    *view = found;
    return EL_OK;
}

/* Refuses a value that is not finite: loading one would poison every
 * forward pass after it, far from its cause. */
static el_status check_finite(const el_checkpoint *c, const char *name, const el_tensor *view)
{
    for (size_t i = 0; i < view->size; i++)
        if (!isfinite(view->data[i]))
            return el__fail(EL_ERR_FORMAT, "%s: tensor '%s' holds the non-finite value %g at %zu",
                            c->path, name, (double)view->data[i], i);
    return EL_OK;
}

/* The view of the tensor called name, which must be F32, have the shape of
 * target (what will be copied into) and hold only finite values. */
static el_status matching_view(const el_checkpoint *c, const char *name, const el_tensor *target,
                               el_tensor *view)
{
    const el__ckpt_tensor *t = el__ckpt_find(c, name);
    if (!t) return el__fail(EL_ERR_INVALID, "%s: no tensor '%s'", c->path, name);
    el_status s = check_dtype(c, t, "F32");
    if (s) return s;
    int same = t->rank == target->ndim;
    for (int i = 0; same && i < t->rank; i++)
        same = el__ckpt_dimension(t, i) == (uint64_t)target->shape[i];
    if (!same) {
        char stored[128], wanted[64];
        return el__fail(EL_ERR_SHAPE, "%s: tensor '%s' is %s, but elman's is %s", c->path, name,
                        el__ckpt_shape_text(t, stored, sizeof stored),
                        el_tensor_shape_string(target, wanted, sizeof wanted));
    }
    s = make_view(c, t, view);
    return s ? s : check_finite(c, name, view);
}

static void copy_values(el_tensor *target, const el_tensor *view)
{
    if (view->size) memcpy(target->data, view->data, view->size * sizeof(float));
}

el_status el_checkpoint_load_params(const el_checkpoint *c, el_param_list *list)
{
    EL_REQUIRE(c, "el_checkpoint_load_params");
    EL_REQUIRE(list, "el_checkpoint_load_params");
    el_tensor view;
    for (int i = 0; i < list->count; i++) {
        el_status s = matching_view(c, list->items[i]->name, &list->items[i]->value, &view);
        if (s) return s;
    }
    /* Every view was checked above, so none fails now. */
    for (int i = 0; i < list->count; i++) {
        matching_view(c, list->items[i]->name, &list->items[i]->value, &view);
        copy_values(&list->items[i]->value, &view);
    }
    return EL_OK;
}

/* The step count from the metadata: decimal digits that fit a long. */
static el_status stored_step_count(const el_checkpoint *c, long *steps)
{
    const char *text = el_checkpoint_meta(c, EL__CKPT_STEP_KEY);
    if (!text)
        return el__fail(EL_ERR_FORMAT, "%s: no metadata '%s' (the optimizer's step count)", c->path,
                        EL__CKPT_STEP_KEY);
    long value = 0;
    int valid = *text != '\0';
    for (const char *p = text; valid && *p; p++) {
        valid = *p >= '0' && *p <= '9' && value <= (LONG_MAX - (*p - '0')) / 10;
        value = valid ? value * 10 + (*p - '0') : value;
    }
    if (!valid)
        return el__fail(EL_ERR_FORMAT, "%s: metadata '%s' is \"%s\", not a step count", c->path,
                        EL__CKPT_STEP_KEY, text);
    *steps = value;
    return EL_OK;
}

/* The view of state tensor i, stored as "optimizer.<name>". */
static el_status optimizer_view(const el_checkpoint *c, el_optimizer *opt, int i, el_tensor **state,
                                el_tensor *view)
{
    const char *name;
    el_status s = el_optimizer_state_at(opt, i, &name, state);
    if (s) return s;
    char key[sizeof EL__CKPT_OPTIMIZER_PREFIX + EL_NAME_MAX + 64];
    snprintf(key, sizeof key, "%s%s", EL__CKPT_OPTIMIZER_PREFIX, name);
    return matching_view(c, key, *state, view);
}

el_status el_checkpoint_load_optimizer(const el_checkpoint *c, el_optimizer *opt)
{
    EL_REQUIRE(c, "el_checkpoint_load_optimizer");
    EL_REQUIRE(opt, "el_checkpoint_load_optimizer");
    long steps = 0;
    el_status s = stored_step_count(c, &steps);
    if (s) return s;
    el_tensor *state, view;
    for (int i = 0; i < el_optimizer_state_count(opt); i++) {
        s = optimizer_view(c, opt, i, &state, &view);
        if (s) return s;
    }
    /* Every view was checked above, so none fails now. */
    for (int i = 0; i < el_optimizer_state_count(opt); i++) {
        optimizer_view(c, opt, i, &state, &view);
        copy_values(state, &view);
    }
    el_optimizer_set_step_count(opt, steps);
    return EL_OK;
}
