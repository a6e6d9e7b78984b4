#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

#define EL_ALIGNMENT 64

static _Thread_local long allocations_left = -1;

void el__fail_allocations_after(long n) { allocations_left = n; }

/* Returns 0 when the test hook says this allocation must fail. */
static int allocation_allowed(void)
{
    if (allocations_left < 0) return 1;
    if (allocations_left == 0) return 0;
    allocations_left--;
    return 1;
}

void *el__alloc(size_t bytes)
{
    if (!allocation_allowed()) return NULL;
    /* aligned_alloc wants a multiple of the alignment. */
    if (bytes > SIZE_MAX - EL_ALIGNMENT) return NULL;
    size_t rounded = (bytes + EL_ALIGNMENT - 1) & ~(size_t)(EL_ALIGNMENT - 1);
    if (rounded == 0) rounded = EL_ALIGNMENT;
    return aligned_alloc(EL_ALIGNMENT, rounded);
}

void *el__alloc_zero(size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size) return NULL;
    void *p = el__alloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void *el__realloc(void *ptr, size_t bytes)
{
    if (!allocation_allowed()) return NULL;
    return realloc(ptr, bytes ? bytes : 1);
}

void el__free(void *ptr) { free(ptr); }
