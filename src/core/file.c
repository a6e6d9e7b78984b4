#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "elman/file.h"
#include "core/internal.h"

/* The buffer doubles from 64 KiB, so a file of n bytes costs O(n) copying
 * whatever its size, and nothing needs fstat (pipes and /proc files have no
 * size until read). */
el_status el_read_file(const char *path, char **text, size_t *len)
{
    EL_REQUIRE(text, "el_read_file");
    EL_REQUIRE(len, "el_read_file");
    *text = NULL;
    *len = 0;
    EL_REQUIRE(path, "el_read_file");
    FILE *f = fopen(path, "rb");
    if (!f) return el__fail(EL_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t n = 0, capacity = 0;
    el_status s = EL_OK;
    for (;;) {
        if (n + 1 >= capacity) {
            size_t grown = capacity ? 2 * capacity : 1 << 16;
            char *bigger = grown > capacity ? el__realloc(buf, grown) : NULL;
            if (!bigger) {
                s = el__fail(EL_ERR_NOMEM, "el_read_file: %s: out of memory", path);
                break;
            }
            buf = bigger;
            capacity = grown;
        }
        n += fread(buf + n, 1, capacity - 1 - n, f);
        /* A directory opens, and fails to read: EISDIR. */
        if (ferror(f)) {
            s = el__fail(EL_ERR_IO, "%s: %s", path, strerror(errno));
            break;
        }
        if (feof(f)) break;
    }
    fclose(f);
    if (s) {
        el__free(buf);
        return s;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return EL_OK;
}

void el_file_free(char *text) { el__free(text); }
