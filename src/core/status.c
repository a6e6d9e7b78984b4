#include <stdarg.h>
#include <stdio.h>

#include "core/internal.h"

/* Per thread, like errno, so that two threads using the library on separate
 * models never read each other's messages. */
static _Thread_local char last_error[512];

const char *el_last_error(void) { return last_error; }

void el_clear_error(void) { last_error[0] = '\0'; }

static void set_message(const char *format, va_list args)
{
    vsnprintf(last_error, sizeof last_error, format, args);
}

el_status el__fail(el_status status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    set_message(format, args);
    va_end(args);
    return status;
}

el_status el_set_error(el_status status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    set_message(format, args);
    va_end(args);
    return status;
}

const char *el_status_name(el_status status)
{
    switch (status) {
    case EL_OK: return "EL_OK";
    case EL_ERR_INVALID: return "EL_ERR_INVALID";
    case EL_ERR_SHAPE: return "EL_ERR_SHAPE";
    case EL_ERR_NOMEM: return "EL_ERR_NOMEM";
    case EL_ERR_IO: return "EL_ERR_IO";
    case EL_ERR_FORMAT: return "EL_ERR_FORMAT";
    case EL_ERR_STATE: return "EL_ERR_STATE";
    case EL_ERR_NONFINITE: return "EL_ERR_NONFINITE";
    }
    return "EL_ERR_UNKNOWN";
}
