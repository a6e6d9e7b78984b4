/* The seq2seq decoder one step at a time: with attention (Bahdanau's
 * additive, or Luong's dot and general with input feeding), with sampled
 * inputs (teacher forcing below 1), and for decoding.  Every workspace is
 * sized before the step loop; a step only computes. */
#include <string.h>

#include "core/blas.h"
#include "core/ensure.h"
#include "core/fastmath.h"
#include "core/internal.h"
#include "models/seq2seq_internal.h"
#include "nn/rnn_reuse.h"
#include "text/ids.h"

el_status el__s2s_attention_keys(el_seq2seq *m, const el_tensor *keys, const int *lengths,
                                 int steps)
{
    el_seq2seq_cache *c = m->cache;
    c->keys = keys;
    el_status s = el_attention_forward_keys(&m->attention, c->attention, keys, lengths, steps);
    if (!s) s = el__ensure2(&c->weights, keys->shape[1], keys->shape[0]);
    return s;
}

/* Writes the symbol part of each input row: the embedding of the id, or
 * its one-hot vector. */
static el_status put_symbols(el_seq2seq *m, const int *ids, int B, float *x, int ld)
{
    int E = m->config.embedding_size, V = m->config.target_vocab_size;
    for (int b = 0; b < B; b++) {
        int id = ids[b];
        if (id < 0 || id >= V)
            return el__fail(EL_ERR_INVALID, "el_seq2seq: id %d outside the %d of the targets", id,
                            V);
        float *row = x + (size_t)b * ld;
        if (E) {
            memcpy(row, m->decoder_embedding.weight.value.data + (size_t)id * E,
                   (size_t)E * sizeof(float));
        } else {
            memset(row, 0, (size_t)V * sizeof(float));
            row[id] = 1.0f;
        }
    }
    return EL_OK;
}

/* Copies B rows of n floats between strided arrays. */
static void copy_rows(int B, int n, const float *src, int lds, float *dst, int ldd)
{
    for (int b = 0; b < B; b++)
        memcpy(dst + (size_t)b * ldd, src + (size_t)b * lds, (size_t)n * sizeof(float));
}

/* x = tanh(x) over n floats: Luong's h~ from W_c [context; h]. */
EL__SIMD_CLONES
static void tanh_rows(size_t n, float *restrict x)
{
    for (size_t i = 0; i < n; i++) x[i] = el__tanh(x[i]);
}

el_status el__s2s_step(el_seq2seq *m, el_rnn_cache *cache, int t, int prev, int from,
                       const int *lengths, el_rng *rng, el_tensor *weights)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, H = m->config.hidden_size, V = m->config.target_vocab_size;
    int L = m->config.num_layers, K = el__s2s_keys(m), in = m->decoder.config.input_size;
    int sym = el__s2s_symbol_width(m), lstm = el__s2s_lstm(m), luong = el__s2s_luong(m);
    el_attention kind = m->config.attention;
    el_tensor y, logits, x, query, ctx;
    el_status s = el_tensor_view(&y, &c->dec_y, (size_t)t * B * H, 3, (int[]){1, B, H});
    if (!s) s = el_tensor_view(&logits, &c->logits, (size_t)t * B * V, 2, (int[]){B, V});
    if (s) return s;
    el_tensor *h_from = &c->state[from], *h_to = &c->state[!from];
    el_tensor *c_from = lstm ? &c->cell[from] : NULL, *c_to = lstm ? &c->cell[!from] : NULL;
    if (kind == EL_ATTENTION_NONE && !m->config.embedding_size) {
        s = el_rnn_forward_ids(&m->decoder, cache, rng, c->step_ids.data, 1, B, lengths, h_from,
                               c_from, &y, h_to, c_to);
        return s ? s : el_dense_forward(&m->output, &y, &logits);
    }
    s = el_tensor_view(&x, &c->dec_x, (size_t)t * B * in, 3, (int[]){1, B, in});
    if (!s && kind != EL_ATTENTION_NONE)
        s = el_tensor_view(&ctx, &c->context, (size_t)t * B * K, 2, (int[]){B, K});
    if (!s) s = put_symbols(m, c->step_ids.data, B, x.data, in);
    if (s) return s;
    if (kind == EL_ATTENTION_ADDITIVE) {
        /* The query is the top layer's state before the step. */
        s = el_tensor_view(&query, h_from, (size_t)(L - 1) * B * H, 2, (int[]){B, H});
        if (!s)
            s = el_attention_forward_step(&m->attention, c->attention, t, c->keys, &query, &ctx,
                                          weights);
        if (s) return s;
        copy_rows(B, K, ctx.data, K, x.data + sym, in);
    } else if (luong) {
        /* Input feeding: the previous step's h~, zeros at the first. */
        for (int b = 0; b < B; b++) {
            float *dst = x.data + (size_t)b * in + sym;
            if (prev < 0)
                memset(dst, 0, (size_t)H * sizeof(float));
            else
                memcpy(dst, c->htilde.data + ((size_t)prev * B + b) * H, (size_t)H * sizeof(float));
        }
    }
    s = el_rnn_forward(&m->decoder, cache, rng, &x, lengths, h_from, c_from, &y, h_to, c_to);
    if (s || !luong) return s ? s : el_dense_forward(&m->output, &y, &logits);
    el_tensor ht;
    s = el_tensor_view(&query, &y, 0, 2, (int[]){B, H});
    if (!s) s = el_tensor_view(&ht, &c->htilde, (size_t)t * B * H, 2, (int[]){B, H});
    if (!s)
        s = el_attention_forward_step(&m->attention, c->attention, t, c->keys, &query, &ctx,
                                      weights);
    if (s) return s;
    float *cat = c->cat.data + (size_t)t * B * (K + H);
    copy_rows(B, K, ctx.data, K, cat, K + H);
    copy_rows(B, H, y.data, H, cat + K, K + H);
    el__gemm(0, 1, B, H, K + H, 1.0f, cat, K + H, m->concat.weight.value.data, K + H, 0.0f, ht.data,
             H);
    tanh_rows((size_t)B * H, ht.data);
    return el_dense_forward(&m->output, &ht, &logits);
}

el_status el__s2s_steps_forward(el_seq2seq *m, double ratio, el_rng *rng)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, T = c->target_steps, V = m->config.target_vocab_size;
    size_t state_bytes = c->h0.size * sizeof(float);
    el_status s = el__s2s_reserve_decoder_caches(c, T);
    if (!s) s = el__s2s_reserve_ids(&c->step_ids, (size_t)B);
    if (!s) s = el__s2s_reserve_ids(&c->step_lengths, (size_t)B);
    if (!s) s = el__s2s_reserve_ids(&c->decoder_ids, (size_t)T * B);
    if (!s && m->config.attention != EL_ATTENTION_NONE)
        s = el__s2s_attention_keys(m, &c->enc_y, c->source_lengths, T);
    if (s) return s;
    memcpy(c->state[0].data, c->h0.data, state_bytes);
    if (el__s2s_lstm(m)) memcpy(c->cell[0].data, c->c0.data, state_bytes);
    /* Example b's choice at step t is the keyed draw (b's global row, t);
     * every step's masks come from a copy of the same generator, at step
     * first_step = t, so they are the whole-sequence decoder's. */
    int first_row = m->decoder.first_row;
    uint64_t forcing = ratio < 1.0 ? el_rng_u64(rng) : 0;
    el_rng start = rng ? *rng : (el_rng){0, 1}, step = start;
    for (int t = 0; t < T && !s; t++) {
        for (int b = 0; b < B; b++) {
            int truth = c->target_in.data[(size_t)t * B + b];
            int own =
                t > 0 ? el__s2s_argmax(c->logits.data + ((size_t)(t - 1) * B + b) * V, V) : truth;
            uint64_t row = (uint64_t)((int64_t)first_row + b);
            int id =
                ratio >= 1.0 || t == 0 || el_rng_keyed_uniform(forcing, row, (uint64_t)t) < ratio
                    ? truth
                    : own;
            c->step_ids.data[b] = id;
            c->decoder_ids.data[(size_t)t * B + b] = id;
            c->step_lengths.data[b] = m->config.padded_steps || t < c->target_lengths.data[b];
        }
        /* The weights do not change within the pass: the first step packs
         * them and the others read its packing. */
        if (t > 0) el__rnn_reuse_packed(c->decoder[t], c->decoder[0]);
        step = start;
        el_rnn_set_position(&m->decoder, first_row, t);
        s = el__s2s_step(m, c->decoder[t], t, t - 1, t % 2, c->step_lengths.data,
                         rng ? &step : NULL, NULL);
    }
    el_rnn_set_position(&m->decoder, first_row, 0);
    if (rng) *rng = step;
    return s;
}

/* Luong, step t: the gradient of h~ (from the output layer, and from the
 * next step's input) through tanh and W_c to the context, which goes
 * through the attention, and to the decoder's output, which receives the
 * attention's query gradient too: dec_dy's row block t. */
static el_status luong_backward(el_seq2seq *m, int t, int sym)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, T = c->target_steps, H = m->config.hidden_size, K = el__s2s_keys(m);
    int in = m->decoder.config.input_size;
    const float *ht = c->htilde.data + (size_t)t * B * H;
    const float *dht = c->dhtilde.data + (size_t)t * B * H;
    float *dpre = c->dpre.data + (size_t)t * B * H, *dy = c->dec_dy.data + (size_t)t * B * H;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++) {
            size_t i = (size_t)b * H + h;
            float g = dht[i];
            if (t + 1 < T) g += c->dec_dx.data[((size_t)(t + 1) * B + b) * in + sym + h];
            dpre[i] = g * (1.0f - ht[i] * ht[i]);
        }
    el__gemm(0, 0, B, K + H, H, 1.0f, dpre, H, m->concat.weight.value.data, K + H, 0.0f,
             c->dcat.data, K + H);
    copy_rows(B, K, c->dcat.data, K + H, c->dcontext.data, K);
    copy_rows(B, H, c->dcat.data + K, K + H, dy, H);
    el_status s = el_attention_backward_step(&m->attention, c->attention, t, c->keys, &c->dcontext,
                                             &c->dquery);
    for (size_t i = 0; !s && i < (size_t)B * H; i++) dy[i] += c->dquery.data[i];
    return s;
}

el_status el__s2s_steps_backward(el_seq2seq *m)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, T = c->target_steps, H = m->config.hidden_size, K = el__s2s_keys(m);
    int L = m->config.num_layers, E = m->config.embedding_size, in = m->decoder.config.input_size;
    int sym = el__s2s_symbol_width(m), lstm = el__s2s_lstm(m), luong = el__s2s_luong(m);
    el_attention kind = m->config.attention;
    int inputs = kind != EL_ATTENTION_NONE || E; /* dec_x holds the inputs */
    el_status s = EL_OK;
    /* state[] now carries the gradient of each step's final state. */
    for (int t = T - 1; t >= 0 && !s; t--) {
        el_tensor dy, dx;
        int from = t % 2;
        if (luong) s = luong_backward(m, t, sym);
        if (!s) s = el_tensor_view(&dy, &c->dec_dy, (size_t)t * B * H, 3, (int[]){1, B, H});
        if (!s && inputs)
            s = el_tensor_view(&dx, &c->dec_dx, (size_t)t * B * in, 3, (int[]){1, B, in});
        /* Backward packs the weights at the last step, which the others
         * read. */
        if (!s && t < T - 1) el__rnn_reuse_packed(c->decoder[t], c->decoder[T - 1]);
        if (!s)
            s = el_rnn_backward(&m->decoder, c->decoder[t], &dy,
                                t == T - 1 ? NULL : &c->state[!from],
                                t == T - 1 || !lstm ? NULL : &c->cell[!from], inputs ? &dx : NULL,
                                &c->state[from], lstm ? &c->cell[from] : NULL);
        if (!s && kind == EL_ATTENTION_ADDITIVE) {
            /* The context's gradient through the attention to its query,
             * the top layer's state before the step. */
            copy_rows(B, K, dx.data + sym, in, c->dcontext.data, K);
            s = el_attention_backward_step(&m->attention, c->attention, t, c->keys, &c->dcontext,
                                           &c->dquery);
            float *top = c->state[from].data + (size_t)(L - 1) * B * H;
            for (size_t i = 0; !s && i < (size_t)B * H; i++) top[i] += c->dquery.data[i];
        }
        if (!s && E) copy_rows(B, E, dx.data, in, c->demb.data + (size_t)t * B * E, E);
    }
    if (s) return s;
    memcpy(c->dh0.data, c->state[0].data, c->dh0.size * sizeof(float));
    if (lstm) memcpy(c->dc0.data, c->cell[0].data, c->dc0.size * sizeof(float));
    if (E) s = el_embedding_backward(&m->decoder_embedding, c->decoder_ids.data, T * B, &c->demb);
    if (!s && luong)
        el__gemm_parallel(1, 0, H, K + H, T * B, 1.0f, c->dpre.data, H, c->cat.data, K + H, 1.0f,
                          m->concat.weight.grad.data, K + H);
    if (!s && kind != EL_ATTENTION_NONE)
        s = el_attention_backward_keys(&m->attention, c->attention, c->keys, &c->dkeys);
    return s;
}
