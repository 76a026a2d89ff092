/* duration.h - durations and sizes as users write them. Durations: 250ms, 2s, 5m, 1h, 1.5s,
 * 100us; a bare number is seconds. Sizes: 123, 64K, 16M, 4G, 1T (powers of 1024, an optional
 * trailing B or iB). Pure. */
#ifndef WSP_DURATION_H
#define WSP_DURATION_H

#include <stdint.h>

/* Parse into microseconds. Returns 0, or -1 for anything else (empty, negative, unknown unit,
 * trailing text, overflow past 30 days). */
int wsp_duration_parse(const char *s, uint64_t *us_out);

/* Parse a size into bytes, from 1 to `max`. Returns 0, or -1 (empty, zero, unknown unit,
 * trailing text, above max). */
int wsp_size_parse(const char *s, uint64_t max, uint64_t *bytes_out);

#endif
