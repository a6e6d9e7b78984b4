/* elman against PyTorch: each test feeds elman the inputs stored in
 * tests/fixtures/core.txt and compares its outputs and gradients with
 * PyTorch's results stored beside them (tools/make_fixtures.py made both).
 *
 * The default tolerance is rtol 1e-5, atol 1e-6: both sides compute in
 * float32, so results may differ in the last bits where the order of
 * operations differs, but no more. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>

#include "fixture.h"
#include "support.h"

#define RTOL 1e-5
#define ATOL 1e-6

static el_fixture fx;

static void load_core(void) { el_fixture_load(&fx, "core.txt"); }
static void free_core(void) { el_fixture_free(&fx); }

TestSuite(torch, .init = load_core, .fini = free_core);

/* Allocates t with the shape of the fixture array called name, contents zero. */
static void alloc_like(el_tensor *t, const char *name)
{
    const el_fixture_array *a = el_fixture_get(&fx, name);
    EL_TEST_OK(el_tensor_alloc(t, a->ndim, a->shape));
}

Test(torch, dense)
{
    el_dense layer;
    el_tensor x = {0}, dy = {0}, y = {0}, dx = {0};
    EL_TEST_OK(el_dense_init(&layer, "fc", 7, 4, 1, NULL));
    el_fixture_tensor(&fx, "dense.x", &x);
    el_fixture_tensor(&fx, "dense.dy", &dy);
    el_fixture_tensor(&fx, "dense.weight", &y);
    EL_TEST_OK(el_tensor_copy(&layer.weight.value, &y));
    el_tensor_free(&y);
    el_fixture_tensor(&fx, "dense.bias", &y);
    EL_TEST_OK(el_tensor_copy(&layer.bias.value, &y));
    el_tensor_free(&y);

    alloc_like(&y, "dense.y");
    EL_TEST_OK(el_dense_forward(&layer, &x, &y));
    el_fixture_expect_tensor(&fx, "dense.y", &y, RTOL, ATOL);

    alloc_like(&dx, "dense.dx");
    EL_TEST_OK(el_dense_backward(&layer, &x, &dy, &dx));
    el_fixture_expect_tensor(&fx, "dense.dx", &dx, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, "dense.dweight", &layer.weight.grad, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, "dense.dbias", &layer.bias.grad, RTOL, ATOL);

    el_tensor_free(&x);
    el_tensor_free(&dy);
    el_tensor_free(&y);
    el_tensor_free(&dx);
    el_dense_free(&layer);
}

/* The ids hold a repeated id (whose gradient rows add up) and the padding
 * id (whose row gets none); y keeps the (2, 3, 3) shape it is given. */
Test(torch, embedding)
{
    el_embedding layer;
    el_tensor ids = {0}, dy = {0}, y = {0}, w = {0};
    EL_TEST_OK(el_embedding_init(&layer, "emb", 6, 3, 2, NULL));
    el_fixture_tensor(&fx, "embedding.weight", &w);
    EL_TEST_OK(el_tensor_copy(&layer.weight.value, &w));
    el_fixture_tensor(&fx, "embedding.ids", &ids);
    el_fixture_tensor(&fx, "embedding.dy", &dy);
    int id[6];
    for (int i = 0; i < 6; i++) id[i] = (int)ids.data[i];

    alloc_like(&y, "embedding.y");
    EL_TEST_OK(el_embedding_forward(&layer, id, 6, &y));
    cr_expect_eq(y.ndim, 3, "y keeps its (2, 3, 3) shape");
    el_fixture_expect_tensor(&fx, "embedding.y", &y, RTOL, ATOL);
    EL_TEST_OK(el_embedding_backward(&layer, id, 6, &dy));
    el_fixture_expect_tensor(&fx, "embedding.dweight", &layer.weight.grad, RTOL, ATOL);

    el_tensor_free(&ids);
    el_tensor_free(&dy);
    el_tensor_free(&y);
    el_tensor_free(&w);
    el_embedding_free(&layer);
}

typedef el_status (*forward_fn)(const el_tensor *x, el_tensor *y);
typedef el_status (*backward_fn)(const el_tensor *y, const el_tensor *dy, el_tensor *dx);

/* Checks y = f(x) and dx for the upstream gradient dy against "<name>.*". */
static void check_activation(const char *name, forward_fn forward, backward_fn backward)
{
    char key[EL_FIXTURE_NAME_MAX];
    el_tensor x = {0}, y = {0}, dy = {0}, dx = {0};
    el_fixture_key(key, "%s.x", name);
    el_fixture_tensor(&fx, key, &x);
    el_fixture_key(key, "%s.dy", name);
    el_fixture_tensor(&fx, key, &dy);
    EL_TEST_OK(el_tensor_alloc(&y, x.ndim, x.shape));
    EL_TEST_OK(el_tensor_alloc(&dx, x.ndim, x.shape));

    EL_TEST_OK(forward(&x, &y));
    el_fixture_key(key, "%s.y", name);
    el_fixture_expect_tensor(&fx, key, &y, RTOL, ATOL);
    EL_TEST_OK(backward(&y, &dy, &dx));
    el_fixture_key(key, "%s.dx", name);
    el_fixture_expect_tensor(&fx, key, &dx, RTOL, ATOL);

    el_tensor_free(&x);
    el_tensor_free(&y);
    el_tensor_free(&dy);
    el_tensor_free(&dx);
}

Test(torch, relu) { check_activation("relu", el_relu_forward, el_relu_backward); }
Test(torch, sigmoid) { check_activation("sigmoid", el_sigmoid_forward, el_sigmoid_backward); }
Test(torch, tanh) { check_activation("tanh", el_tanh_forward, el_tanh_backward); }
Test(torch, softmax) { check_activation("softmax", el_softmax_forward, el_softmax_backward); }

Test(torch, log_softmax)
{
    check_activation("log_softmax", el_log_softmax_forward, el_log_softmax_backward);
}

Test(torch, mse_loss)
{
    el_tensor pred = {0}, target = {0}, dpred = {0};
    float loss;
    el_fixture_tensor(&fx, "mse.pred", &pred);
    el_fixture_tensor(&fx, "mse.target", &target);
    alloc_like(&dpred, "mse.dpred");
    EL_TEST_OK(el_mse_loss(&pred, &target, &loss, &dpred));
    el_fixture_expect_scalar(&fx, "mse.loss", loss, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, "mse.dpred", &dpred, RTOL, ATOL);
    el_tensor_free(&pred);
    el_tensor_free(&target);
    el_tensor_free(&dpred);
}

/* The cross-entropy cases share logits and targets; variant picks the
 * reference ("plain", "ignore" or "weighted"). */
static void check_cross_entropy(const char *variant, int ignore_index, int weighted)
{
    enum { ROWS = 6 };
    int targets[ROWS];
    float weights[ROWS];
    char key[EL_FIXTURE_NAME_MAX];
    el_tensor logits = {0}, dlogits = {0}, w = {0};
    float loss;
    el_fixture_tensor(&fx, "ce.logits", &logits);
    cr_assert_eq(el_tensor_rows(&logits), ROWS);
    el_fixture_ints(&fx, "ce.targets", targets, ROWS);
    el_fixture_tensor(&fx, "ce.weights", &w);
    cr_assert_eq(w.size, ROWS);
    for (int i = 0; i < ROWS; i++) weights[i] = w.data[i];
    EL_TEST_OK(el_tensor_alloc(&dlogits, logits.ndim, logits.shape));

    EL_TEST_OK(el_cross_entropy_loss(&logits, targets, weighted ? weights : NULL, ignore_index,
                                     &loss, &dlogits));
    el_fixture_key(key, "ce.%s.loss", variant);
    el_fixture_expect_scalar(&fx, key, loss, RTOL, ATOL);
    el_fixture_key(key, "ce.%s.dlogits", variant);
    el_fixture_expect_tensor(&fx, key, &dlogits, RTOL, ATOL);

    el_tensor_free(&logits);
    el_tensor_free(&dlogits);
    el_tensor_free(&w);
}

Test(torch, cross_entropy) { check_cross_entropy("plain", EL_IGNORE_NONE, 0); }

Test(torch, cross_entropy_ignore_index)
{
    check_cross_entropy("ignore", (int)el_fixture_scalar(&fx, "ce.ignore_index"), 0);
}

Test(torch, cross_entropy_weighted)
{
    check_cross_entropy("weighted", (int)el_fixture_scalar(&fx, "ce.ignore_index"), 1);
}

Test(torch, bce_with_logits_loss)
{
    el_tensor logits = {0}, targets = {0}, weights = {0}, dlogits = {0};
    float loss;
    el_fixture_tensor(&fx, "bce.logits", &logits);
    el_fixture_tensor(&fx, "bce.targets", &targets);
    el_fixture_tensor(&fx, "bce.weights", &weights);
    alloc_like(&dlogits, "bce.dlogits");
    EL_TEST_OK(el_bce_with_logits_loss(&logits, &targets, weights.data, &loss, &dlogits));
    el_fixture_expect_scalar(&fx, "bce.loss", loss, RTOL, ATOL);
    el_fixture_expect_tensor(&fx, "bce.dlogits", &dlogits, RTOL, ATOL);
    el_tensor_free(&logits);
    el_tensor_free(&targets);
    el_tensor_free(&weights);
    el_tensor_free(&dlogits);
}

/* The optimizer fixtures: parameters fc.weight (3x4) and fc.bias (4). */
enum { PARAMS = 2, STEPS = 3 };
static const char *const param_suffix[PARAMS] = {"weight", "bias"};

/* The optimizer state is compared more tightly than the default: exp_avg_sq
 * holds squared gradients around 1e-5, which an atol of 1e-6 would hide. */
#define STATE_ATOL 1e-9

/* Runs three steps of config over the stored initial values and gradients,
 * comparing the parameters after each step with "optim.<name>.step<k>.*",
 * then the state tensors of the slots named in slots (NULL-terminated). */
static void check_optimizer(const char *name, el_optimizer_config config, const char *const *slots)
{
    el_param p[PARAMS];
    el_param_list list = {0};
    el_tensor t = {0};
    char key[EL_FIXTURE_NAME_MAX];
    for (int i = 0; i < PARAMS; i++) {
        el_fixture_key(key, "optim.init.fc.%s", param_suffix[i]);
        el_fixture_tensor(&fx, key, &t);
        EL_TEST_OK(el_param_init(&p[i], "fc", param_suffix[i], t.ndim, t.shape));
        EL_TEST_OK(el_tensor_copy(&p[i].value, &t));
        el_tensor_free(&t);
        EL_TEST_OK(el_param_list_add(&list, &p[i]));
    }
    el_optimizer *opt;
    EL_TEST_OK(el_optimizer_create(&opt, &config, &list));

    for (int step = 1; step <= STEPS; step++) {
        for (int i = 0; i < PARAMS; i++) {
            el_fixture_key(key, "optim.grad%d.%s", step, p[i].name);
            el_fixture_tensor(&fx, key, &t);
            EL_TEST_OK(el_tensor_copy(&p[i].grad, &t));
            el_tensor_free(&t);
        }
        EL_TEST_OK(el_optimizer_step(opt));
        for (int i = 0; i < PARAMS; i++) {
            el_fixture_key(key, "optim.%s.step%d.%s", name, step, p[i].name);
            el_fixture_expect_tensor(&fx, key, &p[i].value, RTOL, ATOL);
        }
    }

    int slot_count = 0;
    for (; slots[slot_count]; slot_count++)
        for (int i = 0; i < PARAMS; i++) {
            el_fixture_key(key, "%s.%s", p[i].name, slots[slot_count]);
            const el_tensor *state = el_optimizer_find_state(opt, key);
            cr_assert(state, "%s: elman has no optimizer state called %s", name, key);
            el_fixture_key(key, "optim.%s.state.%s.%s", name, p[i].name, slots[slot_count]);
            el_fixture_expect_tensor(&fx, key, state, RTOL, STATE_ATOL);
        }
    cr_assert_eq(el_optimizer_state_count(opt), slot_count * PARAMS,
                 "%s: elman keeps %d state tensors, PyTorch %d", name,
                 el_optimizer_state_count(opt), slot_count * PARAMS);

    el_optimizer_free(opt);
    el_param_list_free(&list);
    for (int i = 0; i < PARAMS; i++) el_param_free(&p[i]);
}

static const char *const no_slots[] = {NULL};
static const char *const sgd_slots[] = {"momentum_buffer", NULL};
static const char *const adam_slots[] = {"exp_avg", "exp_avg_sq", NULL};

Test(torch, sgd)
{
    el_optimizer_config c = el_optimizer_defaults(EL_OPT_SGD);
    c.lr = 0.1f;
    check_optimizer("sgd", c, no_slots);
}

Test(torch, sgd_momentum)
{
    el_optimizer_config c = el_optimizer_defaults(EL_OPT_SGD);
    c.lr = 0.1f;
    c.momentum = 0.9f;
    c.dampening = 0.1f;
    c.weight_decay = 0.01f;
    check_optimizer("sgd_momentum", c, sgd_slots);
}

Test(torch, sgd_nesterov)
{
    el_optimizer_config c = el_optimizer_defaults(EL_OPT_SGD);
    c.lr = 0.1f;
    c.momentum = 0.9f;
    c.nesterov = 1;
    c.weight_decay = 0.01f;
    check_optimizer("sgd_nesterov", c, sgd_slots);
}

Test(torch, adam)
{
    el_optimizer_config c = el_optimizer_defaults(EL_OPT_ADAM);
    c.lr = 0.01f;
    check_optimizer("adam", c, adam_slots);
}

Test(torch, adam_weight_decay)
{
    el_optimizer_config c = el_optimizer_defaults(EL_OPT_ADAM);
    c.lr = 0.01f;
    c.weight_decay = 0.1f;
    check_optimizer("adam_wd", c, adam_slots);
}

Test(torch, adamw)
{
    el_optimizer_config c = el_optimizer_defaults(EL_OPT_ADAMW);
    c.lr = 0.01f;
    c.weight_decay = 0.1f;
    check_optimizer("adamw", c, adam_slots);
}

/* Clips the gradients "clip.<name>.grad.*" to norm 1 and compares the norm
 * and the resulting gradients, these within rtol and atol. */
static void check_clip(const char *name, double rtol, double atol)
{
    el_param p[PARAMS];
    el_param_list list = {0};
    el_tensor t = {0};
    char key[EL_FIXTURE_NAME_MAX];
    for (int i = 0; i < PARAMS; i++) {
        el_fixture_key(key, "clip.%s.grad.%s", name, param_suffix[i]);
        el_fixture_tensor(&fx, key, &t);
        EL_TEST_OK(el_param_init(&p[i], "fc", param_suffix[i], t.ndim, t.shape));
        EL_TEST_OK(el_tensor_copy(&p[i].grad, &t));
        el_tensor_free(&t);
        EL_TEST_OK(el_param_list_add(&list, &p[i]));
    }
    float total;
    EL_TEST_OK(el_clip_grad_norm(&list, 1.0f, &total));
    el_fixture_key(key, "clip.%s.total_norm", name);
    el_fixture_expect_scalar(&fx, key, total, RTOL, ATOL);
    for (int i = 0; i < PARAMS; i++) {
        el_fixture_key(key, "clip.%s.clipped.%s", name, param_suffix[i]);
        el_fixture_expect_tensor(&fx, key, &p[i].grad, rtol, atol);
    }
    el_param_list_free(&list);
    for (int i = 0; i < PARAMS; i++) el_param_free(&p[i]);
}

Test(torch, clip_grad_norm) { check_clip("big", RTOL, ATOL); }
/* Below max_norm PyTorch scales by exactly 1, so the gradients must come
 * back bit for bit. */
Test(torch, clip_grad_norm_below_max) { check_clip("small", 0.0, 0.0); }

/* Compares el_lr_at for steps 0, 1, ... with the rates in "lr.<name>". */
static void check_schedule(const char *name, const el_lr_schedule *schedule)
{
    char key[EL_FIXTURE_NAME_MAX];
    el_tensor lrs = {0};
    EL_TEST_OK(el_lr_schedule_check(schedule));
    el_fixture_key(key, "lr.%s", name);
    alloc_like(&lrs, key);
    for (size_t step = 0; step < lrs.size; step++) lrs.data[step] = el_lr_at(schedule, (long)step);
    /* Relative only: the rates go down to 0.001, where an atol of 1e-6
     * would allow a 0.1% error. */
    el_fixture_expect_tensor(&fx, key, &lrs, RTOL, 0.0);
    el_tensor_free(&lrs);
}

Test(torch, step_lr)
{
    el_lr_schedule s = {.kind = EL_LR_STEP, .base_lr = 0.1f, .step_size = 3, .gamma = 0.5f};
    check_schedule("step", &s);
}

Test(torch, cosine_annealing_lr)
{
    el_lr_schedule s = {.kind = EL_LR_COSINE, .base_lr = 0.1f, .total_steps = 10, .min_lr = 0.001f};
    check_schedule("cosine", &s);
}
