/* seq2seq-train --predict: sources from the command line, a file or stdin,
 * decoded by a model and printed.  Not part of libelman. */
#ifndef ELMAN_APPS_SEQ2SEQ_PREDICT_H
#define ELMAN_APPS_SEQ2SEQ_PREDICT_H

#include "elman/pairs.h"
#include "elman/seq2seq.h"

typedef struct s2s_predictor {
    el_seq2seq *model;
    const el_vocab *source, *target;
    el_tokens source_tokens, target_tokens;
    /* A model trained on pairs: prints source<TAB>prediction, with room for
     * a prediction twice as long as the source; a word-reversal model prints
     * the word alone, at most 8 symbols longer than its input. */
    int pairs_model;
    int beam; /* 1: greedy */
    /* The first source's attention weights as a PNG heat map (its
     * prediction then greedy), or NULL. */
    const char *attention_png;
} s2s_predictor;

/* Predicts for args[0 .. count) (count > 0), else each line of input (a
 * path; the text before a tab when a line has one), else each line of
 * stdin.  0, or 1 after reporting. */
int s2s_predict(const s2s_predictor *p, char **args, int count, const char *input);

#endif
