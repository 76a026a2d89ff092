/* buf.h - the one growable byte buffer: always NUL-terminated, doubling, with an optional cap
 * past which appends fail (a report summary, a transcript). An allocation failure or the cap
 * sets `failed`, after which every append is a no-op returning -1, so a writer may check once
 * at the end. */
#ifndef WSP_BUF_H
#define WSP_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wsp_buf {
    char *p;    /* NULL until the first append; then NUL-terminated */
    size_t len; /* bytes, the NUL not counted */
    size_t cap;
    size_t max; /* 0: no cap; else appends that would pass max bytes fail */
    bool failed;
} wsp_buf;

#define WSP_BUF_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0, 0, false                                                                       \
    }

/* Room for `need` bytes of content (and the NUL). 0 or -1. */
int wsp_buf_reserve(wsp_buf *b, size_t need);
int wsp_buf_put(wsp_buf *b, const void *data, size_t n);
int wsp_buf_puts(wsp_buf *b, const char *s);
int wsp_buf_printf(wsp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int wsp_buf_vprintf(wsp_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Empty it (keeps the memory). */
void wsp_buf_clear(wsp_buf *b);
/* The content as a heap string the caller frees (an empty string for an empty buffer), and the
 * buffer reset; NULL (and the buffer freed) when it failed. */
char *wsp_buf_take(wsp_buf *b, size_t *len_out);
void wsp_buf_free(wsp_buf *b);

#endif
