/* el_tensor_ensure with the shape written out, for the many buffers that
 * are sized to two or three dimensions at once.  Not installed. */
#ifndef ELMAN_CORE_ENSURE_H
#define ELMAN_CORE_ENSURE_H

#include "elman/tensor.h"

static inline el_status el__ensure2(el_tensor *t, int d0, int d1)
{
    return el_tensor_ensure(t, 2, (int[]){d0, d1});
}

static inline el_status el__ensure3(el_tensor *t, int d0, int d1, int d2)
{
    return el_tensor_ensure(t, 3, (int[]){d0, d1, d2});
}

#endif
