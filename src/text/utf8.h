/* The text layer's UTF-8 validation (clusters.c), shared with the layers
 * above it, so that elman has one definition of well-formed UTF-8: the
 * checkpoint files' headers and names are checked by it too; not
 * installed. */
#ifndef ELMAN_TEXT_UTF8_H
#define ELMAN_TEXT_UTF8_H

#include <stddef.h>

/* The offset of the first byte of text[0, len) that begins an ill-formed
 * sequence, or len if there is none.  Well-formed is ICU's U8_NEXT rule,
 * which is also Rust's str::from_utf8 (the safetensors reference reader's):
 * no overlong forms, surrogates or code points above U+10FFFF.  NUL bytes
 * are well-formed.  len must be at most INT32_MAX (ICU's limit). */
size_t el__utf8_invalid_at(const char *text, size_t len);

#endif
