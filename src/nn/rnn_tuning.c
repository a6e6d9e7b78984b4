/* Every threshold by which the recurrent layers choose between ways of
 * doing the same work: how many parts each pass is split into
 * (el__parallel_run's parts_per_thread), which way a layer's weight
 * gradients take, and where the packed kernel reads their inputs from.
 * Each depends on the shapes alone, never on a clock, so a run is
 * reproducible on one machine.  The figures behind the values are in
 * docs/benchmarks.md; the three limits a test must move have hooks
 * (declared in core/internal.h), so that both sides of each are tested at
 * any size. */
#include "core/blas.h"
#include "core/internal.h"
#include "core/parallel.h"
#include "nn/rnn_internal.h"

/* A copy between the padded and the packed layouts of fewer than 65536
 * floats (256 KiB) runs on the calling thread: it is over sooner than a
 * worker would wake. */
int el__rnn_copy_parts(const el_rnn_cache *c, int width)
{
    int single = (size_t)c->steps * c->batch * width < 65536;
    return single ? 0 : EL__PARTS_PER_THREAD;
}

/* A layer whose products (input projection and recurrence, over all its
 * rows) come to fewer than EL__PARALLEL_FLOPS runs every pass on the
 * calling thread, as OpenBLAS's products of that size do (core/blas.h):
 * splitting it costs more than it saves. */
static int too_small_to_split(const el_rnn_cache *c, int in)
{
    int G = el_cell_gates(c->config.cell) * c->config.hidden_size;
    return 2.0 * c->rows * G * (in + c->config.hidden_size) < EL__PARALLEL_FLOPS;
}

/* Passes split by rows or columns of independent products (the input
 * projection, the transposes): as many parts as evens out a late thread. */
int el__rnn_rows_parts(const el_rnn_cache *c, int in)
{
    return too_small_to_split(c, in) ? 0 : EL__PARTS_PER_THREAD;
}

/* A time loop's parts each multiply their rows by the whole of W_hh at
 * every step, which stays in the core's cache (2 MiB of L2 on the machines
 * this was tuned on) up to about 1 MiB: up to there, two parts per thread
 * balance the threads; past it every further part streams W_hh from
 * memory again, and one part per thread wins. */
int el__rnn_time_loop_parts(const el_rnn_cache *c, int in)
{
    if (too_small_to_split(c, in)) return 0;
    size_t weight = (size_t)el_cell_gates(c->config.cell) * c->config.hidden_size *
                    c->config.hidden_size * sizeof(float);
    return weight <= ((size_t)1 << 20) ? EL__PARTS_PER_THREAD : 1;
}

/* The weight gradients and the input gradient take one part per thread:
 * each part's OpenBLAS products pack all of the layer's inputs again, so
 * more parts cost more packing than they gain in balance. */
int el__rnn_gradient_parts(const el_rnn_cache *c, int in)
{
    return too_small_to_split(c, in) ? 0 : 1;
}

/* Up to this many floats of weights (1 MiB), a pass packs them on the
 * calling thread; more are split by panels over the threads, as packing
 * large weights on one thread is a share of the pass worth halving.  A
 * variable only for the test hook. */
static size_t pack_alone_floats = (size_t)1 << 18;

size_t el__rnn_set_pack_alone_limit(size_t floats)
{
    size_t old = pack_alone_floats;
    pack_alone_floats = floats;
    return old;
}

int el__rnn_pack_parts(size_t floats)
{
    return floats <= pack_alone_floats ? 0 : EL__PARTS_PER_THREAD;
}

/* Up to this size (4 MiB) of a layer's input and hprev together, its
 * weight gradients go through weights_from_panels (rnn_grad.c), and
 * through OpenBLAS beyond.  The packed kernel reads all of them again for
 * every panel of dG: it wins while they stay in or near L2 (2 MiB per core
 * on the machines this was tuned on), where it spares OpenBLAS's packing
 * of dG twice per layer, and loses once they spill well past it.  A
 * variable only for the test hook. */
static size_t panel_gradients_bytes = (size_t)4 << 20;

size_t el__rnn_set_panel_limit(size_t bytes)
{
    size_t old = panel_gradients_bytes;
    panel_gradients_bytes = bytes;
    return old;
}

int el__rnn_uses_panels(const el_rnn_cache *c, int l)
{
    int in;
    const float *input = el__rnn_layer_input(c, l, &in);
    size_t floats = (size_t)((input ? in : 0) + c->config.hidden_size) * c->rows;
    return floats * sizeof(float) <= panel_gradients_bytes;
}

/* Up to this many gate columns (eight panels), weights_from_panels reads a
 * layer's input and states as they lie; for more, it reads them transposed
 * by el__rnn_transpose_task.  In place, the kernel's tiles take a few
 * floats from a cache line of X at each step of k, and again for every
 * panel of dG, a cost that grows with the panels; transposed, they read
 * whole lines, but the transposes are a pass over cold memory, a fixed
 * cost.  A variable only for the test hook. */
static int in_place_gate_limit = 8 * EL__PANEL;

int el__rnn_set_in_place_limit(int gates)
{
    int old = in_place_gate_limit;
    in_place_gate_limit = gates;
    return old;
}

int el__rnn_reads_in_place(const el_rnn_cache *c)
{
    return el_cell_gates(c->config.cell) * c->config.hidden_size <= in_place_gate_limit;
}

/* The row stride of inputs_t for N columns: a cache line more than N
 * rounded up to one, so that its rows do not all fall in the same L1 sets
 * when N is a multiple of 1024 (T = 32, B = 64 is 2048), as the transposes
 * write them and the kernel's tiles read six at a time. */
int el__rnn_transposed_stride(int N) { return (N + 15) / 16 * 16 + 16; }
