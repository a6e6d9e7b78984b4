/* The text layer's internal view of el_clusters, shared by the vocabulary
 * and the word list; not installed. */
#ifndef ELMAN_TEXT_CLUSTERS_H
#define ELMAN_TEXT_CLUSTERS_H

#include <stddef.h>

#include "elman/vocab.h"

/* Cluster i's bytes (no NUL follows them) and, in *len, their count. */
static inline const char *el__cluster_bytes(const el_clusters *c, size_t i, size_t *len)
{
    *len = c->starts[i + 1] - c->starts[i];
    return c->text + c->starts[i];
}

#endif
