#include <cblas.h>

#include "elman/runtime.h"
#include "internal.h"

#define EL_STR2(x) #x
#define EL_STR(x) EL_STR2(x)

const char *el_version(void)
{
    return EL_STR(EL_VERSION_MAJOR) "." EL_STR(EL_VERSION_MINOR) "." EL_STR(EL_VERSION_PATCH);
}

el_status el_set_threads(int threads)
{
    if (threads < 1 || threads > 256)
        return el__fail(EL_ERR_INVALID, "el_set_threads: %d threads (1 to 256 allowed)",
                        threads);
    openblas_set_num_threads(threads);
    return EL_OK;
}

int el_get_threads(void) { return openblas_get_num_threads(); }

const char *el_blas_info(void) { return openblas_get_config(); }
