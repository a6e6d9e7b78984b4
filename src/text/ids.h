/* The text layer's internal helper for id lists, shared by the text and
 * model layers; not installed. */
#ifndef ELMAN_TEXT_IDS_H
#define ELMAN_TEXT_IDS_H

#include <stddef.h>

#include "elman/status.h"
#include "elman/vocab.h"

/* Makes room for total ids in ids (its count is unchanged), growing
 * geometrically for callers that append a little at a time.  Fails with
 * EL_ERR_NOMEM, naming fn, and leaves ids as it was. */
el_status el__ids_reserve(el_ids *ids, size_t total, const char *fn);

#endif
