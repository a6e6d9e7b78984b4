#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elman/param.h"
#include "core/internal.h"

el_status el_param_init(el_param *p, const char *prefix, const char *suffix, int ndim,
                        const int *shape)
{
    EL_REQUIRE(p, "el_param_init");
    EL_REQUIRE(suffix, "el_param_init");
    memset(p, 0, sizeof *p);
    int n = prefix && *prefix ? snprintf(p->name, sizeof p->name, "%s.%s", prefix, suffix)
                              : snprintf(p->name, sizeof p->name, "%s", suffix);
    if (n < 0 || (size_t)n >= sizeof p->name)
        return el__fail(EL_ERR_INVALID, "el_param_init: the name \"%s.%s\" is longer than %d bytes",
                        prefix ? prefix : "", suffix, EL_NAME_MAX - 1);
    el_status s = el_tensor_alloc(&p->value, ndim, shape);
    if (!s) s = el_tensor_alloc(&p->grad, ndim, shape);
    if (s) el_param_free(p);
    return s;
}

void el_param_free(el_param *p)
{
    if (!p) return;
    el_tensor_free(&p->value);
    el_tensor_free(&p->grad);
}

el_status el_param_list_add(el_param_list *list, el_param *p)
{
    EL_REQUIRE(list, "el_param_list_add");
    EL_REQUIRE(p, "el_param_list_add");
    if (el_param_list_find(list, p->name))
        return el__fail(EL_ERR_INVALID,
                        "el_param_list_add: a parameter named \"%s\" is already listed", p->name);
    if (list->count == list->capacity) {
        int capacity = list->capacity ? 2 * list->capacity : 16;
        el_param **items = el__realloc(list->items, (size_t)capacity * sizeof *items);
        if (!items) return el__fail(EL_ERR_NOMEM, "el_param_list_add: out of memory");
        list->items = items;
        list->capacity = capacity;
    }
    list->items[list->count++] = p;
    return EL_OK;
}

void el_param_list_free(el_param_list *list)
{
    if (!list) return;
    el__free(list->items);
    memset(list, 0, sizeof *list);
}

el_param *el_param_list_find(const el_param_list *list, const char *name)
{
    if (!list || !name) return NULL;
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->items[i]->name, name) == 0) return list->items[i];
    return NULL;
}

size_t el_param_list_numel(const el_param_list *list)
{
    size_t n = 0;
    if (list)
        for (int i = 0; i < list->count; i++) n += list->items[i]->value.size;
    return n;
}

void el_param_list_zero_grad(el_param_list *list)
{
    if (!list) return;
    for (int i = 0; i < list->count; i++) el_tensor_fill(&list->items[i]->grad, 0.0f);
}

double el_grad_norm(const el_param_list *list)
{
    double sum = 0;
    for (int i = 0; list && i < list->count; i++) {
        const el_tensor *g = &list->items[i]->grad;
        for (size_t j = 0; j < g->size; j++) sum += (double)g->data[j] * g->data[j];
    }
    return sqrt(sum);
}

el_status el__check_finite_loss(float loss, const char *fn)
{
    if (isfinite(loss)) return EL_OK;
    return el__fail(EL_ERR_NONFINITE, "%s: the loss is not finite (%g)", fn, (double)loss);
}

el_status el__check_finite_grads(const el_param_list *list, const char *fn)
{
    double norm = el_grad_norm(list);
    if (isfinite(norm)) return EL_OK;
    return el__fail(EL_ERR_NONFINITE, "%s: the gradient norm is not finite (%g)", fn, norm);
}

el_status el_clip_grad_norm(el_param_list *list, float max_norm, float *total_norm)
{
    EL_REQUIRE(list, "el_clip_grad_norm");
    if (!(max_norm > 0))
        return el__fail(EL_ERR_INVALID, "el_clip_grad_norm: max_norm %g is not positive", max_norm);
    float norm = (float)el_grad_norm(list);
    if (total_norm) *total_norm = norm;
    if (!isfinite(norm))
        return el__fail(EL_ERR_STATE, "el_clip_grad_norm: the gradient norm is not finite (%g)",
                        norm);
    float coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f)
        for (int i = 0; i < list->count; i++) {
            el_tensor *g = &list->items[i]->grad;
            for (size_t j = 0; j < g->size; j++) g->data[j] *= coef;
        }
    return EL_OK;
}
