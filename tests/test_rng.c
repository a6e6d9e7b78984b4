/* The random number generator: reproducibility, the PCG32 reference values,
 * and the distributions of its derived draws.  Every test uses a fixed seed,
 * so the statistical bounds below are checked against one known sample and
 * cannot flake; they are loose enough to survive any sane change of seed. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "support.h"

Test(rng, same_seed_gives_the_same_stream)
{
    el_rng a, b;
    el_rng_seed(&a, 1234);
    el_rng_seed(&b, 1234);
    for (int i = 0; i < 1000; i++) cr_assert_eq(el_rng_u32(&a), el_rng_u32(&b), "draw %d", i);
}

Test(rng, nearby_seeds_give_unrelated_streams)
{
    el_rng a, b;
    el_rng_seed(&a, 1);
    el_rng_seed(&b, 2);
    int equal = 0;
    for (int i = 0; i < 1000; i++) equal += el_rng_u32(&a) == el_rng_u32(&b);
    cr_assert_leq(equal, 1, "%d of 1000 draws agree", equal);
    cr_assert_neq(a.increment, b.increment, "SplitMix64 seeding gives each seed its own stream");
}

Test(rng, seed_zero_is_a_working_stream)
{
    el_rng r;
    el_rng_seed(&r, 0);
    uint32_t first = el_rng_u32(&r);
    int same = 0;
    for (int i = 0; i < 100; i++) same += el_rng_u32(&r) == first;
    cr_assert_leq(same, 1);
    cr_assert_eq(r.increment & 1, 1, "the increment must be odd");
}

Test(rng, copying_the_state_resumes_the_stream)
{
    el_rng r;
    el_rng_seed(&r, 99);
    for (int i = 0; i < 10; i++) el_rng_u32(&r);
    el_rng saved = r;
    uint32_t want[5];
    for (int i = 0; i < 5; i++) want[i] = el_rng_u32(&r);
    for (int i = 0; i < 5; i++) cr_assert_eq(el_rng_u32(&saved), want[i]);
}

/* The output of the reference pcg32-demo (pcg32_srandom_r(&rng, 42, 54)),
 * reproduced by setting the state the way that function does: this pins
 * el_rng_u32 to PCG32's XSH-RR output over the 64-bit LCG. */
Test(rng, advance_skips_exactly_n_draws)
{
    for (uint64_t n = 0; n < 3200; n += 799) {
        el_rng drawn, jumped;
        el_rng_seed(&drawn, 7);
        jumped = drawn;
        for (uint64_t i = 0; i < n; i++) el_rng_u32(&drawn);
        el_rng_advance(&jumped, n);
        cr_assert_eq(jumped.state, drawn.state, "after %llu draws", (unsigned long long)n);
        cr_assert_eq(el_rng_u32(&jumped), el_rng_u32(&drawn));
    }
    /* A whole period (2^64 draws) comes back to the start. */
    el_rng a, b;
    el_rng_seed(&a, 3);
    b = a;
    el_rng_advance(&b, UINT64_MAX);
    el_rng_u32(&b);
    cr_assert_eq(b.state, a.state);
}

Test(rng, u32_matches_the_pcg32_reference)
{
    static const uint32_t want[] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                                    0x83d2f293, 0xbfa4784b, 0xcbed606e};
    el_rng r = {.state = 0, .increment = (54u << 1) | 1u};
    el_rng_u32(&r);
    r.state += 42;
    el_rng_u32(&r);
    for (int i = 0; i < 6; i++) {
        uint32_t got = el_rng_u32(&r);
        cr_assert_eq(got, want[i], "draw %d is 0x%08x, expected 0x%08x", i, got, want[i]);
    }
}

/* Golden values for seed 42 (PCG32 seeded through SplitMix64: the first
 * SplitMix64 output is the initial state, the second the stream), computed
 * with an independent implementation.  A change here changes every
 * initialisation and shuffle, so it must be deliberate. */
Test(rng, seed_42_golden_values)
{
    static const uint32_t want[] = {0xd11dd51f, 0xa9b04c45, 0xb5d97aa9,
                                    0xa9eab6ce, 0xf63fd201, 0x9d8fefeb};
    el_rng r;
    el_rng_seed(&r, 42);
    for (int i = 0; i < 6; i++) {
        uint32_t got = el_rng_u32(&r);
        cr_assert_eq(got, want[i], "draw %d is 0x%08x, expected 0x%08x", i, got, want[i]);
    }
    /* el_rng_uniform keeps the top 24 bits of the same draw. */
    el_rng_seed(&r, 42);
    cr_assert_eq(el_rng_uniform(&r), (float)(0xd11dd51fu >> 8) / 16777216.0f);
}

Test(rng, uniform_lies_in_0_1_with_24_bit_resolution)
{
    el_rng r;
    el_rng_seed(&r, 7);
    const int n = 100000;
    double sum = 0, low = 1, high = 0;
    for (int i = 0; i < n; i++) {
        float u = el_rng_uniform(&r);
        cr_assert(u >= 0.0f && u < 1.0f, "draw %d is %.9g", i, u);
        float scaled = u * 16777216.0f;
        cr_assert_eq(scaled, floorf(scaled), "draw %d is not a multiple of 2^-24", i);
        sum += u;
        if (u < low) low = u;
        if (u > high) high = u;
    }
    /* The mean's standard error is 0.29 / sqrt(n) = 0.0009. */
    cr_assert_lt(fabs(sum / n - 0.5), 0.005, "mean %g", sum / n);
    cr_assert_lt(low, 0.001);
    cr_assert_gt(high, 0.999);
}

Test(rng, below_handles_0_and_1)
{
    el_rng r;
    el_rng_seed(&r, 3);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(el_rng_below(&r, 0), 0);
        cr_assert_eq(el_rng_below(&r, 1), 0);
    }
}

Test(rng, below_stays_under_large_bounds)
{
    /* Near 2^32 most of the range is rejected, the path Lemire's method
     * must get right. */
    static const uint32_t bounds[] = {3000000001u, UINT32_MAX, 0x80000001u};
    el_rng r;
    el_rng_seed(&r, 5);
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        uint32_t high = 0;
        for (int i = 0; i < 20000; i++) {
            uint32_t x = el_rng_below(&r, bounds[b]);
            cr_assert_lt(x, bounds[b]);
            if (x > high) high = x;
        }
        cr_assert_gt(high, bounds[b] / 2, "draws below %u reach the upper half", bounds[b]);
    }
}

/* Pearson's chi-square statistic of counts against equal expected counts. */
static double chi_square(const int *counts, int bins, int draws)
{
    double expected = (double)draws / bins, chi2 = 0;
    for (int i = 0; i < bins; i++)
        chi2 += (counts[i] - expected) * (counts[i] - expected) / expected;
    return chi2;
}

Test(rng, below_is_roughly_uniform)
{
    enum { bins = 7, draws = 70000 };
    int counts[bins] = {0};
    el_rng r;
    el_rng_seed(&r, 11);
    for (int i = 0; i < draws; i++) {
        uint32_t x = el_rng_below(&r, bins);
        cr_assert_lt(x, bins);
        counts[x]++;
    }
    /* 6 degrees of freedom: P(chi2 > 40) is about 5e-7. */
    double chi2 = chi_square(counts, bins, draws);
    cr_assert_lt(chi2, 40.0, "chi-square %g", chi2);
}

Test(rng, normal_has_mean_0_and_variance_1)
{
    el_rng r;
    el_rng_seed(&r, 2024);
    const int n = 200000;
    double sum = 0, sum2 = 0;
    int within_one = 0;
    for (int i = 0; i < n; i++) {
        float x = el_rng_normal(&r);
        cr_assert(isfinite(x), "draw %d is %g", i, x);
        sum += x;
        sum2 += (double)x * x;
        within_one += fabsf(x) < 1.0f;
    }
    double mean = sum / n, var = sum2 / n - mean * mean;
    /* Standard errors: 0.0022 for the mean, 0.0032 for the variance. */
    cr_assert_lt(fabs(mean), 0.015, "mean %g", mean);
    cr_assert_lt(fabs(var - 1.0), 0.02, "variance %g", var);
    /* A variance near 1 from a wrong shape would still miss this. */
    cr_assert_lt(fabs((double)within_one / n - 0.6827), 0.01, "P(|x| < 1) = %g",
                 (double)within_one / n);
}

Test(rng, permutation_holds_every_index_once)
{
    enum { n = 1000 };
    int perm[n], seen[n] = {0};
    el_rng r;
    el_rng_seed(&r, 8);
    el_rng_permutation(&r, perm, n);
    int fixed = 0;
    for (int i = 0; i < n; i++) {
        cr_assert(perm[i] >= 0 && perm[i] < n, "perm[%d] = %d", i, perm[i]);
        seen[perm[i]]++;
        fixed += perm[i] == i;
    }
    for (int i = 0; i < n; i++) cr_assert_eq(seen[i], 1, "%d appears %d times", i, seen[i]);
    /* A random permutation has one fixed point on average. */
    cr_assert_lt(fixed, 10, "%d fixed points: barely shuffled", fixed);

    int one = -1;
    el_rng_permutation(&r, &one, 1);
    cr_assert_eq(one, 0);
    el_rng_permutation(&r, NULL, 0);
}

/* Fisher-Yates with an off-by-one (j drawn from [0, i) or [0, n)) still
 * gives permutations, but not equally likely ones: count all 6 of 3. */
Test(rng, permutations_of_three_are_equally_likely)
{
    enum { draws = 60000 };
    int counts[6] = {0};
    el_rng r;
    el_rng_seed(&r, 17);
    for (int i = 0; i < draws; i++) {
        int p[3];
        el_rng_permutation(&r, p, 3);
        /* Lehmer code: which of the 6 orders this is. */
        int first = p[0], second = p[1] > p[0] ? p[1] - 1 : p[1];
        counts[first * 2 + second]++;
    }
    for (int i = 0; i < 6; i++) cr_assert_gt(counts[i], 0, "order %d never drawn", i);
    /* 5 degrees of freedom: P(chi2 > 35) is about 1.5e-6. */
    double chi2 = chi_square(counts, 6, draws);
    cr_assert_lt(chi2, 35.0, "chi-square %g", chi2);
}

Test(rng, u64_is_two_u32_draws_high_word_first)
{
    el_rng a, b;
    el_rng_seed(&a, 77);
    el_rng_seed(&b, 77);
    uint64_t high = el_rng_u32(&b), low = el_rng_u32(&b);
    cr_assert_eq(el_rng_u64(&a), high << 32 | low);
    cr_assert_eq(a.state, b.state, "el_rng_u64 advances the stream by two draws");
}

/* A keyed draw is a pure function: the same coordinates give the same value
 * whatever was drawn before, and each coordinate changes it. */
Test(rng, keyed_uniform_is_a_pure_function_of_its_coordinates)
{
    float v = el_rng_keyed_uniform(42, 5, 1000);
    for (int i = 0; i < 100; i++) el_rng_keyed_uniform(7, (uint64_t)i, (uint64_t)i * 3);
    cr_assert_eq(el_rng_keyed_uniform(42, 5, 1000), v);
    cr_assert_neq(el_rng_keyed_uniform(43, 5, 1000), v, "the key changes the value");
    cr_assert_neq(el_rng_keyed_uniform(42, 6, 1000), v, "the row changes the value");
    cr_assert_neq(el_rng_keyed_uniform(42, 5, 1001), v, "the index changes the value");
    cr_assert_neq(el_rng_keyed_uniform(42, 1000, 5), v, "row and index are not interchangeable");
    /* Over many neighbours, a change of one coordinate almost never keeps
     * the value (24 bits: about 1 in 16.7 million). */
    int same = 0;
    for (uint64_t i = 0; i < 10000; i++) {
        float base = el_rng_keyed_uniform(9, i, i);
        same += el_rng_keyed_uniform(10, i, i) == base;
        same += el_rng_keyed_uniform(9, i + 1, i) == base;
        same += el_rng_keyed_uniform(9, i, i + 1) == base;
    }
    cr_assert_leq(same, 1, "%d of 30000 neighbouring draws equal", same);
}

/* Draws over consecutive rows and indices of one key (the layout dropout
 * uses) are uniform: the mean, the ten deciles, and the correlation of
 * neighbours are checked on 2^18 draws with a fixed key. */
Test(rng, keyed_uniform_is_uniform_over_consecutive_coordinates)
{
    enum { ROWS = 256, INDICES = 1024, N = ROWS * INDICES };
    double sum = 0, pairs = 0;
    long bins[10] = {0};
    float min = 1, max = 0;
    for (uint64_t r = 0; r < ROWS; r++) {
        float prev = el_rng_keyed_uniform(12345, r, 0);
        for (uint64_t i = 0; i < INDICES; i++) {
            float u = el_rng_keyed_uniform(12345, r, i);
            cr_assert(u >= 0.0f && u < 1.0f, "draw %f outside [0, 1)", u);
            sum += u;
            bins[(int)(u * 10)]++;
            if (i > 0) pairs += (u - 0.5) * (prev - 0.5);
            prev = u;
            min = u < min ? u : min;
            max = u > max ? u : max;
        }
    }
    double mean = sum / N;
    cr_assert(fabs(mean - 0.5) < 0.003, "mean %f", mean);
    for (int b = 0; b < 10; b++)
        cr_assert(fabs(bins[b] / (double)N - 0.1) < 0.003, "decile %d holds %ld of %d", b, bins[b],
                  N);
    /* The covariance of neighbours: 0 for independent draws, whose sample
     * value has a standard deviation of 1/12 / sqrt(N) ~ 1.6e-4. */
    double cov = pairs / (ROWS * (INDICES - 1));
    cr_assert(fabs(cov) < 1e-3, "neighbouring draws have covariance %g", cov);
    cr_assert(min < 1e-4 && max > 1 - 1e-4, "the draws span [%f, %f]", min, max);
}
