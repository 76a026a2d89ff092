/* excerpt.c - see excerpt.h. */
#include "util/excerpt.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

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

size_t wsp_hex_excerpt(char *out, size_t cap, const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *d = data;
    char tail[32];
    int tl = snprintf(tail, sizeof tail, " (%zu bytes)", len);
    size_t room = cap > (size_t)tl + 4 ? cap - (size_t)tl - 4 : 0, n = 0, i = 0;
    for (; i < len && n + 2 <= room; i++) {
        out[n++] = digits[d[i] >> 4];
        out[n++] = digits[d[i] & 15];
    }
    if (i < len && n + 3 < cap) {
        memcpy(out + n, "...", 3);
        n += 3;
    }
    if (n + (size_t)tl < cap) {
        memcpy(out + n, tail, (size_t)tl);
        n += (size_t)tl;
    }
    if (cap)
        out[n < cap ? n : cap - 1] = '\0';
    return n;
}
