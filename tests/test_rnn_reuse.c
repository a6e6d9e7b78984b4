/* Reusing a recurrent layer's packed weights across calls (nn/rnn_reuse.h):
 * a call told to reuse another cache's packing reads it (it gives the old
 * weights' results after the weights change), only for that call, and
 * packs afresh where the owner's packing lacks a matrix it needs. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/internal.h"
#include "nn/rnn_reuse.h"
#include "support.h"

enum { T = 3, B = 2, IN = 4, H = 5, L = 2 };

typedef struct layer {
    el_rnn rnn;
    el_rnn_cache *owner, *other;
    el_tensor x, dy, y, dx;
    int ids[T * B];
} layer;

static void setup(layer *l)
{
    el_rnn_config cfg = {.cell = EL_CELL_GRU, .input_size = IN, .hidden_size = H, .num_layers = L};
    el_rng rng;
    el_rng_seed(&rng, 77);
    memset(l, 0, sizeof *l);
    EL_TEST_OK(el_rnn_init(&l->rnn, "rnn", &cfg, &rng));
    EL_TEST_OK(el_rnn_cache_create(&l->owner));
    EL_TEST_OK(el_rnn_cache_create(&l->other));
    el_test_random_tensor(&l->x, &rng, 3, (int[]){T, B, IN}, -1, 1);
    el_test_random_tensor(&l->dy, &rng, 3, (int[]){T, B, H}, -1, 1);
    for (int i = 0; i < T * B; i++) l->ids[i] = i % IN;
}

static void teardown(layer *l)
{
    el_tensor *all[] = {&l->x, &l->dy, &l->y, &l->dx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) el_tensor_free(all[i]);
    el_rnn_cache_free(l->owner);
    el_rnn_cache_free(l->other);
    el_rnn_free(&l->rnn);
}

/* Moves every weight matrix (not the biases) by 0.25. */
static void change_weights(layer *l)
{
    for (int i = 0; i < L; i++) {
        el_rnn_weights *w = el_rnn_layer(&l->rnn, i, 0);
        el_tensor *m[2] = {&w->weight_ih.value, &w->weight_hh.value};
        for (int k = 0; k < 2; k++)
            for (size_t j = 0; j < m[k]->size; j++) m[k]->data[j] += 0.25f;
    }
}

static void forward(layer *l, el_rnn_cache *cache, el_tensor *y)
{
    EL_TEST_OK(el_rnn_forward(&l->rnn, cache, NULL, &l->x, NULL, NULL, NULL, y, NULL, NULL));
}

static void backward(layer *l, el_rnn_cache *cache, el_tensor *dx)
{
    EL_TEST_OK(el_rnn_backward(&l->rnn, cache, &l->dy, NULL, NULL, dx, NULL, NULL));
}

static void expect_equal(const char *what, const el_tensor *a, const el_tensor *b, int equal)
{
    cr_assert_eq(a->size, b->size, "%s: sizes", what);
    int same = memcmp(a->data, b->data, a->size * sizeof(float)) == 0;
    cr_expect_eq(same, equal, "%s: %s", what, equal ? "differ" : "are the same");
}

Test(rnn_reuse, forward_reads_the_owners_packing_for_one_call)
{
    layer l;
    setup(&l);
    el_tensor old = {0}, stale = {0}, fresh = {0}, again = {0};
    forward(&l, l.owner, &old);
    change_weights(&l);
    el__rnn_reuse_packed(l.other, l.owner);
    forward(&l, l.other, &stale);
    expect_equal("reused packing against the old weights' outputs", &stale, &old, 1);
    forward(&l, l.other, &again); /* not told to reuse: packs the new weights */
    forward(&l, l.owner, &fresh);
    expect_equal("the next call's outputs against the new weights'", &again, &fresh, 1);
    expect_equal("the new weights' outputs against the old", &fresh, &old, 0);
    el_tensor *all[] = {&old, &stale, &fresh, &again};
    for (size_t i = 0; i < 4; i++) el_tensor_free(all[i]);
    teardown(&l);
}

Test(rnn_reuse, an_owner_without_the_first_input_weights_is_not_reused)
{
    layer l;
    setup(&l);
    el_tensor y = {0}, fresh = {0};
    /* Ids need no packed W_ih for layer 0; inputs x do. */
    EL_TEST_OK(
        el_rnn_forward_ids(&l.rnn, l.owner, NULL, l.ids, T, B, NULL, NULL, NULL, &y, NULL, NULL));
    change_weights(&l);
    el__rnn_reuse_packed(l.other, l.owner);
    forward(&l, l.other, &y);
    forward(&l, l.owner, &fresh);
    expect_equal("outputs against the new weights'", &y, &fresh, 1);
    el_tensor_free(&y);
    el_tensor_free(&fresh);
    teardown(&l);
}

Test(rnn_reuse, backward_reads_the_owners_packing)
{
    layer l;
    setup(&l);
    el_tensor dx_owner = {0}, dx = {0}, dx_fresh = {0};
    forward(&l, l.owner, &l.y);
    backward(&l, l.owner, &dx_owner);
    forward(&l, l.other, &l.y);
    el__rnn_reuse_packed(l.other, l.owner);
    backward(&l, l.other, &dx);
    expect_equal("dx with the owner's packing, weights unchanged", &dx, &dx_owner, 1);
    /* After a change, a reused packing gives another dx than a fresh one. */
    change_weights(&l);
    forward(&l, l.other, &l.y);
    el__rnn_reuse_packed(l.other, l.owner);
    backward(&l, l.other, &dx);
    forward(&l, l.other, &l.y);
    backward(&l, l.other, &dx_fresh);
    expect_equal("dx with a stale packing against a fresh one", &dx, &dx_fresh, 0);
    /* An owner that packed no W_ih for layer 0 (no dx) does not serve a
     * backward that wants dx. */
    forward(&l, l.owner, &l.y);
    EL_TEST_OK(el_rnn_backward(&l.rnn, l.owner, &l.dy, NULL, NULL, NULL, NULL, NULL));
    change_weights(&l);
    forward(&l, l.other, &l.y);
    el__rnn_reuse_packed(l.other, l.owner);
    backward(&l, l.other, &dx);
    forward(&l, l.other, &l.y);
    backward(&l, l.other, &dx_fresh);
    expect_equal("dx where the owner lacks W_ih against a fresh one", &dx, &dx_fresh, 1);
    el_tensor_free(&dx_owner);
    el_tensor_free(&dx);
    el_tensor_free(&dx_fresh);
    teardown(&l);
}
