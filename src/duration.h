/* duration.h - durations as users write them: 250ms, 2s, 5m, 1h, 1.5s, 100us; a bare number is
 * seconds. Pure. */
#ifndef WSP_DURATION_H
#define WSP_DURATION_H

#include <stdint.h>

/* Parse into microseconds. Returns 0, or -1 for anything else (empty, negative, unknown unit,
 * trailing text, overflow past 30 days). */
int wsp_duration_parse(const char *s, uint64_t *us_out);

#endif
