/* elman: a C toolkit for recurrent sequence models.  This header includes
 * all the others; each can also be included on its own. */
#ifndef ELMAN_ELMAN_H
#define ELMAN_ELMAN_H

#include "activation.h"
#include "autoencoder.h"
#include "batchnorm.h"
#include "charlm.h"
#include "checkpoint.h"
#include "conv.h"
#include "data.h"
#include "dense.h"
#include "dropout.h"
#include "embedding.h"
#include "file.h"
#include "idx.h"
#include "image.h"
#include "loss.h"
#include "model_file.h"
#include "ops.h"
#include "optim.h"
#include "pairs.h"
#include "param.h"
#include "pool.h"
#include "rng.h"
#include "sample.h"
#include "rnn.h"
#include "runtime.h"
#include "schedule.h"
#include "score.h"
#include "seq2seq.h"
#include "seq_autoencoder.h"
#include "sequential.h"
#include "status.h"
#include "tensor.h"
#include "vocab.h"

#endif
