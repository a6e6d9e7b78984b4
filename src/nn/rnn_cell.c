#include "core/fastmath.h"
#include "core/internal.h"
#include "nn/rnn_cell.h"

/* Each kernel is a function of one row whose arrays are restrict
 * parameters: GCC vectorises the j loops only when it knows that the
 * stores do not overlap the loads, and it reads that from parameters.
 * EL__SIMD_CLONES (src/core/internal.h) compiles each for AVX2 and AVX-512 too. */

EL__SIMD_CLONES
static void rnn_row_forward(int H, int relu, const float *restrict bi, const float *restrict bh,
                            const float *restrict gh, float *restrict a, float *restrict h,
                            float *restrict out)
{
    for (int j = 0; j < H; j++) {
        float pre = a[j] + bi[j] + gh[j] + bh[j];
        float v = relu ? (pre > 0 ? pre : 0.0f) : el__tanh(pre);
        a[j] = v;
        h[j] = v;
        out[j] = v;
    }
}

EL__SIMD_CLONES
static void rnn_row_backward(int H, int relu, const float *restrict v, const float *restrict dout,
                             float *restrict dh, float *restrict dg)
{
    for (int j = 0; j < H; j++) {
        float g = dh[j] + dout[j];
        dg[j] = relu ? (v[j] > 0 ? g : 0.0f) : g * (1.0f - v[j] * v[j]);
        dh[j] = 0.0f; /* the state reaches h' only through W_hh */
    }
}

/* gx: the input pre-activations r, z, n, replaced by the gates; gh: the
 * state pre-activations; ahn receives W_hn h + b_hn. */
EL__SIMD_CLONES
static void gru_row_forward(int H, const float *restrict bir, const float *restrict biz,
                            const float *restrict bin, const float *restrict bhr,
                            const float *restrict bhz, const float *restrict bhn,
                            const float *restrict hr, const float *restrict hz,
                            const float *restrict hn_pre, const float *restrict hp,
                            float *restrict gr, float *restrict gz, float *restrict gn,
                            float *restrict ahn, float *restrict h, float *restrict out)
{
    for (int j = 0; j < H; j++) {
        float rg = el__sigmoid(gr[j] + bir[j] + hr[j] + bhr[j]);
        float zg = el__sigmoid(gz[j] + biz[j] + hz[j] + bhz[j]);
        float hn = hn_pre[j] + bhn[j];
        float ng = el__tanh(gn[j] + bin[j] + rg * hn);
        float hv = (1.0f - zg) * ng + zg * hp[j];
        gr[j] = rg;
        gz[j] = zg;
        gn[j] = ng;
        ahn[j] = hn;
        h[j] = hv;
        out[j] = hv;
    }
}

EL__SIMD_CLONES
static void gru_row_backward(int H, const float *restrict gr, const float *restrict gz,
                             const float *restrict gn, const float *restrict ahn,
                             const float *restrict hp, const float *restrict dout,
                             float *restrict dh, float *restrict dxr, float *restrict dxz,
                             float *restrict dxn, float *restrict dhr, float *restrict dhz,
                             float *restrict dhn)
{
    for (int j = 0; j < H; j++) {
        float rg = gr[j], zg = gz[j], ng = gn[j];
        float d = dh[j] + dout[j];
        float dn = d * (1.0f - zg) * (1.0f - ng * ng);
        float dz = d * (hp[j] - ng) * zg * (1.0f - zg);
        float dr = dn * ahn[j] * rg * (1.0f - rg);
        dxr[j] = dr;
        dhr[j] = dr;
        dxz[j] = dz;
        dhz[j] = dz;
        dxn[j] = dn;
        dhn[j] = dn * rg; /* r scales W_hn h + b_hn */
        dh[j] = d * zg;
    }
}

/* The bias pairs b_ih + b_hh of the four gates i, f, g, o, and the gates'
 * input (gx*, replaced by the activations) and state (gh*) pre-activations. */
typedef struct lstm_biases {
    const float *restrict bi[4];
    const float *restrict bh[4];
} lstm_biases;

EL__SIMD_CLONES
static void lstm_row_forward(int H, const lstm_biases *b, const float *restrict hi,
                             const float *restrict hf, const float *restrict hg,
                             const float *restrict ho, const float *restrict cp, float *restrict gi,
                             float *restrict gf, float *restrict gc, float *restrict go,
                             float *restrict c, float *restrict tc, float *restrict h,
                             float *restrict out)
{
    const float *restrict bii = b->bi[0], *restrict bif = b->bi[1];
    const float *restrict bic = b->bi[2], *restrict bio = b->bi[3];
    const float *restrict bhi = b->bh[0], *restrict bhf = b->bh[1];
    const float *restrict bhc = b->bh[2], *restrict bho = b->bh[3];
    for (int j = 0; j < H; j++) {
        float ig = el__sigmoid(gi[j] + bii[j] + hi[j] + bhi[j]);
        float fg = el__sigmoid(gf[j] + bif[j] + hf[j] + bhf[j]);
        float gg = el__tanh(gc[j] + bic[j] + hg[j] + bhc[j]);
        float og = el__sigmoid(go[j] + bio[j] + ho[j] + bho[j]);
        float cn = fg * cp[j] + ig * gg;
        float t = el__tanh(cn);
        gi[j] = ig;
        gf[j] = fg;
        gc[j] = gg;
        go[j] = og;
        c[j] = cn;
        tc[j] = t;
        h[j] = og * t;
        out[j] = og * t;
    }
}

EL__SIMD_CLONES
static void lstm_row_backward(int H, const float *restrict gi, const float *restrict gf,
                              const float *restrict gc, const float *restrict go,
                              const float *restrict tc, const float *restrict cp,
                              const float *restrict dout, float *restrict dh, float *restrict dc,
                              float *restrict dgi, float *restrict dgf, float *restrict dgc,
                              float *restrict dgo)
{
    for (int j = 0; j < H; j++) {
        float ig = gi[j], fg = gf[j], gg = gc[j], og = go[j];
        float d = dh[j] + dout[j];
        float dct = dc[j] + d * og * (1.0f - tc[j] * tc[j]);
        dgi[j] = dct * gg * ig * (1.0f - ig);
        dgf[j] = dct * cp[j] * fg * (1.0f - fg);
        dgc[j] = dct * ig * (1.0f - gg * gg);
        dgo[j] = d * tc[j] * og * (1.0f - og);
        dc[j] = dct * fg;
        dh[j] = 0.0f;
    }
}

void el__cell_forward(const cell_rows *s)
{
    const int H = s->hidden, G = el_cell_gates(s->cell) * H;
    const float *bi = s->b_ih, *bh = s->b_hh;
    lstm_biases lb = {{bi, bi + H, bi + 2 * H, bi + 3 * H}, {bh, bh + H, bh + 2 * H, bh + 3 * H}};
    for (size_t r = 0; r < (size_t)s->rows; r++) {
        size_t row = r * H;
        float *g = s->gates + r * G, *out = s->out + r * s->out_stride;
        const float *gh = s->gh + r * G;
        int ends = s->h_end && r >= (size_t)s->continuing;
        float *h = ends ? s->h_end : s->h, *c = ends ? s->c_end : s->c;
        switch (s->cell) {
        case EL_CELL_RNN_TANH:
        case EL_CELL_RNN_RELU:
            rnn_row_forward(H, s->cell == EL_CELL_RNN_RELU, bi, bh, gh, g, h + row, out);
            break;
        case EL_CELL_GRU:
            gru_row_forward(H, bi, bi + H, bi + 2 * H, bh, bh + H, bh + 2 * H, gh, gh + H,
                            gh + 2 * H, s->hprev + row, g, g + H, g + 2 * H, s->hn_gate + row,
                            h + row, out);
            break;
        case EL_CELL_LSTM:
            lstm_row_forward(H, &lb, gh, gh + H, gh + 2 * H, gh + 3 * H, s->cprev + row, g, g + H,
                             g + 2 * H, g + 3 * H, c + row, s->tanh_c + row, h + row, out);
            break;
        }
    }
}

void el__cell_backward(const cell_rows *s)
{
    const int H = s->hidden, G = el_cell_gates(s->cell) * H;
    for (size_t r = 0; r < (size_t)s->rows; r++) {
        size_t row = r * H;
        const float *g = s->gates + r * G, *dout = s->out + r * s->out_stride;
        float *dx = s->dgx + r * G, *dhh = s->dgh + r * G;
        switch (s->cell) {
        case EL_CELL_RNN_TANH:
        case EL_CELL_RNN_RELU:
            rnn_row_backward(H, s->cell == EL_CELL_RNN_RELU, g, dout, s->h + row, dx);
            break;
        case EL_CELL_GRU:
            gru_row_backward(H, g, g + H, g + 2 * H, s->hn_gate + row, s->hprev + row, dout,
                             s->h + row, dx, dx + H, dx + 2 * H, dhh, dhh + H, dhh + 2 * H);
            break;
        case EL_CELL_LSTM:
            lstm_row_backward(H, g, g + H, g + 2 * H, g + 3 * H, s->tanh_c + row, s->cprev + row,
                              dout, s->h + row, s->c + row, dx, dx + H, dx + 2 * H, dx + 3 * H);
            break;
        }
    }
}
