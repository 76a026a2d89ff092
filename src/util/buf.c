/* buf.c - see buf.h. */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wsp_buf_reserve(wsp_buf *b, size_t need)
{
    if (b->failed)
        return -1;
    if (b->max && need > b->max) {
        b->failed = true;
        return -1;
    }
    if (need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need + 1)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
        b->failed = true;
        return -1;
    }
    b->p = np;
    b->cap = cap;
    return 0;
}

int wsp_buf_put(wsp_buf *b, const void *data, size_t n)
{
    if (wsp_buf_reserve(b, b->len + n) != 0)
        return -1;
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int wsp_buf_puts(wsp_buf *b, const char *s)
{
    return wsp_buf_put(b, s, strlen(s));
}

int wsp_buf_vprintf(wsp_buf *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    int rc = -1;
    if (n >= 0 && wsp_buf_reserve(b, b->len + (size_t)n) == 0) {
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, again);
        b->len += (size_t)n;
        rc = 0;
    }
    va_end(again);
    return rc;
}

int wsp_buf_printf(wsp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = wsp_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void wsp_buf_clear(wsp_buf *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

char *wsp_buf_take(wsp_buf *b, size_t *len_out)
{
    if (b->failed || (!b->p && wsp_buf_reserve(b, 0) != 0)) {
        wsp_buf_free(b);
        return NULL;
    }
    b->p[b->len] = '\0';
    char *p = b->p;
    if (len_out)
        *len_out = b->len;
    size_t max = b->max;
    memset(b, 0, sizeof *b);
    b->max = max;
    return p;
}

void wsp_buf_free(wsp_buf *b)
{
    free(b->p);
    size_t max = b->max;
    memset(b, 0, sizeof *b);
    b->max = max;
}
