/* clock.c - see clock.h. */
#include "util/clock.h"

#include <time.h>

uint64_t wsp_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double wsp_clock_mono_ms(void)
{
    return (double)wsp_clock_mono_ns() / 1e6;
}

int64_t wsp_clock_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
