#include <math.h>

#include "rnn_cell.h"

static inline float sigmoid(float x)
{
    if (x >= 0) return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}

static void rnn_forward(const rnn_step *s)
{
    int H = s->hidden, relu = s->cell == EL_CELL_RNN_RELU;
    for (int r = 0; r < s->rows; r++) {
        float *a = s->gates + (size_t)r * H, *h = s->h + (size_t)r * H;
        const float *gh = s->gh + (size_t)r * H;
        float *out = s->out + (size_t)r * s->out_stride;
        for (int j = 0; j < H; j++) {
            float pre = a[j] + s->b_ih[j] + gh[j] + s->b_hh[j];
            float v = relu ? (pre > 0 ? pre : 0.0f) : tanhf(pre);
            a[j] = h[j] = out[j] = v;
        }
    }
}

static void rnn_backward(const rnn_step *s)
{
    int H = s->hidden, relu = s->cell == EL_CELL_RNN_RELU;
    for (int r = 0; r < s->rows; r++) {
        const float *v = s->gates + (size_t)r * H, *dout = s->out + (size_t)r * s->out_stride;
        float *dh = s->h + (size_t)r * H, *dg = s->dgx + (size_t)r * H;
        for (int j = 0; j < H; j++) {
            float g = dh[j] + dout[j];
            dg[j] = relu ? (v[j] > 0 ? g : 0.0f) : g * (1.0f - v[j] * v[j]);
            dh[j] = 0.0f; /* the state reaches h' only through W_hh */
        }
    }
}

static void gru_forward(const rnn_step *s)
{
    int H = s->hidden, G = 3 * H;
    const float *bi = s->b_ih, *bh = s->b_hh;
    for (int r = 0; r < s->rows; r++) {
        float *g = s->gates + (size_t)r * G, *ahn = s->hn_gate + (size_t)r * H;
        const float *gh = s->gh + (size_t)r * G, *hp = s->hprev + (size_t)r * H;
        float *h = s->h + (size_t)r * H, *out = s->out + (size_t)r * s->out_stride;
        for (int j = 0; j < H; j++) {
            float rg = sigmoid(g[j] + bi[j] + gh[j] + bh[j]);
            float zg = sigmoid(g[H + j] + bi[H + j] + gh[H + j] + bh[H + j]);
            float hn = gh[2 * H + j] + bh[2 * H + j];
            float ng = tanhf(g[2 * H + j] + bi[2 * H + j] + rg * hn);
            g[j] = rg;
            g[H + j] = zg;
            g[2 * H + j] = ng;
            ahn[j] = hn;
            h[j] = out[j] = (1.0f - zg) * ng + zg * hp[j];
        }
    }
}

static void gru_backward(const rnn_step *s)
{
    int H = s->hidden, G = 3 * H;
    for (int r = 0; r < s->rows; r++) {
        const float *g = s->gates + (size_t)r * G, *ahn = s->hn_gate + (size_t)r * H;
        const float *hp = s->hprev + (size_t)r * H, *dout = s->out + (size_t)r * s->out_stride;
        float *dh = s->h + (size_t)r * H;
        float *dx = s->dgx + (size_t)r * G, *dhh = s->dgh + (size_t)r * G;
        for (int j = 0; j < H; j++) {
            float rg = g[j], zg = g[H + j], ng = g[2 * H + j];
            float d = dh[j] + dout[j];
            float dn = d * (1.0f - zg) * (1.0f - ng * ng);
            float dz = d * (hp[j] - ng) * zg * (1.0f - zg);
            float dr = dn * ahn[j] * rg * (1.0f - rg);
            dx[j] = dhh[j] = dr;
            dx[H + j] = dhh[H + j] = dz;
            dx[2 * H + j] = dn;
            dhh[2 * H + j] = dn * rg; /* r scales W_hn h + b_hn */
            dh[j] = d * zg;
        }
    }
}

static void lstm_forward(const rnn_step *s)
{
    int H = s->hidden, G = 4 * H;
    const float *bi = s->b_ih, *bh = s->b_hh;
    for (int r = 0; r < s->rows; r++) {
        float *g = s->gates + (size_t)r * G, *tc = s->tanh_c + (size_t)r * H;
        const float *gh = s->gh + (size_t)r * G, *cp = s->cprev + (size_t)r * H;
        float *h = s->h + (size_t)r * H, *c = s->c + (size_t)r * H;
        float *out = s->out + (size_t)r * s->out_stride;
        for (int j = 0; j < H; j++) {
            float ig = sigmoid(g[j] + bi[j] + gh[j] + bh[j]);
            float fg = sigmoid(g[H + j] + bi[H + j] + gh[H + j] + bh[H + j]);
            float gg = tanhf(g[2 * H + j] + bi[2 * H + j] + gh[2 * H + j] + bh[2 * H + j]);
            float og = sigmoid(g[3 * H + j] + bi[3 * H + j] + gh[3 * H + j] + bh[3 * H + j]);
            float cn = fg * cp[j] + ig * gg;
            float t = tanhf(cn);
            g[j] = ig;
            g[H + j] = fg;
            g[2 * H + j] = gg;
            g[3 * H + j] = og;
            c[j] = cn;
            tc[j] = t;
            h[j] = out[j] = og * t;
        }
    }
}

static void lstm_backward(const rnn_step *s)
{
    int H = s->hidden, G = 4 * H;
    for (int r = 0; r < s->rows; r++) {
        const float *g = s->gates + (size_t)r * G, *tc = s->tanh_c + (size_t)r * H;
        const float *cp = s->cprev + (size_t)r * H, *dout = s->out + (size_t)r * s->out_stride;
        float *dh = s->h + (size_t)r * H, *dc = s->c + (size_t)r * H;
        float *dx = s->dgx + (size_t)r * G;
        for (int j = 0; j < H; j++) {
            float ig = g[j], fg = g[H + j], gg = g[2 * H + j], og = g[3 * H + j];
            float d = dh[j] + dout[j];
            float dct = dc[j] + d * og * (1.0f - tc[j] * tc[j]);
            dx[j] = dct * gg * ig * (1.0f - ig);
            dx[H + j] = dct * cp[j] * fg * (1.0f - fg);
            dx[2 * H + j] = dct * ig * (1.0f - gg * gg);
            dx[3 * H + j] = d * tc[j] * og * (1.0f - og);
            dc[j] = dct * fg;
            dh[j] = 0.0f;
        }
    }
}

void el__rnn_step_forward(const rnn_step *s)
{
    switch (s->cell) {
    case EL_CELL_RNN_TANH:
    case EL_CELL_RNN_RELU: rnn_forward(s); break;
    case EL_CELL_GRU: gru_forward(s); break;
    case EL_CELL_LSTM: lstm_forward(s); break;
    }
}

void el__rnn_step_backward(const rnn_step *s)
{
    switch (s->cell) {
    case EL_CELL_RNN_TANH:
    case EL_CELL_RNN_RELU: rnn_backward(s); break;
    case EL_CELL_GRU: gru_backward(s); break;
    case EL_CELL_LSTM: lstm_backward(s); break;
    }
}
