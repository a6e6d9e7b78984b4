/* Labelled sequences: id sequences with one class label each, stored one
 * after another in a single array so that adding never moves more than the
 * array's geometric growth does. */
#include <limits.h>
#include <string.h>

#include "elman/data.h"
#include "core/internal.h"
#include "text/ids.h"

struct el_labelled {
    el_ids ids;    /* every sequence's ids, one after another */
    el_ids starts; /* sequence i is ids[starts[i] .. starts[i] + lengths[i]) */
    el_ids lengths;
    el_ids labels;
};

el_status el_labelled_create(el_labelled **out)
{
    EL_REQUIRE(out, "el_labelled_create");
    *out = el__alloc_zero(1, sizeof **out);
    if (!*out) return el__fail(EL_ERR_NOMEM, "el_labelled_create: out of memory");
    return EL_OK;
}

void el_labelled_free(el_labelled *data)
{
    if (!data) return;
    el_ids_free(&data->ids);
    el_ids_free(&data->starts);
    el_ids_free(&data->lengths);
    el_ids_free(&data->labels);
    el__free(data);
}

el_status el_labelled_add(el_labelled *data, const int *ids, int length, int label)
{
    EL_REQUIRE(data, "el_labelled_add");
    if (length < 1 || !ids)
        return el__fail(EL_ERR_INVALID, "el_labelled_add: a sequence of %d ids%s (at least 1)",
                        length, ids ? "" : " at NULL");
    if (label < 0) return el__fail(EL_ERR_INVALID, "el_labelled_add: label %d is negative", label);
    if (data->ids.count + (size_t)length > (size_t)INT_MAX)
        return el__fail(EL_ERR_INVALID, "el_labelled_add: more than %d ids in all", INT_MAX);
    size_t n = data->labels.count;
    /* Every array is grown before any is changed, so a failure adds nothing. */
    el_status s = el__ids_reserve(&data->ids, data->ids.count + length, "el_labelled_add");
    if (!s) s = el__ids_reserve(&data->starts, n + 1, "el_labelled_add");
    if (!s) s = el__ids_reserve(&data->lengths, n + 1, "el_labelled_add");
    if (!s) s = el__ids_reserve(&data->labels, n + 1, "el_labelled_add");
    if (s) return s;
    data->starts.data[n] = (int)data->ids.count;
    data->lengths.data[n] = length;
    data->labels.data[n] = label;
    memcpy(data->ids.data + data->ids.count, ids, sizeof *ids * length);
    data->ids.count += length;
    data->starts.count = data->lengths.count = data->labels.count = n + 1;
    return EL_OK;
}

int el_labelled_count(const el_labelled *data) { return data ? (int)data->labels.count : 0; }

static int labelled_count(void *self) { return el_labelled_count(self); }

static el_status labelled_get(void *self, int index, el_example *out)
{
    el_labelled *data = self;
    if (index < 0 || index >= el_labelled_count(data))
        return el__fail(EL_ERR_INVALID, "el_labelled: example %d of %d", index,
                        el_labelled_count(data));
    out->input = data->ids.data + data->starts.data[index];
    out->input_length = data->lengths.data[index];
    out->target = data->labels.data + index;
    out->target_length = 1;
    return EL_OK;
}

el_dataset el_labelled_dataset(el_labelled *data)
{
    return (el_dataset){.self = data, .count = labelled_count, .get = labelled_get};
}
