/* excerpt.c - see excerpt.h. */
#include "util/excerpt.h"

size_t wsp_excerpt(char *out, size_t cap, const void *data, size_t len)
{
    const unsigned char *d = data;
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++)
        out[n++] = (d[i] >= 32 && d[i] < 127) ? (char)d[i] : '.';
    out[n] = '\0';
    return n;
}

size_t wsp_excerpt_line(char *out, size_t cap, const void *data, size_t len)
{
    const unsigned char *d = data;
    size_t n = 0;
    while (n < len && d[n] != '\r' && d[n] != '\n')
        n++;
    return wsp_excerpt(out, cap, data, n);
}
