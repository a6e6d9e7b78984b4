/* elman: status codes and error messages.
 *
 * Every public function that can fail returns an el_status.  On failure it
 * also leaves a message for the calling thread, readable with el_last_error(),
 * that says what went wrong and where ("el_matmul: inner dimensions differ:
 * op(A) is 3x4, op(B) is 5x2").  The library never exits or aborts on bad
 * input or when memory runs out. */
#ifndef ELMAN_STATUS_H
#define ELMAN_STATUS_H

#if defined(__GNUC__)
#define EL_API __attribute__((visibility("default")))
#else
#define EL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum el_status {
    EL_OK = 0,
    EL_ERR_INVALID, /* a bad argument: NULL, a negative size, an index out of range */
    EL_ERR_SHAPE,   /* tensor shapes that do not fit together */
    EL_ERR_NOMEM,   /* an allocation failed, or a size would overflow */
    EL_ERR_IO,      /* reading or writing a file failed */
    EL_ERR_FORMAT,  /* a file or a text is malformed */
    EL_ERR_STATE,   /* a call out of order, e.g. backward before forward */
    EL_ERR_NONFINITE /* a training step's loss or gradient is NaN or infinite */
} el_status;

/* The message of the most recent failure on this thread ("" if none). */
EL_API const char *el_last_error(void);

/* Forget the message, e.g. before a call whose failure is expected. */
EL_API void el_clear_error(void);

/* Records a message for el_last_error() on this thread and returns status,
 * as the library's own failures do: for libraries built on elman
 * (libelman-mpi), so that a caller reads their failures the same way. */
EL_API el_status el_set_error(el_status status, const char *format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A short constant name for a status: "EL_ERR_SHAPE". */
EL_API const char *el_status_name(el_status status);

#ifdef __cplusplus
}
#endif
#endif
