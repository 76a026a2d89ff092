/* excerpt.h - a printable excerpt of bytes from a peer, for messages and reports: printable
 * ASCII kept, every other byte shown as '.', so an excerpt can never drive a terminal or break
 * a line. One rule for every module that quotes what a peer sent. */
#ifndef WSP_EXCERPT_H
#define WSP_EXCERPT_H

#include <stddef.h>

/* Write at most min(len, cap - 1) characters of `data` to `out` (NUL-terminated; cap > 0).
 * Returns the number written. */
size_t wsp_excerpt(char *out, size_t cap, const void *data, size_t len);
/* The same, stopping at the first CR or LF: the first line of a peer's answer. */
size_t wsp_excerpt_line(char *out, size_t cap, const void *data, size_t len);
/* Binary data as lowercase hex, "0a1b2c...", as many whole bytes as fit (with "..." when cut,
 * and "(N bytes)" after). Returns the number of characters written. */
size_t wsp_hex_excerpt(char *out, size_t cap, const void *data, size_t len);

#endif
