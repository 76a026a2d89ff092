/* fuzz_http.h - shared by the two head-parser harnesses: each input is parsed from an
 * exact-size heap copy, first cut at a point the input chooses, then whole, and the results
 * must agree with the parser's contract (http.h). */
#ifndef WSP_FUZZ_HTTP_H
#define WSP_FUZZ_HTTP_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/http.h"

/* Parse `len` bytes of `data` from their own exact-size heap buffer. The buffer is freed before
 * returning, so a caller may look only at the return value and the header count. */
typedef int (*fz_http_parse_fn)(const char *buf, size_t len, wsp_http_header *h, size_t cap,
                                size_t *count, const char **why, void *ud);

static int fz_http_once(fz_http_parse_fn parse, const uint8_t *data, size_t len, void *ud)
{
    char *buf = malloc(len);
    if (len && !buf)
        abort();
    if (len)
        memcpy(buf, data, len);
    wsp_http_header h[WSP_HTTP_HEADERS_MAX];
    size_t count = WSP_HTTP_HEADERS_MAX;
    const char *why = NULL;
    int r = parse(buf, len, h, WSP_HTTP_HEADERS_MAX, &count, &why, ud);
    if (r == WSP_HTTP_ERROR && (!why || !why[0]))
        abort();
    if (r < 0 && count != WSP_HTTP_HEADERS_MAX) /* the struct is left alone */
        abort();
    if (r > 0) {
        if ((size_t)r > len || r > WSP_HTTP_HEAD_MAX || count > WSP_HTTP_HEADERS_MAX)
            abort();
        for (size_t i = 0; i < count; i++)
            if (h[i].name < buf || h[i].value + h[i].value_len > buf + r || h[i].name_len == 0)
                abort();
    } else if (r != WSP_HTTP_PARTIAL && r != WSP_HTTP_ERROR) {
        abort();
    }
    free(buf);
    return r;
}

/* The cut point is a hash of the input, so every mutation moves it. */
static void fz_http_run(fz_http_parse_fn parse, const uint8_t *data, size_t size, void *ud)
{
    uint32_t hash = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        hash = (hash ^ data[i]) * 16777619u;
    size_t cut = hash % (size + 1);
    int part = fz_http_once(parse, data, cut, ud);
    int whole = fz_http_once(parse, data, size, ud);
    if (part > 0 && whole != part) /* a complete head stays complete */
        abort();
    if (part == WSP_HTTP_ERROR && whole != WSP_HTTP_ERROR) /* an error stays an error */
        abort();
    if (whole > 0 && cut < (size_t)whole && part != WSP_HTTP_PARTIAL) /* a good head's prefix */
        abort();
    if (whole > 0 && fz_http_once(parse, data, (size_t)whole, ud) != whole)
        abort();
}

#endif
