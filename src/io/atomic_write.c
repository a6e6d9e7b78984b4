/* The temporary file, fsync and rename of every save. */
#define _POSIX_C_SOURCE 200809L /* fsync, getpid, O_DIRECTORY */

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic_write.h"
#include "core/internal.h"

int el__write_all(int fd, const void *buffer, size_t n)
{
    const char *p = buffer;
    while (n > 0) {
        ssize_t written = write(fd, p, n);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return 0;
        p += written;
        n -= (size_t)written;
    }
    return 1;
}

/* On failure nothing is left under temp. */
static el_status write_temp_file(const char *fn, const char *temp, el__contents_fn contents,
                                 const void *context)
{
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) return el__fail(EL_ERR_IO, "%s: cannot create %s: %s", fn, temp, strerror(errno));
    int ok = contents(fd, context) && fsync(fd) == 0;
    int error = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        error = errno;
    }
    if (ok) return EL_OK;
    unlink(temp);
    return el__fail(EL_ERR_IO, "%s: cannot write %s: %s", fn, temp, strerror(error));
}

/* "<path>.tmp-<pid>-<n>": in the target's directory, so that rename stays
 * within one file system, and unique to this call even when several
 * threads save the same path. */
static char *temp_path_for(const char *path)
{
    static atomic_ulong calls;
    size_t size = strlen(path) + 64;
    char *temp = el__alloc(size);
    if (temp)
        snprintf(temp, size, "%s.tmp-%ld-%lu", path, (long)getpid(), atomic_fetch_add(&calls, 1));
    return temp;
}

static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 0 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = el__alloc(n + 2);
    if (!dir) return NULL;
    if (n) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    } else {
        strcpy(dir, ".");
    }
    return dir;
}

/* The rename is durable only once the directory is on the disk too. */
static el_status sync_directory(const char *fn, const char *dir, const char *path)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int ok = fd >= 0 && fsync(fd) == 0;
    int error = errno;
    if (fd >= 0) close(fd);
    /* EINVAL: the file system cannot sync directories; nothing to do. */
    if (!ok && error != EINVAL)
        return el__fail(EL_ERR_IO,
                        "%s: %s was written, but its directory %s could not be synced: %s", fn,
                        path, dir, strerror(error));
    return EL_OK;
}

static el_status replace_file(const char *fn, const char *path, const char *temp, const char *dir,
                              el__contents_fn contents, const void *context)
{
    el_status s = write_temp_file(fn, temp, contents, context);
    if (s) return s;
    if (rename(temp, path) != 0) {
        int error = errno;
        unlink(temp);
        return el__fail(EL_ERR_IO, "%s: cannot rename %s to %s: %s", fn, temp, path,
                        strerror(error));
    }
    return sync_directory(fn, dir, path);
}

el_status el__write_atomically(const char *fn, const char *path, el__contents_fn contents,
                               const void *context)
{
    if (!*path) return el__fail(EL_ERR_INVALID, "%s: the path is empty", fn);
    char *temp = temp_path_for(path);
    char *dir = directory_of(path);
    el_status s = temp && dir ? replace_file(fn, path, temp, dir, contents, context)
                              : el__fail(EL_ERR_NOMEM, "%s: out of memory", fn);
    el__free(temp);
    el__free(dir);
    return s;
}

typedef struct bytes {
    const void *data;
    size_t size;
} bytes;

static int write_bytes(int fd, const void *context)
{
    const bytes *b = context;
    return el__write_all(fd, b->data, b->size);
}

el_status el__write_file_atomically(const char *fn, const char *path, const void *data, size_t size)
{
    bytes b = {data, size};
    return el__write_atomically(fn, path, write_bytes, &b);
}
