#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elman/optim.h"
#include "core/internal.h"

/* Each parameter has `slots` state tensors; state[i * slots + k] belongs to
 * parameter i, with the name names[i * slots + k]. */
struct el_optimizer {
    el_optimizer_config config;
    const el_param_list *list;
    int param_count;
    int slots;
    el_tensor *state;
    char (*names)[EL_NAME_MAX + 32];
    long steps;
};

el_optimizer_config el_optimizer_defaults(el_optimizer_kind kind)
{
    el_optimizer_config c = {0};
    c.kind = kind;
    c.lr = kind == EL_OPT_SGD ? 0.01 : 1e-3;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.weight_decay = kind == EL_OPT_ADAMW ? 0.01 : 0.0;
    return c;
}

static const char *const kind_names[] = {"sgd", "adam", "adamw"};

el_status el_optimizer_kind_parse(const char *text, el_optimizer_kind *kind)
{
    EL_REQUIRE(kind, "el_optimizer_kind_parse");
    for (int i = 0; text && i < 3; i++)
        if (strcmp(text, kind_names[i]) == 0) {
            *kind = (el_optimizer_kind)i;
            return EL_OK;
        }
    return el__fail(EL_ERR_INVALID, "unknown optimizer \"%s\" (sgd, adam or adamw)",
                    text ? text : "(null)");
}

const char *el_optimizer_kind_name(el_optimizer_kind kind)
{
    return (unsigned)kind < 3 ? kind_names[kind] : "unknown";
}

static el_status check_config(const el_optimizer_config *c)
{
    const char *fn = "el_optimizer_create";
    if ((unsigned)c->kind > EL_OPT_ADAMW)
        return el__fail(EL_ERR_INVALID, "%s: unknown optimizer kind %d", fn, (int)c->kind);
    if (!(c->lr >= 0)) return el__fail(EL_ERR_INVALID, "%s: learning rate %g", fn, c->lr);
    if (!(c->weight_decay >= 0))
        return el__fail(EL_ERR_INVALID, "%s: weight decay %g", fn, c->weight_decay);
    if (c->kind == EL_OPT_SGD) {
        if (!(c->momentum >= 0))
            return el__fail(EL_ERR_INVALID, "%s: momentum %g", fn, c->momentum);
        if (c->nesterov && (c->momentum <= 0 || c->dampening != 0))
            return el__fail(EL_ERR_INVALID,
                            "%s: Nesterov momentum needs momentum > 0 and dampening 0", fn);
    } else {
        if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
            return el__fail(EL_ERR_INVALID, "%s: betas (%g, %g) must lie in [0, 1)", fn, c->beta1,
                            c->beta2);
        if (!(c->eps >= 0)) return el__fail(EL_ERR_INVALID, "%s: eps %g", fn, c->eps);
    }
    return EL_OK;
}

static int slots_for(const el_optimizer_config *c)
{
    if (c->kind == EL_OPT_SGD) return c->momentum > 0 ? 1 : 0;
    return 2;
}

static const char *slot_name(const el_optimizer_config *c, int k)
{
    if (c->kind == EL_OPT_SGD) return "momentum_buffer";
    return k == 0 ? "exp_avg" : "exp_avg_sq";
}

el_status el_optimizer_create(el_optimizer **out, const el_optimizer_config *config,
                              const el_param_list *list)
{
    EL_REQUIRE(out, "el_optimizer_create");
    EL_REQUIRE(config, "el_optimizer_create");
    EL_REQUIRE(list, "el_optimizer_create");
    *out = NULL;
    el_status s = check_config(config);
    if (s) return s;
    el_optimizer *opt = el__alloc_zero(1, sizeof *opt);
    if (!opt) return el__fail(EL_ERR_NOMEM, "el_optimizer_create: out of memory");
    opt->config = *config;
    opt->list = list;
    opt->param_count = list->count;
    opt->slots = slots_for(config);
    size_t n = (size_t)list->count * (size_t)opt->slots;
    opt->state = el__alloc_zero(n, sizeof *opt->state);
    opt->names = el__alloc_zero(n, sizeof *opt->names);
    if (!opt->state || !opt->names) {
        el_optimizer_free(opt);
        return el__fail(EL_ERR_NOMEM, "el_optimizer_create: out of memory");
    }
    for (int i = 0; i < list->count; i++)
        for (int k = 0; k < opt->slots; k++) {
            const el_param *p = list->items[i];
            size_t at = (size_t)i * opt->slots + k;
            snprintf(opt->names[at], sizeof opt->names[at], "%s.%s", p->name, slot_name(config, k));
            s = el_tensor_alloc(&opt->state[at], p->value.ndim, p->value.shape);
            if (s) {
                el_optimizer_free(opt);
                return el__fail(EL_ERR_NOMEM,
                                "el_optimizer_create: out of memory for the state of %s", p->name);
            }
        }
    *out = opt;
    return EL_OK;
}

void el_optimizer_free(el_optimizer *opt)
{
    if (!opt) return;
    if (opt->state)
        for (int i = 0; i < opt->param_count * opt->slots; i++) el_tensor_free(&opt->state[i]);
    el__free(opt->state);
    el__free(opt->names);
    el__free(opt);
}

static void sgd_update(const el_optimizer_config *c, long steps, el_param *p, el_tensor *buf)
{
    /* Each scalar rounded to float once, as PyTorch's kernels receive them. */
    float *w = p->value.data;
    const float *g = p->grad.data;
    float lr = (float)c->lr, wd = (float)c->weight_decay, mu = (float)c->momentum;
    float keep = (float)(1.0 - c->dampening);
    for (size_t j = 0; j < p->value.size; j++) {
        float d = g[j] + wd * w[j];
        if (buf) {
            /* PyTorch starts the buffer at the first gradient, undamped. */
            float b = steps == 0 ? d : mu * buf->data[j] + keep * d;
            buf->data[j] = b;
            d = c->nesterov ? d + mu * b : b;
        }
        w[j] -= lr * d;
    }
}

typedef struct adam_scalars {
    float decay, l2, b1, one_minus_b1, b2, one_minus_b2, bias2_sqrt, eps, step_size;
} adam_scalars;

/* The element-wise update, with restrict arrays so that it vectorises. */
EL__SIMD_CLONES
static void adam_elements(size_t n, float *restrict w, const float *restrict g, float *restrict md,
                          float *restrict vd, adam_scalars k)
{
    for (size_t j = 0; j < n; j++) {
        w[j] *= k.decay;
        float d = g[j] + k.l2 * w[j];
        md[j] = k.b1 * md[j] + k.one_minus_b1 * d;
        vd[j] = k.b2 * vd[j] + k.one_minus_b2 * d * d;
        float denom = sqrtf(vd[j]) / k.bias2_sqrt + k.eps;
        w[j] -= k.step_size * (md[j] / denom);
    }
}

static void adam_update(const el_optimizer_config *c, long step, el_param *p, el_tensor *m,
                        el_tensor *v)
{
    /* The arithmetic of torch.optim.Adam's single-tensor path, in its order:
     * bias corrections in double, the step size folded into one scalar. */
    double bias1 = 1.0 - pow(c->beta1, (double)step);
    double bias2_sqrt = sqrt(1.0 - pow(c->beta2, (double)step));
    float step_size = (float)(c->lr / bias1);
    float bias2_sqrt_f = (float)bias2_sqrt;
    float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    float one_minus_b1 = (float)(1.0 - c->beta1), one_minus_b2 = (float)(1.0 - c->beta2);
    float l2 = c->kind == EL_OPT_ADAM ? (float)c->weight_decay : 0.0f;
    float decay = c->kind == EL_OPT_ADAMW ? (float)(1.0 - c->lr * c->weight_decay) : 1.0f;
    adam_elements(p->value.size, p->value.data, p->grad.data, m->data, v->data,
                  (adam_scalars){decay, l2, b1, one_minus_b1, b2, one_minus_b2, bias2_sqrt_f, eps,
                                 step_size});
}

el_status el_optimizer_step(el_optimizer *opt)
{
    EL_REQUIRE(opt, "el_optimizer_step");
    const el_param_list *list = opt->list;
    if (list->count != opt->param_count)
        return el__fail(EL_ERR_STATE, "el_optimizer_step: the list had %d parameters, now %d",
                        opt->param_count, list->count);
    for (int i = 0; i < list->count; i++) {
        const el_param *p = list->items[i];
        if (p->grad.size != p->value.size ||
            (opt->slots && opt->state[(size_t)i * opt->slots].size != p->value.size))
            return el__fail(EL_ERR_STATE, "el_optimizer_step: parameter %s changed size", p->name);
    }
    for (int i = 0; i < list->count; i++) {
        el_tensor *state = opt->state ? opt->state + (size_t)i * opt->slots : NULL;
        if (opt->config.kind == EL_OPT_SGD)
            sgd_update(&opt->config, opt->steps, list->items[i], opt->slots ? state : NULL);
        else
            adam_update(&opt->config, opt->steps + 1, list->items[i], state, state + 1);
    }
    opt->steps++;
    return EL_OK;
}

void el_optimizer_zero_grad(el_optimizer *opt)
{
    if (opt) el_param_list_zero_grad((el_param_list *)opt->list);
}

double el_optimizer_lr(const el_optimizer *opt) { return opt ? opt->config.lr : 0.0; }

void el_optimizer_set_lr(el_optimizer *opt, double lr)
{
    if (opt) opt->config.lr = lr;
}

const el_optimizer_config *el_optimizer_get_config(const el_optimizer *opt)
{
    return opt ? &opt->config : NULL;
}

long el_optimizer_step_count(const el_optimizer *opt) { return opt ? opt->steps : 0; }

void el_optimizer_set_step_count(el_optimizer *opt, long steps)
{
    if (opt && steps >= 0) opt->steps = steps;
}

int el_optimizer_state_count(const el_optimizer *opt)
{
    return opt ? opt->param_count * opt->slots : 0;
}

el_status el_optimizer_state_at(el_optimizer *opt, int index, const char **name, el_tensor **value)
{
    EL_REQUIRE(opt, "el_optimizer_state_at");
    if (index < 0 || index >= el_optimizer_state_count(opt))
        return el__fail(EL_ERR_INVALID, "el_optimizer_state_at: index %d outside [0, %d)", index,
                        el_optimizer_state_count(opt));
    if (name) *name = opt->names[index];
    if (value) *value = &opt->state[index];
    return EL_OK;
}

el_tensor *el_optimizer_find_state(el_optimizer *opt, const char *name)
{
    if (!opt || !name) return NULL;
    for (int i = 0; i < el_optimizer_state_count(opt); i++)
        if (strcmp(opt->names[i], name) == 0) return &opt->state[i];
    return NULL;
}
