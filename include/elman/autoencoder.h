/* elman: an image autoencoder, as a PyTorch module with two nn.Sequential
 * attributes, `encoder` and `decoder`.
 *
 * An image batch x (N, C, H, W) goes through the encoder to a code (N,
 * latent) and through the decoder back to y of x's shape.  The two halves
 * are el_sequential containers named "encoder" and "decoder", so their
 * tensors are "encoder.0.weight", ..., "decoder.3.bias", the keys of
 *
 *     class AE(nn.Module):
 *         def __init__(self):
 *             self.encoder = nn.Sequential(...)
 *             self.decoder = nn.Sequential(...)
 *
 * and a checkpoint of one loads into the other.  el_autoencoder_encode and
 * el_autoencoder_decode run one half each (to look at codes, or to decode
 * points of the code space); el_autoencoder_forward runs both, and
 * el_autoencoder_backward backpropagates through both after it.
 *
 * Two builders make the networks of the fashion program (any other pair of
 * containers can be built with el_autoencoder_init and el_sequential_add on
 * ae->encoder and ae->decoder):
 *
 *   dense: Flatten, Linear(C*H*W, hidden), ReLU, Linear(hidden, latent) |
 *          Linear(latent, hidden), ReLU, Linear(hidden, C*H*W), Sigmoid,
 *          Unflatten(1, (C, H, W))
 *   conv:  Conv2d(C, 16, 3, stride 2, padding 1), ReLU,
 *          Conv2d(16, 32, 3, stride 2, padding 1), ReLU, Flatten,
 *          Linear(32*H/4*W/4, latent) |
 *          Linear(latent, 32*H/4*W/4), ReLU, Unflatten(1, (32, H/4, W/4)),
 *          ConvTranspose2d(32, 16, 3, stride 2, padding 1, output_padding 1),
 *          ReLU,
 *          ConvTranspose2d(16, C, 3, stride 2, padding 1, output_padding 1),
 *          Sigmoid
 *
 * The dense decoder's last module, Unflatten, gives y the input's image
 * shape; it has no tensors, so the keys are those of the same Sequential
 * without it.  The sigmoid output suits images in [0, 1] (el_idx_to_images),
 * trained with el_mse_loss against x. */
#ifndef ELMAN_AUTOENCODER_H
#define ELMAN_AUTOENCODER_H

#include "param.h"
#include "rng.h"
#include "sequential.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_autoencoder {
    el_sequential encoder; /* x -> code, tensors "encoder.<i>.<name>" */
    el_sequential decoder; /* code -> y, tensors "decoder.<i>.<name>" */
    el_tensor code;        /* the last forward's code */
    el_tensor dcode;       /* the code's gradient, between the halves */
} el_autoencoder;

/* Two empty containers named "encoder" and "decoder", in training mode. */
EL_API el_status el_autoencoder_init(el_autoencoder *ae);
/* The dense network above for images (channels, height, width); rng may
 * be NULL for zero weights. */
EL_API el_status el_autoencoder_init_dense(el_autoencoder *ae, int channels, int height, int width,
                                           int hidden, int latent, el_rng *rng);
/* The convolutional network above; height and width must be multiples of 4
 * (the decoder doubles the size twice what the encoder halved). */
EL_API el_status el_autoencoder_init_conv(el_autoencoder *ae, int channels, int height, int width,
                                          int latent, el_rng *rng);
EL_API void el_autoencoder_free(el_autoencoder *ae);

/* Appends the encoder's, then the decoder's parameters (or buffers). */
EL_API el_status el_autoencoder_params(el_autoencoder *ae, el_param_list *list);
EL_API el_status el_autoencoder_buffers(el_autoencoder *ae, el_param_list *list);
/* Switches both halves between training (on) and evaluation. */
EL_API void el_autoencoder_set_training(el_autoencoder *ae, int on);

/* Runs the encoder on x and writes the code. */
EL_API el_status el_autoencoder_encode(el_autoencoder *ae, const el_tensor *x, el_tensor *code);
/* Runs the decoder on code and writes the reconstruction y. */
EL_API el_status el_autoencoder_decode(el_autoencoder *ae, const el_tensor *code, el_tensor *y);
/* Encodes x and decodes its code into y, keeping what backward needs. */
EL_API el_status el_autoencoder_forward(el_autoencoder *ae, const el_tensor *x, el_tensor *y);
/* Backpropagates dy (y's shape) through the decoder and the encoder of the
 * last forward, accumulating into every parameter's gradient, and writes dx
 * (x's shape; may be NULL).  An el_autoencoder_encode followed by an
 * el_autoencoder_decode of its code serves as the forward too. */
EL_API el_status el_autoencoder_backward(el_autoencoder *ae, const el_tensor *dy, el_tensor *dx);

#ifdef __cplusplus
}
#endif
#endif
