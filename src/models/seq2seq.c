/* The encoder-decoder model (elman/seq2seq.h): its parts, the framing of a
 * batch, the encoder, the decoder over whole sequences and the training
 * step.  The decoder one step at a time is in seq2seq_steps.c, decoding in
 * seq2seq_decode.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elman/loss.h"
#include "core/ensure.h"
#include "core/internal.h"
#include "models/seq2seq_internal.h"
#include "text/ids.h"

static const char *cell_prefix(el_cell cell)
{
    return cell == EL_CELL_GRU ? "gru" : cell == EL_CELL_LSTM ? "lstm" : "rnn";
}

static el_status check_config(const el_seq2seq_config *c)
{
    const char *fn = "el_seq2seq_init";
    if (c->source_vocab_size <= EL_SPECIALS || c->target_vocab_size <= EL_SPECIALS)
        return el__fail(EL_ERR_INVALID,
                        "%s: a vocabulary of %d source or %d target ids has no symbols", fn,
                        c->source_vocab_size, c->target_vocab_size);
    if (c->padded_steps < 0)
        return el__fail(EL_ERR_INVALID, "%s: padded_steps %d is negative", fn, c->padded_steps);
    if ((int)c->attention < 0 || (int)c->attention > EL_ATTENTION_GENERAL)
        return el__fail(EL_ERR_INVALID, "%s: unknown attention %d", fn, (int)c->attention);
    if (c->embedding_size < 0)
        return el__fail(EL_ERR_INVALID, "%s: embedding_size %d is negative", fn, c->embedding_size);
    return EL_OK;
}

el_status el_seq2seq_init(el_seq2seq *m, const el_seq2seq_config *config, el_rng *rng)
{
    EL_REQUIRE(m, "el_seq2seq_init");
    EL_REQUIRE(config, "el_seq2seq_init");
    memset(m, 0, sizeof *m);
    el_status s = check_config(config);
    if (s) return s;
    m->config = *config;
    int E = config->embedding_size, H = config->hidden_size;
    int V = config->target_vocab_size;
    char name[32];
    el_rnn_config enc = {config->cell,
                         E ? E : config->source_vocab_size,
                         H,
                         config->num_layers,
                         config->bidirectional,
                         config->dropout};
    el_rnn_config dec = enc;
    int K = el_rnn_directions(&enc) * H;
    dec.input_size = el__s2s_symbol_width(m) + (config->attention == EL_ATTENTION_ADDITIVE ? K
                                                : el__s2s_luong(m)                         ? H
                                                                                           : 0);
    dec.bidirectional = 0;
    /* The parts of the model without attention and embeddings first, so
     * that such a model draws its initial weights as before. */
    snprintf(name, sizeof name, "encoder.%s", cell_prefix(config->cell));
    s = el_rnn_init(&m->encoder, name, &enc, rng);
    snprintf(name, sizeof name, "decoder.%s", cell_prefix(config->cell));
    if (!s) s = el_rnn_init(&m->decoder, name, &dec, rng);
    if (!s) s = el_dense_init(&m->output, "decoder.fc", H, V, 1, rng);
    if (!s && E)
        s = el_embedding_init(&m->encoder_embedding, "encoder.embedding", config->source_vocab_size,
                              E, -1, rng);
    if (!s && E) s = el_embedding_init(&m->decoder_embedding, "decoder.embedding", V, E, -1, rng);
    if (!s && config->attention != EL_ATTENTION_NONE)
        s = el_attention_layer_init(&m->attention, "decoder.attention", config->attention, H, K,
                                    rng);
    if (!s && el__s2s_luong(m)) s = el_dense_init(&m->concat, "decoder.concat", K + H, H, 0, rng);
    if (!s) {
        m->cache = el__alloc_zero(1, sizeof *m->cache);
        if (!m->cache) s = el__fail(EL_ERR_NOMEM, "el_seq2seq_init: out of memory");
    }
    if (!s) s = el_rnn_cache_create(&m->cache->encoder);
    if (!s && config->attention != EL_ATTENTION_NONE)
        s = el_attention_cache_create(&m->cache->attention);
    if (!s) s = el_seq2seq_params(m, &m->cache->params);
    if (s) el_seq2seq_free(m);
    return s;
}

static void free_cache(el_seq2seq_cache *c)
{
    if (!c) return;
    el_rnn_cache_free(c->encoder);
    el_attention_cache_free(c->attention);
    el_param_list_free(&c->params);
    for (int i = 0; i < c->decoder_caches; i++) el_rnn_cache_free(c->decoder[i]);
    el__free(c->decoder);
    el_ids *ids[] = {&c->source,   &c->target_in,    &c->target_out, &c->target_lengths,
                     &c->step_ids, &c->step_lengths, &c->decoder_ids};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) el_ids_free(ids[i]);
    el_tensor *t[] = {
        &c->enc_x,    &c->enc_dx,  &c->enc_y,   &c->enc_dy,    &c->enc_hn,    &c->enc_cn,
        &c->enc_dhn,  &c->enc_dcn, &c->dec_x,   &c->dec_dx,    &c->demb,      &c->dec_y,
        &c->dec_dy,   &c->h0,      &c->c0,      &c->dh0,       &c->dc0,       &c->context,
        &c->cat,      &c->htilde,  &c->dhtilde, &c->dpre,      &c->dcat,      &c->dcontext,
        &c->dquery,   &c->weights, &c->dkeys,   &c->logits,    &c->dlogits,   &c->state[0],
        &c->state[1], &c->cell[0], &c->cell[1], &c->beam_logp, &c->beam_keys, &c->decoded_weights};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) el_tensor_free(t[i]);
    el__free(c);
}

void el_seq2seq_free(el_seq2seq *m)
{
    if (!m) return;
    el_rnn_free(&m->encoder);
    el_rnn_free(&m->decoder);
    el_dense_free(&m->output);
    el_embedding_free(&m->encoder_embedding);
    el_embedding_free(&m->decoder_embedding);
    el_attention_layer_free(&m->attention);
    el_dense_free(&m->concat);
    free_cache(m->cache);
    m->cache = NULL;
}

el_status el_seq2seq_params(el_seq2seq *m, el_param_list *list)
{
    EL_REQUIRE(m, "el_seq2seq_params");
    int E = m->config.embedding_size;
    el_status s = E ? el_embedding_params(&m->encoder_embedding, list) : EL_OK;
    if (!s) s = el_rnn_params(&m->encoder, list);
    if (!s && E) s = el_embedding_params(&m->decoder_embedding, list);
    if (!s && m->config.attention != EL_ATTENTION_NONE)
        s = el_attention_layer_params(&m->attention, list);
    if (!s) s = el_rnn_params(&m->decoder, list);
    if (!s && el__s2s_luong(m)) s = el_dense_params(&m->concat, list);
    if (!s) s = el_dense_params(&m->output, list);
    return s;
}

void el_seq2seq_set_training(el_seq2seq *m, int training)
{
    if (!m) return;
    m->encoder.training = training != 0;
    m->decoder.training = training != 0;
}

void el_seq2seq_set_first_row(el_seq2seq *m, int first_row)
{
    if (!m) return;
    el_rnn_set_position(&m->encoder, first_row, 0);
    el_rnn_set_position(&m->decoder, first_row, 0);
}

/* ---- workspaces ------------------------------------------------------- */

el_status el__s2s_reserve_ids(el_ids *ids, size_t count)
{
    el_status s = el__ids_reserve(ids, count, "el_seq2seq");
    if (!s) ids->count = count;
    return s;
}

el_status el__s2s_reserve_decoder_caches(el_seq2seq_cache *c, int n)
{
    if (n <= c->decoder_caches) return EL_OK;
    el_rnn_cache **caches = el__realloc(c->decoder, (size_t)n * sizeof *caches);
    if (!caches) return el__fail(EL_ERR_NOMEM, "el_seq2seq: out of memory");
    c->decoder = caches;
    while (c->decoder_caches < n) {
        el_status s = el_rnn_cache_create(&c->decoder[c->decoder_caches]);
        if (s) return s;
        c->decoder_caches++;
    }
    return EL_OK;
}

/* ---- framing ---------------------------------------------------------- */

/* The encoder's input ids (time-major) and lengths (NULL: all steps). */
static el_status frame_source(el_seq2seq *m, const el_batch *batch, const int **lengths)
{
    el_seq2seq_cache *c = m->cache;
    int B = batch->size, padded = m->config.padded_steps;
    if (!padded) {
        c->source_steps = batch->input_steps;
        el_status s = el__s2s_reserve_ids(&c->source, (size_t)c->source_steps * B);
        if (s) return s;
        memcpy(c->source.data, batch->inputs, c->source.count * sizeof(int));
        *lengths = batch->input_lengths;
        return EL_OK;
    }
    int T = padded + 1;
    c->source_steps = T;
    el_status s = el__s2s_reserve_ids(&c->source, (size_t)T * B);
    if (s) return s;
    for (int b = 0; b < B; b++) {
        int len = batch->input_lengths[b];
        if (len + 2 > T)
            return el__fail(EL_ERR_INVALID,
                            "el_seq2seq: a source of %d symbols does not fit %d padded steps", len,
                            padded);
        for (int t = 0; t < T; t++) {
            int id = t == 0         ? EL_SOS
                     : t <= len     ? batch->inputs[(size_t)(t - 1) * B + b]
                     : t == len + 1 ? EL_EOS
                                    : EL_PAD;
            c->source.data[(size_t)t * B + b] = id;
        }
    }
    *lengths = NULL;
    return EL_OK;
}

/* The decoder's input (<sos> target <eos> <pad>...) and expected output
 * (target <eos> <pad>...), time-major, and lengths (NULL: all steps). */
static el_status frame_target(el_seq2seq *m, const el_batch *batch, const int **lengths)
{
    el_seq2seq_cache *c = m->cache;
    int B = batch->size, padded = m->config.padded_steps;
    int T = padded ? padded : batch->target_steps + 1;
    c->target_steps = T;
    el_status s = el__s2s_reserve_ids(&c->target_in, (size_t)T * B);
    if (!s) s = el__s2s_reserve_ids(&c->target_out, (size_t)T * B);
    if (!s) s = el__s2s_reserve_ids(&c->target_lengths, (size_t)B);
    if (s) return s;
    for (int b = 0; b < B; b++) {
        int len = batch->target_lengths[b];
        if (len + 1 > T)
            return el__fail(EL_ERR_INVALID,
                            "el_seq2seq: a target of %d symbols does not fit %d padded steps", len,
                            padded);
        c->target_lengths.data[b] = len + 1;
        for (int t = 0; t < T; t++) {
            int in = t == 0         ? EL_SOS
                     : t - 1 < len  ? batch->targets[(size_t)(t - 1) * B + b]
                     : t - 1 == len ? EL_EOS
                                    : EL_PAD;
            int out = t < len ? batch->targets[(size_t)t * B + b] : t == len ? EL_EOS : EL_PAD;
            c->target_in.data[(size_t)t * B + b] = in;
            c->target_out.data[(size_t)t * B + b] = out;
        }
    }
    *lengths = padded ? NULL : c->target_lengths.data;
    return EL_OK;
}

/* ---- passes ----------------------------------------------------------- */

el_status el__s2s_check_batch(const el_seq2seq *m, const el_batch *batch, const char *fn)
{
    EL_REQUIRE(m, fn);
    EL_REQUIRE(batch, fn);
    if (!m->cache) return el__fail(EL_ERR_STATE, "%s: the model is not initialised", fn);
    if (batch->size < 1) return el__fail(EL_ERR_INVALID, "%s: an empty batch", fn);
    return EL_OK;
}

/* Runs the encoder and sets the decoder's initial state: the encoder's
 * final state per layer, summed over directions. */
el_status el__s2s_encode(el_seq2seq *m, const el_batch *batch, el_rng *rng)
{
    el_seq2seq_cache *c = m->cache;
    const int *lengths = NULL;
    int B = batch->size, H = m->config.hidden_size, E = m->config.embedding_size;
    int L = m->config.num_layers, D = el_rnn_directions(&m->encoder.config);
    int lstm = el__s2s_lstm(m);
    el_status s = frame_source(m, batch, &lengths);
    int T = c->source_steps;
    c->source_lengths = lengths;
    if (!s) s = el__ensure3(&c->enc_y, T, B, D * H);
    if (!s) s = el__ensure3(&c->enc_hn, L * D, B, H);
    if (!s && lstm) s = el__ensure3(&c->enc_cn, L * D, B, H);
    if (!s) s = el__ensure3(&c->h0, L, B, H);
    if (!s && lstm) s = el__ensure3(&c->c0, L, B, H);
    if (!s && E) s = el__ensure3(&c->enc_x, T, B, E);
    if (!s && E) s = el_embedding_forward(&m->encoder_embedding, c->source.data, T * B, &c->enc_x);
    if (!s && E)
        s = el_rnn_forward(&m->encoder, c->encoder, rng, &c->enc_x, lengths, NULL, NULL, &c->enc_y,
                           &c->enc_hn, lstm ? &c->enc_cn : NULL);
    else if (!s)
        s = el_rnn_forward_ids(&m->encoder, c->encoder, rng, c->source.data, T, B, lengths, NULL,
                               NULL, &c->enc_y, &c->enc_hn, lstm ? &c->enc_cn : NULL);
    if (s) return s;
    size_t per_layer = (size_t)B * H;
    for (int l = 0; l < L; l++)
        for (size_t i = 0; i < per_layer; i++) {
            const float *h = c->enc_hn.data + (size_t)l * D * per_layer + i;
            c->h0.data[l * per_layer + i] = D == 2 ? h[0] + h[per_layer] : h[0];
            if (lstm) {
                const float *cs = c->enc_cn.data + (size_t)l * D * per_layer + i;
                c->c0.data[l * per_layer + i] = D == 2 ? cs[0] + cs[per_layer] : cs[0];
            }
        }
    return EL_OK;
}

/* The gradient of the decoder's initial state goes to every direction's
 * final state (the sum's gradient), and the attention's to the outputs,
 * then back through the encoder (and its embedding). */
static el_status encode_backward(el_seq2seq *m, int batch)
{
    el_seq2seq_cache *c = m->cache;
    int H = m->config.hidden_size, L = m->config.num_layers,
        D = el_rnn_directions(&m->encoder.config), E = m->config.embedding_size;
    int lstm = el__s2s_lstm(m);
    el_status s = el__ensure3(&c->enc_dhn, L * D, batch, H);
    if (!s && lstm) s = el__ensure3(&c->enc_dcn, L * D, batch, H);
    if (s) return s;
    size_t per_layer = (size_t)batch * H;
    for (int l = 0; l < L; l++)
        for (int d = 0; d < D; d++) {
            memcpy(c->enc_dhn.data + (size_t)(l * D + d) * per_layer, c->dh0.data + l * per_layer,
                   per_layer * sizeof(float));
            if (lstm)
                memcpy(c->enc_dcn.data + (size_t)(l * D + d) * per_layer,
                       c->dc0.data + l * per_layer, per_layer * sizeof(float));
        }
    const el_tensor *dy = m->config.attention != EL_ATTENTION_NONE ? &c->dkeys : NULL;
    s = el_rnn_backward(&m->encoder, c->encoder, dy, &c->enc_dhn, lstm ? &c->enc_dcn : NULL,
                        E ? &c->enc_dx : NULL, NULL, NULL);
    if (!s && E)
        s = el_embedding_backward(&m->encoder_embedding, c->source.data, c->source_steps * batch,
                                  &c->enc_dx);
    return s;
}

el_status el__s2s_size_decoder(el_seq2seq *m, int T, int B)
{
    el_seq2seq_cache *c = m->cache;
    int H = m->config.hidden_size, V = m->config.target_vocab_size, L = m->config.num_layers;
    int E = m->config.embedding_size, K = el__s2s_keys(m), in = m->decoder.config.input_size;
    int attention = m->config.attention != EL_ATTENTION_NONE, luong = el__s2s_luong(m);
    el_status s = el__ensure3(&c->dec_y, T, B, H);
    if (!s) s = el__ensure3(&c->dec_dy, T, B, H);
    if (!s) s = el__ensure2(&c->logits, T * B, V);
    if (!s) s = el__ensure2(&c->dlogits, T * B, V);
    if (!s) s = el__ensure3(&c->dh0, L, B, H);
    if (!s && el__s2s_lstm(m)) s = el__ensure3(&c->dc0, L, B, H);
    for (int i = 0; i < 2 && !s; i++) {
        s = el__ensure3(&c->state[i], L, B, H);
        if (!s && el__s2s_lstm(m)) s = el__ensure3(&c->cell[i], L, B, H);
    }
    if (!s && (E || attention)) s = el__ensure3(&c->dec_x, T, B, in);
    if (!s && (E || attention)) s = el__ensure3(&c->dec_dx, T, B, in);
    if (!s && E) s = el__ensure3(&c->demb, T, B, E);
    if (!s && attention) s = el__ensure3(&c->context, T, B, K);
    if (!s && attention) s = el__ensure2(&c->dcontext, B, K);
    if (!s && attention) s = el__ensure2(&c->dquery, B, H);
    if (!s && luong) s = el__ensure3(&c->cat, T, B, K + H);
    if (!s && luong) s = el__ensure3(&c->htilde, T, B, H);
    if (!s && luong) s = el__ensure3(&c->dhtilde, T, B, H);
    if (!s && luong) s = el__ensure3(&c->dpre, T, B, H);
    if (!s && luong) s = el__ensure2(&c->dcat, B, K + H);
    return s;
}

/* The decoder over all steps at once, reading the true previous symbols
 * (no attention). */
static el_status decode_forced(el_seq2seq *m, const int *lengths, el_rng *rng)
{
    el_seq2seq_cache *c = m->cache;
    int T = c->target_steps, B = c->batch, lstm = el__s2s_lstm(m);
    el_status s = el__s2s_reserve_decoder_caches(c, 1);
    if (!s && m->config.embedding_size)
        s = el_embedding_forward(&m->decoder_embedding, c->target_in.data, T * B, &c->dec_x);
    if (!s && m->config.embedding_size)
        s = el_rnn_forward(&m->decoder, c->decoder[0], rng, &c->dec_x, lengths, &c->h0,
                           lstm ? &c->c0 : NULL, &c->dec_y, NULL, NULL);
    else if (!s)
        s = el_rnn_forward_ids(&m->decoder, c->decoder[0], rng, c->target_in.data, T, B, lengths,
                               &c->h0, lstm ? &c->c0 : NULL, &c->dec_y, NULL, NULL);
    if (!s) s = el_dense_forward(&m->output, &c->dec_y, &c->logits);
    return s;
}

static el_status decode_forced_backward(el_seq2seq *m)
{
    el_seq2seq_cache *c = m->cache;
    int E = m->config.embedding_size, lstm = el__s2s_lstm(m);
    el_status s = el_rnn_backward(&m->decoder, c->decoder[0], &c->dec_dy, NULL, NULL,
                                  E ? &c->dec_dx : NULL, &c->dh0, lstm ? &c->dc0 : NULL);
    if (!s && E)
        s = el_embedding_backward(&m->decoder_embedding, c->target_in.data,
                                  c->target_steps * c->batch, &c->dec_dx);
    return s;
}

/* Frames the batch, runs the encoder and the decoder, and computes the
 * loss (with its gradient when dlogits is wanted). */
static el_status forward_loss(el_seq2seq *m, const el_batch *batch, double ratio, el_rng *rng,
                              float *loss, int want_gradient)
{
    el_seq2seq_cache *c = m->cache;
    const int *lengths = NULL;
    c->batch = batch->size;
    el_status s = el__s2s_encode(m, batch, rng);
    if (!s) s = frame_target(m, batch, &lengths);
    if (!s) s = el__s2s_size_decoder(m, c->target_steps, batch->size);
    if (s) return s;
    s = el__s2s_stepwise(m, ratio) ? el__s2s_steps_forward(m, ratio, rng)
                                   : decode_forced(m, lengths, rng);
    if (s) return s;
    int ignore = m->config.padded_steps ? EL_IGNORE_NONE : EL_PAD;
    return el_cross_entropy_loss(&c->logits, c->target_out.data, NULL, ignore, loss,
                                 want_gradient ? &c->dlogits : NULL);
}

el_status el_seq2seq_train_step(el_seq2seq *m, const el_batch *batch, double teacher_forcing,
                                el_rng *rng, float *loss)
{
    const char *fn = "el_seq2seq_train_step";
    el_status s = el__s2s_check_batch(m, batch, fn);
    if (s) return s;
    EL_REQUIRE(loss, fn);
    if (!(teacher_forcing >= 0 && teacher_forcing <= 1))
        return el__fail(EL_ERR_INVALID, "%s: teacher forcing ratio %g outside [0, 1]", fn,
                        teacher_forcing);
    if (teacher_forcing < 1) EL_REQUIRE(rng, fn);
    s = forward_loss(m, batch, teacher_forcing, rng, loss, 1);
    if (!s) s = el__check_finite_loss(*loss, fn);
    el_seq2seq_cache *c = m->cache;
    int luong = el__s2s_luong(m);
    if (!s)
        s = el_dense_backward(&m->output, luong ? &c->htilde : &c->dec_y, &c->dlogits,
                              luong ? &c->dhtilde : &c->dec_dy);
    if (s) return s;
    s = el__s2s_stepwise(m, teacher_forcing) ? el__s2s_steps_backward(m)
                                             : decode_forced_backward(m);
    if (!s) s = encode_backward(m, batch->size);
    if (!s) s = el__check_finite_grads(&m->cache->params, fn);
    return s;
}

el_status el_seq2seq_loss_of(el_seq2seq *m, const el_batch *batch, float *loss)
{
    el_status s = el__s2s_check_batch(m, batch, "el_seq2seq_loss_of");
    if (s) return s;
    EL_REQUIRE(loss, "el_seq2seq_loss_of");
    int training = m->encoder.training;
    el_seq2seq_set_training(m, 0);
    s = forward_loss(m, batch, 1.0, NULL, loss, 0);
    el_seq2seq_set_training(m, training);
    return s;
}
