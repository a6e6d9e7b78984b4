/* Branch-free float exp, sigmoid and tanh for the recurrent cells' inner
 * loops.  libm's versions are exact but are calls the compiler cannot
 * vectorise; at small hidden sizes they took half of a layer's time.  These
 * are plain arithmetic on each element, so a loop of them becomes SIMD code,
 * and they stay within a few units in the last place of libm's results
 * (tests/test_fastmath.c measures it). */
#ifndef ELMAN_FASTMATH_H
#define ELMAN_FASTMATH_H

#include <stdint.h>
#include <string.h>

static inline float el__bits_to_float(int32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln(2) / 2, with exp(r)
 * by its Taylor polynomial to degree 7 (truncation below 1e-8).  x is
 * clamped to where the result is a finite normal float; NaN gives NaN. */
static inline float el__exp(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    /* Adding 1.5 * 2^23 rounds to an integer in the low mantissa bits. */
    const float shifter = 12582912.0f;
    float t = x * 1.44269504088896341f + shifter;
    float n = t - shifter;
    /* ln 2 split in two so that n * ln2_high is exact. */
    float r = x - n * 0.693145751953125f;
    r = r - n * 1.42860682030941723e-6f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* A NaN x must come out NaN, so that a diverging model is seen as one,
     * but converting it to an integer is undefined: it takes the exponent
     * of 2^0 and the NaN comes through r and p instead (a select, which
     * vectorises like the clamps). */
    n = n == n ? n : 0.0f;
    return p * el__bits_to_float(((int32_t)n + 127) << 23);
}

static inline float el__sigmoid(float x) { return 1.0f / (1.0f + el__exp(-x)); }

/* tanh(x) = sign(x) (1 - 2 / (1 + exp(2|x|))), which loses relative
 * precision near 0, where the odd Taylor polynomial to x^9 takes over
 * (its error below |x| = 0.25 is under 1e-8 relative). */
static inline float el__tanh(float x)
{
    float a = x < 0 ? -x : x;
    float big = 1.0f - 2.0f / (1.0f + el__exp(2.0f * a));
    big = x < 0 ? -big : big;
    float x2 = x * x;
    float p = 62.0f / 2835.0f;
    p = p * x2 - 17.0f / 315.0f;
    p = p * x2 + 2.0f / 15.0f;
    p = p * x2 - 1.0f / 3.0f;
    float small = x + x * x2 * p;
    return a < 0.25f ? small : big;
}

#endif
