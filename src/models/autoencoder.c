#include <string.h>

#include "elman/autoencoder.h"
#include "core/internal.h"

el_status el_autoencoder_init(el_autoencoder *ae)
{
    EL_REQUIRE(ae, "el_autoencoder_init");
    memset(ae, 0, sizeof *ae);
    el_status s = el_sequential_init(&ae->encoder, "encoder");
    if (!s) s = el_sequential_init(&ae->decoder, "decoder");
    return s;
}

void el_autoencoder_free(el_autoencoder *ae)
{
    if (!ae) return;
    el_sequential_free(&ae->encoder);
    el_sequential_free(&ae->decoder);
    el_tensor_free(&ae->code);
    el_tensor_free(&ae->dcode);
    memset(ae, 0, sizeof *ae);
}

/* Appends the module that made (status s) m to seq; a failed s passes
 * through, so that a builder chains its calls and checks once. */
static el_status add(el_status s, el_sequential *seq, el_status made, el_module *m)
{
    if (!s) s = made;
    if (!s) return el_sequential_add(seq, m);
    el_module_free(m);
    return s;
}

static el_status check_sizes(const char *fn, int channels, int height, int width, int latent)
{
    if (channels < 1 || height < 1 || width < 1 || latent < 1)
        return el__fail(EL_ERR_INVALID, "%s: images %dx%dx%d and latent %d must be positive", fn,
                        channels, height, width, latent);
    return EL_OK;
}

el_status el_autoencoder_init_dense(el_autoencoder *ae, int channels, int height, int width,
                                    int hidden, int latent, el_rng *rng)
{
    const char *fn = "el_autoencoder_init_dense";
    el_status s = check_sizes(fn, channels, height, width, latent);
    if (!s && hidden < 1) s = el__fail(EL_ERR_INVALID, "%s: hidden is %d", fn, hidden);
    if (!s) s = el_autoencoder_init(ae);
    if (s) return s;
    int pixels = channels * height * width;
    el_sequential *enc = &ae->encoder, *dec = &ae->decoder;
    el_module m = {0};
    s = add(s, enc, el_module_flatten(&m), &m);
    s = add(s, enc, el_module_dense(&m, pixels, hidden, 1, rng), &m);
    s = add(s, enc, el_module_relu(&m), &m);
    s = add(s, enc, el_module_dense(&m, hidden, latent, 1, rng), &m);
    s = add(s, dec, el_module_dense(&m, latent, hidden, 1, rng), &m);
    s = add(s, dec, el_module_relu(&m), &m);
    s = add(s, dec, el_module_dense(&m, hidden, pixels, 1, rng), &m);
    s = add(s, dec, el_module_sigmoid(&m), &m);
    s = add(s, dec, el_module_unflatten(&m, 3, (int[]){channels, height, width}), &m);
    if (s) el_autoencoder_free(ae);
    return s;
}

el_status el_autoencoder_init_conv(el_autoencoder *ae, int channels, int height, int width,
                                   int latent, el_rng *rng)
{
    const char *fn = "el_autoencoder_init_conv";
    el_status s = check_sizes(fn, channels, height, width, latent);
    if (!s && (height % 4 || width % 4))
        s = el__fail(EL_ERR_INVALID, "%s: images %dx%d, both sides must be multiples of 4", fn,
                     height, width);
    if (!s) s = el_autoencoder_init(ae);
    if (s) return s;
    /* Each stride-2 convolution halves the sides (3x3, padding 1), and each
     * transposed one doubles them (output_padding 1 adds the row and column
     * that the halving dropped). */
    int h = height / 4, w = width / 4, flat = 32 * h * w;
    el_conv2d_config down = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .bias = 1};
    el_conv_transpose2d_config up = {
        .kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}, .bias = 1};
    el_sequential *enc = &ae->encoder, *dec = &ae->decoder;
    el_module m = {0};
    down.in_channels = channels;
    down.out_channels = 16;
    s = add(s, enc, el_module_conv2d(&m, &down, rng), &m);
    s = add(s, enc, el_module_relu(&m), &m);
    down.in_channels = 16;
    down.out_channels = 32;
    s = add(s, enc, el_module_conv2d(&m, &down, rng), &m);
    s = add(s, enc, el_module_relu(&m), &m);
    s = add(s, enc, el_module_flatten(&m), &m);
    s = add(s, enc, el_module_dense(&m, flat, latent, 1, rng), &m);
    s = add(s, dec, el_module_dense(&m, latent, flat, 1, rng), &m);
    s = add(s, dec, el_module_relu(&m), &m);
    s = add(s, dec, el_module_unflatten(&m, 3, (int[]){32, h, w}), &m);
    up.in_channels = 32;
    up.out_channels = 16;
    s = add(s, dec, el_module_conv_transpose2d(&m, &up, rng), &m);
    s = add(s, dec, el_module_relu(&m), &m);
    up.in_channels = 16;
    up.out_channels = channels;
    s = add(s, dec, el_module_conv_transpose2d(&m, &up, rng), &m);
    s = add(s, dec, el_module_sigmoid(&m), &m);
    if (s) el_autoencoder_free(ae);
    return s;
}

el_status el_autoencoder_params(el_autoencoder *ae, el_param_list *list)
{
    EL_REQUIRE(ae, "el_autoencoder_params");
    el_status s = el_sequential_params(&ae->encoder, list);
    return s ? s : el_sequential_params(&ae->decoder, list);
}

el_status el_autoencoder_buffers(el_autoencoder *ae, el_param_list *list)
{
    EL_REQUIRE(ae, "el_autoencoder_buffers");
    el_status s = el_sequential_buffers(&ae->encoder, list);
    return s ? s : el_sequential_buffers(&ae->decoder, list);
}

void el_autoencoder_set_training(el_autoencoder *ae, int on)
{
    if (!ae) return;
    el_sequential_set_training(&ae->encoder, on);
    el_sequential_set_training(&ae->decoder, on);
}

el_status el_autoencoder_encode(el_autoencoder *ae, const el_tensor *x, el_tensor *code)
{
    EL_REQUIRE(ae, "el_autoencoder_encode");
    return el_sequential_forward(&ae->encoder, x, code);
}

el_status el_autoencoder_decode(el_autoencoder *ae, const el_tensor *code, el_tensor *y)
{
    EL_REQUIRE(ae, "el_autoencoder_decode");
    return el_sequential_forward(&ae->decoder, code, y);
}

el_status el_autoencoder_forward(el_autoencoder *ae, const el_tensor *x, el_tensor *y)
{
    EL_REQUIRE(ae, "el_autoencoder_forward");
    el_status s = el_sequential_forward(&ae->encoder, x, &ae->code);
    return s ? s : el_sequential_forward(&ae->decoder, &ae->code, y);
}

el_status el_autoencoder_backward(el_autoencoder *ae, const el_tensor *dy, el_tensor *dx)
{
    EL_REQUIRE(ae, "el_autoencoder_backward");
    el_status s = el_sequential_backward(&ae->decoder, dy, &ae->dcode);
    return s ? s : el_sequential_backward(&ae->encoder, &ae->dcode, dx);
}
