#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "support.h"

#ifndef EL_FIXTURE_DIR
#error "EL_FIXTURE_DIR must name the fixture directory (tests/meson.build defines it)"
#endif

/* A dimension larger than this is surely a corrupt header, not a fixture. */
#define MAX_DIM 1000000L

/* The reader's position; open is the index of the array whose values are
 * being read, or -1 between arrays. */
typedef struct parser {
    el_fixture *fx;
    int line;
    int open;
    size_t filled;
    char error[1536];
} parser;

static int parse_fail(parser *p, const char *fmt, ...)
{
    int n = snprintf(p->error, sizeof p->error, "%s:%d: ", p->fx->path, p->line);
    size_t used = n < 0 ? 0 : (size_t)n < sizeof p->error ? (size_t)n : sizeof p->error - 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error + used, sizeof p->error - used, fmt, ap);
    va_end(ap);
    return -1;
}

static char *skip_space(char *s)
{
    while (*s && isspace((unsigned char)*s)) s++;
    return s;
}

static int ends_token(char c) { return c == '\0' || isspace((unsigned char)c); }

/* Reads a whole file into a NUL-terminated buffer, or returns NULL. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - 1 - len, f);
        if (len < cap - 1) break;
        char *bigger = realloc(buf, cap * 2);
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (buf && failed) {
        free(buf);
        return NULL;
    }
    if (buf) buf[len] = '\0';
    return buf;
}

static const el_fixture_array *find(const el_fixture *fx, const char *name)
{
    for (int i = 0; i < fx->count; i++)
        if (strcmp(fx->arrays[i].name, name) == 0) return &fx->arrays[i];
    return NULL;
}

/* Reads a decimal integer token at *s and moves *s past it. */
static int parse_long(char **s, long *value)
{
    char *start = skip_space(*s), *end;
    errno = 0;
    *value = strtol(start, &end, 10);
    if (end == start || errno || !ends_token(*end)) return 0;
    *s = end;
    return 1;
}

/* "name ndim d0 d1 ...": appends an array and opens it for its values. */
static int parse_header(parser *p, char *s)
{
    el_fixture_array a = {0};
    char *end = s;
    while (!ends_token(*end)) end++;
    if ((size_t)(end - s) >= sizeof a.name)
        return parse_fail(p, "a name longer than %d characters", EL_FIXTURE_NAME_MAX - 1);
    memcpy(a.name, s, (size_t)(end - s));
    if (find(p->fx, a.name)) return parse_fail(p, "a second array called %s", a.name);
    long ndim;
    if (!parse_long(&end, &ndim) || ndim < 0 || ndim > EL_MAX_DIMS)
        return parse_fail(p, "%s: expected the number of dimensions (0 to %d)", a.name,
                          EL_MAX_DIMS);
    a.ndim = (int)ndim;
    a.size = 1;
    for (int d = 0; d < a.ndim; d++) {
        long dim;
        if (!parse_long(&end, &dim) || dim < 1 || dim > MAX_DIM)
            return parse_fail(p, "%s: dimension %d is missing or not in [1, %ld]", a.name, d,
                              MAX_DIM);
        a.shape[d] = (int)dim;
        a.size *= (size_t)dim;
    }
    if (*skip_space(end)) return parse_fail(p, "%s: unexpected text after the shape", a.name);
    el_fixture_array *grown = realloc(p->fx->arrays, (size_t)(p->fx->count + 1) * sizeof a);
    if (!grown) return parse_fail(p, "out of memory");
    p->fx->arrays = grown;
    a.data = malloc(a.size * sizeof *a.data);
    if (!a.data) return parse_fail(p, "%s: out of memory for %zu values", a.name, a.size);
    p->fx->arrays[p->fx->count] = a;
    p->open = p->fx->count++;
    p->filled = 0;
    return 0;
}

/* A line of values for the open array; closes it once it is full. */
static int parse_values(parser *p, char *s)
{
    el_fixture_array *a = &p->fx->arrays[p->open];
    for (s = skip_space(s); *s; s = skip_space(s)) {
        char *end;
        float v = strtof(s, &end);
        if (end == s || !ends_token(*end))
            return parse_fail(p, "%s: \"%.24s\" is not a number", a->name, s);
        if (p->filled == a->size)
            return parse_fail(p, "%s: more than the %zu values its shape holds", a->name, a->size);
        a->data[p->filled++] = v;
        s = end;
    }
    if (p->filled == a->size) p->open = -1;
    return 0;
}

/* Parses text (modified in place) line by line. */
static int parse(parser *p, char *text)
{
    /* The text after the last newline is a line only if it is not empty. */
    char *next = text;
    while (next && *next) {
        char *line = next;
        next = strchr(line, '\n');
        if (next) *next++ = '\0';
        p->line++;
        char *s = skip_space(line);
        int rc = 0;
        if (*s == '\0' || *s == '#') {
            if (p->open >= 0)
                rc =
                    parse_fail(p, "%s: a blank line or comment after %zu of its %zu values",
                               p->fx->arrays[p->open].name, p->filled, p->fx->arrays[p->open].size);
        } else {
            rc = p->open >= 0 ? parse_values(p, s) : parse_header(p, s);
        }
        if (rc) return rc;
    }
    if (p->open >= 0)
        return parse_fail(p, "%s: the file ends after %zu of its %zu values",
                          p->fx->arrays[p->open].name, p->filled, p->fx->arrays[p->open].size);
    if (p->fx->count == 0) return parse_fail(p, "no arrays in the file");
    return 0;
}

void el_fixture_load(el_fixture *fx, const char *file)
{
    memset(fx, 0, sizeof *fx);
    int n = snprintf(fx->path, sizeof fx->path, "%s/%s", EL_FIXTURE_DIR, file);
    cr_assert(n > 0 && (size_t)n < sizeof fx->path, "fixture path too long for %s", file);
    char *text = read_text(fx->path);
    cr_assert(text, "cannot read fixture %s: %s (regenerate it with tools/make_fixtures.py)",
              fx->path, strerror(errno));
    parser p = {.fx = fx, .open = -1};
    int rc = parse(&p, text);
    free(text);
    if (rc) el_fixture_free(fx);
    cr_assert(rc == 0, "malformed fixture %s", p.error);
}

void el_fixture_free(el_fixture *fx)
{
    for (int i = 0; i < fx->count; i++) free(fx->arrays[i].data);
    free(fx->arrays);
    fx->arrays = NULL;
    fx->count = 0;
}

const el_fixture_array *el_fixture_get(const el_fixture *fx, const char *name)
{
    const el_fixture_array *a = find(fx, name);
    cr_assert(a, "fixture %s has no array called %s (regenerate it with tools/make_fixtures.py)",
              fx->path, name);
    return a;
}

void el_fixture_tensor(const el_fixture *fx, const char *name, el_tensor *t)
{
    const el_fixture_array *a = el_fixture_get(fx, name);
    int scalar_shape[1] = {1};
    if (a->ndim == 0)
        EL_TEST_OK(el_tensor_alloc(t, 1, scalar_shape));
    else
        EL_TEST_OK(el_tensor_alloc(t, a->ndim, a->shape));
    memcpy(t->data, a->data, a->size * sizeof *a->data);
}

float el_fixture_scalar(const el_fixture *fx, const char *name)
{
    const el_fixture_array *a = el_fixture_get(fx, name);
    cr_assert(a->ndim == 0, "fixture %s: %s has %d dimensions, expected a scalar", fx->path, name,
              a->ndim);
    return a->data[0];
}

void el_fixture_ints(const el_fixture *fx, const char *name, int *out, size_t n)
{
    const el_fixture_array *a = el_fixture_get(fx, name);
    cr_assert(a->size == n, "fixture %s: %s has %zu values, expected %zu", fx->path, name, a->size,
              n);
    for (size_t i = 0; i < n; i++) {
        float v = a->data[i];
        cr_assert(fabsf(v) < 1e9f && v == nearbyintf(v),
                  "fixture %s: %s[%zu] is %.9g, not an integer", fx->path, name, i, (double)v);
        out[i] = (int)v;
    }
}

static void shape_string(const el_fixture_array *a, char *buf, size_t size)
{
    snprintf(buf, size, "scalar");
    size_t used = 0;
    for (int d = 0; d < a->ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? "x%d" : "%d", a->shape[d]);
}

void el_fixture_expect_tensor(const el_fixture *fx, const char *name, const el_tensor *got,
                              double rtol, double atol)
{
    const el_fixture_array *a = el_fixture_get(fx, name);
    int same = a->ndim == 0 ? got->size == 1 : a->ndim == got->ndim;
    for (int d = 0; same && d < a->ndim; d++) same = a->shape[d] == got->shape[d];
    char want_shape[64], got_shape[64];
    shape_string(a, want_shape, sizeof want_shape);
    el_tensor_shape_string(got, got_shape, sizeof got_shape);
    cr_assert(same, "%s: the result is %s, the fixture %s", name, got_shape, want_shape);
    el_test_assert_close(name, got->data, a->data, a->size, rtol, atol);
}

void el_fixture_expect_scalar(const el_fixture *fx, const char *name, float got, double rtol,
                              double atol)
{
    el_test_assert_close(name, &got, &(float){el_fixture_scalar(fx, name)}, 1, rtol, atol);
}

const char *el_fixture_key(char *key, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    int n = vsnprintf(key, EL_FIXTURE_NAME_MAX, format, args);
    va_end(args);
    cr_assert(n >= 0 && n < EL_FIXTURE_NAME_MAX, "fixture name too long: %s...", key);
    return key;
}
