/* Checkpoint metadata for elman's programs (not part of libelman): the
 * configuration and training position that a program keeps in a
 * checkpoint's "__metadata__", written and read back as text. */
#ifndef ELMAN_APPS_META_H
#define ELMAN_APPS_META_H

#include "elman/checkpoint.h"
#include "elman/rng.h"
#include "elman/vocab.h"

el_status meta_set_int(el_checkpoint_writer *w, const char *key, long long value);
/* Written with 17 significant digits, so a double reads back exactly. */
el_status meta_set_float(el_checkpoint_writer *w, const char *key, double value);

/* Each reader reports a missing or malformed value with one line naming the
 * file (path) and the key, and returns NULL or -1. */
const char *meta_get(const el_checkpoint *c, const char *path, const char *key);
int meta_get_long(const el_checkpoint *c, const char *path, const char *key, long long *out);
int meta_get_int(const el_checkpoint *c, const char *path, const char *key, int *out);
int meta_get_float(const el_checkpoint *c, const char *path, const char *key, float *out);
int meta_get_double(const el_checkpoint *c, const char *path, const char *key, double *out);

/* A copy of a value read from c, to keep after c is freed (its strings go
 * with it), or NULL after reporting that memory ran out.  Free it. */
char *meta_keep(const char *value);

/* A random generator's state, as "STATE INCREMENT". */
el_status meta_set_rng(el_checkpoint_writer *w, const char *key, const el_rng *rng);
int meta_get_rng(const el_checkpoint *c, const char *path, const char *key, el_rng *rng);

/* The vocabulary saved under "elman.vocab". */
int meta_get_vocab(const el_checkpoint *c, const char *path, el_vocab **vocab);

/* Checks "elman.kind" ("seq2seq", "charlm"): a model of another kind is
 * refused with "MODEL: a seq2seq model, not a charlm model". */
int meta_check_kind(const el_checkpoint *c, const char *path, const char *kind);

#endif
