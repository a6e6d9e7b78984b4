/* The hash of the library's hash tables (vocabulary symbols, lines of a
 * word list).  Not installed. */
#ifndef ELMAN_CORE_HASH_H
#define ELMAN_CORE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a, 64 bits: the keys are short (grapheme clusters, words), where it
 * is fast and spreads well, and come from no adversary. */
static inline uint64_t el__hash_bytes(const char *bytes, size_t len)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)bytes[i]) * UINT64_C(1099511628211);
    return h;
}

#endif
