/* Writing a whole file so that readers only ever see the old one or the
 * complete new one; shared by the checkpoint, IDX and PNG writers. */
#ifndef ELMAN_IO_ATOMIC_WRITE_H
#define ELMAN_IO_ATOMIC_WRITE_H

#include <stddef.h>

#include "elman/status.h"

/* Writes the file's contents to fd: 1 when all went out, 0 with errno set
 * when a write failed. */
typedef int (*el__contents_fn)(int fd, const void *context);

/* Has contents write the file into a temporary file beside path, flushes
 * it to the disk, renames it over path and syncs the directory.  On failure
 * the old file is intact, no temporary file is left, and the message names
 * fn. */
el_status el__write_atomically(const char *fn, const char *path, el__contents_fn contents,
                               const void *context);

/* The same for a file held in memory, size bytes at data. */
el_status el__write_file_atomically(const char *fn, const char *path, const void *data,
                                    size_t size);

/* Writes all n bytes of buffer to fd, through interruptions: 1, or 0 with
 * errno set. */
int el__write_all(int fd, const void *buffer, size_t n);

#endif
