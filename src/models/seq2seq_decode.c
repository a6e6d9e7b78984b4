/* Decoding with a trained seq2seq model (elman/seq2seq.h): greedy search
 * over the batch, with or without the attention weights, and beam search
 * one example at a time. */
#include <math.h>
#include <string.h>

#include "elman/activation.h"
#include "core/ensure.h"
#include "core/internal.h"
#include "models/seq2seq_internal.h"
#include "nn/rnn_reuse.h"
#include "text/ids.h"

static el_status append_id(el_ids *ids, int id)
{
    el_status s = el__ids_reserve(ids, ids->count + 1, "el_seq2seq_decode");
    if (!s) ids->data[ids->count++] = id;
    return s;
}

/* The symbols that end a decoded sequence. */
static int is_end(int id) { return id == EL_EOS || id == EL_PAD || id == EL_SOS; }

/* The steps a decoding runs: max_length symbols and the step that may
 * choose <eos> after them, which appends no symbol (at most max_length come
 * out), or the model's fixed number of steps where that is fewer. */
static int decode_steps(const el_seq2seq *m, int max_length)
{
    int steps = max_length + 1;
    return m->config.padded_steps && m->config.padded_steps < steps ? m->config.padded_steps
                                                                    : steps;
}

/* Greedy search over the batch; with record, each step's attention
 * weights go to row block t of decoded_weights (zero where an example has
 * finished), and *steps receives the steps run. */
static el_status decode_greedy(el_seq2seq *m, int max_length, el_ids *out, int record, int *steps)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, V = m->config.target_vocab_size, T = decode_steps(m, max_length);
    int S = c->source_steps;
    el_status s = el__s2s_size_decoder(m, 1, B);
    if (!s) s = el__s2s_reserve_decoder_caches(c, 1);
    if (!s) s = el__s2s_reserve_ids(&c->step_ids, (size_t)B);
    if (!s) s = el__s2s_reserve_ids(&c->step_lengths, (size_t)B);
    if (!s && m->config.attention != EL_ATTENTION_NONE)
        s = el__s2s_attention_keys(m, &c->enc_y, c->source_lengths, 1);
    if (!s && record) s = el__ensure3(&c->decoded_weights, T, B, S);
    if (s) return s;
    if (record) el_tensor_fill(&c->decoded_weights, 0.0f);
    memcpy(c->state[0].data, c->h0.data, c->h0.size * sizeof(float));
    if (el__s2s_lstm(m)) memcpy(c->cell[0].data, c->c0.data, c->c0.size * sizeof(float));
    for (int b = 0; b < B; b++) {
        out[b].count = 0;
        c->step_ids.data[b] = EL_SOS;
        c->step_lengths.data[b] = 1;
    }
    int running = B, t = 0;
    for (; t < T && running > 0 && !s; t++) {
        /* A finished example has length 0: its state stays as it is.  The
         * weights do not change while decoding: the first step packs them
         * for the others. */
        if (t > 0) el__rnn_reuse_packed(c->decoder[0], c->decoder[0]);
        s = el__s2s_step(m, c->decoder[0], 0, t ? 0 : -1, t % 2, c->step_lengths.data, NULL,
                         record ? &c->weights : NULL);
        for (int b = 0; b < B && !s; b++) {
            if (!c->step_lengths.data[b]) continue;
            if (record)
                memcpy(c->decoded_weights.data + ((size_t)t * B + b) * S,
                       c->weights.data + (size_t)b * S, (size_t)S * sizeof(float));
            int id = el__s2s_argmax(c->logits.data + (size_t)b * V, V);
            if (is_end(id) || t == T - 1) {
                c->step_lengths.data[b] = 0;
                running--;
            }
            if (!is_end(id) && t < max_length) s = append_id(&out[b], id);
            c->step_ids.data[b] = id;
        }
    }
    if (steps) *steps = t;
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

/* Gives beam k the state (and Luong's h~) that beam next[k].parent
 * reached in this step. */
static void reorder_states(el_seq2seq *m, const hypothesis *next, int count, int width, int step)
{
    el_seq2seq_cache *c = m->cache;
    int H = m->config.hidden_size, L = m->config.num_layers;
    int reached = !(step % 2), spare = step % 2;
    /* h~ is one layer; dhtilde, unused in decoding, is its spare. */
    el_tensor *bufs[3][2] = {{&c->htilde, &c->dhtilde},
                             {&c->state[reached], &c->state[spare]},
                             {&c->cell[reached], &c->cell[spare]}};
    for (int which = el__s2s_luong(m) ? 0 : 1; which < (el__s2s_lstm(m) ? 3 : 2); which++) {
        float *from = bufs[which][0]->data, *to = bufs[which][1]->data;
        for (int l = 0; l < (which ? L : 1); l++)
            for (int k = 0; k < count; k++)
                memcpy(to + ((size_t)l * width + k) * H,
                       from + ((size_t)l * width + next[k].parent) * H, (size_t)H * sizeof(float));
        memcpy(from, to, (size_t)(which ? L : 1) * width * H * sizeof(float));
    }
}

/* The attention's keys for the beams of example b: its encoder outputs, once
 * per beam, and its source length. */
static el_status beam_keys(el_seq2seq *m, int b, int B, int width, int *lengths)
{
    el_seq2seq_cache *c = m->cache;
    int S = c->source_steps, K = el__s2s_keys(m);
    el_status s = el__ensure3(&c->beam_keys, S, width, K);
    if (s) return s;
    for (int i = 0; i < S; i++)
        for (int k = 0; k < width; k++)
            memcpy(c->beam_keys.data + ((size_t)i * width + k) * K,
                   c->enc_y.data + ((size_t)i * B + b) * K, (size_t)K * sizeof(float));
    for (int k = 0; k < width; k++) lengths[k] = c->source_lengths ? c->source_lengths[b] : S;
    return el__s2s_attention_keys(m, &c->beam_keys, lengths, 1);
}

static el_status decode_beam_one(el_seq2seq *m, int b, int width, int max_length, el_ids *out)
{
    el_seq2seq_cache *c = m->cache;
    int B = c->batch, V = m->config.target_vocab_size, H = m->config.hidden_size;
    int L = m->config.num_layers, T = decode_steps(m, max_length);
    /* ids, then parents, then the beams' source lengths */
    int *ids = el__alloc_zero(2 * (size_t)T * width + (size_t)width, sizeof(int));
    double *scores = el__alloc_zero((size_t)width, sizeof(double));
    hypothesis *next = el__alloc_zero((size_t)width, sizeof(hypothesis));
    int *parents = ids ? ids + (size_t)T * width : NULL;
    el_status s =
        ids && scores && next ? EL_OK : el__fail(EL_ERR_NOMEM, "el_seq2seq_decode: out of memory");
    /* Every beam starts from example b's encoding. */
    c->batch = width;
    if (!s) s = el__s2s_reserve_decoder_caches(c, 1);
    if (!s) s = el__s2s_size_decoder(m, 1, width);
    if (!s) s = el__ensure2(&c->beam_logp, width, V);
    if (!s) s = el__s2s_reserve_ids(&c->step_ids, (size_t)width);
    if (!s && m->config.attention != EL_ATTENTION_NONE)
        s = beam_keys(m, b, B, width, parents + (size_t)T * width);
    for (int l = 0; l < L && !s; l++)
        for (int k = 0; k < width; k++) {
            size_t to = ((size_t)l * width + k) * H, from = ((size_t)l * B + b) * H;
            memcpy(c->state[0].data + to, c->h0.data + from, (size_t)H * sizeof(float));
            if (el__s2s_lstm(m))
                memcpy(c->cell[0].data + to, c->c0.data + from, (size_t)H * sizeof(float));
        }
    int alive = 1;
    double best = -INFINITY;
    if (!s) c->step_ids.data[0] = EL_SOS;
    out->count = 0;
    for (int t = 0; t < T && alive > 0 && !s; t++) {
        for (int k = alive; k < width; k++) c->step_ids.data[k] = EL_PAD; /* unused rows */
        if (t > 0) el__rnn_reuse_packed(c->decoder[0], c->decoder[0]);
        s = el__s2s_step(m, c->decoder[0], 0, t ? 0 : -1, t % 2, NULL, NULL, NULL);
        if (!s) s = el_log_softmax_forward(&c->logits, &c->beam_logp);
        int count = 0;
        for (int k = 0; k < alive && !s; k++)
            for (int v = 0; v < V && !s; v++) {
                /* After max_length symbols only an end may follow. */
                if (t == max_length && !is_end(v)) continue;
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
    el_status s = el__s2s_check_batch(m, batch, fn);
    if (s) return s;
    EL_REQUIRE(out, fn);
    if (beam < 1 || max_length < 1)
        return el__fail(EL_ERR_INVALID, "%s: beam %d and max_length %d must be positive", fn, beam,
                        max_length);
    int training = m->encoder.training;
    el_seq2seq_set_training(m, 0);
    m->cache->batch = batch->size;
    s = el__s2s_encode(m, batch, NULL);
    if (!s && beam == 1) s = decode_greedy(m, max_length, out, 0, NULL);
    for (int b = 0; b < batch->size && !s && beam > 1; b++)
        s = decode_beam_one(m, b, beam, max_length, &out[b]);
    el_seq2seq_set_training(m, training);
    return s;
}

el_status el_seq2seq_decode_attention(el_seq2seq *m, const el_batch *batch, int max_length,
                                      el_ids *out, el_tensor *weights)
{
    const char *fn = "el_seq2seq_decode_attention";
    el_status s = el__s2s_check_batch(m, batch, fn);
    if (s) return s;
    EL_REQUIRE(out, fn);
    EL_REQUIRE(weights, fn);
    if (m->config.attention == EL_ATTENTION_NONE)
        return el__fail(EL_ERR_INVALID, "%s: the model has no attention", fn);
    if (max_length < 1)
        return el__fail(EL_ERR_INVALID, "%s: max_length %d must be positive", fn, max_length);
    el_seq2seq_cache *c = m->cache;
    int training = m->encoder.training, steps = 0, B = batch->size;
    el_seq2seq_set_training(m, 0);
    c->batch = B;
    s = el__s2s_encode(m, batch, NULL);
    if (!s) s = decode_greedy(m, max_length, out, 1, &steps);
    el_seq2seq_set_training(m, training);
    int S = c->source_steps;
    if (!s) s = el__size_output(fn, "weights", weights, 3, (int[]){B, steps, S});
    for (int b = 0; b < B && !s; b++)
        for (int t = 0; t < steps; t++)
            memcpy(weights->data + ((size_t)b * steps + t) * S,
                   c->decoded_weights.data + ((size_t)t * B + b) * S, (size_t)S * sizeof(float));
    return s;
}
