/* clock.h - the one clock of wsprobe: monotonic time for durations and deadlines, wall-clock
 * time for what a peer or a report must read as a date (JWT exp, log timestamps). */
#ifndef WSP_CLOCK_H
#define WSP_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds: durations, deadlines (never goes back). */
uint64_t wsp_clock_mono_ns(void);
/* CLOCK_MONOTONIC in milliseconds, as a double (for reports of durations). */
double wsp_clock_mono_ms(void);
/* CLOCK_REALTIME in milliseconds since the Unix epoch (dates: exp, iat, log lines). */
int64_t wsp_clock_real_ms(void);

#endif
