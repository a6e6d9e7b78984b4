/* elman: checkpoints as safetensors files.
 *
 * A checkpoint is a safetensors file (https://github.com/huggingface/
 * safetensors): an 8-byte little-endian header length N, N bytes of JSON
 * mapping each tensor's name to {"dtype", "shape", "data_offsets"}, then the
 * raw little-endian data.  Tensors are float32, or int64 for counters such
 * as batch norm's num_batches_tracked, and named as PyTorch's state_dict
 * keys ("encoder.weight_ih_l0"), so PyTorch loads elman's weights with
 * safetensors.torch.load_file, and elman loads PyTorch's.  The
 * "__metadata__" object (string values only) carries the configuration, the
 * vocabulary and anything else a program keeps.  Optimizer state is stored
 * under "optimizer.<parameter>.<slot>" (e.g. "optimizer.fc.weight.exp_avg")
 * with the step count in the metadata key "optimizer.step"; to load only the
 * weights into PyTorch, drop the keys that start with "optimizer.".
 *
 * Writing goes to a temporary file in the same directory, flushed to disk
 * and renamed over the target, so an interrupted save leaves the old file
 * intact.  Reading checks everything before it hands anything out: the
 * header length, the JSON, each dtype, shape and offset pair, that the
 * tensors tile the data exactly and the file ends where they do; anything
 * inconsistent is refused with a message saying what and where. */
#ifndef ELMAN_CHECKPOINT_H
#define ELMAN_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "optim.h"
#include "param.h"
#include "sequential.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct el_checkpoint_writer el_checkpoint_writer;

EL_API el_status el_checkpoint_writer_create(el_checkpoint_writer **out);
EL_API void el_checkpoint_writer_free(el_checkpoint_writer *w);
/* Adds a float32 tensor under name; its data is read when the file is
 * written, so it must live until then.  A repeated name is refused. */
EL_API el_status el_checkpoint_add(el_checkpoint_writer *w, const char *name, const el_tensor *t);
/* Adds an int64 tensor of ndim dimensions (0 for a scalar, as PyTorch
 * keeps num_batches_tracked; at most EL_MAX_DIMS) and that shape, whose
 * elements, the product of the shape's, are at data.  The shape is copied;
 * data is read when the file is written, so it must live until then. */
EL_API el_status el_checkpoint_add_i64(el_checkpoint_writer *w, const char *name,
                                       const int64_t *data, int ndim, const int *shape);
/* Adds every parameter's value under its name. */
EL_API el_status el_checkpoint_add_params(el_checkpoint_writer *w, const el_param_list *list);
/* Adds the optimizer's state tensors and step count (see above). */
EL_API el_status el_checkpoint_add_optimizer(el_checkpoint_writer *w, el_optimizer *opt);
/* Sets a metadata string (a repeated key replaces the value). */
EL_API el_status el_checkpoint_set_meta(el_checkpoint_writer *w, const char *key,
                                        const char *value);
/* Typed metadata, kept as text because safetensors allows only strings
 * there (other readers refuse anything else): an integer in decimal; a
 * finite number in the fewest digits that read back as exactly the same
 * double (or float), so 0.002 is "0.002"; a truth value as "true" or
 * "false".  A NaN or an infinity is refused (EL_ERR_INVALID). */
EL_API el_status el_checkpoint_set_int(el_checkpoint_writer *w, const char *key, long long value);
EL_API el_status el_checkpoint_set_double(el_checkpoint_writer *w, const char *key, double value);
EL_API el_status el_checkpoint_set_float(el_checkpoint_writer *w, const char *key, float value);
EL_API el_status el_checkpoint_set_bool(el_checkpoint_writer *w, const char *key, int value);
/* Writes the file atomically (temporary file, fsync, rename). */
EL_API el_status el_checkpoint_write(el_checkpoint_writer *w, const char *path);

typedef struct el_checkpoint el_checkpoint;

/* Reads and checks a whole file.  A missing file is EL_ERR_IO; anything
 * malformed EL_ERR_FORMAT, with the path and what is wrong in the message. */
EL_API el_status el_checkpoint_read(el_checkpoint **out, const char *path);
/* The same from the n bytes of a file held in memory (received, embedded);
 * name stands for the file in messages (NULL: "(memory)").  The bytes are
 * copied, so they need not outlive the call.  Never EL_ERR_IO. */
EL_API el_status el_checkpoint_read_memory(el_checkpoint **out, const void *bytes, size_t n,
                                           const char *name);
EL_API void el_checkpoint_free(el_checkpoint *c);
EL_API int el_checkpoint_count(const el_checkpoint *c);
/* Tensor i's name, in file order. */
EL_API const char *el_checkpoint_name(const el_checkpoint *c, int i);
/* A read-only view of the tensor of that name (EL_ERR_INVALID if absent,
 * EL_ERR_FORMAT if it is not float32), valid while c lives. */
EL_API el_status el_checkpoint_tensor(const el_checkpoint *c, const char *name, el_tensor *view);

/* A read-only view of an int64 tensor, which el_tensor (float) cannot
 * hold: size = the product of the ndim dimensions (1 for a scalar). */
typedef struct el_checkpoint_i64 {
    const int64_t *data; /* NULL when size is 0 */
    int ndim;            /* 0 for a scalar */
    int shape[EL_MAX_DIMS];
    size_t size;
} el_checkpoint_i64;

/* The same for an int64 tensor (EL_ERR_FORMAT if it is not int64). */
EL_API el_status el_checkpoint_tensor_i64(const el_checkpoint *c, const char *name,
                                          el_checkpoint_i64 *view);
/* A metadata value, or NULL. */
EL_API const char *el_checkpoint_meta(const el_checkpoint *c, const char *key);
/* The file's path, or the name given to el_checkpoint_read_memory. */
EL_API const char *el_checkpoint_path(const el_checkpoint *c);
/* Typed metadata.  A missing key or a value that is not of the type is
 * EL_ERR_FORMAT with the file, the key and the value in the message:
 * "model.st: metadata "charlm.hidden" is "x", not an integer".  An integer
 * outside min..max is refused the same way; a number must be finite (and
 * within a float's range for _float); a truth value is "true" or "1",
 * "false" or "0".  The string is c's, valid while c lives. */
EL_API el_status el_checkpoint_get_string(const el_checkpoint *c, const char *key, const char **out);
EL_API el_status el_checkpoint_get_int(const el_checkpoint *c, const char *key, long long min,
                                       long long max, long long *out);
EL_API el_status el_checkpoint_get_double(const el_checkpoint *c, const char *key, double *out);
EL_API el_status el_checkpoint_get_float(const el_checkpoint *c, const char *key, float *out);
EL_API el_status el_checkpoint_get_bool(const el_checkpoint *c, const char *key, int *out);
/* Copies each parameter's value from the tensor of its name.  Every name
 * must be present, float32, with the parameter's shape and only finite
 * values (a NaN or an infinity is EL_ERR_FORMAT naming the tensor); this is
 * checked for all of them before the first is copied, so a mismatch
 * changes nothing. */
EL_API el_status el_checkpoint_load_params(const el_checkpoint *c, el_param_list *list);
/* The same for the optimizer's state and step count. */
EL_API el_status el_checkpoint_load_optimizer(const el_checkpoint *c, el_optimizer *opt);

/* A sequential container's whole state, under the names of nn.Sequential's
 * state_dict: its parameters, its float buffers (batch norm's running
 * statistics) and its int64 counters (num_batches_tracked, as scalars).  So
 * torch.nn.Sequential.load_state_dict takes what elman writes, and elman
 * loads what PyTorch saves.  The container must outlive the write. */
EL_API el_status el_checkpoint_add_sequential(el_checkpoint_writer *w, el_sequential *seq);
/* Loads that state, all or nothing: every name present with its shape and
 * dtype, finite values, and each counter a scalar of 0 or more.  Tensors
 * the container has no use for are left alone. */
EL_API el_status el_checkpoint_load_sequential(const el_checkpoint *c, el_sequential *seq);

#ifdef __cplusplus
}
#endif
#endif
