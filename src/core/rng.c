#include <math.h>

#include "elman/rng.h"
#include "core/internal.h"

/* SplitMix64 (Steele, Lea, Flood 2014): spreads a small seed such as 1, 2, 3
 * over all 64 bits before it becomes PCG's state and stream. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x) { return mix64(*x += 0x9e3779b97f4a7c15ULL); }

void el_rng_seed(el_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    uint64_t initial_state = splitmix64(&x);
    uint64_t stream = splitmix64(&x);
    rng->state = 0;
    rng->increment = (stream << 1) | 1u;
    el_rng_u32(rng);
    rng->state += initial_state;
    el_rng_u32(rng);
}

uint32_t el_rng_u32(el_rng *rng)
{
    uint64_t old = rng->state;
    rng->state = old * 6364136223846793005ULL + rng->increment;
    uint32_t xorshifted = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

/* Brown's jump ahead for an LCG ("Random Number Generation with Arbitrary
 * Strides", 1994), as in O'Neill's pcg32_advance: the n-step map
 * state -> A state + C, built by squaring the one-step map. */
void el_rng_advance(el_rng *rng, uint64_t n)
{
    uint64_t mult = 6364136223846793005ULL, plus = rng->increment;
    uint64_t acc_mult = 1, acc_plus = 0;
    for (; n > 0; n >>= 1) {
        if (n & 1) {
            acc_mult *= mult;
            acc_plus = acc_plus * mult + plus;
        }
        plus = (mult + 1) * plus;
        mult *= mult;
    }
    rng->state = acc_mult * rng->state + acc_plus;
}

/* Lemire's multiply-and-reject method: unbiased, and one draw nearly always. */
uint32_t el_rng_below(el_rng *rng, uint32_t n)
{
    if (n == 0) return 0;
    uint64_t m = (uint64_t)el_rng_u32(rng) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)el_rng_u32(rng) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

uint64_t el_rng_u64(el_rng *rng)
{
    uint64_t high = el_rng_u32(rng);
    return high << 32 | el_rng_u32(rng);
}

/* Each step is a bijection of 64 bits, so for one key two different
 * (row, index) pairs collide only by chance (2^-64); the odd multipliers
 * (the golden ratio's and another Weyl constant) spread consecutive rows
 * and indices over all bits before each mix, as SplitMix64 does with its
 * counter. */
float el_rng_keyed_uniform(uint64_t key, uint64_t row, uint64_t index)
{
    uint64_t z = mix64(key ^ 0x6a09e667f3bcc909ULL);
    z = mix64(z + (row + 1) * 0x9e3779b97f4a7c15ULL);
    z = mix64(z + (index + 1) * 0xd1b54a32d192ed03ULL);
    return (float)(z >> 40) * 0x1.0p-24f;
}

float el_rng_uniform(el_rng *rng) { return (float)(el_rng_u32(rng) >> 8) * 0x1.0p-24f; }

float el_rng_normal(el_rng *rng)
{
    /* u1 in (0, 1] so that log(u1) is finite. */
    double u1 = ((double)(el_rng_u32(rng) >> 8) + 1.0) * 0x1.0p-24;
    double u2 = (double)(el_rng_u32(rng) >> 8) * 0x1.0p-24;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void el_rng_permutation(el_rng *rng, int *perm, int n)
{
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)el_rng_below(rng, (uint32_t)i + 1);
        int tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}
