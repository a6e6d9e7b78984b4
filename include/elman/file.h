/* elman: reading a whole file into memory.
 *
 * The word lists, texts and data sets the programs and the library read
 * are read whole; this is the one reader they share.  A directory, a
 * missing file and a read error are EL_ERR_IO with the path and the
 * system's reason ("Is a directory"); memory running out is EL_ERR_NOMEM. */
#ifndef ELMAN_FILE_H
#define ELMAN_FILE_H

#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* *text receives the file's len bytes and one more, a NUL after them (so a
 * text file is also a C string); free it with el_file_free.  On failure
 * *text is NULL and *len 0. */
EL_API el_status el_read_file(const char *path, char **text, size_t *len);
EL_API void el_file_free(char *text);

#ifdef __cplusplus
}
#endif
#endif
