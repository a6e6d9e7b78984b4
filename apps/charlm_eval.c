/* charlm's bits per character (of the validation part while training,
 * and of a whole text for charlm eval) and the eval command. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "charlm.h"
#include "cli.h"

/* Evaluation reads a text as at most this many parallel streams (each at
 * least EVAL_MIN_STREAM characters): one stream would be exact but slow,
 * and the few characters each stream reads before its state warms up cost
 * little at this length. */
enum { EVAL_STREAMS = 32, EVAL_MIN_STREAM = 256, EVAL_STEPS = 128 };

int charlm_text_bpc(run *r, size_t first, size_t count, double *bpc)
{
    size_t streams = (count - 1) / EVAL_MIN_STREAM;
    int B = streams < 1 ? 1 : streams > EVAL_STREAMS ? EVAL_STREAMS : (int)streams;
    long chunks = el_charlm_chunks(count, 0, B, EVAL_STEPS);
    int *inputs = malloc(sizeof(int) * EVAL_STEPS * B),
        *targets = malloc(sizeof(int) * EVAL_STEPS * B);
    el_charlm_state state = {0};
    double sum = 0;
    long counted = 0;
    el_status s = EL_OK;
    if (!inputs || !targets) {
        free(inputs);
        free(targets);
        cli_error("out of memory for %d streams", B);
        return -1;
    }
    for (long k = 0; k < chunks && !s; k++) {
        int steps;
        double part;
        long n;
        s = el_charlm_chunk(r->ids.data + first, count, 0, B, EVAL_STEPS, k, inputs, targets,
                            &steps);
        if (!s) s = el_charlm_loss_of(&r->model, inputs, targets, steps, B, &state, &part, &n);
        if (!s) {
            sum += part;
            counted += n;
        }
    }
    el_charlm_state_free(&state);
    free(inputs);
    free(targets);
    *bpc = counted ? sum / counted / log(2.0) : 0;
    if (s) {
        cli_library_failure();
        return -1;
    }
    return 0;
}

int charlm_eval(run *r)
{
    if (charlm_load_for_use(r) || charlm_load_text(r, r->opts.text, 0)) return 1;
    if (r->ids.count < 2) {
        cli_error("%s: one character is nothing to predict", r->opts.text);
        return 1;
    }
    long unknown = 0;
    for (size_t i = 0; i < r->ids.count; i++) unknown += r->ids.data[i] == EL_UNK;
    double bpc;
    if (charlm_text_bpc(r, 0, r->ids.count, &bpc)) return 1;
    printf("%s: %zu characters, %ld never seen in training (<unk>)\n", r->opts.text, r->ids.count,
           unknown);
    printf("bpc: %.4f\n", bpc);
    return 0;
}
