#include <string.h>

#include "elman/embedding.h"
#include "core/internal.h"

el_status el_embedding_init(el_embedding *layer, const char *name, int num_embeddings,
                            int embedding_dim, int padding_id, el_rng *rng)
{
    EL_REQUIRE(layer, "el_embedding_init");
    memset(layer, 0, sizeof *layer);
    if (num_embeddings < 1 || embedding_dim < 1)
        return el__fail(EL_ERR_INVALID,
                        "el_embedding_init: %d embeddings of dimension %d (both must be positive)",
                        num_embeddings, embedding_dim);
    if (padding_id < -1 || padding_id >= num_embeddings)
        return el__fail(EL_ERR_INVALID,
                        "el_embedding_init: padding id %d is outside [0, %d) (or -1 for none)",
                        padding_id, num_embeddings);
    layer->num_embeddings = num_embeddings;
    layer->embedding_dim = embedding_dim;
    layer->padding_id = padding_id;
    el_status s =
        el_param_init(&layer->weight, name, "weight", 2, (int[]){num_embeddings, embedding_dim});
    if (!s && rng) s = el_init_normal(&layer->weight.value, rng, 0.0f, 1.0f);
    if (s) {
        el_embedding_free(layer);
        return s;
    }
    if (padding_id >= 0)
        memset(layer->weight.value.data + (size_t)padding_id * embedding_dim, 0,
               sizeof(float) * embedding_dim);
    return EL_OK;
}

void el_embedding_free(el_embedding *layer)
{
    if (layer) el_param_free(&layer->weight);
}

el_status el_embedding_params(el_embedding *layer, el_param_list *list)
{
    EL_REQUIRE(layer, "el_embedding_params");
    return el_param_list_add(list, &layer->weight);
}

/* Every id is checked before anything is read or written, so a bad batch
 * leaves the output or the gradient as it was. */
static el_status check_ids(const char *fn, const el_embedding *layer, const int *ids, int count)
{
    if (count < 0) return el__fail(EL_ERR_INVALID, "%s: %d ids", fn, count);
    if (count > 0 && !ids) return el__fail(EL_ERR_INVALID, "%s: ids is NULL", fn);
    for (int i = 0; i < count; i++)
        if (ids[i] < 0 || ids[i] >= layer->num_embeddings)
            return el__fail(EL_ERR_INVALID, "%s: id %d at position %d is outside %s's [0, %d)", fn,
                            ids[i], i, layer->weight.name, layer->num_embeddings);
    return EL_OK;
}

el_status el_embedding_forward(const el_embedding *layer, const int *ids, int count, el_tensor *y)
{
    EL_REQUIRE(layer, "el_embedding_forward");
    EL_REQUIRE(y, "el_embedding_forward");
    el_status s = check_ids("el_embedding_forward", layer, ids, count);
    if (s) return s;
    int dim = layer->embedding_dim;
    if (el_tensor_rows(y) != count || el_tensor_cols(y) != dim || y->size != (size_t)count * dim) {
        s = el__size_output("el_embedding_forward", "y", y, 2, (int[]){count, dim});
        if (s) return s;
    }
    for (int i = 0; i < count; i++)
        memcpy(y->data + (size_t)i * dim, layer->weight.value.data + (size_t)ids[i] * dim,
               sizeof(float) * dim);
    return EL_OK;
}

el_status el_embedding_backward(el_embedding *layer, const int *ids, int count, const el_tensor *dy)
{
    EL_REQUIRE(layer, "el_embedding_backward");
    EL_REQUIRE(dy, "el_embedding_backward");
    el_status s = check_ids("el_embedding_backward", layer, ids, count);
    if (s) return s;
    int dim = layer->embedding_dim;
    if (el_tensor_rows(dy) != count || el_tensor_cols(dy) != dim) {
        char shape[64];
        return el__fail(EL_ERR_SHAPE, "el_embedding_backward: dy is %s, expected %d rows of %d",
                        el_tensor_shape_string(dy, shape, sizeof shape), count, dim);
    }
    for (int i = 0; i < count; i++) {
        if (ids[i] == layer->padding_id) continue;
        float *row = layer->weight.grad.data + (size_t)ids[i] * dim;
        const float *d = dy->data + (size_t)i * dim;
        for (int j = 0; j < dim; j++) row[j] += d[j];
    }
    return EL_OK;
}
