#include <math.h>

#include "elman/schedule.h"
#include "core/internal.h"

el_lr_schedule el_lr_schedule_defaults(el_lr_kind kind, double base_lr, long total_steps)
{
    el_lr_schedule s = {.kind = kind, .base_lr = base_lr, .total_steps = total_steps};
    if (kind == EL_LR_STEP) {
        s.step_size = total_steps >= 3 ? total_steps / 3 : 1;
        s.gamma = 0.1;
    }
    return s;
}

el_status el_lr_schedule_check(const el_lr_schedule *s)
{
    EL_REQUIRE(s, "el_lr_schedule_check");
    const char *fn = "el_lr_schedule_check";
    if (!(s->base_lr >= 0)) return el__fail(EL_ERR_INVALID, "%s: base_lr %g", fn, s->base_lr);
    if (s->warmup_steps < 0)
        return el__fail(EL_ERR_INVALID, "%s: warmup_steps %ld", fn, s->warmup_steps);
    switch (s->kind) {
    case EL_LR_CONSTANT: return EL_OK;
    case EL_LR_STEP:
        if (s->step_size <= 0)
            return el__fail(EL_ERR_INVALID, "%s: step_size %ld must be positive", fn, s->step_size);
        if (!(s->gamma > 0)) return el__fail(EL_ERR_INVALID, "%s: gamma %g", fn, s->gamma);
        return EL_OK;
    case EL_LR_COSINE:
        if (s->total_steps <= s->warmup_steps)
            return el__fail(EL_ERR_INVALID, "%s: total_steps %ld must exceed warmup_steps %ld", fn,
                            s->total_steps, s->warmup_steps);
        if (!(s->min_lr >= 0 && s->min_lr <= s->base_lr))
            return el__fail(EL_ERR_INVALID, "%s: min_lr %g must lie in [0, base_lr]", fn,
                            s->min_lr);
        return EL_OK;
    }
    return el__fail(EL_ERR_INVALID, "%s: unknown schedule kind %d", fn, (int)s->kind);
}

double el_lr_at(const el_lr_schedule *s, long step)
{
    if (!s) return 0.0;
    if (step < 0) step = 0;
    if (step < s->warmup_steps) return s->base_lr * (double)(step + 1) / (double)s->warmup_steps;
    long t = step - s->warmup_steps;
    switch (s->kind) {
    case EL_LR_STEP:
        if (s->step_size <= 0) break;
        return s->base_lr * pow(s->gamma, (double)(t / s->step_size));
    case EL_LR_COSINE: {
        long span = s->total_steps - s->warmup_steps;
        if (span <= 0 || t >= span) return s->min_lr;
        double cosine = 0.5 * (1.0 + cos(3.14159265358979323846 * (double)t / (double)span));
        return s->min_lr + (s->base_lr - s->min_lr) * cosine;
    }
    case EL_LR_CONSTANT: break;
    }
    return s->base_lr;
}
