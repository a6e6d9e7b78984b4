/* A sequential container's whole state in a checkpoint, as nn.Sequential's
 * state_dict holds it: parameters, float buffers and int64 counters. */
#include <string.h>

#include "elman/checkpoint.h"
#include "core/internal.h"

/* The container's parameters and buffers in one list. */
static el_status state_list(el_sequential *seq, el_param_list *list)
{
    el_status s = el_sequential_params(seq, list);
    if (!s) s = el_sequential_buffers(seq, list);
    return s;
}

el_status el_checkpoint_add_sequential(el_checkpoint_writer *w, el_sequential *seq)
{
    EL_REQUIRE(w, "el_checkpoint_add_sequential");
    EL_REQUIRE(seq, "el_checkpoint_add_sequential");
    el_param_list list = {0};
    el_status s = state_list(seq, &list);
    if (!s) s = el_checkpoint_add_params(w, &list);
    el_param_list_free(&list);
    for (int i = 0; i < seq->count && !s; i++) {
        const char *name;
        int64_t *counter = el_sequential_counter(seq, i, &name);
        if (counter) s = el_checkpoint_add_i64(w, name, counter, 0, NULL);
    }
    return s;
}

/* Every counter is checked before anything is loaded, and the parameters
 * and buffers are checked together by el_checkpoint_load_params before the
 * first is copied; the counters are set last, so a refusal changes
 * nothing. */
el_status el_checkpoint_load_sequential(const el_checkpoint *c, el_sequential *seq)
{
    const char *fn = "el_checkpoint_load_sequential";
    EL_REQUIRE(c, fn);
    EL_REQUIRE(seq, fn);
    for (int i = 0; i < seq->count; i++) {
        const char *name;
        el_checkpoint_i64 view;
        if (!el_sequential_counter(seq, i, &name)) continue;
        el_status s = el_checkpoint_tensor_i64(c, name, &view);
        if (s) return s;
        if (view.size != 1 || view.data[0] < 0)
            return el__fail(EL_ERR_FORMAT, "%s: '%s' is not one count of 0 or more", fn, name);
    }
    el_param_list list = {0};
    el_status s = state_list(seq, &list);
    if (!s) s = el_checkpoint_load_params(c, &list);
    el_param_list_free(&list);
    for (int i = 0; i < seq->count && !s; i++) {
        const char *name;
        int64_t *counter = el_sequential_counter(seq, i, &name);
        el_checkpoint_i64 view;
        if (counter && !(s = el_checkpoint_tensor_i64(c, name, &view))) *counter = view.data[0];
    }
    return s;
}
