#define _POSIX_C_SOURCE 200809L /* strdup */

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "meta.h"

el_status meta_set_int(el_checkpoint_writer *w, const char *key, long long value)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", value);
    return el_checkpoint_set_meta(w, key, text);
}

el_status meta_set_float(el_checkpoint_writer *w, const char *key, double value)
{
    char text[32];
    snprintf(text, sizeof text, "%.17g", value);
    return el_checkpoint_set_meta(w, key, text);
}

const char *meta_get(const el_checkpoint *c, const char *path, const char *key)
{
    const char *v = el_checkpoint_meta(c, key);
    if (!v) cli_error("%s: no \"%s\" in its metadata", path, key);
    return v;
}

char *meta_keep(const char *value)
{
    char *copy = strdup(value);
    if (!copy) cli_error("out of memory");
    return copy;
}

int meta_get_long(const el_checkpoint *c, const char *path, const char *key, long long *out)
{
    const char *v = meta_get(c, path, key);
    if (!v) return -1;
    char *end;
    errno = 0;
    *out = strtoll(v, &end, 10);
    if (errno || end == v || *end) {
        cli_error("%s: metadata \"%s\" is \"%s\", not an integer", path, key, v);
        return -1;
    }
    return 0;
}

int meta_get_int(const el_checkpoint *c, const char *path, const char *key, int *out)
{
    long long v;
    if (meta_get_long(c, path, key, &v)) return -1;
    if (v < INT_MIN || v > INT_MAX) {
        cli_error("%s: metadata \"%s\" is %lld, out of range", path, key, v);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int meta_get_double(const el_checkpoint *c, const char *path, const char *key, double *out)
{
    const char *v = meta_get(c, path, key);
    if (!v) return -1;
    char *end;
    *out = strtod(v, &end);
    if (end == v || *end) {
        cli_error("%s: metadata \"%s\" is \"%s\", not a number", path, key, v);
        return -1;
    }
    return 0;
}

int meta_get_float(const el_checkpoint *c, const char *path, const char *key, float *out)
{
    double v;
    if (meta_get_double(c, path, key, &v)) return -1;
    *out = (float)v;
    return 0;
}

int meta_check_kind(const el_checkpoint *c, const char *path, const char *kind)
{
    const char *found = el_checkpoint_meta(c, "elman.kind");
    if (found && strcmp(found, kind) == 0) return 0;
    if (found)
        cli_error("%s: a %s model, not a %s model", path, found, kind);
    else
        cli_error("%s: not an elman %s model (no \"elman.kind\" in its metadata)", path, kind);
    return -1;
}

el_status meta_set_rng(el_checkpoint_writer *w, const char *key, const el_rng *rng)
{
    char text[48];
    snprintf(text, sizeof text, "%" PRIu64 " %" PRIu64, rng->state, rng->increment);
    return el_checkpoint_set_meta(w, key, text);
}

int meta_get_rng(const el_checkpoint *c, const char *path, const char *key, el_rng *rng)
{
    const char *v = meta_get(c, path, key);
    if (!v) return -1;
    if (sscanf(v, "%" SCNu64 " %" SCNu64, &rng->state, &rng->increment) != 2) {
        cli_error("%s: metadata \"%s\" is \"%s\", not a generator's state", path, key, v);
        return -1;
    }
    return 0;
}

int meta_get_vocab(const el_checkpoint *c, const char *path, el_vocab **vocab)
{
    const char *v = meta_get(c, path, "elman.vocab");
    if (!v) return -1;
    if (el_vocab_from_json(vocab, v)) {
        cli_error("%s: its vocabulary: %s", path, el_last_error());
        return -1;
    }
    return 0;
}
