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

/* cols (channels kh kw, out_height out_width): row (c, i, j) holds, for
 * every output position, the image element under kernel tap (i, j) of
 * channel c, or 0 in the padding. */
static void im2col(const el__conv_geometry *g, const float *image, float *cols)
{
    const int kh = g->kernel[0], kw = g->kernel[1], oh_n = g->out_height, ow_n = g->out_width;
    const int sh = g->stride[0], sw = g->stride[1];
    float *row = cols;
    for (int c = 0; c < g->channels; c++) {
        const float *plane = image + (size_t)c * g->height * g->width;
        for (int i = 0; i < kh; i++) {
            int top = i * g->dilation[0] - g->padding[0];
            for (int j = 0; j < kw; j++, row += (size_t)oh_n * ow_n) {
                int left = j * g->dilation[1] - g->padding[1], lo, hi;
                inside(left, sw, g->width, ow_n, &lo, &hi);
                for (int oh = 0; oh < oh_n; oh++) {
                    float *dst = row + (size_t)oh * ow_n;
                    int ih = oh * sh + top;
                    if (ih < 0 || ih >= g->height) {
                        memset(dst, 0, sizeof *dst * (size_t)ow_n);
                        continue;
                    }
                    const float *src = plane + (size_t)ih * g->width + left;
                    for (int ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
                    if (sw == 1)
                        memcpy(dst + lo, src + lo, sizeof *dst * (size_t)(hi - lo));
                    else
                        for (int ow = lo; ow < hi; ow++) dst[ow] = src[(ptrdiff_t)ow * sw];
                    for (int ow = hi; ow < ow_n; ow++) dst[ow] = 0.0f;
                }
            }
        }
    }
}

/* The adjoint of im2col: adds each element of cols into the image element it
 * was taken from; the padding's share is dropped. */
static void col2im(const el__conv_geometry *g, const float *cols, float *image)
{
    const int kh = g->kernel[0], kw = g->kernel[1], oh_n = g->out_height, ow_n = g->out_width;
    const int sh = g->stride[0], sw = g->stride[1];
    const float *row = cols;
    for (int c = 0; c < g->channels; c++) {
        float *plane = image + (size_t)c * g->height * g->width;
        for (int i = 0; i < kh; i++) {
            int top = i * g->dilation[0] - g->padding[0];
            for (int j = 0; j < kw; j++, row += (size_t)oh_n * ow_n) {
                int left = j * g->dilation[1] - g->padding[1], lo, hi;
                inside(left, sw, g->width, ow_n, &lo, &hi);
                for (int oh = 0; oh < oh_n; oh++) {
                    int ih = oh * sh + top;
                    if (ih < 0 || ih >= g->height) continue;
                    const float *src = row + (size_t)oh * ow_n;
                    float *dst = plane + (size_t)ih * g->width + left;
                    for (int ow = lo; ow < hi; ow++) dst[(ptrdiff_t)ow * sw] += src[ow];
                }
            }
        }
    }
}

/* Sets each of the channels planes of size elements to its bias, or to 0. */
static void fill_planes(float *dst, const float *bias, int channels, size_t size)
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
    size_t part_floats; /* per part: columns, packed operand, weight and bias gradients */
    size_t cols_floats;
    size_t pack_floats;
    size_t weight_floats;
    size_t bias_floats;
} run;

/* The products go through elman's packed kernel, which picks its
 * instructions by what the CPU runs, rather than OpenBLAS, which may not
 * know a virtual machine's CPU and fall back to its oldest kernels.  Each
 * B is packed here from data already in the cache, into the part's
 * workspace, so that packing never allocates. */
static el__packed borrow(float *data, size_t floats)
{
    return (el__packed){.data = data, .capacity = floats};
}

static void run_part(void *context, int index, int count)
{
    const run *r = context;
    const el__conv_geometry *g = r->g;
    const el__conv_job *job = r->job;
    const int groups = g->groups, kg = g->channels / groups * g->kernel[0] * g->kernel[1];
    const int mg = g->maps / groups, p = g->out_height * g->out_width;
    const size_t image = (size_t)g->channels * g->height * g->width;
    const size_t column = (size_t)g->maps * p;
    float *cols = r->parts + (size_t)index * r->part_floats;
    float *pack = cols + r->cols_floats, *dw = pack + r->pack_floats, *db = dw + r->weight_floats;
    /* dw holds the transpose of each group's weight gradient. */
    el__packed b = borrow(pack, r->pack_floats);
    if (job->weight_grad) memset(dw, 0, sizeof *dw * r->weight_floats);
    if (job->bias_grad) memset(db, 0, sizeof *db * r->bias_floats);
    int begin, end;
    el__split(g->batch, index, count, &begin, &end);
    for (int n = begin; n < end; n++) {
        if (job->col_out || job->col_grad) {
            im2col(g, job->image_in + n * image, cols);
            for (int k = 0; k < groups; k++) {
                const float *cg = cols + (size_t)k * kg * p;
                if (job->col_out) {
                    float *out = job->col_out + n * column + (size_t)k * mg * p;
                    fill_planes(out, job->col_bias ? job->col_bias + k * mg : NULL, mg, (size_t)p);
                    el__pack(&b, cg, kg, p, 0);
                    el__gemm_packed(mg, job->weight + (size_t)k * mg * kg, kg, &b, 1.0f, out, p);
                }
                /* The weight gradient's transpose, colsᵀ's product with
                 * col_gradᵀ, packs the smaller operand and leaves the
                 * kernel's panels of 64 columns fuller: one per 64 maps
                 * rather than per 64 column rows, of which a small first
                 * layer has 9. */
                if (job->col_grad) {
                    el__pack(&b, job->col_grad + n * column + (size_t)k * mg * p, mg, p, 1);
                    el__gemm_packed(kg, cg, p, &b, 1.0f, dw + (size_t)k * kg * mg, mg);
                }
            }
        }
        if (job->image_out) {
            for (int k = 0; k < groups; k++) {
                el__pack(&b, job->col_src + n * column + (size_t)k * mg * p, mg, p, 0);
                el__gemm_packed(kg, r->weight_t + (size_t)k * kg * mg, mg, &b, 0.0f,
                                cols + (size_t)k * kg * p, p);
            }
            float *out = job->image_out + n * image;
            fill_planes(out, job->image_bias, g->channels, (size_t)g->height * g->width);
            col2im(g, cols, out);
        }
        if (job->bias_grad) {
            int channels = job->bias_on_image ? g->channels : g->maps;
            size_t plane = job->bias_on_image ? (size_t)g->height * g->width : (size_t)p;
            const float *src = job->bias_src + n * (job->bias_on_image ? image : column);
            for (int c = 0; c < channels; c++) {
                float sum = 0.0f;
                for (size_t i = 0; i < plane; i++) sum += src[(size_t)c * plane + i];
                db[c] += sum;
            }
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
    r.cols_floats = (size_t)g->groups * kg * p;
    if (job->col_out) r.pack_floats = panels(p) * kg;
    if (job->col_grad) r.pack_floats = max_size(r.pack_floats, panels(mg) * p);
    if (job->image_out) r.pack_floats = max_size(r.pack_floats, panels(p) * mg);
    r.weight_floats = job->weight_grad ? (size_t)g->maps * kg : 0;
    r.bias_floats = !job->bias_grad ? 0 : (size_t)(job->bias_on_image ? g->channels : g->maps);
    /* Each block starts on a cache line, as the packed kernel wants, and so
     * that no two threads write to one. */
    r.cols_floats = round_up(r.cols_floats);
    r.pack_floats = round_up(r.pack_floats);
    r.part_floats = round_up(r.cols_floats + r.pack_floats + r.weight_floats + r.bias_floats);
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
        const float *dw = r.parts + (size_t)i * r.part_floats + r.cols_floats + r.pack_floats;
        for (int k = 0; job->weight_grad && k < g->groups; k++) /* each group's dwᵀ (kg, mg) */
            for (int m = 0; m < mg; m++)
                for (int c = 0; c < kg; c++)
                    job->weight_grad[((size_t)k * mg + m) * kg + c] +=
                        dw[((size_t)k * kg + c) * mg + m];
        for (size_t k = 0; k < r.bias_floats; k++) job->bias_grad[k] += dw[r.weight_floats + k];
    }
    return EL_OK;
}
