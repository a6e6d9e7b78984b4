/* elman: a seeded random number generator and weight initialisers.
 *
 * The generator is PCG32 (M. E. O'Neill, "PCG: A Family of Simple Fast
 * Space-Efficient Statistically Good Algorithms for Random Number
 * Generation", 2014; the XSH-RR output function over a 64-bit LCG).  Its
 * whole state is the two words below, so saving them resumes a stream
 * exactly.  The same seed gives the same numbers on every machine. */
#ifndef ELMAN_RNG_H
#define ELMAN_RNG_H

#include <stdint.h>

#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_rng {
    uint64_t state;
    uint64_t increment; /* always odd: selects the stream */
} el_rng;

/* Seeds the generator.  Different seeds give unrelated streams. */
EL_API void el_rng_seed(el_rng *rng, uint64_t seed);

/* A uniformly distributed 32-bit integer. */
EL_API uint32_t el_rng_u32(el_rng *rng);

/* Skips n draws of el_rng_u32 in O(log n) steps (PCG's jump ahead): the
 * stream continues as if they had been drawn.  A data-parallel rank gives
 * its share of a batch the random numbers one process would (dropout over
 * examples [first, ...) starts first · draws-per-example into the batch's
 * stream). */
EL_API void el_rng_advance(el_rng *rng, uint64_t n);

/* A 64-bit integer from two draws of el_rng_u32 (the first is the high
 * word), e.g. a key for el_rng_keyed_uniform. */
EL_API uint64_t el_rng_u64(el_rng *rng);

/* A uniform float in [0, 1) with 24 bits, a pure function of a key and two
 * coordinates (a counter-based draw: no state, nothing advances).  Dropout
 * and teacher forcing draw element (row, index) of a batch this way, with
 * row the example's place in the whole batch: so the value of one element
 * does not depend on how the batch is laid out, cut into shares or run a
 * step at a time (a sequential stream would give an element the draw of its
 * position in the layout).  The mixer is SplitMix64's finaliser (Stafford's
 * "Mix13") applied three times, the coordinates added in with odd constants;
 * different keys, rows or indices give unrelated values. */
EL_API float el_rng_keyed_uniform(uint64_t key, uint64_t row, uint64_t index);

/* A uniform integer in [0, n), without modulo bias; 0 when n is 0. */
EL_API uint32_t el_rng_below(el_rng *rng, uint32_t n);

/* A uniform float in [0, 1) with 24 random bits. */
EL_API float el_rng_uniform(el_rng *rng);

/* A standard normal float (Box-Muller; uses two draws of el_rng_u32). */
EL_API float el_rng_normal(el_rng *rng);

/* Puts a uniformly random permutation of 0..n-1 into perm (Fisher-Yates). */
EL_API void el_rng_permutation(el_rng *rng, int *perm, int n);

/* Fills t with draws from U(low, high). */
EL_API el_status el_init_uniform(el_tensor *t, el_rng *rng, float low, float high);

/* Fills t with draws from N(mean, std^2). */
EL_API el_status el_init_normal(el_tensor *t, el_rng *rng, float mean, float std);

/* Fan-in and fan-out are read from the shape as PyTorch does: for a weight of
 * shape (out, in, k...) fan_in = in * k..., fan_out = out * k...; a 1-D
 * tensor has fan_in = fan_out = its length. */
typedef enum el_fan_mode { EL_FAN_IN = 0, EL_FAN_OUT = 1 } el_fan_mode;

/* Xavier/Glorot: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)). */
EL_API el_status el_init_xavier_uniform(el_tensor *t, el_rng *rng, float gain);
/* Xavier/Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)). */
EL_API el_status el_init_xavier_normal(el_tensor *t, el_rng *rng, float gain);
/* Kaiming/He: U(-b, b) with b = gain * sqrt(3 / fan); gain is sqrt(2) for ReLU. */
EL_API el_status el_init_kaiming_uniform(el_tensor *t, el_rng *rng, float gain, el_fan_mode mode);
/* Kaiming/He: N(0, std^2) with std = gain / sqrt(fan). */
EL_API el_status el_init_kaiming_normal(el_tensor *t, el_rng *rng, float gain, el_fan_mode mode);

#ifdef __cplusplus
}
#endif
#endif
