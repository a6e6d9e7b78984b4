/* A sequence autoencoder: embedding, encoder, code, decoder, output
 * (include/elman/seq_autoencoder.h).  Sequences are time-major throughout:
 * row t * B + b is step t of example b, as the loader lays batches out. */
#include <string.h>

#include "elman/loss.h"
#include "elman/seq_autoencoder.h"
#include "elman/vocab.h"
#include "core/internal.h"
#include "text/ids.h"

struct el_seq_autoencoder_cache {
    el_rnn_cache *encoder, *decoder;
    el_ids dec_in, dec_out, dec_lengths; /* <sos> x, and x <eos>, padded */
    el_tensor x_enc, y_enc, code, x_dec, y_dec, logits;
    el_tensor dlogits, dy_dec, dx_dec, dcode, dx_enc;
    el_tensor x_step, y_step, logits_step; /* decoding, one step at a time */
    el_ids prev;
    el_param_list params; /* the model's, for the gradient check of each step */
};

static void free_cache(el_seq_autoencoder_cache *c)
{
    if (!c) return;
    el_rnn_cache_free(c->encoder);
    el_rnn_cache_free(c->decoder);
    el_param_list_free(&c->params);
    el_ids *ids[] = {&c->dec_in, &c->dec_out, &c->dec_lengths, &c->prev};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) el_ids_free(ids[i]);
    el_tensor *t[] = {&c->x_enc,  &c->y_enc,   &c->code,   &c->x_dec,      &c->y_dec,
                      &c->logits, &c->dlogits, &c->dy_dec, &c->dx_dec,     &c->dcode,
                      &c->dx_enc, &c->x_step,  &c->y_step, &c->logits_step};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) el_tensor_free(t[i]);
    el__free(c);
}

void el_seq_autoencoder_free(el_seq_autoencoder *m)
{
    if (!m) return;
    el_embedding_free(&m->embed);
    el_rnn_free(&m->encoder);
    el_rnn_free(&m->decoder);
    el_dense_free(&m->output);
    free_cache(m->cache);
    m->cache = NULL;
}

el_status el_seq_autoencoder_init(el_seq_autoencoder *m, const el_seq_autoencoder_config *config,
                                  el_rng *rng)
{
    const char *fn = "el_seq_autoencoder_init";
    EL_REQUIRE(m, fn);
    EL_REQUIRE(config, fn);
    memset(m, 0, sizeof *m);
    if (config->vocab_size <= EL_SPECIALS)
        return el__fail(EL_ERR_INVALID, "%s: a vocabulary of %d ids has no symbols", fn,
                        config->vocab_size);
    m->config = *config;
    el_rnn_config rnn = {.cell = config->cell,
                         .input_size = config->embed_size,
                         .hidden_size = config->hidden_size,
                         .num_layers = 1};
    el_status s =
        el_embedding_init(&m->embed, "embed", config->vocab_size, config->embed_size, EL_PAD, rng);
    if (!s) s = el_rnn_init(&m->encoder, "encoder", &rnn, rng);
    if (!s) s = el_rnn_init(&m->decoder, "decoder", &rnn, rng);
    if (!s)
        s = el_dense_init(&m->output, "output", config->hidden_size, config->vocab_size, 1, rng);
    if (!s) {
        m->cache = el__alloc_zero(1, sizeof *m->cache);
        if (!m->cache) s = el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    }
    if (!s) s = el_rnn_cache_create(&m->cache->encoder);
    if (!s) s = el_rnn_cache_create(&m->cache->decoder);
    if (!s) s = el_seq_autoencoder_params(m, &m->cache->params);
    if (s) el_seq_autoencoder_free(m);
    return s;
}

el_status el_seq_autoencoder_params(el_seq_autoencoder *m, el_param_list *list)
{
    EL_REQUIRE(m, "el_seq_autoencoder_params");
    el_status s = el_embedding_params(&m->embed, list);
    if (!s) s = el_rnn_params(&m->encoder, list);
    if (!s) s = el_rnn_params(&m->decoder, list);
    if (!s) s = el_dense_params(&m->output, list);
    return s;
}

static el_status ensure3(el_tensor *t, int a, int b, int c)
{
    return el_tensor_ensure(t, 3, (int[]){a, b, c});
}

/* The code of each input: the encoder's state after the input's last
 * symbol (the recurrent layer stops each sequence at its length). */
static el_status encode(el_seq_autoencoder *m, const el_batch *batch)
{
    el_seq_autoencoder_cache *c = m->cache;
    int steps = batch->input_steps, n = batch->size, e = m->config.embed_size;
    el_status s = el_embedding_forward(&m->embed, batch->inputs, steps * n, &c->x_enc);
    if (!s) s = el_tensor_reshape(&c->x_enc, 3, (int[]){steps, n, e});
    if (!s) s = ensure3(&c->y_enc, steps, n, m->config.hidden_size);
    if (!s) s = ensure3(&c->code, 1, n, m->config.hidden_size);
    if (!s)
        s = el_rnn_forward(&m->encoder, c->encoder, NULL, &c->x_enc, batch->input_lengths, NULL,
                           NULL, &c->y_enc, &c->code, NULL);
    return s;
}

/* The decoder's inputs (<sos> x) and targets (x <eos>), one step longer
 * than the inputs; positions past a sequence's end are <pad>, which the
 * loss ignores. */
static el_status frame_targets(el_seq_autoencoder_cache *c, const el_batch *batch)
{
    int steps = batch->input_steps + 1, n = batch->size;
    size_t total = (size_t)steps * n;
    el_status s = el__ids_reserve(&c->dec_in, total, "el_seq_autoencoder");
    if (!s) s = el__ids_reserve(&c->dec_out, total, "el_seq_autoencoder");
    if (!s) s = el__ids_reserve(&c->dec_lengths, (size_t)n, "el_seq_autoencoder");
    if (s) return s;
    for (int b = 0; b < n; b++) {
        int length = batch->input_lengths[b];
        c->dec_lengths.data[b] = length + 1;
        for (int t = 0; t < steps; t++) {
            size_t i = (size_t)t * n + b;
            c->dec_in.data[i] = t == 0 ? EL_SOS : t <= length ? batch->inputs[i - n] : EL_PAD;
            c->dec_out.data[i] = t < length ? batch->inputs[i] : t == length ? EL_EOS : EL_PAD;
        }
    }
    c->dec_in.count = c->dec_out.count = total;
    c->dec_lengths.count = (size_t)n;
    return EL_OK;
}

/* Encoder, decoder from the code, output, and the loss; dlogits when
 * wanted. */
static el_status forward(el_seq_autoencoder *m, const el_batch *batch, float *loss, int gradients)
{
    el_seq_autoencoder_cache *c = m->cache;
    int steps = batch->input_steps + 1, n = batch->size, h = m->config.hidden_size;
    el_status s = encode(m, batch);
    if (!s) s = frame_targets(c, batch);
    if (!s) s = el_embedding_forward(&m->embed, c->dec_in.data, steps * n, &c->x_dec);
    if (!s) s = el_tensor_reshape(&c->x_dec, 3, (int[]){steps, n, m->config.embed_size});
    if (!s) s = ensure3(&c->y_dec, steps, n, h);
    if (!s)
        s = el_rnn_forward(&m->decoder, c->decoder, NULL, &c->x_dec, c->dec_lengths.data, &c->code,
                           NULL, &c->y_dec, NULL, NULL);
    if (!s) s = ensure3(&c->logits, steps, n, m->config.vocab_size);
    if (!s) s = el_dense_forward(&m->output, &c->y_dec, &c->logits);
    if (!s && gradients) s = el_tensor_ensure(&c->dlogits, 3, c->logits.shape);
    if (!s)
        s = el_cross_entropy_loss(&c->logits, c->dec_out.data, NULL, EL_PAD, loss,
                                  gradients ? &c->dlogits : NULL);
    return s;
}

static el_status check_batch(const char *fn, const el_batch *batch)
{
    if (!batch || batch->size < 1 || batch->input_steps < 1)
        return el__fail(EL_ERR_INVALID, "%s: an empty batch", fn);
    return EL_OK;
}

el_status el_seq_autoencoder_loss_of(el_seq_autoencoder *m, const el_batch *batch, float *loss)
{
    const char *fn = "el_seq_autoencoder_loss_of";
    EL_REQUIRE(m, fn);
    EL_REQUIRE(loss, fn);
    el_status s = check_batch(fn, batch);
    return s ? s : forward(m, batch, loss, 0);
}

el_status el_seq_autoencoder_train_step(el_seq_autoencoder *m, const el_batch *batch, float *loss)
{
    const char *fn = "el_seq_autoencoder_train_step";
    EL_REQUIRE(m, fn);
    EL_REQUIRE(loss, fn);
    el_status s = check_batch(fn, batch);
    if (!s) s = forward(m, batch, loss, 1);
    if (!s) s = el__check_finite_loss(*loss, fn);
    if (s) return s;
    el_seq_autoencoder_cache *c = m->cache;
    int steps = batch->input_steps, n = batch->size;
    /* Back from the output through the decoder to the code, then through
     * the encoder; the embedding gathers both sides' gradients. */
    s = el_tensor_ensure(&c->dy_dec, 3, c->y_dec.shape);
    if (!s) s = el_dense_backward(&m->output, &c->y_dec, &c->dlogits, &c->dy_dec);
    if (!s) s = el_tensor_ensure(&c->dx_dec, 3, c->x_dec.shape);
    if (!s) s = el_tensor_ensure(&c->dcode, 3, c->code.shape);
    if (!s)
        s = el_rnn_backward(&m->decoder, c->decoder, &c->dy_dec, NULL, NULL, &c->dx_dec, &c->dcode,
                            NULL);
    if (!s) s = el_embedding_backward(&m->embed, c->dec_in.data, (steps + 1) * n, &c->dx_dec);
    if (!s) s = el_tensor_ensure(&c->dx_enc, 3, c->x_enc.shape);
    if (!s)
        s = el_rnn_backward(&m->encoder, c->encoder, NULL, &c->dcode, NULL, &c->dx_enc, NULL, NULL);
    if (!s) s = el_embedding_backward(&m->embed, batch->inputs, steps * n, &c->dx_enc);
    if (!s) s = el__check_finite_grads(&c->params, fn);
    return s;
}

el_status el_seq_autoencoder_encode(el_seq_autoencoder *m, const el_batch *batch, el_tensor *code)
{
    const char *fn = "el_seq_autoencoder_encode";
    EL_REQUIRE(m, fn);
    EL_REQUIRE(code, fn);
    el_status s = check_batch(fn, batch);
    if (!s) s = encode(m, batch);
    if (!s) s = el__size_output(fn, "code", code, 2, (int[]){batch->size, m->config.hidden_size});
    if (!s) s = el_tensor_copy(code, &m->cache->code);
    return s;
}

/* The most likely id of a row of logits. */
static int argmax(const float *row, int count)
{
    int best = 0;
    for (int i = 1; i < count; i++)
        if (row[i] > row[best]) best = i;
    return best;
}

/* One step of every sequence: embed the previous ids, advance the decoder,
 * score.  The stepper holds a copy of the weights taken when it was made,
 * so decoding makes one per call (the weights change between calls while
 * training). */
static el_status decode_steps(el_seq_autoencoder *m, el_rnn_stepper *stepper, int n, int max_length,
                              el_ids *out)
{
    el_seq_autoencoder_cache *c = m->cache;
    int v = m->config.vocab_size, running = n;
    el_status s = el__ids_reserve(&c->prev, (size_t)n, "el_seq_autoencoder_decode");
    for (int b = 0; b < n && !s; b++) {
        c->prev.data[b] = EL_SOS;
        out[b].count = 0;
    }
    if (!s) s = el_tensor_ensure(&c->y_step, 2, (int[]){n, m->config.hidden_size});
    if (!s) s = el_tensor_ensure(&c->logits_step, 2, (int[]){n, v});
    /* A finished sequence keeps feeding <eos>; its outputs are not read. */
    for (int t = 0; t <= max_length && running > 0 && !s; t++) {
        s = el_embedding_forward(&m->embed, c->prev.data, n, &c->x_step);
        if (!s) s = el_rnn_step(stepper, &c->x_step, &c->y_step);
        if (!s) s = el_dense_forward(&m->output, &c->y_step, &c->logits_step);
        for (int b = 0; b < n && !s; b++) {
            if (c->prev.data[b] == EL_EOS && t > 0) continue;
            int id = argmax(c->logits_step.data + (size_t)b * v, v);
            if (id == EL_EOS || t == max_length) {
                c->prev.data[b] = EL_EOS;
                running--;
                continue;
            }
            s = el__ids_reserve(&out[b], out[b].count + 1, "el_seq_autoencoder_decode");
            if (!s) out[b].data[out[b].count++] = id;
            c->prev.data[b] = id;
        }
    }
    return s;
}

el_status el_seq_autoencoder_decode(el_seq_autoencoder *m, const el_tensor *code, int max_length,
                                    el_ids *out)
{
    const char *fn = "el_seq_autoencoder_decode";
    EL_REQUIRE(m, fn);
    EL_REQUIRE(code, fn);
    EL_REQUIRE(out, fn);
    int n = el_tensor_rows(code);
    if (code->ndim != 2 || n < 1 || el_tensor_cols(code) != m->config.hidden_size) {
        char shape[64];
        return el__fail(EL_ERR_SHAPE, "%s: code is %s, expected B x %d", fn,
                        el_tensor_shape_string(code, shape, sizeof shape), m->config.hidden_size);
    }
    if (max_length < 0) return el__fail(EL_ERR_INVALID, "%s: max_length %d", fn, max_length);
    el_tensor h0 = {0};
    el_rnn_stepper *stepper = NULL;
    el_status s = el_tensor_view(&h0, code, 0, 3, (int[]){1, n, m->config.hidden_size});
    if (!s) s = el_rnn_stepper_create(&stepper, &m->decoder, n);
    if (!s) s = el_rnn_stepper_reset(stepper, &h0, NULL);
    if (!s) s = decode_steps(m, stepper, n, max_length, out);
    el_rnn_stepper_free(stepper);
    return s;
}
