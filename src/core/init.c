#include <math.h>

#include "elman/rng.h"
#include "core/internal.h"

el_status el_init_uniform(el_tensor *t, el_rng *rng, float low, float high)
{
    EL_REQUIRE(t, "el_init_uniform");
    EL_REQUIRE(rng, "el_init_uniform");
    if (!(low <= high))
        return el__fail(EL_ERR_INVALID, "el_init_uniform: low %g is above high %g", low, high);
    float width = high - low;
    for (size_t i = 0; i < t->size; i++) t->data[i] = low + width * el_rng_uniform(rng);
    return EL_OK;
}

el_status el_init_normal(el_tensor *t, el_rng *rng, float mean, float std)
{
    EL_REQUIRE(t, "el_init_normal");
    EL_REQUIRE(rng, "el_init_normal");
    if (!(std >= 0)) return el__fail(EL_ERR_INVALID, "el_init_normal: std %g is negative", std);
    for (size_t i = 0; i < t->size; i++) t->data[i] = mean + std * el_rng_normal(rng);
    return EL_OK;
}

/* PyTorch's _calculate_fan_in_and_fan_out, extended to 1-D tensors. */
static el_status fans(const char *fn, const el_tensor *t, double *fan_in, double *fan_out)
{
    if (t->ndim < 1) return el__fail(EL_ERR_INVALID, "%s: the tensor is (empty)", fn);
    if (t->ndim == 1) {
        *fan_in = *fan_out = t->shape[0];
    } else {
        double receptive = 1;
        for (int i = 2; i < t->ndim; i++) receptive *= t->shape[i];
        *fan_in = t->shape[1] * receptive;
        *fan_out = t->shape[0] * receptive;
    }
    if (*fan_in <= 0 || *fan_out <= 0)
        return el__fail(EL_ERR_INVALID, "%s: a tensor with a zero dimension has no fan", fn);
    return EL_OK;
}

el_status el_init_xavier_uniform(el_tensor *t, el_rng *rng, float gain)
{
    EL_REQUIRE(t, "el_init_xavier_uniform");
    double fan_in = 0, fan_out = 0;
    el_status s = fans("el_init_xavier_uniform", t, &fan_in, &fan_out);
    if (s) return s;
    float a = (float)(gain * sqrt(6.0 / (fan_in + fan_out)));
    return el_init_uniform(t, rng, -a, a);
}

el_status el_init_xavier_normal(el_tensor *t, el_rng *rng, float gain)
{
    EL_REQUIRE(t, "el_init_xavier_normal");
    double fan_in = 0, fan_out = 0;
    el_status s = fans("el_init_xavier_normal", t, &fan_in, &fan_out);
    if (s) return s;
    return el_init_normal(t, rng, 0.0f, (float)(gain * sqrt(2.0 / (fan_in + fan_out))));
}

static el_status check_mode(const char *fn, el_fan_mode mode)
{
    if (mode == EL_FAN_IN || mode == EL_FAN_OUT) return EL_OK;
    return el__fail(EL_ERR_INVALID, "%s: fan mode %d (EL_FAN_IN or EL_FAN_OUT)", fn, (int)mode);
}

el_status el_init_kaiming_uniform(el_tensor *t, el_rng *rng, float gain, el_fan_mode mode)
{
    EL_REQUIRE(t, "el_init_kaiming_uniform");
    if (check_mode("el_init_kaiming_uniform", mode)) return EL_ERR_INVALID;
    double fan_in = 0, fan_out = 0;
    el_status s = fans("el_init_kaiming_uniform", t, &fan_in, &fan_out);
    if (s) return s;
    float b = (float)(gain * sqrt(3.0 / (mode == EL_FAN_OUT ? fan_out : fan_in)));
    return el_init_uniform(t, rng, -b, b);
}

el_status el_init_kaiming_normal(el_tensor *t, el_rng *rng, float gain, el_fan_mode mode)
{
    EL_REQUIRE(t, "el_init_kaiming_normal");
    if (check_mode("el_init_kaiming_normal", mode)) return EL_ERR_INVALID;
    double fan_in = 0, fan_out = 0;
    el_status s = fans("el_init_kaiming_normal", t, &fan_in, &fan_out);
    if (s) return s;
    return el_init_normal(t, rng, 0.0f,
                          (float)(gain / sqrt(mode == EL_FAN_OUT ? fan_out : fan_in)));
}
