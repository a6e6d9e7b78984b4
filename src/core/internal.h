/* elman internals shared by the library's source files; not installed. */
#ifndef ELMAN_INTERNAL_H
#define ELMAN_INTERNAL_H

#include <stddef.h>

#include "elman/status.h"
#include "elman/tensor.h"

/* Records a message for el_last_error() and returns status, so that a
 * failing path reads: return el__fail(EL_ERR_SHAPE, "...", ...); */
el_status el__fail(el_status status, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* All library memory comes from here: 64-byte aligned (a cache line, and
 * what AVX-512 loads like), NULL on failure or when the size overflows. */
void *el__alloc(size_t bytes);
void *el__alloc_zero(size_t count, size_t size);
void *el__realloc(void *ptr, size_t bytes); /* plain alignment, for arrays of pointers */
void el__free(void *ptr);

/* A training step whose loss or gradient is NaN or infinite fails with
 * EL_ERR_NONFINITE, naming fn, so that no optimizer writes it into the
 * weights and a training loop can stop where the numbers broke: the loss
 * is checked before the backward pass, the gradients' norm after it. */
struct el_param_list;
el_status el__check_finite_loss(float loss, const char *fn);
el_status el__check_finite_grads(const struct el_param_list *list, const char *fn);

/* A test hook: after n more successful allocations, every allocation fails
 * (n < 0 turns the hook off).  Per thread. */
void el__fail_allocations_after(long n);

/* A test hook: the recurrent layers compute the weight gradients of a layer
 * whose input and hprev take up to bytes through the packed kernel, and the
 * others through OpenBLAS (src/nn/rnn_tuning.c).  Returns the limit it replaces.  Not
 * for use while another thread runs a layer. */
size_t el__rnn_set_panel_limit(size_t bytes);

/* A test hook: weights_from_panels reads the input and states of layers
 * with up to gates gate columns in place, and transposes the others'
 * (src/nn/rnn_tuning.c).  Returns the limit it replaces.  Not for use while another
 * thread runs a layer. */
int el__rnn_set_in_place_limit(int gates);

/* A test hook: the recurrent layers pack up to floats of a pass's weights
 * on one thread, and split more over the threads (src/nn/rnn_tuning.c).  Returns the
 * limit it replaces.  Not for use while another thread runs a layer. */
size_t el__rnn_set_pack_alone_limit(size_t floats);

/* A test hook: el_thread_check reads the time from now (NULL: the
 * monotonic clock), so that a test can decide which way is faster.
 * Returns the clock it replaces. */
typedef double (*el__seconds_fn)(void);
el__seconds_fn el__thread_check_set_clock(el__seconds_fn now);

/* For a hot loop: the library is built for any x86-64, whose vectors are 4
 * floats wide and which has no fused multiply-add; this also compiles the
 * function for x86-64-v3 (AVX2 and FMA, 8 floats) and v4 (AVX-512, 16), and
 * the loader picks the one the CPU runs.  The library is built with
 * -ffp-contract=fast, so those two fuse a * b + c into one rounding, which
 * is both faster and more accurate.  The versions' results
 * then differ in the last bits, as the matrix kernels' already do from CPU
 * to CPU; on one machine they are always the same. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EL__SIMD_CLONES                                                                            \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EL__SIMD_CLONES
/* Sizes an output tensor as the API convention says: one of the given shape
 * is used as it is, an empty or owning one of another shape is (re)allocated
 * with el_tensor_ensure (so a loop allocates only on its first call of a
 * shape); a view or wrapped memory cannot grow, so it must already have the
 * shape (EL_ERR_SHAPE naming fn and the output). */
el_status el__size_output(const char *fn, const char *name, el_tensor *t, int ndim,
                          const int *shape);

#endif

/* Fails with EL_ERR_INVALID naming the function and argument when p is NULL. */
#define EL_REQUIRE(p, fn)                                                                          \
    do {                                                                                           \
        if ((p) == NULL) return el__fail(EL_ERR_INVALID, "%s: %s is NULL", fn, #p);                \
    } while (0)

/* Fails with EL_ERR_SHAPE when a and b hold different numbers of elements. */
el_status el__check_same_size(const char *fn, const char *name_a, const el_tensor *a,
                              const char *name_b, const el_tensor *b);

/* Sizes an output tensor as the API convention says: one of the given shape
 * is used as it is, an empty or owning one of another shape is (re)allocated
 * with el_tensor_ensure (so a loop allocates only on its first call of a
 * shape); a view or wrapped memory cannot grow, so it must already have the
 * shape (EL_ERR_SHAPE naming fn and the output). */
el_status el__size_output(const char *fn, const char *name, el_tensor *t, int ndim,
                          const int *shape);

#endif
