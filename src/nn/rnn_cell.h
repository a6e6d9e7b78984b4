/* The element-wise half of one recurrent time step, per cell kind; the
 * matrix half (the GEMMs) is in rnn.c and, for one step at a time, in
 * rnn_stepper.c.  Not installed.
 *
 * A step works on consecutive rows of a packed block (the rows of one time
 * loop's part).  Row r's gate pre-activations from the input are
 * gates[r*G ..], from the state gh[r*G ..] (both without biases); G =
 * gates * H. */
#ifndef ELMAN_RNN_CELL_H
#define ELMAN_RNN_CELL_H

#include "elman/rnn.h"

/* The rows of one time step that a cell kernel computes, and where it
 * reads and writes them. */
typedef struct cell_rows {
    el_cell cell;
    int rows;           /* the rows of this step that this part computes */
    int hidden;         /* H */
    const float *b_ih;  /* (G) */
    const float *b_hh;  /* (G) */
    float *gates;       /* (n, G): in forward the input pre-activations, replaced by the
                           activated gates (RNN: the new state) */
    const float *gh;    /* (n, G) forward: the state pre-activations */
    float *hn_gate;     /* GRU (n, H): W_hn h + b_hn, stored by forward */
    const float *hprev; /* (n, H) the state this step started from */
    const float *cprev; /* LSTM (n, H) */
    float *tanh_c;      /* LSTM (n, H): tanh of the new cell state, stored by forward */
    float *h;           /* (n, H) running state: forward writes h', backward the
                           gradient for the previous state (its direct part) */
    float *c;           /* LSTM (n, H) running cell state, or its gradient in backward */
    int continuing;     /* forward, where h_end is set: rows from this one on write h'
                           and c' at h_end and c_end (same row index) instead */
    float *h_end, *c_end;
    float *out; /* row r's output (forward) or output gradient (backward), at
                   out[r * out_stride] */
    int out_stride;
    float *dgx; /* backward (n, G): gradient of the input pre-activations */
    float *dgh; /* backward (n, G): of the state pre-activations (GRU differs) */
} cell_rows;

void el__cell_forward(const cell_rows *s);
void el__cell_backward(const cell_rows *s);

#endif
