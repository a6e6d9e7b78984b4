/* Loading parameters and Adam's state from arbitrary bytes into a fixed
 * model (embedding.weight 4x2, fc.weight 2x3, fc.bias 2, the model the
 * seed checkpoints hold): a load either changes nothing or leaves every
 * value finite and equal to the stored one. */
#include <math.h>
#include <string.h>

#include "elman/checkpoint.h"
#include "elman/optim.h"
#include "elman/param.h"
#include "fuzz.h"

typedef struct model {
    el_param embedding, weight, bias;
    el_param_list list;
    el_optimizer *opt;
} model;

static void model_init(model *m)
{
    memset(m, 0, sizeof *m);
    FUZZ_CHECK(el_param_init(&m->embedding, "embedding", "weight", 2, (int[]){4, 2}) == EL_OK);
    FUZZ_CHECK(el_param_init(&m->weight, "fc", "weight", 2, (int[]){2, 3}) == EL_OK);
    FUZZ_CHECK(el_param_init(&m->bias, "fc", "bias", 1, (int[]){2}) == EL_OK);
    el_param *params[3] = {&m->embedding, &m->weight, &m->bias};
    for (int p = 0; p < 3; p++) {
        for (size_t i = 0; i < params[p]->value.size; i++) params[p]->value.data[i] = -7.0f;
        FUZZ_CHECK(el_param_list_add(&m->list, params[p]) == EL_OK);
    }
    el_optimizer_config config = el_optimizer_defaults(EL_OPT_ADAM);
    FUZZ_CHECK(el_optimizer_create(&m->opt, &config, &m->list) == EL_OK);
}

static void model_free(model *m)
{
    el_optimizer_free(m->opt);
    el_param_free(&m->embedding);
    el_param_free(&m->weight);
    el_param_free(&m->bias);
    el_param_list_free(&m->list);
}

/* Each of list's values equals the stored tensor of its name, or is still
 * -7 everywhere when loaded is 0. */
static void check_params(const el_checkpoint *c, const el_param_list *list, int loaded)
{
    for (int p = 0; p < list->count; p++) {
        const el_tensor *v = &list->items[p]->value;
        el_tensor stored;
        if (loaded)
            FUZZ_CHECK(el_checkpoint_tensor(c, list->items[p]->name, &stored) == EL_OK &&
                       stored.size == v->size);
        for (size_t i = 0; i < v->size; i++) {
            FUZZ_CHECK(isfinite(v->data[i]));
            FUZZ_CHECK(loaded ? v->data[i] == stored.data[i] : v->data[i] == -7.0f);
        }
    }
}

static void check_optimizer(const el_checkpoint *c, el_optimizer *opt, int loaded)
{
    if (!loaded) FUZZ_CHECK(el_optimizer_step_count(opt) == 0);
    for (int i = 0; i < el_optimizer_state_count(opt); i++) {
        const char *name;
        el_tensor *state;
        FUZZ_CHECK(el_optimizer_state_at(opt, i, &name, &state) == EL_OK);
        char key[EL_NAME_MAX + 128];
        snprintf(key, sizeof key, "optimizer.%s", name);
        el_tensor stored;
        if (loaded) FUZZ_CHECK(el_checkpoint_tensor(c, key, &stored) == EL_OK);
        for (size_t k = 0; k < state->size; k++)
            FUZZ_CHECK(loaded ? state->data[k] == stored.data[k] : state->data[k] == 0.0f);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    el_checkpoint *c = NULL;
    if (el_checkpoint_read_memory(&c, data, size, "fuzz")) return 0;
    model m;
    model_init(&m);
    el_status s = el_checkpoint_load_params(c, &m.list);
    FUZZ_CHECK(s == EL_OK || s == EL_ERR_INVALID || s == EL_ERR_SHAPE || s == EL_ERR_FORMAT);
    check_params(c, &m.list, s == EL_OK);
    s = el_checkpoint_load_optimizer(c, m.opt);
    FUZZ_CHECK(s == EL_OK || s == EL_ERR_INVALID || s == EL_ERR_SHAPE || s == EL_ERR_FORMAT);
    check_optimizer(c, m.opt, s == EL_OK);
    model_free(&m);
    el_checkpoint_free(c);
    return 0;
}
