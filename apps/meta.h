/* Checkpoint metadata for elman's programs (not part of libelman): the
 * training settings and position that a program keeps in a checkpoint's
 * "__metadata__", read with the library's typed accessors
 * (elman/checkpoint.h) and reported as one line on failure.  The model
 * itself is saved and loaded by elman/model_file.h. */
#ifndef ELMAN_APPS_META_H
#define ELMAN_APPS_META_H

#include "elman/checkpoint.h"
#include "elman/rng.h"

/* Each reader reports a missing or malformed value with one line naming the
 * file and the key (the library's message), and returns NULL or -1. */
const char *meta_get(const el_checkpoint *c, const char *key);
int meta_get_long(const el_checkpoint *c, const char *key, long long *out);
int meta_get_int(const el_checkpoint *c, const char *key, int *out);
int meta_get_float(const el_checkpoint *c, const char *key, float *out);
int meta_get_double(const el_checkpoint *c, const char *key, double *out);

/* A copy of a value read from c, to keep after c is freed (its strings go
 * with it), or NULL after reporting that memory ran out.  Free it. */
char *meta_keep(const char *value);

/* A random generator's state, as "STATE INCREMENT". */
el_status meta_set_rng(el_checkpoint_writer *w, const char *key, const el_rng *rng);
int meta_get_rng(const el_checkpoint *c, const char *key, el_rng *rng);

#endif
