/* duration.c - see duration.h. */
#include "util/duration.h"

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

int wsp_size_parse(const char *s, uint64_t max, uint64_t *bytes_out)
{
    if (!s || *s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    unsigned shift = 0;
    switch (*s) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    default:
        break;
    }
    if (shift)
        s++;
    if (strcmp(s, "iB") == 0 && shift)
        s += 2;
    else if (strcmp(s, "B") == 0)
        s++;
    if (*s || v == 0 || v > (max >> shift))
        return -1;
    *bytes_out = v << shift;
    return 0;
}
