/* duration.c - see duration.h. */
#include "duration.h"

#include <string.h>

#define US_MAX (30ull * 24 * 3600 * 1000000ull)

int wsp_duration_parse(const char *s, uint64_t *us_out)
{
    if (!s || !*s)
        return -1;
    /* integer part and up to 6 fractional digits, in fixed point (no floating rounding) */
    uint64_t whole = 0, frac = 0, frac_scale = 1;
    const char *p = s;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
        whole = whole * 10 + (uint64_t)(*p - '0');
        if (whole > US_MAX)
            return -1;
        p++;
        digits++;
    }
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            if (frac_scale < 1000000) {
                frac = frac * 10 + (uint64_t)(*p - '0');
                frac_scale *= 10;
            }
            p++;
            digits++;
        }
    }
    if (digits == 0)
        return -1;
    uint64_t unit;
    if (*p == '\0' || strcmp(p, "s") == 0)
        unit = 1000000;
    else if (strcmp(p, "ms") == 0)
        unit = 1000;
    else if (strcmp(p, "us") == 0)
        unit = 1;
    else if (strcmp(p, "m") == 0)
        unit = 60000000;
    else if (strcmp(p, "h") == 0)
        unit = 3600000000ull;
    else
        return -1;
    if (whole > US_MAX / unit)
        return -1;
    uint64_t us = whole * unit + frac * unit / frac_scale;
    if (us > US_MAX)
        return -1;
    *us_out = us;
    return 0;
}
