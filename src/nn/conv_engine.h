/* The convolution engine shared by conv1d, conv2d and conv_transpose2d.
 * Not installed.
 *
 * A convolution relates two sides: the image side (channels, height,
 * width), which im2col reads and col2im writes, and the column side (maps,
 * out_height, out_width), whose elements are each one product of the weight
 * (maps, channels/groups, kh, kw) with one patch of the image.  conv2d maps
 * x (image side) to y (column side); conv_transpose2d maps x (column side)
 * to y (image side) with the same weight layout, as PyTorch's
 * ConvTranspose2d is Conv2d's input gradient.
 *
 * One run splits the batch over elman's threads, in parts of whole images,
 * and does for each image what the job asks:
 *
 *   cols = im2col(image_in)                 when col_out or col_grad is set
 *   col_out = weight cols + col_bias          (col_bias only without col_grad)
 *   weight_grad += col_grad colsᵀ
 *   image_out = col2im(weightᵀ col_src) + image_bias
 *   bias_grad += the channel sums of bias_src (column side when
 *                bias_on_image is 0, image side when 1)
 *
 * The products take several images' columns side by side (the batch folded
 * into the product, a block at a time, so that the workspace stays in the
 * cache), and the parts' gradients are summed in part order at the end, so
 * that results depend on the number of threads only. */
#ifndef ELMAN_NN_CONV_ENGINE_H
#define ELMAN_NN_CONV_ENGINE_H

#include "elman/status.h"
#include "elman/tensor.h"

typedef struct el__conv_geometry {
    int batch;
    int channels, height, width;     /* image side */
    int maps, out_height, out_width; /* column side */
    int kernel[2], stride[2], padding[2], dilation[2];
    int groups;
} el__conv_geometry;

typedef struct el__conv_job {
    const float *weight; /* (maps, channels/groups, kh, kw) */
    const float *image_in;
    float *col_out;
    const float *col_bias;
    const float *col_grad;
    float *weight_grad;
    const float *col_src;
    float *image_out;
    const float *image_bias;
    const float *bias_src;
    int bias_on_image;
    float *bias_grad;
} el__conv_job;

/* The spatial size of the column side for an image side of size in, or a
 * value below 1 when the kernel does not fit. */
int el__conv_out_size(int in, int kernel, int stride, int padding, int dilation);

/* Runs the job; work is the caller's workspace, sized here (fn names the
 * public function in a failure's message). */
el_status el__conv_run(const char *fn, const el__conv_geometry *g, const el__conv_job *job,
                       el_tensor *work);

#endif
