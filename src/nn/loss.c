#include <math.h>

#include "elman/loss.h"
#include "core/internal.h"

el_status el_mse_loss(const el_tensor *pred, const el_tensor *target, float *loss, el_tensor *dpred)
{
    EL_REQUIRE(pred, "el_mse_loss");
    EL_REQUIRE(target, "el_mse_loss");
    EL_REQUIRE(loss, "el_mse_loss");
    el_status s = el__check_same_size("el_mse_loss", "pred", pred, "target", target);
    if (!s && dpred) s = el__size_output("el_mse_loss", "dpred", dpred, pred->ndim, pred->shape);
    if (s) return s;
    size_t n = pred->size;
    double sum = 0;
    float scale = n ? 2.0f / (float)n : 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = pred->data[i] - target->data[i];
        sum += (double)d * d;
        if (dpred) dpred->data[i] = scale * d;
    }
    *loss = n ? (float)(sum / (double)n) : 0.0f;
    return EL_OK;
}

el_status el_cross_entropy_loss(const el_tensor *logits, const int *targets, const float *weights,
                                int ignore_index, float *loss, el_tensor *dlogits)
{
    const char *fn = "el_cross_entropy_loss";
    EL_REQUIRE(logits, fn);
    EL_REQUIRE(loss, fn);
    int rows = el_tensor_rows(logits), classes = el_tensor_cols(logits);
    if (rows > 0) EL_REQUIRE(targets, fn);
    /* Check every target before writing anything. */
    double total_weight = 0;
    for (int i = 0; i < rows; i++) {
        if (targets[i] == ignore_index) continue;
        if (targets[i] < 0 || targets[i] >= classes)
            return el__fail(EL_ERR_INVALID, "%s: row %d has target %d, outside [0, %d)", fn, i,
                            targets[i], classes);
        total_weight += weights ? weights[i] : 1.0;
    }
    if (dlogits) {
        el_status s = el__size_output(fn, "dlogits", dlogits, logits->ndim, logits->shape);
        if (s) return s;
    }
    double sum = 0;
    float inv_total = total_weight != 0 ? (float)(1.0 / total_weight) : 0.0f;
    for (int i = 0; i < rows; i++) {
        const float *x = logits->data + (size_t)i * classes;
        float *dx = dlogits ? dlogits->data + (size_t)i * classes : NULL;
        if (targets[i] == ignore_index || total_weight == 0) {
            if (dx)
                for (int j = 0; j < classes; j++) dx[j] = 0.0f;
            continue;
        }
        float w = weights ? weights[i] : 1.0f;
        float m = -INFINITY;
        for (int j = 0; j < classes; j++)
            if (x[j] > m) m = x[j];
        float z = 0;
        for (int j = 0; j < classes; j++) z += expf(x[j] - m);
        float log_z = logf(z);
        sum += (double)w * (m + log_z - x[targets[i]]);
        if (dx) {
            /* d/dx_j of -log softmax_t = softmax_j - [j == t], weighted. */
            float scale = w * inv_total;
            for (int j = 0; j < classes; j++) dx[j] = scale * expf(x[j] - m - log_z);
            dx[targets[i]] -= scale;
        }
    }
    *loss = total_weight != 0 ? (float)(sum / total_weight) : 0.0f;
    return EL_OK;
}

el_status el_bce_with_logits_loss(const el_tensor *logits, const el_tensor *targets,
                                  const float *weights, float *loss, el_tensor *dlogits)
{
    const char *fn = "el_bce_with_logits_loss";
    EL_REQUIRE(logits, fn);
    EL_REQUIRE(targets, fn);
    EL_REQUIRE(loss, fn);
    el_status s = el__check_same_size(fn, "targets", targets, "logits", logits);
    if (!s && dlogits) s = el__size_output(fn, "dlogits", dlogits, logits->ndim, logits->shape);
    if (s) return s;
    size_t n = logits->size;
    double sum = 0;
    float inv_n = n ? 1.0f / (float)n : 0.0f;
    for (size_t i = 0; i < n; i++) {
        float x = logits->data[i], t = targets->data[i], w = weights ? weights[i] : 1.0f;
        /* max(x, 0) - x t + log(1 + exp(-|x|)): no exp of a positive number. */
        float l = fmaxf(x, 0.0f) - x * t + log1pf(expf(-fabsf(x)));
        sum += (double)w * l;
        if (dlogits) {
            float e = expf(-fabsf(x));
            float sig = x >= 0 ? 1.0f / (1.0f + e) : e / (1.0f + e);
            dlogits->data[i] = w * (sig - t) * inv_n;
        }
    }
    *loss = n ? (float)(sum / (double)n) : 0.0f;
    return EL_OK;
}
