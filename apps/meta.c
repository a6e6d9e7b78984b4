#define _POSIX_C_SOURCE 200809L /* strdup */

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "meta.h"

const char *meta_get(const el_checkpoint *c, const char *key)
{
    const char *v;
    if (el_checkpoint_get_string(c, key, &v)) {
        cli_library_failure();
        return NULL;
    }
    return v;
}

char *meta_keep(const char *value)
{
    char *copy = strdup(value);
    if (!copy) cli_error("out of memory");
    return copy;
}

int meta_get_long(const el_checkpoint *c, const char *key, long long *out)
{
    return el_checkpoint_get_int(c, key, LLONG_MIN, LLONG_MAX, out) ? -cli_library_failure() : 0;
}

int meta_get_int(const el_checkpoint *c, const char *key, int *out)
{
    long long v;
    if (el_checkpoint_get_int(c, key, INT_MIN, INT_MAX, &v)) return -cli_library_failure();
    *out = (int)v;
    return 0;
}

int meta_get_float(const el_checkpoint *c, const char *key, float *out)
{
    return el_checkpoint_get_float(c, key, out) ? -cli_library_failure() : 0;
}

int meta_get_double(const el_checkpoint *c, const char *key, double *out)
{
    return el_checkpoint_get_double(c, key, out) ? -cli_library_failure() : 0;
}

el_status meta_set_rng(el_checkpoint_writer *w, const char *key, const el_rng *rng)
{
    char text[48];
    snprintf(text, sizeof text, "%" PRIu64 " %" PRIu64, rng->state, rng->increment);
    return el_checkpoint_set_meta(w, key, text);
}

int meta_get_rng(const el_checkpoint *c, const char *key, el_rng *rng)
{
    const char *v = meta_get(c, key);
    if (!v) return -1;
    if (sscanf(v, "%" SCNu64 " %" SCNu64, &rng->state, &rng->increment) != 2) {
        cli_error("%s: metadata \"%s\" is \"%s\", not a generator's state", el_checkpoint_path(c),
                  key, v);
        return -1;
    }
    return 0;
}
