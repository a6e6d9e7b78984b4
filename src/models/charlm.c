#include <math.h>
#include <string.h>

#include "elman/charlm.h"
#include "elman/loss.h"
#include "elman/vocab.h"
#include "core/internal.h"
#include "core/packed_gemm.h"

/* Workspaces, sized on the first call of a shape and reused.  Rows are
 * time-major: row t * B + b is step t of stream b. */
struct el_charlm_cache {
    el_rnn_cache *rnn;
    el_tensor y, dy, hn, cn, logits, dlogits;
    el_param_list params; /* the model's, for the gradient check of each step */
};

static int is_lstm(const el_charlm *m) { return m->config.cell == EL_CELL_LSTM; }

void el_charlm_state_free(el_charlm_state *state)
{
    if (!state) return;
    el_tensor_free(&state->h);
    el_tensor_free(&state->c);
}

el_status el_charlm_init(el_charlm *m, const el_charlm_config *config, el_rng *rng)
{
    EL_REQUIRE(m, "el_charlm_init");
    EL_REQUIRE(config, "el_charlm_init");
    memset(m, 0, sizeof *m);
    if (config->vocab_size <= EL_SPECIALS)
        return el__fail(EL_ERR_INVALID, "el_charlm_init: a vocabulary of %d ids has no symbols",
                        config->vocab_size);
    m->config = *config;
    el_rnn_config rc = {
        config->cell,   config->vocab_size, config->hidden_size, config->num_layers, 0,
        config->dropout};
    el_status s = el_rnn_init(&m->rnn, "rnn", &rc, rng);
    if (s) return s;
    s = el_dense_init(&m->output, "fc", config->hidden_size, config->vocab_size, 1, rng);
    if (!s) {
        m->cache = el__alloc_zero(1, sizeof *m->cache);
        if (!m->cache) s = el__fail(EL_ERR_NOMEM, "el_charlm_init: out of memory");
    }
    if (!s) s = el_rnn_cache_create(&m->cache->rnn);
    if (!s) s = el_charlm_params(m, &m->cache->params);
    if (s) el_charlm_free(m);
    return s;
}

void el_charlm_free(el_charlm *m)
{
    if (!m) return;
    el_charlm_cache *c = m->cache;
    if (c) {
        el_rnn_cache_free(c->rnn);
        el_param_list_free(&c->params);
        el_tensor *t[] = {&c->y, &c->dy, &c->hn, &c->cn, &c->logits, &c->dlogits};
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) el_tensor_free(t[i]);
        el__free(c);
    }
    el_rnn_free(&m->rnn);
    el_dense_free(&m->output);
    memset(m, 0, sizeof *m);
}

el_status el_charlm_params(el_charlm *m, el_param_list *list)
{
    EL_REQUIRE(m, "el_charlm_params");
    el_status s = el_rnn_params(&m->rnn, list);
    return s ? s : el_dense_params(&m->output, list);
}

void el_charlm_set_training(el_charlm *m, int training)
{
    if (m) m->rnn.training = training;
}

void el_charlm_set_first_row(el_charlm *m, int first_row)
{
    if (m) el_rnn_set_position(&m->rnn, first_row, 0);
}

static el_status check_state(const el_charlm *m, const el_tensor *t, const char *name, int batch,
                             const char *fn)
{
    if (t->size == 0) return EL_OK;
    int L = m->config.num_layers, H = m->config.hidden_size;
    if (t->ndim != 3 || t->shape[0] != L || t->shape[1] != batch || t->shape[2] != H)
        return el__fail(EL_ERR_SHAPE, "%s: state %s must be (%d, %d, %d) for this batch", fn, name,
                        L, batch, H);
    return EL_OK;
}

static el_status check_call(const el_charlm *m, const int *inputs, const int *targets, int steps,
                            int batch, const el_charlm_state *state, const char *fn)
{
    EL_REQUIRE(m, fn);
    EL_REQUIRE(inputs, fn);
    EL_REQUIRE(targets, fn);
    EL_REQUIRE(state, fn);
    if (steps < 1 || batch < 1)
        return el__fail(EL_ERR_INVALID, "%s: %d steps of %d streams", fn, steps, batch);
    el_status s = check_state(m, &state->h, "h", batch, fn);
    if (!s && is_lstm(m)) s = check_state(m, &state->c, "c", batch, fn);
    return s;
}

/* Runs the layers and the output layer over one chunk, leaving the logits
 * in the cache and the final state in state. */
static el_status forward(el_charlm *m, const int *inputs, int steps, int batch,
                         el_charlm_state *state, el_rng *rng)
{
    el_charlm_cache *c = m->cache;
    int T = steps, B = batch, V = m->config.vocab_size, H = m->config.hidden_size;
    int L = m->config.num_layers;
    el_status s = el_tensor_ensure(&c->y, 3, (int[]){T, B, H});
    if (!s) s = el_tensor_ensure(&c->hn, 3, (int[]){L, B, H});
    if (!s && is_lstm(m)) s = el_tensor_ensure(&c->cn, 3, (int[]){L, B, H});
    if (!s) s = el_tensor_ensure(&c->logits, 2, (int[]){T * B, V});
    if (s) return s;
    const el_tensor *h0 = state->h.size ? &state->h : NULL;
    const el_tensor *c0 = is_lstm(m) && state->c.size ? &state->c : NULL;
    s = el_rnn_forward_ids(&m->rnn, c->rnn, rng, inputs, T, B, NULL, h0, c0, &c->y, &c->hn,
                           is_lstm(m) ? &c->cn : NULL);
    if (!s) s = el_dense_forward(&m->output, &c->y, &c->logits);
    if (!s) s = el_tensor_ensure(&state->h, 3, (int[]){L, B, H});
    if (!s && is_lstm(m)) s = el_tensor_ensure(&state->c, 3, (int[]){L, B, H});
    if (s) return s;
    el_tensor_copy(&state->h, &c->hn);
    if (is_lstm(m)) el_tensor_copy(&state->c, &c->cn);
    return EL_OK;
}

el_status el_charlm_train_step(el_charlm *m, const int *inputs, const int *targets, int steps,
                               int batch, el_charlm_state *state, el_rng *rng, float *loss)
{
    const char *fn = "el_charlm_train_step";
    el_status s = check_call(m, inputs, targets, steps, batch, state, fn);
    if (s) return s;
    EL_REQUIRE(loss, fn);
    el_charlm_cache *c = m->cache;
    s = el_tensor_ensure(&c->dlogits, 2, (int[]){steps * batch, m->config.vocab_size});
    if (!s) s = el_tensor_ensure(&c->dy, 3, (int[]){steps, batch, m->config.hidden_size});
    if (!s) s = forward(m, inputs, steps, batch, state, rng);
    if (!s) s = el_cross_entropy_loss(&c->logits, targets, NULL, EL_PAD, loss, &c->dlogits);
    if (!s) s = el__check_finite_loss(*loss, fn);
    if (!s) s = el_dense_backward(&m->output, &c->y, &c->dlogits, &c->dy);
    /* No gradient for the final state: truncated BPTT stops at the chunk's
     * end, and no input gradient: the inputs are ids. */
    if (!s) s = el_rnn_backward(&m->rnn, c->rnn, &c->dy, NULL, NULL, NULL, NULL, NULL);
    if (!s) s = el__check_finite_grads(&m->cache->params, fn);
    return s;
}

el_status el_charlm_loss_of(el_charlm *m, const int *inputs, const int *targets, int steps,
                            int batch, el_charlm_state *state, double *loss_sum, long *count)
{
    const char *fn = "el_charlm_loss_of";
    el_status s = check_call(m, inputs, targets, steps, batch, state, fn);
    if (s) return s;
    EL_REQUIRE(loss_sum, fn);
    EL_REQUIRE(count, fn);
    int training = m->rnn.training;
    m->rnn.training = 0;
    s = forward(m, inputs, steps, batch, state, NULL);
    m->rnn.training = training;
    float mean = 0;
    if (!s) s = el_cross_entropy_loss(&m->cache->logits, targets, NULL, EL_PAD, &mean, NULL);
    if (s) return s;
    long counted = 0;
    for (size_t i = 0; i < (size_t)steps * batch; i++) counted += targets[i] != EL_PAD;
    *loss_sum = (double)mean * counted;
    *count = counted;
    return EL_OK;
}

/* ---- streams ------------------------------------------------------------ */

static size_t stream_length(size_t count, size_t offset, int batch)
{
    if (batch < 1 || offset + 1 >= count) return 0;
    return (count - offset - 1) / (size_t)batch;
}

long el_charlm_chunks(size_t count, size_t offset, int batch, int max_steps)
{
    size_t L = stream_length(count, offset, batch);
    if (max_steps < 1 || L == 0) return 0;
    return (long)((L + (size_t)max_steps - 1) / (size_t)max_steps);
}

el_status el_charlm_chunk(const int *ids, size_t count, size_t offset, int batch, int max_steps,
                          long k, int *inputs, int *targets, int *steps)
{
    const char *fn = "el_charlm_chunk";
    EL_REQUIRE(ids, fn);
    EL_REQUIRE(inputs, fn);
    EL_REQUIRE(targets, fn);
    EL_REQUIRE(steps, fn);
    long chunks = el_charlm_chunks(count, offset, batch, max_steps);
    if (chunks == 0)
        return el__fail(EL_ERR_INVALID, "%s: %zu ids from offset %zu are too few for %d streams",
                        fn, count, offset, batch);
    if (k < 0 || k >= chunks)
        return el__fail(EL_ERR_INVALID, "%s: chunk %ld of %ld", fn, k, chunks);
    size_t L = stream_length(count, offset, batch), first = (size_t)k * max_steps;
    int T = (int)(L - first < (size_t)max_steps ? L - first : (size_t)max_steps);
    for (int t = 0; t < T; t++)
        for (int b = 0; b < batch; b++) {
            size_t at = offset + (size_t)b * L + first + (size_t)t;
            inputs[(size_t)t * batch + b] = ids[at];
            targets[(size_t)t * batch + b] = ids[at + 1];
        }
    *steps = T;
    return EL_OK;
}

/* ---- generation ------------------------------------------------------- */

struct el_charlm_generator {
    el_rnn_stepper *stepper;
    el__packed fc_t; /* fc.weightᵀ, packed */
    float *fc_bias;
    el_tensor y;   /* (1, H) */
    float *logits; /* (V) */
    int vocab, fed;
    el_sampler *sampler;
};

void el_charlm_generator_free(el_charlm_generator *g)
{
    if (!g) return;
    el_rnn_stepper_free(g->stepper);
    el__packed_free(&g->fc_t);
    el__free(g->fc_bias);
    el_tensor_free(&g->y);
    el__free(g->logits);
    el_sampler_free(g->sampler);
    el__free(g);
}

el_status el_charlm_generator_create(el_charlm_generator **out, const el_charlm *m,
                                     const el_sampling *how)
{
    const char *fn = "el_charlm_generator_create";
    EL_REQUIRE(out, fn);
    EL_REQUIRE(m, fn);
    EL_REQUIRE(how, fn);
    *out = NULL;
    el_charlm_generator *g = el__alloc_zero(1, sizeof *g);
    if (!g) return el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    int V = m->config.vocab_size, H = m->config.hidden_size;
    const el_tensor *w = &m->output.weight.value;
    g->vocab = V;
    el_status s = el_sampler_create(&g->sampler, V, how);
    if (!s) s = el_rnn_stepper_create(&g->stepper, &m->rnn, 1);
    if (!s) s = el_tensor_alloc(&g->y, 2, (int[]){1, H});
    if (!s && el__pack(&g->fc_t, w->data, V, H, 1))
        s = el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    if (!s) {
        g->fc_bias = el__alloc((size_t)V * sizeof *g->fc_bias);
        g->logits = el__alloc_zero((size_t)V, sizeof *g->logits);
        if (!g->fc_bias || !g->logits)
            s = el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
        else
            memcpy(g->fc_bias, m->output.bias.value.data, (size_t)V * sizeof *g->fc_bias);
    }
    if (s) {
        el_charlm_generator_free(g);
        return s;
    }
    *out = g;
    return EL_OK;
}

el_status el_charlm_generator_feed(el_charlm_generator *g, int id)
{
    EL_REQUIRE(g, "el_charlm_generator_feed");
    el_status s = el_rnn_step_ids(g->stepper, &id, &g->y);
    if (s) return s;
    el__gemm_packed(1, g->y.data, g->y.shape[1], &g->fc_t, 0.0f, g->logits, g->vocab);
    for (int v = 0; v < g->vocab; v++) g->logits[v] += g->fc_bias[v];
    g->fed = 1;
    return EL_OK;
}

el_status el_charlm_generator_draw(el_charlm_generator *g, el_rng *rng, int *id)
{
    EL_REQUIRE(g, "el_charlm_generator_draw");
    if (!g->fed)
        return el__fail(EL_ERR_STATE, "el_charlm_generator_draw: nothing fed yet (feed a first "
                                      "character)");
    return el_sampler_draw(g->sampler, g->logits, rng, id);
}

const float *el_charlm_generator_logits(const el_charlm_generator *g)
{
    return g ? g->logits : NULL;
}
