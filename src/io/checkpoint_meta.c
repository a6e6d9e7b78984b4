/* Typed metadata: integers, numbers and truth values kept as text in the
 * string-to-string "__metadata__" map, which safetensors requires (other
 * readers refuse a file with any other value), each read back with its
 * key, the file and what is wrong named when it is missing or malformed. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/checkpoint_stored.h"
#include "core/internal.h"

el_status el_checkpoint_set_int(el_checkpoint_writer *w, const char *key, long long value)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", value);
    return el_checkpoint_set_meta(w, key, text);
}

/* The shortest "%.Ng" that reads back as exactly value, so 0.002 is kept as
 * "0.002" and not as the 17 digits of its nearest double; 17 digits always
 * round-trip a double, 9 a float. */
static void shortest(char *text, size_t size, double value, int as_float)
{
    int most = as_float ? 9 : 17;
    for (int digits = 1; digits <= most; digits++) {
        snprintf(text, size, "%.*g", digits, value);
        double back = strtod(text, NULL);
        if (as_float ? (float)back == (float)value : back == value) return;
    }
}

static el_status set_number(el_checkpoint_writer *w, const char *key, double value, int as_float,
                            const char *fn)
{
    if (!isfinite(value))
        return el__fail(EL_ERR_INVALID, "%s: \"%s\" would be %g; only finite numbers are kept", fn,
                        key ? key : "(null)", value);
    char text[40];
    shortest(text, sizeof text, value, as_float);
    return el_checkpoint_set_meta(w, key, text);
}

el_status el_checkpoint_set_double(el_checkpoint_writer *w, const char *key, double value)
{
    return set_number(w, key, value, 0, "el_checkpoint_set_double");
}

el_status el_checkpoint_set_float(el_checkpoint_writer *w, const char *key, float value)
{
    return set_number(w, key, value, 1, "el_checkpoint_set_float");
}

el_status el_checkpoint_set_bool(el_checkpoint_writer *w, const char *key, int value)
{
    return el_checkpoint_set_meta(w, key, value ? "true" : "false");
}

el_status el_checkpoint_get_string(const el_checkpoint *c, const char *key, const char **out)
{
    EL_REQUIRE(c, "el_checkpoint_get_string");
    EL_REQUIRE(key, "el_checkpoint_get_string");
    EL_REQUIRE(out, "el_checkpoint_get_string");
    const char *v = el_checkpoint_meta(c, key);
    if (!v) return el__fail(EL_ERR_FORMAT, "%s: no \"%s\" in its metadata", c->path, key);
    *out = v;
    return EL_OK;
}

el_status el_checkpoint_get_int(const el_checkpoint *c, const char *key, long long min,
                                long long max, long long *out)
{
    const char *v;
    el_status s = el_checkpoint_get_string(c, key, &v);
    if (s) return s;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        return el__fail(EL_ERR_FORMAT, "%s: metadata \"%s\" is \"%s\", not an integer", c->path,
                        key, v);
    if (n < min || n > max)
        return el__fail(EL_ERR_FORMAT, "%s: metadata \"%s\" is %lld, not in %lld..%lld", c->path,
                        key, n, min, max);
    *out = n;
    return EL_OK;
}

el_status el_checkpoint_get_double(const el_checkpoint *c, const char *key, double *out)
{
    const char *v;
    el_status s = el_checkpoint_get_string(c, key, &v);
    if (s) return s;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x))
        return el__fail(EL_ERR_FORMAT, "%s: metadata \"%s\" is \"%s\", not a finite number",
                        c->path, key, v);
    *out = x;
    return EL_OK;
}

el_status el_checkpoint_get_float(const el_checkpoint *c, const char *key, float *out)
{
    double x;
    el_status s = el_checkpoint_get_double(c, key, &x);
    if (s) return s;
    if (!isfinite((float)x))
        return el__fail(EL_ERR_FORMAT, "%s: metadata \"%s\" is %g, beyond a float's range", c->path,
                        key, x);
    *out = (float)x;
    return EL_OK;
}

el_status el_checkpoint_get_bool(const el_checkpoint *c, const char *key, int *out)
{
    const char *v;
    el_status s = el_checkpoint_get_string(c, key, &v);
    if (s) return s;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = 0;
    else
        return el__fail(EL_ERR_FORMAT, "%s: metadata \"%s\" is \"%s\", not true or false", c->path,
                        key, v);
    return EL_OK;
}

const char *el_checkpoint_path(const el_checkpoint *c) { return c ? c->path : NULL; }
