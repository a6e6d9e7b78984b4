/* Writing a whole file so that readers only ever see the old one or the
 * complete new one; shared by the IDX and PNG writers. */
#ifndef ELMAN_IO_ATOMIC_WRITE_H
#define ELMAN_IO_ATOMIC_WRITE_H

#include <stddef.h>

#include "elman/status.h"

/* Writes size bytes to a temporary file beside path, flushes it to the
 * disk, renames it over path and syncs the directory.  On failure the old
 * file is intact, no temporary file is left, and the message names fn. */
el_status el__write_file_atomically(const char *fn, const char *path, const void *data,
                                    size_t size);

#endif
