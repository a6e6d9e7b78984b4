/* What the checkpoint writer and reader (checkpoint_write.c and
 * checkpoint_read.c) share about the safetensors format; not installed. */
#ifndef ELMAN_CHECKPOINT_FORMAT_H
#define ELMAN_CHECKPOINT_FORMAT_H

#include <float.h>

/* safetensors data is little-endian (IEEE 754 for floats); elman writes
 * and reads floats and int64s as they lie in memory, which is right only
 * on such a machine. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "elman's checkpoints copy numbers as stored in memory: this needs a little-endian machine"
#endif
_Static_assert(sizeof(float) == 4 && FLT_MANT_DIG == 24,
               "F32 tensors need float to be IEEE 754 binary32");

/* The reference reader refuses longer headers (MAX_HEADER_SIZE in
 * safetensors/src/tensor.rs), so the writer never makes one. */
#define EL__CKPT_MAX_HEADER 100000000u

#define EL__CKPT_METADATA_KEY "__metadata__"
#define EL__CKPT_OPTIMIZER_PREFIX "optimizer."
#define EL__CKPT_STEP_KEY "optimizer.step"

#endif
