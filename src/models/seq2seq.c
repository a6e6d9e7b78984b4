#include <math.h>
#include <stdio.h>
#include <string.h>

#include "elman/activation.h"
#include "elman/loss.h"
#include "elman/seq2seq.h"
#include "elman/vocab.h"
#include "core/ensure.h"
#include "core/internal.h"
#include "text/ids.h"

/* Workspaces, sized on the first batch of a shape and reused, and what a
 * training step's backward reads.  Sequences are time-major throughout:
 * row t * B + b is step t of example b. */
struct el_seq2seq_cache {
    el_rnn_cache *encoder;
    el_rnn_cache **decoder; /* [0] for a whole-sequence call; one per step when
                               the decoder runs step by step */
    int decoder_caches;
    int source_steps, target_steps, batch;
    el_ids source, source_lengths;                /* framed encoder input */
    el_ids target_in, target_out, target_lengths; /* framed decoder input and targets */
    el_ids step_ids, step_lengths;
    el_tensor enc_y, enc_hn, enc_cn, enc_dhn, enc_dcn;
    el_tensor dec_y, dec_dy, h0, c0, dh0, dc0;
    el_tensor logits, dlogits;
    el_tensor state[2], cell[2]; /* the decoder's state between single steps */
    el_tensor beam_logp;
    el_param_list params; /* the model's, for the gradient check of each step */
};

static const char *cell_prefix(el_cell cell)
{
    return cell == EL_CELL_GRU ? "gru" : cell == EL_CELL_LSTM ? "lstm" : "rnn";
}

static int is_lstm(const el_seq2seq *m) { return m->config.cell == EL_CELL_LSTM; }

static const char *const attention_names[] = {"none", "additive", "dot", "general"};
#define ATTENTION_COUNT ((int)(sizeof attention_names / sizeof attention_names[0]))

el_status el_attention_parse(const char *text, el_attention *out)
{
    EL_REQUIRE(text, "el_attention_parse");
    EL_REQUIRE(out, "el_attention_parse");
    for (int i = 0; i < ATTENTION_COUNT; i++)
        if (!strcmp(text, attention_names[i])) {
            *out = (el_attention)i;
            return EL_OK;
        }
    return el__fail(EL_ERR_INVALID,
                    "el_attention_parse: unknown attention '%s' (none, additive, dot or general)",
                    text);
}

const char *el_attention_name(el_attention a)
{
    return (int)a >= 0 && (int)a < ATTENTION_COUNT ? attention_names[a] : "unknown";
}

static el_status check_config(const el_seq2seq_config *c)
{
    const char *fn = "el_seq2seq_init";
    if (c->source_vocab_size <= EL_SPECIALS || c->target_vocab_size <= EL_SPECIALS)
        return el__fail(EL_ERR_INVALID,
                        "%s: a vocabulary of %d source or %d target ids has no symbols", fn,
                        c->source_vocab_size, c->target_vocab_size);
    if ((int)c->attention < 0 || (int)c->attention >= ATTENTION_COUNT)
        return el__fail(EL_ERR_INVALID, "%s: unknown attention %d", fn, (int)c->attention);
    if (c->attention != EL_ATTENTION_NONE)
        return el__fail(EL_ERR_INVALID, "%s: attention '%s' is not available yet", fn,
                        el_attention_name(c->attention));
    if (c->embedding_size != 0)
        return el__fail(EL_ERR_INVALID, "%s: embedding_size %d: embeddings are not available yet",
                        fn, c->embedding_size);
    if (c->padded_steps < 0)
        return el__fail(EL_ERR_INVALID, "%s: padded_steps %d is negative", fn, c->padded_steps);
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
    char name[32];
    el_rnn_config enc = {config->cell,       config->source_vocab_size, config->hidden_size,
                         config->num_layers, config->bidirectional,     config->dropout};
    el_rnn_config dec = enc;
    dec.input_size = config->target_vocab_size;
    dec.bidirectional = 0;
    snprintf(name, sizeof name, "encoder.%s", cell_prefix(config->cell));
    s = el_rnn_init(&m->encoder, name, &enc, rng);
    snprintf(name, sizeof name, "decoder.%s", cell_prefix(config->cell));
    if (!s) s = el_rnn_init(&m->decoder, name, &dec, rng);
    if (!s)
        s = el_dense_init(&m->output, "decoder.fc", config->hidden_size, config->target_vocab_size,
                          1, rng);
    if (!s) {
        m->cache = el__alloc_zero(1, sizeof *m->cache);
        if (!m->cache) s = el__fail(EL_ERR_NOMEM, "el_seq2seq_init: out of memory");
    }
    if (!s) s = el_rnn_cache_create(&m->cache->encoder);
    if (!s) s = el_seq2seq_params(m, &m->cache->params);
    if (s) el_seq2seq_free(m);
    return s;
}

static void free_cache(el_seq2seq_cache *c)
{
    if (!c) return;
    el_rnn_cache_free(c->encoder);
    el_param_list_free(&c->params);
    for (int i = 0; i < c->decoder_caches; i++) el_rnn_cache_free(c->decoder[i]);
    el__free(c->decoder);
    el_ids *ids[] = {&c->source,         &c->source_lengths, &c->target_in,   &c->target_out,
                     &c->target_lengths, &c->step_ids,       &c->step_lengths};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) el_ids_free(ids[i]);
    el_tensor *t[] = {&c->enc_y,   &c->enc_hn,  &c->enc_cn,   &c->enc_dhn,  &c->enc_dcn,
                      &c->dec_y,   &c->dec_dy,  &c->h0,       &c->c0,       &c->dh0,
                      &c->dc0,     &c->logits,  &c->dlogits,  &c->state[0], &c->state[1],
                      &c->cell[0], &c->cell[1], &c->beam_logp};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) el_tensor_free(t[i]);
    el__free(c);
}

void el_seq2seq_free(el_seq2seq *m)
{
    if (!m) return;
    el_rnn_free(&m->encoder);
    el_rnn_free(&m->decoder);
    el_dense_free(&m->output);
    free_cache(m->cache);
    m->cache = NULL;
}

el_status el_seq2seq_params(el_seq2seq *m, el_param_list *list)
{
    EL_REQUIRE(m, "el_seq2seq_params");
    el_status s = el_rnn_params(&m->encoder, list);
    if (!s) s = el_rnn_params(&m->decoder, list);
    if (!s) s = el_dense_params(&m->output, list);
    return s;
}

void el_seq2seq_set_training(el_seq2seq *m, int training)
{
    if (!m) return;
    m->encoder.training = training != 0;
    m->decoder.training = training != 0;
}

/* ---- workspaces ------------------------------------------------------- */

/* Sizes ids to count entries. */
static el_status reserve_ids(el_ids *ids, size_t count)
{
    el_status s = el__ids_reserve(ids, count, "el_seq2seq");
    if (!s) ids->count = count;
    return s;
}

/* At least n decoder caches. */
static el_status reserve_decoder_caches(el_seq2seq_cache *c, int n)
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
        el_status s = reserve_ids(&c->source, (size_t)c->source_steps * B);
        if (s) return s;
        memcpy(c->source.data, batch->inputs, c->source.count * sizeof(int));
        *lengths = batch->input_lengths;
        return EL_OK;
    }
    int T = padded + 1;
    c->source_steps = T;
    el_status s = reserve_ids(&c->source, (size_t)T * B);
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
    el_status s = reserve_ids(&c->target_in, (size_t)T * B);
    if (!s) s = reserve_ids(&c->target_out, (size_t)T * B);
    if (!s) s = reserve_ids(&c->target_lengths, (size_t)B);
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

static el_status check_batch(const el_seq2seq *m, const el_batch *batch, const char *fn)
{
    EL_REQUIRE(m, fn);
    EL_REQUIRE(batch, fn);
    if (!m->cache) return el__fail(EL_ERR_STATE, "%s: the model is not initialised", fn);
    if (batch->size < 1) return el__fail(EL_ERR_INVALID, "%s: an empty batch", fn);
    return EL_OK;
}

/* Runs the encoder and sets the decoder's initial state: the encoder's
 * final state per layer, summed over directions. */
static el_status encode(el_seq2seq *m, const el_batch *batch, el_rng *rng)
{
    el_seq2seq_cache *c = m->cache;
    const int *lengths = NULL;
    int B = batch->size, H = m->config.hidden_size;
    int L = m->config.num_layers, D = el_rnn_directions(&m->encoder.config);
    el_status s = frame_source(m, batch, &lengths);
    int T = c->source_steps;
    if (!s) s = el__ensure3(&c->enc_y, T, B, D * H);
    if (!s) s = el__ensure3(&c->enc_hn, L * D, B, H);
    if (!s && is_lstm(m)) s = el__ensure3(&c->enc_cn, L * D, B, H);
    if (!s) s = el__ensure3(&c->h0, L, B, H);
    if (!s && is_lstm(m)) s = el__ensure3(&c->c0, L, B, H);
    if (!s)
        s = el_rnn_forward_ids(&m->encoder, c->encoder, rng, c->source.data, T, B, lengths, NULL,
                               NULL, &c->enc_y, &c->enc_hn, is_lstm(m) ? &c->enc_cn : NULL);
    if (s) return s;
    size_t per_layer = (size_t)B * H;
    for (int l = 0; l < L; l++)
        for (size_t i = 0; i < per_layer; i++) {
            const float *h = c->enc_hn.data + (size_t)l * D * per_layer + i;
            c->h0.data[l * per_layer + i] = D == 2 ? h[0] + h[per_layer] : h[0];
            if (is_lstm(m)) {
                const float *cs = c->enc_cn.data + (size_t)l * D * per_layer + i;
                c->c0.data[l * per_layer + i] = D == 2 ? cs[0] + cs[per_layer] : cs[0];
            }
        }
    return EL_OK;
}

/* The gradient of the decoder's initial state goes to every direction's
 * final state (the sum's gradient), then back through the encoder. */
static el_status encode_backward(el_seq2seq *m, int batch)
{
    el_seq2seq_cache *c = m->cache;
    int H = m->config.hidden_size, L = m->config.num_layers,
        D = el_rnn_directions(&m->encoder.config);
    el_status s = el__ensure3(&c->enc_dhn, L * D, batch, H);
    if (!s && is_lstm(m)) s = el__ensure3(&c->enc_dcn, L * D, batch, H);
    if (s) return s;
    size_t per_layer = (size_t)batch * H;
    for (int l = 0; l < L; l++)
        for (int d = 0; d < D; d++) {
            memcpy(c->enc_dhn.data + (size_t)(l * D + d) * per_layer, c->dh0.data + l * per_layer,
                   per_layer * sizeof(float));
            if (is_lstm(m))
                memcpy(c->enc_dcn.data + (size_t)(l * D + d) * per_layer,
                       c->dc0.data + l * per_layer, per_layer * sizeof(float));
        }
    return el_rnn_backward(&m->encoder, c->encoder, NULL, &c->enc_dhn,
                           is_lstm(m) ? &c->enc_dcn : NULL, NULL, NULL, NULL);
}

static el_status size_decoder(el_seq2seq *m, int T, int B)
{
    el_seq2seq_cache *c = m->cache;
    int H = m->config.hidden_size, V = m->config.target_vocab_size, L = m->config.num_layers;
    el_status s = el__ensure3(&c->dec_y, T, B, H);
    if (!s) s = el__ensure3(&c->dec_dy, T, B, H);
    if (!s) s = el__ensure2(&c->logits, T * B, V);
    if (!s) s = el__ensure2(&c->dlogits, T * B, V);
    if (!s) s = el__ensure3(&c->dh0, L, B, H);
    if (!s && is_lstm(m)) s = el__ensure3(&c->dc0, L, B, H);
    for (int i = 0; i < 2 && !s; i++) {
        s = el__ensure3(&c->state[i], L, B, H);
        if (!s && is_lstm(m)) s = el__ensure3(&c->cell[i], L, B, H);
    }
    return s;
}

/* The decoder over all steps at once, reading the true previous symbols. */
static el_status decode_forced(el_seq2seq *m, const int *lengths, el_rng *rng)
{
    el_seq2seq_cache *c = m->cache;
    el_status s = reserve_decoder_caches(c, 1);
    if (!s)
        s = el_rnn_forward_ids(&m->decoder, c->decoder[0], rng, c->target_in.data, c->target_steps,
                               c->batch, lengths, &c->h0, is_lstm(m) ? &c->c0 : NULL, &c->dec_y,
                               NULL, NULL);
    if (!s) s = el_dense_forward(&m->output, &c->dec_y, &c->logits);
    return s;
}

static int argmax_row(const float *row, int n)
{
    int best = 0;
    for (int j = 1; j < n; j++)
        if (row[j] > row[best]) best = j;
    return best;
}

/* One decoder step over the batch from state[from] to state[!from], writing
 * the step's outputs into row block t of dec_y and logits. */
static el_status decoder_step(el_seq2seq *m, el_rnn_cache *cache, int t, int from,
                              const int *lengths, el_rng *rng)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, H = m->config.hidden_size, V = m->config.target_vocab_size;
    el_tensor y, logits;
    el_status s = el_tensor_view(&y, &c->dec_y, (size_t)t * B * H, 3, (int[]){1, B, H});
    if (!s) s = el_tensor_view(&logits, &c->logits, (size_t)t * B * V, 2, (int[]){B, V});
    if (!s)
        s = el_rnn_forward_ids(&m->decoder, cache, rng, c->step_ids.data, 1, B, lengths,
                               &c->state[from], is_lstm(m) ? &c->cell[from] : NULL, &y,
                               &c->state[!from], is_lstm(m) ? &c->cell[!from] : NULL);
    if (!s) s = el_dense_forward(&m->output, &y, &logits);
    return s;
}

/* The decoder step by step, each example reading at each step the true
 * previous symbol with probability ratio and its own prediction otherwise. */
static el_status decode_sampled(el_seq2seq *m, double ratio, el_rng *rng)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, T = c->target_steps, V = m->config.target_vocab_size;
    size_t state_bytes = c->h0.size * sizeof(float);
    el_status s = reserve_decoder_caches(c, T);
    if (!s) s = reserve_ids(&c->step_ids, (size_t)B);
    if (!s) s = reserve_ids(&c->step_lengths, (size_t)B);
    if (s) return s;
    memcpy(c->state[0].data, c->h0.data, state_bytes);
    if (is_lstm(m)) memcpy(c->cell[0].data, c->c0.data, state_bytes);
    for (int t = 0; t < T && !s; t++) {
        for (int b = 0; b < B; b++) {
            int truth = c->target_in.data[(size_t)t * B + b];
            int own = t > 0 ? argmax_row(c->logits.data + ((size_t)(t - 1) * B + b) * V, V) : truth;
            c->step_ids.data[b] = t == 0 || el_rng_uniform(rng) < ratio ? truth : own;
            c->step_lengths.data[b] = m->config.padded_steps || t < c->target_lengths.data[b];
        }
        s = decoder_step(m, c->decoder[t], t, t % 2, c->step_lengths.data, rng);
    }
    return s;
}

static el_status decode_sampled_backward(el_seq2seq *m)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, T = c->target_steps, H = m->config.hidden_size;
    el_status s = EL_OK;
    /* state[] now carries the gradient of each step's final state. */
    for (int t = T - 1; t >= 0 && !s; t--) {
        el_tensor dy;
        int from = t % 2;
        s = el_tensor_view(&dy, &c->dec_dy, (size_t)t * B * H, 3, (int[]){1, B, H});
        if (!s)
            s = el_rnn_backward(&m->decoder, c->decoder[t], &dy,
                                t == T - 1 ? NULL : &c->state[!from],
                                t == T - 1 || !is_lstm(m) ? NULL : &c->cell[!from], NULL,
                                &c->state[from], is_lstm(m) ? &c->cell[from] : NULL);
    }
    if (s) return s;
    memcpy(c->dh0.data, c->state[0].data, c->dh0.size * sizeof(float));
    if (is_lstm(m)) memcpy(c->dc0.data, c->cell[0].data, c->dc0.size * sizeof(float));
    return EL_OK;
}

/* Frames the batch, runs the encoder and the decoder, and computes the
 * loss (with its gradient when dlogits is wanted). */
static el_status forward_loss(el_seq2seq *m, const el_batch *batch, double ratio, el_rng *rng,
                              float *loss, int want_gradient)
{
    el_seq2seq_cache *c = m->cache;
    const int *lengths = NULL;
    c->batch = batch->size;
    el_status s = encode(m, batch, rng);
    if (!s) s = frame_target(m, batch, &lengths);
    if (!s) s = size_decoder(m, c->target_steps, batch->size);
    if (s) return s;
    s = ratio >= 1.0 ? decode_forced(m, lengths, rng) : decode_sampled(m, ratio, rng);
    if (s) return s;
    int ignore = m->config.padded_steps ? EL_IGNORE_NONE : EL_PAD;
    return el_cross_entropy_loss(&c->logits, c->target_out.data, NULL, ignore, loss,
                                 want_gradient ? &c->dlogits : NULL);
}

el_status el_seq2seq_train_step(el_seq2seq *m, const el_batch *batch, double teacher_forcing,
                                el_rng *rng, float *loss)
{
    const char *fn = "el_seq2seq_train_step";
    el_status s = check_batch(m, batch, fn);
    if (s) return s;
    EL_REQUIRE(loss, fn);
    if (!(teacher_forcing >= 0 && teacher_forcing <= 1))
        return el__fail(EL_ERR_INVALID, "%s: teacher forcing ratio %g outside [0, 1]", fn,
                        teacher_forcing);
    if (teacher_forcing < 1) EL_REQUIRE(rng, fn);
    s = forward_loss(m, batch, teacher_forcing, rng, loss, 1);
    if (!s) s = el__check_finite_loss(*loss, fn);
    el_seq2seq_cache *c = m->cache;
    if (!s) s = el_dense_backward(&m->output, &c->dec_y, &c->dlogits, &c->dec_dy);
    if (s) return s;
    if (teacher_forcing >= 1)
        s = el_rnn_backward(&m->decoder, c->decoder[0], &c->dec_dy, NULL, NULL, NULL, &c->dh0,
                            is_lstm(m) ? &c->dc0 : NULL);
    else
        s = decode_sampled_backward(m);
    if (!s) s = encode_backward(m, batch->size);
    if (!s) s = el__check_finite_grads(&m->cache->params, fn);
    return s;
}

el_status el_seq2seq_loss_of(el_seq2seq *m, const el_batch *batch, float *loss)
{
    el_status s = check_batch(m, batch, "el_seq2seq_loss_of");
    if (s) return s;
    EL_REQUIRE(loss, "el_seq2seq_loss_of");
    int training = m->encoder.training;
    el_seq2seq_set_training(m, 0);
    s = forward_loss(m, batch, 1.0, NULL, loss, 0);
    el_seq2seq_set_training(m, training);
    return s;
}

/* ---- decoding ----------------------------------------------------------- */

static el_status append_id(el_ids *ids, int id)
{
    el_status s = el__ids_reserve(ids, ids->count + 1, "el_seq2seq_decode");
    if (!s) ids->data[ids->count++] = id;
    return s;
}

/* The symbols that end a decoded sequence. */
static int is_end(int id) { return id == EL_EOS || id == EL_PAD || id == EL_SOS; }

static int decode_steps(const el_seq2seq *m, int max_length)
{
    int steps = max_length + 1; /* the symbols and <eos> */
    return m->config.padded_steps && m->config.padded_steps < steps ? m->config.padded_steps
                                                                    : steps;
}

static el_status decode_greedy(el_seq2seq *m, int max_length, el_ids *out)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, V = m->config.target_vocab_size, T = decode_steps(m, max_length);
    el_status s = size_decoder(m, 1, B);
    if (!s) s = reserve_decoder_caches(c, 1);
    if (!s) s = reserve_ids(&c->step_ids, (size_t)B);
    if (!s) s = reserve_ids(&c->step_lengths, (size_t)B);
    if (s) return s;
    memcpy(c->state[0].data, c->h0.data, c->h0.size * sizeof(float));
    if (is_lstm(m)) memcpy(c->cell[0].data, c->c0.data, c->c0.size * sizeof(float));
    for (int b = 0; b < B; b++) {
        out[b].count = 0;
        c->step_ids.data[b] = EL_SOS;
        c->step_lengths.data[b] = 1;
    }
    int running = B;
    for (int t = 0; t < T && running > 0 && !s; t++) {
        /* A finished example has length 0: its state stays as it is. */
        s = decoder_step(m, c->decoder[0], 0, t % 2, c->step_lengths.data, NULL);
        for (int b = 0; b < B && !s; b++) {
            if (!c->step_lengths.data[b]) continue;
            int id = argmax_row(c->logits.data + (size_t)b * V, V);
            if (is_end(id) || t == T - 1) {
                c->step_lengths.data[b] = 0;
                running--;
            }
            if (!is_end(id)) s = append_id(&out[b], id);
            c->step_ids.data[b] = id;
        }
    }
    return s;
}

/* Beam search for example b: the width hypotheses with the highest sums of
 * log-probabilities, extended one symbol at a time until the best finished
 * one beats every unfinished one. */
typedef struct hypothesis {
    double score;
    int parent, id;
} hypothesis;

/* Inserts h into best (sorted by falling score, *count of at most width),
 * dropping the lowest when it is full. */
static void insert_best(hypothesis *best, int *count, int width, hypothesis h)
{
    int full = *count == width;
    if (full && h.score <= best[width - 1].score) return;
    int i = full ? width - 1 : (*count)++;
    while (i > 0 && best[i - 1].score < h.score) {
        best[i] = best[i - 1];
        i--;
    }
    best[i] = h;
}

/* Writes the symbols of beam k after step t - 1, oldest first, into out:
 * ids[i * width + k] is beam k's symbol at step i, parents[i * width + k]
 * the beam it extended. */
static el_status trace_beam(const int *ids, const int *parents, int width, int t, int k,
                            el_ids *out)
{
    out->count = 0;
    for (int i = t - 1; i >= 0; i--) {
        el_status s = append_id(out, ids[(size_t)i * width + k]);
        if (s) return s;
        k = parents[(size_t)i * width + k];
    }
    for (size_t i = 0, n = out->count; i < n / 2; i++) {
        int tmp = out->data[i];
        out->data[i] = out->data[n - 1 - i];
        out->data[n - 1 - i] = tmp;
    }
    return EL_OK;
}

/* Gives beam k the state that beam next[k].parent reached in this step. */
static void reorder_states(el_seq2seq *m, const hypothesis *next, int count, int width, int step)
{
    el_seq2seq_cache *c = m->cache;
    int H = m->config.hidden_size, L = m->config.num_layers;
    int reached = !(step % 2), spare = step % 2;
    el_tensor *bufs[2][2] = {{&c->state[reached], &c->state[spare]},
                             {&c->cell[reached], &c->cell[spare]}};
    for (int which = 0; which < (is_lstm(m) ? 2 : 1); which++) {
        float *from = bufs[which][0]->data, *to = bufs[which][1]->data;
        for (int l = 0; l < L; l++)
            for (int k = 0; k < count; k++)
                memcpy(to + ((size_t)l * width + k) * H,
                       from + ((size_t)l * width + next[k].parent) * H, (size_t)H * sizeof(float));
        memcpy(from, to, bufs[which][0]->size * sizeof(float));
    }
}

static el_status decode_beam_one(el_seq2seq *m, int b, int width, int max_length, el_ids *out)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, V = m->config.target_vocab_size, H = m->config.hidden_size;
    int L = m->config.num_layers, T = decode_steps(m, max_length);
    int *ids = el__alloc_zero(2 * (size_t)T * width, sizeof(int));
    double *scores = el__alloc_zero((size_t)width, sizeof(double));
    hypothesis *next = el__alloc_zero((size_t)width, sizeof(hypothesis));
    int *parents = ids ? ids + (size_t)T * width : NULL;
    el_status s =
        ids && scores && next ? EL_OK : el__fail(EL_ERR_NOMEM, "el_seq2seq_decode: out of memory");
    /* Every beam starts from example b's encoding. */
    c->batch = width;
    if (!s) s = reserve_decoder_caches(c, 1);
    if (!s) s = size_decoder(m, 1, width);
    if (!s) s = el__ensure2(&c->beam_logp, width, V);
    if (!s) s = reserve_ids(&c->step_ids, (size_t)width);
    for (int l = 0; l < L && !s; l++)
        for (int k = 0; k < width; k++) {
            size_t to = ((size_t)l * width + k) * H, from = ((size_t)l * B + b) * H;
            memcpy(c->state[0].data + to, c->h0.data + from, (size_t)H * sizeof(float));
            if (is_lstm(m))
                memcpy(c->cell[0].data + to, c->c0.data + from, (size_t)H * sizeof(float));
        }
    int alive = 1;
    double best = -INFINITY;
    if (!s) c->step_ids.data[0] = EL_SOS;
    out->count = 0;
    for (int t = 0; t < T && alive > 0 && !s; t++) {
        for (int k = alive; k < width; k++) c->step_ids.data[k] = EL_PAD; /* unused rows */
        s = decoder_step(m, c->decoder[0], 0, t % 2, NULL, NULL);
        if (!s) s = el_log_softmax_forward(&c->logits, &c->beam_logp);
        int count = 0;
        for (int k = 0; k < alive && !s; k++)
            for (int v = 0; v < V && !s; v++) {
                hypothesis h = {scores[k] + c->beam_logp.data[(size_t)k * V + v], k, v};
                int ends = is_end(v) || t == T - 1;
                if (!ends) {
                    insert_best(next, &count, width, h);
                } else if (h.score > best) {
                    best = h.score;
                    s = trace_beam(ids, parents, width, t, k, out);
                    if (!s && !is_end(v)) s = append_id(out, v);
                }
            }
        if (s || count == 0 || next[0].score <= best) break;
        for (int k = 0; k < count; k++) {
            ids[(size_t)t * width + k] = next[k].id;
            parents[(size_t)t * width + k] = next[k].parent;
            scores[k] = next[k].score;
            c->step_ids.data[k] = next[k].id;
        }
        reorder_states(m, next, count, width, t);
        alive = count;
    }
    el__free(ids);
    el__free(scores);
    el__free(next);
    c->batch = B;
    return s;
}

el_status el_seq2seq_decode(el_seq2seq *m, const el_batch *batch, int beam, int max_length,
                            el_ids *out)
{
    const char *fn = "el_seq2seq_decode";
    el_status s = check_batch(m, batch, fn);
    if (s) return s;
    EL_REQUIRE(out, fn);
    if (beam < 1 || max_length < 1)
        return el__fail(EL_ERR_INVALID, "%s: beam %d and max_length %d must be positive", fn, beam,
                        max_length);
    int training = m->encoder.training;
    el_seq2seq_set_training(m, 0);
    m->cache->batch = batch->size;
    s = encode(m, batch, NULL);
    if (!s && beam == 1) s = decode_greedy(m, max_length, out);
    for (int b = 0; b < batch->size && !s && beam > 1; b++)
        s = decode_beam_one(m, b, beam, max_length, &out[b]);
    el_seq2seq_set_training(m, training);
    return s;
}
