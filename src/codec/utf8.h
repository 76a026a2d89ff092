/* utf8.h - incremental UTF-8 validation (RFC 3629, as RFC 6455 8.1 requires for text
 * messages and close reasons): rejects overlongs, surrogates, code points past U+10FFFF, and
 * fails fast on the first bad byte even inside a fragmented message. Pure. */
#ifndef WSP_UTF8_H
#define WSP_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wsp_utf8 {
    uint32_t state; /* private */
} wsp_utf8;

void wsp_utf8_init(wsp_utf8 *v);
/* Feed more bytes. Returns false as soon as the bytes so far cannot be a prefix of valid
 * UTF-8; after that the validator stays failed. */
bool wsp_utf8_feed(wsp_utf8 *v, const uint8_t *s, size_t len);
/* True when everything fed is valid and ends on a code point boundary. */
bool wsp_utf8_complete(const wsp_utf8 *v);
/* One-shot check of a whole buffer. */
bool wsp_utf8_valid(const uint8_t *s, size_t len);

#endif
