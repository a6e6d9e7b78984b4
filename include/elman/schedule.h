/* elman: learning-rate schedules.
 *
 * A schedule is a plain description; el_lr_at(schedule, step) gives the rate
 * for a 0-based step, so a resumed run computes the same rates.  An optional
 * linear warm-up rises from base_lr / warmup_steps to base_lr over the first
 * warmup_steps steps; the decay below then starts counting after it. */
#ifndef ELMAN_SCHEDULE_H
#define ELMAN_SCHEDULE_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum el_lr_kind {
    EL_LR_CONSTANT = 0, /* base_lr */
    EL_LR_STEP,         /* base_lr * gamma^floor(t / step_size)  (torch StepLR) */
    EL_LR_COSINE        /* min_lr + (base_lr - min_lr) * (1 + cos(pi * t / T)) / 2 over
                           T = total_steps - warmup_steps, then min_lr
                           (torch CosineAnnealingLR with eta_min = min_lr) */
} el_lr_kind;

typedef struct el_lr_schedule {
    el_lr_kind kind;
    double base_lr;
    long warmup_steps;
    long step_size;   /* EL_LR_STEP */
    double gamma;     /* EL_LR_STEP */
    long total_steps; /* EL_LR_COSINE */
    double min_lr;    /* EL_LR_COSINE */
} el_lr_schedule;

/* A schedule of that kind over total_steps updates, with PyTorch's
 * defaults where it has them and no warm-up: constant base_lr; step decay
 * by gamma 0.1 every third of total_steps (StepLR has no default step);
 * cosine from base_lr down to 0 at total_steps.  Change any field after,
 * e.g. s.warmup_steps = 100.  It passes el_lr_schedule_check for any
 * base_lr >= 0 and total_steps >= 1. */
EL_API el_lr_schedule el_lr_schedule_defaults(el_lr_kind kind, double base_lr, long total_steps);

/* Checks the description: positive sizes where the kind needs them. */
EL_API el_status el_lr_schedule_check(const el_lr_schedule *schedule);

/* The learning rate for step (0-based). */
EL_API double el_lr_at(const el_lr_schedule *schedule, long step);

#ifdef __cplusplus
}
#endif
#endif
