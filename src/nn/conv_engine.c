#include <limits.h>
#include <string.h>

#include "core/blas.h"
#include "core/internal.h"
#include "core/packed_gemm.h"
#include "core/parallel.h"
#include "nn/conv_engine.h"

int el__conv_out_size(int in, int kernel, int stride, int padding, int dilation)
{
    long long span = (long long)in + 2LL * padding - (long long)dilation * (kernel - 1) - 1;
    if (span < 0) return 0;
    return (int)(span / stride + 1);
}

/* The output columns [*lo, *hi) whose input column ow * stride + offset
 * lies inside [0, size); the others read the zero padding. */
static void inside(int offset, int stride, int size, int outputs, int *lo, int *hi)
{
    int first = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int last = size - 1 - offset < 0 ? 0 : (size - 1 - offset) / stride + 1;
    *lo = first < outputs ? first : outputs;
    *hi = last < outputs ? last : outputs;
    if (*hi < *lo) *hi = *lo;
}

/* Writes output columns [ow0, ow0 + n) of one row of im2col's result to
 * d: row[ow * stride + left] for ow in [lo, hi), the zero padding elsewhere
 * (and everywhere when row is NULL, a row of padding). */
static inline void segment(float *d, const float *row, int left, int ow0, int n, int lo, int hi,
                           int stride)
{
    int a = row ? lo - ow0 : n, z = row ? hi - ow0 : n;
    a = a < 0 ? 0 : a > n ? n : a;
    z = z < a ? a : z > n ? n : z;
    for (int t = 0; t < a; t++) d[t] = 0.0f;
    if (stride == 1 && z > a) {
        const float *from = row + (ow0 + a + left);
        for (int t = a; t < z; t++) d[t] = from[t - a];
    } else {
        for (int t = a; t < z; t++) d[t] = row[(ptrdiff_t)(ow0 + t) * stride + left];
    }
    for (int t = z; t < n; t++) d[t] = 0.0f;
}

/* Where element (r, q) of a result goes: row-major with rows ld apart when
 * packed_k is 0, else in an el__packed of packed_k rows. */
static inline float *element(float *dst, int packed_k, size_t ld, int r, size_t q)
{
    if (!packed_k) return dst + (size_t)r * ld + q;
    return dst + q / EL__PANEL * EL__PANEL * (size_t)packed_k + (size_t)r * EL__PANEL +
           q % EL__PANEL;
}

/* Sets elements [q0, q1) of row r to src[0 .. q1 - q0), or to 0 when src
 * is NULL; a packed row is contiguous within each panel. */
static inline void put_range(float *dst, int packed_k, size_t ld, int r, size_t q0, size_t q1,
                             const float *src)
{
    while (q0 < q1) {
        size_t n = q1 - q0;
        if (packed_k && n > EL__PANEL - q0 % EL__PANEL) n = EL__PANEL - q0 % EL__PANEL;
        float *d = element(dst, packed_k, ld, r, q0);
        /* Loops, not memcpy, which GCC inlined here as rep movs: slow to
         * start for the few hundred bytes of a panel's row. */
        if (src) {
            for (size_t t = 0; t < n; t++) d[t] = src[t];
            src += n;
        } else {
            for (size_t t = 0; t < n; t++) d[t] = 0.0f;
        }
        q0 += n;
    }
}

/* With stride 1 and the output as wide as the image (as with "same"
 * padding), output position q = oh width + ow of tap (i, j) reads image
 * element q + shift, shift = top width + left, wherever ow + left lies
 * inside a row; so a tap's columns are the image plane shifted, copied in
 * one piece, with the elements that wrapped round a row's end then set to
 * zero.  Short rows otherwise make the copies too short to be quick. */
static int shifted(const el__conv_geometry *g)
{
    return g->stride[0] == 1 && g->stride[1] == 1 && g->out_width == g->width;
}

/* The part [*q0, *q1) of a shifted tap's p output positions whose image
 * element q + shift lies inside the plane. */
static void shifted_range(const el__conv_geometry *g, long shift, size_t p, size_t *q0, size_t *q1)
{
    long plane = (long)g->height * g->width, lo = shift < 0 ? -shift : 0;
    long hi = plane - shift < (long)p ? plane - shift : (long)p;
    *q0 = (size_t)(lo < (long)p ? lo : (long)p);
    *q1 = hi < (long)*q0 ? *q0 : (size_t)hi;
}

/* The columns of channels [c0, c1): row (c - c0, i, j) holds, for every
 * output position q, the image element under kernel tap (i, j) of channel
 * c, or 0 in the padding, at column base + q of dst.  With packed_k 0, dst
 * is row-major with rows ld apart; otherwise it is the data of an el__packed
 * of packed_k rows, which this fills as el__pack would from the row-major
 * result, without making that first. */
EL__SIMD_CLONES static void im2col(const el__conv_geometry *g, const float *image, int c0, int c1,
                                   float *dst, int packed_k, size_t ld, size_t base)
{
    const int kh = g->kernel[0], kw = g->kernel[1], oh_n = g->out_height, ow_n = g->out_width;
    const int sh = g->stride[0], sw = g->stride[1];
    const size_t p = (size_t)oh_n * ow_n;
    int r = 0;
    for (int c = c0; c < c1; c++) {
        const float *plane = image + (size_t)c * g->height * g->width;
        for (int i = 0; i < kh; i++) {
            int top = i * g->dilation[0] - g->padding[0];
            for (int j = 0; j < kw; j++, r++) {
                int left = j * g->dilation[1] - g->padding[1], lo, hi;
                inside(left, sw, g->width, ow_n, &lo, &hi);
                if (shifted(g)) {
                    long shift = (long)top * g->width + left;
                    size_t q0, q1;
                    shifted_range(g, shift, p, &q0, &q1);
                    put_range(dst, packed_k, ld, r, base, base + q0, NULL);
                    put_range(dst, packed_k, ld, r, base + q0, base + q1,
                              plane + (shift + (long)q0));
                    put_range(dst, packed_k, ld, r, base + q1, base + p, NULL);
                    for (size_t oh = q0 / ow_n;
                         (lo > 0 || hi < ow_n) && q1 > q0 && oh <= (q1 - 1) / ow_n; oh++) {
                        size_t q = base + oh * ow_n;
                        for (int ow = 0; ow < lo; ow++)
                            *element(dst, packed_k, ld, r, q + ow) = 0.0f;
                        for (int ow = hi; ow < ow_n; ow++)
                            *element(dst, packed_k, ld, r, q + ow) = 0.0f;
                    }
                    continue;
                }
                for (int oh = 0; oh < oh_n; oh++) {
                    int ih = oh * sh + top;
                    const float *row =
                        ih < 0 || ih >= g->height ? NULL : plane + (size_t)ih * g->width;
                    size_t q = base + (size_t)oh * ow_n;
                    for (int ow = 0; ow < ow_n;) { /* a packed row by panels */
                        int n = ow_n - ow;
                        size_t off = (q + (size_t)ow) % EL__PANEL;
                        if (packed_k && (size_t)n > EL__PANEL - off) n = (int)(EL__PANEL - off);
                        segment(element(dst, packed_k, ld, r, q + (size_t)ow), row, left, ow, n, lo,
                                hi, sw);
                        ow += n;
                    }
                }
            }
        }
    }
}

/* The adjoint of im2col for channels [c0, c1), from row-major cols with
 * rows ld apart: adds each element into the image element it was taken
 * from; the padding's share is dropped.  A shifted tap's elements
 * that wrapped round a row are set to zero in cols first. */
EL__SIMD_CLONES static void col2im(const el__conv_geometry *g, float *cols, size_t ld, int c0,
                                   int c1, float *image)
{
    const int kh = g->kernel[0], kw = g->kernel[1], oh_n = g->out_height, ow_n = g->out_width;
    const int sh = g->stride[0], sw = g->stride[1];
    float *row = cols;
    for (int c = c0; c < c1; c++) {
        float *plane = image + (size_t)c * g->height * g->width;
        for (int i = 0; i < kh; i++) {
            int top = i * g->dilation[0] - g->padding[0];
            for (int j = 0; j < kw; j++, row += ld) {
                int left = j * g->dilation[1] - g->padding[1], lo, hi;
                inside(left, sw, g->width, ow_n, &lo, &hi);
                if (shifted(g)) {
                    long shift = (long)top * g->width + left;
                    size_t q0, q1;
                    shifted_range(g, shift, (size_t)oh_n * ow_n, &q0, &q1);
                    for (size_t oh = q0 / ow_n; q1 > q0 && oh <= (q1 - 1) / ow_n; oh++) {
                        for (int ow = 0; ow < lo; ow++) row[oh * ow_n + ow] = 0.0f;
                        for (int ow = hi; ow < ow_n; ow++) row[oh * ow_n + ow] = 0.0f;
                    }
                    float *to = plane + (shift + (long)q0);
                    for (size_t q = 0; q < q1 - q0; q++) to[q] += row[q0 + q];
                    continue;
                }
                for (int oh = 0; oh < oh_n; oh++) {
                    int ih = oh * sh + top;
                    if (ih < 0 || ih >= g->height) continue;
                    const float *src = row + (size_t)oh * ow_n;
                    float *dst = plane + (size_t)ih * g->width;
                    for (int ow = lo; ow < hi; ow++) dst[(ptrdiff_t)ow * sw + left] += src[ow];
                }
            }
        }
    }
}

/* Sets each of the channels planes of size elements to its bias, or to 0. */
EL__SIMD_CLONES static void fill_planes(float *dst, const float *bias, int channels, size_t size)
{
    for (int c = 0; c < channels; c++) {
        float v = bias ? bias[c] : 0.0f;
        for (size_t i = 0; i < size; i++) dst[(size_t)c * size + i] = v;
    }
}

typedef struct run {
    const el__conv_geometry *g;
    const el__conv_job *job;
    const float *weight_t; /* each group's weightᵀ, (channels/groups kh kw, maps/groups) */
    float *parts;
    int block;          /* images per product in the forward pass and col2im's */
    size_t part_floats; /* per part: the blocks below */
    size_t cols_floats, pack_floats, out_floats, weight_floats, bias_floats;
} run;

/* The products go through elman's packed kernel rather than OpenBLAS,
 * even now that elman has OpenBLAS use its AVX-512 or AVX2 kernels on a
 * CPU its tables do not know (core/runtime.c).  im2col writes its columns
 * straight into the kernel's packed layout, where OpenBLAS would take them
 * row-major and pack them again, and the forward pass and col2im's product
 * put several images side by side in one product, where OpenBLAS's calls
 * would go image by image on products a few hundred columns wide.  Only
 * a weight gradient with fewer maps than a panel of 64 (a first layer's)
 * leaves the packed kernel's panels part empty, and there OpenBLAS is
 * slightly faster, by less than the cost of a second code path
 * (bench/conv-bench compares the layers of FashionSimpleNet).  Each B is
 * packed here from data already in the cache, into the part's workspace,
 * so that packing never allocates. */
static el__packed borrow(float *data, size_t floats)
{
    return (el__packed){.data = data, .capacity = floats};
}

/* The workspaces of a part. */
typedef struct part {
    float *cols, *pack, *out, *dw, *db;
} part;

/* col_out = weight im2col(image_in) + col_bias for images [n0, n1), whose
 * columns sit side by side in one packed B: the kernel's panels of 64
 * columns then go to waste only at the block's end rather than at each
 * image's (an image of 14 x 14 has 196). */
static void columns_out(const run *r, const part *w, int n0, int n1)
{
    const el__conv_geometry *g = r->g;
    const el__conv_job *job = r->job;
    const int groups = g->groups, cg = g->channels / groups, kg = cg * g->kernel[0] * g->kernel[1];
    const int mg = g->maps / groups, p = g->out_height * g->out_width, nb = n1 - n0;
    const size_t image = (size_t)g->channels * g->height * g->width, column = (size_t)g->maps * p;
    const size_t width = (size_t)nb * p;
    el__packed b = borrow(w->pack, r->pack_floats);
    for (int k = 0; k < groups; k++) {
        el__packed_reserve(&b, kg, (int)width);
        for (int i = 0; i < nb; i++)
            im2col(g, job->image_in + (n0 + i) * image, k * cg, (k + 1) * cg, b.data, kg, 0,
                   (size_t)i * p);
        el__gemm_packed(mg, job->weight + (size_t)k * mg * kg, kg, &b, 0.0f, w->out, (int)width);
        for (int i = 0; i < nb; i++)
            for (int m = 0; m < mg; m++) {
                float *to = job->col_out + (n0 + i) * column + (size_t)(k * mg + m) * p;
                const float *from = w->out + (size_t)m * width + (size_t)i * p;
                float bias = job->col_bias ? job->col_bias[k * mg + m] : 0.0f;
                for (int q = 0; q < p; q++) to[q] = from[q] + bias;
            }
    }
}

/* image_out = col2im(weightᵀ col_src) + image_bias for images [n0, n1),
 * their col_src side by side in one packed B, as in columns_out. */
static void image_out(const run *r, const part *w, int n0, int n1)
{
    const el__conv_geometry *g = r->g;
    const el__conv_job *job = r->job;
    const int groups = g->groups, cg = g->channels / groups, kg = cg * g->kernel[0] * g->kernel[1];
    const int mg = g->maps / groups, p = g->out_height * g->out_width, nb = n1 - n0;
    const size_t image = (size_t)g->channels * g->height * g->width, column = (size_t)g->maps * p;
    const size_t width = (size_t)nb * p;
    el__packed b = borrow(w->pack, r->pack_floats);
    for (int i = 0; i < nb; i++)
        fill_planes(job->image_out + (n0 + i) * image, job->image_bias, g->channels,
                    (size_t)g->height * g->width);
    for (int k = 0; k < groups; k++) {
        el__packed_reserve(&b, mg, (int)width);
        for (int i = 0; i < nb; i++)
            for (int m = 0; m < mg; m++)
                put_range(b.data, mg, 0, m, (size_t)i * p, (size_t)(i + 1) * p,
                          job->col_src + (n0 + i) * column + (size_t)(k * mg + m) * p);
        el__gemm_packed(kg, r->weight_t + (size_t)k * kg * mg, mg, &b, 0.0f, w->cols, (int)width);
        for (int i = 0; i < nb; i++)
            col2im(g, w->cols + (size_t)i * p, width, k * cg, (k + 1) * cg,
                   job->image_out + (n0 + i) * image);
    }
}

/* What needs the columns of one image in row-major order: the weight
 * gradient, and col_out beside it (conv_transpose2d's backward pass). */
static void image_gradients(const run *r, const part *w, int n)
{
    const el__conv_geometry *g = r->g;
    const el__conv_job *job = r->job;
    const int groups = g->groups, kg = g->channels / groups * g->kernel[0] * g->kernel[1];
    const int mg = g->maps / groups, p = g->out_height * g->out_width;
    const size_t image = (size_t)g->channels * g->height * g->width, column = (size_t)g->maps * p;
    el__packed b = borrow(w->pack, r->pack_floats);
    im2col(g, job->image_in + n * image, 0, g->channels, w->cols, 0, (size_t)p, 0);
    for (int k = 0; k < groups; k++) {
        const float *ck = w->cols + (size_t)k * kg * p;
        if (job->col_out) {
            float *out = job->col_out + n * column + (size_t)k * mg * p;
            el__pack(&b, ck, kg, p, 0);
            el__gemm_packed(mg, job->weight + (size_t)k * mg * kg, kg, &b, 0.0f, out, p);
        }
        /* The weight gradient's transpose, colsᵀ's product with col_gradᵀ,
         * packs the smaller operand and leaves the kernel's panels of 64
         * columns fuller: one per 64 maps rather than per 64 column rows,
         * of which a small first layer has 9. */
        el__pack(&b, job->col_grad + n * column + (size_t)k * mg * p, mg, p, 1);
        el__gemm_packed(kg, ck, p, &b, 1.0f, w->dw + (size_t)k * kg * mg, mg);
    }
}

/* The sum of n floats, in SUM_LANES running sums that the compiler keeps
 * in one vector: a single sum would wait for each addition in turn. */
enum { SUM_LANES = 16 };

EL__SIMD_CLONES static float plane_sum(const float *x, size_t n)
{
    float lane[SUM_LANES] = {0};
    size_t i = 0;
    for (; i + SUM_LANES <= n; i += SUM_LANES)
        for (int l = 0; l < SUM_LANES; l++) lane[l] += x[i + l];
    float sum = 0.0f;
    for (int l = 0; l < SUM_LANES; l++) sum += lane[l];
    for (; i < n; i++) sum += x[i];
    return sum;
}

static void run_part(void *context, int index, int count)
{
    const run *r = context;
    const el__conv_geometry *g = r->g;
    const el__conv_job *job = r->job;
    float *base = r->parts + (size_t)index * r->part_floats;
    part w = {.cols = base, .pack = base + r->cols_floats};
    w.out = w.pack + r->pack_floats;
    w.dw = w.out + r->out_floats; /* each group's weight gradient transposed */
    w.db = w.dw + r->weight_floats;
    if (job->weight_grad) memset(w.dw, 0, sizeof *w.dw * r->weight_floats);
    if (job->bias_grad) memset(w.db, 0, sizeof *w.db * r->bias_floats);
    int begin, end;
    el__split(g->batch, index, count, &begin, &end);
    /* The bias gradient's sums go block by block, while the block's dy is
     * still in the cache from the products, in the same order as in one
     * pass at the end. */
    int channels = job->bias_on_image ? g->channels : g->maps;
    size_t plane =
        job->bias_on_image ? (size_t)g->height * g->width : (size_t)g->out_height * g->out_width;
    for (int n0 = begin; n0 < end; n0 += r->block) {
        int n1 = n0 + r->block < end ? n0 + r->block : end;
        if (job->col_grad)
            for (int n = n0; n < n1; n++) image_gradients(r, &w, n);
        else if (job->col_out)
            columns_out(r, &w, n0, n1);
        if (job->image_out) image_out(r, &w, n0, n1);
        for (int n = n0; job->bias_grad && n < n1; n++) {
            const float *src = job->bias_src + (size_t)n * channels * plane;
            for (int c = 0; c < channels; c++) w.db[c] += plane_sum(src + (size_t)c * plane, plane);
        }
    }
}

static int parts_for(const el__conv_geometry *g)
{
    double flops = 2.0 * g->batch * g->maps * g->out_height * g->out_width *
                   (g->channels / g->groups) * g->kernel[0] * g->kernel[1];
    int threads = el__parallel_threads();
    return flops < EL__PARALLEL_FLOPS || threads == 1 ? 1 : threads * EL__PARTS_PER_THREAD;
}

static size_t panels(int n) { return ((size_t)n + EL__PANEL - 1) / EL__PANEL * EL__PANEL; }

static size_t round_up(size_t floats) { return (floats + 15) / 16 * 16; }

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

el_status el__conv_run(const char *fn, const el__conv_geometry *g, const el__conv_job *job,
                       el_tensor *work)
{
    int parts = parts_for(g);
    const int kg = g->channels / g->groups * g->kernel[0] * g->kernel[1];
    const int mg = g->maps / g->groups, p = g->out_height * g->out_width;
    run r = {.g = g, .job = job};
    /* Enough images per block for the packed B to be some 16 panels wide. */
    r.block = (16 * EL__PANEL + p - 1) / p;
    if (r.block > g->batch) r.block = g->batch;
    size_t width = (size_t)r.block * p;
    if (job->col_grad) {
        r.cols_floats = (size_t)g->groups * kg * p;
        r.pack_floats = max_size(job->col_out ? panels(p) * kg : 0, panels(mg) * p);
    } else if (job->col_out) {
        r.pack_floats = panels((int)width) * kg;
        r.out_floats = (size_t)mg * width;
    }
    if (job->image_out) {
        r.cols_floats = max_size(r.cols_floats, (size_t)kg * width);
        r.pack_floats = max_size(r.pack_floats, panels((int)width) * mg);
    }
    r.weight_floats = job->weight_grad ? (size_t)g->maps * kg : 0;
    r.bias_floats = !job->bias_grad ? 0 : (size_t)(job->bias_on_image ? g->channels : g->maps);
    /* Each block starts on a cache line, as the packed kernel wants, and so
     * that no two threads write to one. */
    r.cols_floats = round_up(r.cols_floats);
    r.pack_floats = round_up(r.pack_floats);
    r.out_floats = round_up(r.out_floats);
    r.weight_floats = round_up(r.weight_floats);
    r.part_floats =
        round_up(r.cols_floats + r.pack_floats + r.out_floats + r.weight_floats + r.bias_floats);
    size_t shared = job->image_out ? round_up((size_t)g->maps * kg) : 0;
    if (r.part_floats > INT_MAX || shared > INT_MAX)
        return el__fail(EL_ERR_INVALID, "%s: an image's columns take %zu floats (at most %d)", fn,
                        r.part_floats, INT_MAX);
    el_status s = el_tensor_ensure(
        work, 2, (int[]){parts + (shared ? 1 : 0), (int)max_size(r.part_floats, shared)});
    if (s) return s;
    float *wt = work->data;
    r.weight_t = wt;
    r.parts = work->data + (shared ? max_size(r.part_floats, shared) : 0);
    for (int k = 0; shared && k < g->groups; k++)
        el__transpose(mg, kg, job->weight + (size_t)k * mg * kg, kg, wt + (size_t)k * kg * mg, mg);
    el__parallel_run(run_part, &r, parts == 1 ? 0 : EL__PARTS_PER_THREAD);
    for (int i = 0; i < parts; i++) {
        const float *dw =
            r.parts + (size_t)i * r.part_floats + r.cols_floats + r.pack_floats + r.out_floats;
        for (int k = 0; job->weight_grad && k < g->groups; k++) /* each group's dwᵀ (kg, mg) */
            for (int m = 0; m < mg; m++)
                for (int c = 0; c < kg; c++)
                    job->weight_grad[((size_t)k * mg + m) * kg + c] +=
                        dw[((size_t)k * kg + c) * mg + m];
        for (size_t k = 0; k < r.bias_floats; k++) job->bias_grad[k] += dw[r.weight_floats + k];
    }
    return EL_OK;
}
