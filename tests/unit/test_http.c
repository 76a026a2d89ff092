/* test_http.c - the response and request head parsers, table-driven. Every input is copied into
 * a heap buffer of exactly its length (ASan catches any read past it), and every case is also fed
 * cut at every byte: a prefix of a good head must be PARTIAL, a prefix of a bad one PARTIAL or
 * the error, and once a prefix is an error every longer one is too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codec/http.h"

/* A string literal with its length, so inputs may hold NUL bytes. */
#define S(lit) lit, sizeof(lit) - 1

#define CAP 8 /* headers array of the table cases */

typedef struct hdr {
    const char *name, *value;
} hdr;

typedef struct msg_case {
    const char *in;
    size_t in_len;
    int want; /* bytes consumed (0: all of them), or WSP_HTTP_ERROR */
    const char *why;
    int status; /* response: status; request: unused */
    int minor;
    const char *first;  /* response: reason; request: method */
    const char *second; /* request: target */
    size_t n;
    hdr h[CAP];
} msg_case;

static char *exact_copy(const char *s, size_t n)
{
    char *p = malloc(n); /* malloc(0) is fine: any read of it is an ASan report */
    if (n)
        assert_non_null(p);
    if (n)
        memcpy(p, s, n);
    return p;
}

static void check_counted(const char *got, size_t got_len, const char *want, const char *ctx)
{
    if (got_len != strlen(want) || memcmp(got, want, got_len) != 0)
        fail_msg("%s: got '%.*s', want '%s'", ctx, (int)got_len, got, want);
}

/* Parse `c` whole and checks every field, then at every cut. */
static void run_case(bool request, const msg_case *c, size_t idx)
{
    size_t len = c->in_len;
    const int want = c->want == 0 ? (int)len : c->want;
    char *copy = exact_copy(c->in, len);
    wsp_http_header h[CAP];
    wsp_http_response res;
    wsp_http_request req;
    memset(&res, 0, sizeof res);
    memset(&req, 0, sizeof req);
    const char *why = NULL;
    int r;
    if (request) {
        req.headers = h;
        req.num_headers = CAP;
        r = wsp_http_parse_request(copy, len, &req, &why);
    } else {
        res.headers = h;
        res.num_headers = CAP;
        r = wsp_http_parse_response(copy, len, &res, &why);
    }
    if (r != want)
        fail_msg("case %zu (%.*s): got %d (%s), want %d", idx, (int)(len > 40 ? 40 : len), c->in, r,
                 why ? why : "-", want);
    if (r == WSP_HTTP_ERROR) {
        if (!why || strcmp(why, c->why) != 0)
            fail_msg("case %zu: why is '%s', want '%s'", idx, why ? why : "(null)", c->why);
    } else {
        size_t n;
        const wsp_http_header *hh;
        if (request) {
            check_counted(req.method, req.method_len, c->first, "method");
            check_counted(req.target, req.target_len, c->second, "target");
            assert_int_equal(req.minor_version, c->minor);
            n = req.num_headers;
            hh = req.headers;
        } else {
            assert_int_equal(res.status, c->status);
            assert_int_equal(res.minor_version, c->minor);
            check_counted(res.reason, res.reason_len, c->first, "reason");
            n = res.num_headers;
            hh = res.headers;
        }
        assert_int_equal(n, c->n);
        for (size_t i = 0; i < n; i++) {
            check_counted(hh[i].name, hh[i].name_len, c->h[i].name, "header name");
            check_counted(hh[i].value, hh[i].value_len, c->h[i].value, "header value");
            /* results point into the caller's buffer */
            assert_true(hh[i].name >= copy && hh[i].value + hh[i].value_len <= copy + len);
        }
    }
    free(copy);

    /* every cut */
    bool erred = false;
    for (size_t k = 0; k < len; k++) {
        wsp_http_response pres;
        wsp_http_request preq;
        memset(&pres, 0x5a, sizeof pres);
        memset(&preq, 0x5a, sizeof preq);
        why = NULL;
        copy = exact_copy(c->in, k);
        if (request) {
            preq.headers = h;
            preq.num_headers = CAP;
            r = wsp_http_parse_request(copy, k, &preq, &why);
        } else {
            pres.headers = h;
            pres.num_headers = CAP;
            r = wsp_http_parse_response(copy, k, &pres, &why);
        }
        free(copy);
        if (want > 0 && (size_t)want <= k) {
            if (r != want)
                fail_msg("case %zu cut at %zu: got %d, want %d", idx, k, r, want);
            continue;
        }
        if (want > 0 && r != WSP_HTTP_PARTIAL)
            fail_msg("case %zu cut at %zu: got %d (%s), want PARTIAL", idx, k, r, why ? why : "-");
        if (want == WSP_HTTP_ERROR) {
            if (r != WSP_HTTP_PARTIAL && r != WSP_HTTP_ERROR)
                fail_msg("case %zu cut at %zu: got %d from a bad head", idx, k, r);
            if (erred && r != WSP_HTTP_ERROR)
                fail_msg("case %zu cut at %zu: error, then PARTIAL on more bytes", idx, k);
            if (r == WSP_HTTP_ERROR) {
                erred = true;
                assert_non_null(why);
            }
        }
        if (r < 0) { /* the struct is left alone: it can be passed again */
            if (request)
                assert_int_equal(preq.num_headers, CAP);
            else
                assert_int_equal(pres.num_headers, CAP);
        }
    }
}

#define UPGRADE_101                                                                                \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"            \
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
#define H101                                                                                       \
    {                                                                                              \
        {"Upgrade", "websocket"}, {"Connection", "Upgrade"},                                       \
        {                                                                                          \
            "Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="                                 \
        }                                                                                          \
    }

#define WHY_START "the response does not start with 'HTTP/1.'"
#define WHY_VERSION "the status line does not start with an HTTP/1.x version"
#define WHY_STATUS_LINE "the status line is not 'HTTP/1.x NNN reason'"
#define WHY_STATUS "the status code is not three digits from 100 to 999"
#define WHY_FOLD "a header line starts with whitespace (obsolete line folding)"
#define WHY_WS_COLON "a header has whitespace between its name and the colon"
#define WHY_NO_COLON "a header line has no colon"
#define WHY_NAME "a header name is empty or has a character not allowed in a token"
#define WHY_NUL "the head contains a NUL byte"
#define WHY_CTL "the head contains a control byte"
#define WHY_CR "the head contains a bare CR (a CR not followed by LF)"
#define WHY_LINE "a line of the head is longer than 8192 bytes (WSP_HTTP_LINE_MAX)"
#define WHY_HEAD "the head is longer than 65536 bytes (WSP_HTTP_HEAD_MAX)"
#define WHY_MANY "the head has more headers than the parser was given room for"
#define WHY_METHOD "the request line does not start with a method token and a space"
#define WHY_TARGET "the request target is empty or has a byte that is not visible ASCII"
#define WHY_REQ_VERSION "the request line does not end with an HTTP/1.x version"

static const msg_case responses[] = {
    {S(UPGRADE_101), 0, NULL, 101, 1, "Switching Protocols", NULL, 3, H101},
    /* bare LF, and a mix */
    {S("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\n"
       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n\n"),
     0, NULL, 101, 1, "Switching Protocols", NULL, 3, H101},
    {S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\n\r\n"),
     0, NULL, 101, 1, "Switching Protocols", NULL, 3, H101},
    /* WebSocket frames right behind the head are not consumed */
    {S("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\n\r\n\x81\x02hi"),
     39,
     NULL,
     101,
     1,
     "OK",
     NULL,
     1,
     {{"Upgrade", "websocket"}}},
    {S("HTTP/1.1 101 OK\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"), 19, NULL, 101, 1, "OK", NULL, 0, {{0}}},
    /* reason: empty, missing, with spaces, obs-text */
    {S("HTTP/1.1 200\r\n\r\n"), 0, NULL, 200, 1, "", NULL, 0, {{0}}},
    {S("HTTP/1.1 200 \r\n\r\n"), 0, NULL, 200, 1, "", NULL, 0, {{0}}},
    {S("HTTP/1.0 404 Not  Found \r\n\r\n"), 0, NULL, 404, 0, "Not  Found", NULL, 0, {{0}}},
    {S("HTTP/1.1 200 \xc3\xa9t\xe9\tok\r\n\r\n"),
     0,
     NULL,
     200,
     1,
     "\xc3\xa9t\xe9\tok",
     NULL,
     0,
     {{0}}},
    {S("HTTP/1.1 100 Continue\r\n\r\n"), 0, NULL, 100, 1, "Continue", NULL, 0, {{0}}},
    {S("HTTP/1.1 999 Odd\r\n\r\n"), 0, NULL, 999, 1, "Odd", NULL, 0, {{0}}},
    {S("HTTP/1.9 200 OK\r\n\r\n"), 0, NULL, 200, 9, "OK", NULL, 0, {{0}}},
    /* values: whitespace trimmed, empty, obs-text, inner whitespace kept, colons kept */
    {S("HTTP/1.1 200 OK\r\nA:   x  y \t\r\nB:\r\nC: \t \r\nD: \xff\x80\r\nE:http://h:1/\r\n\r\n"),
     0,
     NULL,
     200,
     1,
     "OK",
     NULL,
     5,
     {{"A", "x  y"}, {"B", ""}, {"C", ""}, {"D", "\xff\x80"}, {"E", "http://h:1/"}}},
    /* every tchar in a name */
    {S("HTTP/1.1 200 OK\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n"),
     0,
     NULL,
     200,
     1,
     "OK",
     NULL,
     1,
     {{"!#$%&'*+-.^_`|~09azAZ", "v"}}},
    /* exactly the header array's capacity */
    {S("HTTP/1.1 200 OK\r\na:1\r\nb:2\r\nc:3\r\nd:4\r\ne:5\r\nf:6\r\ng:7\r\nh:8\r\n\r\n"),
     0,
     NULL,
     200,
     1,
     "OK",
     NULL,
     8,
     {{"a", "1"},
      {"b", "2"},
      {"c", "3"},
      {"d", "4"},
      {"e", "5"},
      {"f", "6"},
      {"g", "7"},
      {"h", "8"}}},

    /* not HTTP at all: refused from the first wrong byte */
    {S("SSH-2.0-OpenSSH_9.2\r\n"), WSP_HTTP_ERROR, WHY_START},
    {S("\x15\x03\x01\x00\x02\x02\x28"), WSP_HTTP_ERROR, WHY_START},
    {S("<html><body>hi</body></html>\n\n"), WSP_HTTP_ERROR, WHY_START},
    {S("http/1.1 200 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_START},
    {S("HTTP/2 200\r\n\r\n"), WSP_HTTP_ERROR, WHY_START},
    {S("HTTP/1 200 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_START},
    {S("\r\nHTTP/1.1 200 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_START},
    /* bad versions and status lines */
    {S("HTTP/1.x 200 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_VERSION},
    {S("HTTP/1.\r\n\r\n"), WSP_HTTP_ERROR, WHY_VERSION},
    {S("HTTP/1.10 200 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_STATUS_LINE},
    {S("HTTP/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_STATUS_LINE},
    {S("HTTP/1.1\t200 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_STATUS_LINE},
    {S("HTTP/1.1 20 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_STATUS},
    {S("HTTP/1.1 20\r\n\r\n"), WSP_HTTP_ERROR, WHY_STATUS_LINE},
    {S("HTTP/1.1 2000 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_STATUS},
    {S("HTTP/1.1 099 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_STATUS},
    {S("HTTP/1.1 abc OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_STATUS},
    {S("HTTP/1.1  200 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_STATUS},
    {S("HTTP/1.1 -20 OK\r\n\r\n"), WSP_HTTP_ERROR, WHY_STATUS},
    /* headers */
    {S("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n"), WSP_HTTP_ERROR, WHY_FOLD},
    {S("HTTP/1.1 200 OK\r\nA: b\r\n\tfolded\r\n\r\n"), WSP_HTTP_ERROR, WHY_FOLD},
    {S("HTTP/1.1 200 OK\r\n A: b\r\n\r\n"), WSP_HTTP_ERROR, WHY_FOLD},
    {S("HTTP/1.1 200 OK\r\nA : b\r\n\r\n"), WSP_HTTP_ERROR, WHY_WS_COLON},
    {S("HTTP/1.1 200 OK\r\nA\t: b\r\n\r\n"), WSP_HTTP_ERROR, WHY_WS_COLON},
    {S("HTTP/1.1 200 OK\r\nNoColon\r\n\r\n"), WSP_HTTP_ERROR, WHY_NO_COLON},
    {S("HTTP/1.1 200 OK\r\n: v\r\n\r\n"), WSP_HTTP_ERROR, WHY_NAME},
    {S("HTTP/1.1 200 OK\r\nNa(me: v\r\n\r\n"), WSP_HTTP_ERROR, WHY_NAME},
    {S("HTTP/1.1 200 OK\r\nN\xc3\xa9: v\r\n\r\n"), WSP_HTTP_ERROR, WHY_NAME},
    {S("HTTP/1.1 200 OK\r\nA/b: v\r\n\r\n"), WSP_HTTP_ERROR, WHY_NAME},
    /* NUL, controls, bare CR: anywhere */
    {S("HTTP/1.1 200 OK\r\nA\0: v\r\n\r\n"), WSP_HTTP_ERROR, WHY_NUL},
    {S("HTTP/1.1 200 OK\r\nA: v\0w\r\n\r\n"), WSP_HTTP_ERROR, WHY_NUL},
    {S("HTTP/1.1 200 O\0K\r\n\r\n"), WSP_HTTP_ERROR, WHY_NUL},
    {S("HTTP/1.1 200 OK\r\nA: v\x01w\r\n\r\n"), WSP_HTTP_ERROR, WHY_CTL},
    {S("HTTP/1.1 200 OK\r\nA: v\x7f\r\n\r\n"), WSP_HTTP_ERROR, WHY_CTL},
    {S("HTTP/1.1 200 OK\x1b[31m\r\n\r\n"), WSP_HTTP_ERROR, WHY_CTL},
    {S("HTTP/1.1 200 OK\rA: v\r\n\r\n"), WSP_HTTP_ERROR, WHY_CR},
    {S("HTTP/1.1 200 OK\r\nA: v\rw\r\n\r\n"), WSP_HTTP_ERROR, WHY_CR},
    {S("HTTP/1.1 200 OK\r\nA: v\r\n\r\r\n"), WSP_HTTP_ERROR, WHY_CR},
    {S("HTTP/1.1 200 OK\r\r\n\r\n"), WSP_HTTP_ERROR, WHY_CR},
    /* one header more than the array holds */
    {S("HTTP/1.1 200 OK\r\na:1\r\nb:2\r\nc:3\r\nd:4\r\ne:5\r\nf:6\r\ng:7\r\nh:8\r\ni:9\r\n\r\n"),
     WSP_HTTP_ERROR, WHY_MANY},
};

static const msg_case requests[] = {
    {S("GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n"),
     0,
     NULL,
     0,
     1,
     "GET",
     "/chat",
     5,
     {{"Host", "server.example.com"},
      {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Sec-WebSocket-Version", "13"}}},
    {S("GET /a?b=c&d=%20 HTTP/1.0\nHost: h\n\nbody"),
     35,
     NULL,
     0,
     0,
     "GET",
     "/a?b=c&d=%20",
     1,
     {{"Host", "h"}}},
    {S("OPTIONS * HTTP/1.1\r\n\r\n"), 0, NULL, 0, 1, "OPTIONS", "*", 0, {{0}}},
    {S("get http://h:1/x HTTP/1.1\r\n\r\n"), 0, NULL, 0, 1, "get", "http://h:1/x", 0, {{0}}},
    {S("M-SEARCH ~!$&'()*+,;=:@/? HTTP/1.1\r\nX:\r\n\r\n"),
     0,
     NULL,
     0,
     1,
     "M-SEARCH",
     "~!$&'()*+,;=:@/?",
     1,
     {{"X", ""}}},

    {S("GET  / HTTP/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_TARGET},
    {S("GET / HTTP/1.1 x\r\n\r\n"), WSP_HTTP_ERROR, WHY_REQ_VERSION},
    {S("GET /  HTTP/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_REQ_VERSION},
    {S("GET / HTTP/2.0\r\n\r\n"), WSP_HTTP_ERROR, WHY_REQ_VERSION},
    {S("GET / http/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_REQ_VERSION},
    {S("GET / HTTP/1.1x\r\n\r\n"), WSP_HTTP_ERROR, WHY_REQ_VERSION},
    {S("GET /\r\n\r\n"), WSP_HTTP_ERROR, WHY_TARGET},
    {S("GET\r\n\r\n"), WSP_HTTP_ERROR, WHY_METHOD},
    {S(" GET / HTTP/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_METHOD},
    {S("\r\nGET / HTTP/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_METHOD},
    {S("GE(T / HTTP/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_METHOD},
    {S("GET\t/ HTTP/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_METHOD},
    {S("GET /\xc3\xa9 HTTP/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_TARGET},
    {S("GET /\x7f HTTP/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_CTL},
    {S("GET /\0 HTTP/1.1\r\n\r\n"), WSP_HTTP_ERROR, WHY_NUL},
    {S("GET / HTTP/1.1\rHost: h\r\n\r\n"), WSP_HTTP_ERROR, WHY_CR},
    {S("GET / HTTP/1.1\r\nHost: h\r\n x\r\n\r\n"), WSP_HTTP_ERROR, WHY_FOLD},
    {S("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), WSP_HTTP_ERROR, WHY_WS_COLON},
    {S("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), WSP_HTTP_ERROR, WHY_CTL},
};

static void test_responses(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof responses / sizeof responses[0]; i++)
        run_case(false, &responses[i], i);
}

static void test_requests(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
        run_case(true, &requests[i], i);
}

/* "HTTP/1.1 200 " and 'r' up to `content` bytes, then (with `eol`) the end of the head; in a
 * buffer of exactly that size. */
static char *status_line(size_t content, bool eol, size_t *len)
{
    size_t n = content + (eol ? 4 : 0);
    char *b = malloc(n);
    assert_non_null(b);
    memcpy(b, "HTTP/1.1 200 ", 13);
    memset(b + 13, 'r', content - 13);
    if (eol)
        memcpy(b + content, "\r\n\r\n", 4);
    *len = n;
    return b;
}

static int parse_res(const char *b, size_t n, size_t cap, const char **why)
{
    wsp_http_header h[WSP_HTTP_HEADERS_MAX];
    wsp_http_response res = {.headers = h, .num_headers = cap};
    return wsp_http_parse_response(b, n, &res, why);
}

static void test_line_cap(void **state)
{
    (void)state;
    const char *why = NULL;
    size_t n;
    char *b = status_line(WSP_HTTP_LINE_MAX, true, &n);
    assert_int_equal(parse_res(b, n, 0, &why), (int)n);
    free(b);
    b = status_line(WSP_HTTP_LINE_MAX + 1, true, &n);
    assert_int_equal(parse_res(b, n, 0, &why), WSP_HTTP_ERROR);
    assert_string_equal(why, WHY_LINE);
    free(b);
    /* an endless line: PARTIAL up to the cap, then the error without waiting for LF */
    b = status_line(WSP_HTTP_LINE_MAX, false, &n);
    assert_int_equal(parse_res(b, n, 0, &why), WSP_HTTP_PARTIAL);
    free(b);
    b = status_line(WSP_HTTP_LINE_MAX + 1, false, &n);
    why = NULL;
    assert_int_equal(parse_res(b, n, 0, &why), WSP_HTTP_ERROR);
    assert_string_equal(why, WHY_LINE);
    free(b);

    /* a header line over the cap */
    size_t hl = WSP_HTTP_LINE_MAX + 1;
    n = 17 + hl + 4;
    b = malloc(n);
    assert_non_null(b);
    memcpy(b, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(b + 20, 'v', n - 20);
    memcpy(b + n - 4, "\r\n\r\n", 4);
    why = NULL;
    assert_int_equal(parse_res(b, n, 4, &why), WSP_HTTP_ERROR);
    assert_string_equal(why, WHY_LINE);
    /* one byte shorter is fine */
    memcpy(b + n - 5, "\r\n\r\n", 4);
    assert_int_equal(parse_res(b, n - 1, 4, &why), (int)n - 1);
    free(b);
}

/* A head of exactly `total` bytes: a status line, then 1000-byte header lines, then (when
 * `complete`) the blank line. */
static char *head_of(size_t total, bool complete)
{
    char *b = malloc(total);
    assert_non_null(b);
    size_t end = complete ? total - 2 : total;
    size_t p = 0;
    memcpy(b, "HTTP/1.1 200 OK\r\n", 17);
    p = 17;
    while (p < end) {
        size_t line = end - p > 1000 ? 1000 : end - p;
        if (end - p - line < 12 && end - p > line) /* leave room for one more whole line */
            line = (end - p) / 2;
        memcpy(b + p, "X-Pad: ", 7);
        memset(b + p + 7, 'p', line - 7);
        if (complete || p + line < end)
            memcpy(b + p + line - 2, "\r\n", 2);
        p += line;
    }
    if (complete)
        memcpy(b + end, "\r\n", 2);
    return b;
}

static void test_head_cap(void **state)
{
    (void)state;
    const char *why = NULL;
    /* exactly WSP_HTTP_HEAD_MAX bytes, complete: accepted */
    char *b = head_of(WSP_HTTP_HEAD_MAX, true);
    assert_int_equal(parse_res(b, WSP_HTTP_HEAD_MAX, WSP_HTTP_HEADERS_MAX, &why),
                     WSP_HTTP_HEAD_MAX);
    /* one byte short of complete: PARTIAL */
    assert_int_equal(parse_res(b, WSP_HTTP_HEAD_MAX - 1, WSP_HTTP_HEADERS_MAX, &why),
                     WSP_HTTP_PARTIAL);
    free(b);
    /* one byte more than the cap: the error */
    b = head_of(WSP_HTTP_HEAD_MAX + 1, true);
    why = NULL;
    assert_int_equal(parse_res(b, WSP_HTTP_HEAD_MAX + 1, WSP_HTTP_HEADERS_MAX, &why),
                     WSP_HTTP_ERROR);
    assert_string_equal(why, WHY_HEAD);
    free(b);
    /* endless headers: a caller that stops at the cap gets the error, not PARTIAL */
    b = head_of(WSP_HTTP_HEAD_MAX, false);
    why = NULL;
    assert_int_equal(parse_res(b, WSP_HTTP_HEAD_MAX, WSP_HTTP_HEADERS_MAX, &why), WSP_HTTP_ERROR);
    assert_string_equal(why, WHY_HEAD);
    assert_int_equal(parse_res(b, WSP_HTTP_HEAD_MAX - 1, WSP_HTTP_HEADERS_MAX, &why),
                     WSP_HTTP_PARTIAL);
    free(b);
}

/* Endless tiny headers run into the header array's capacity before the head cap. */
static void test_too_many_headers(void **state)
{
    (void)state;
    size_t n = 17 + 4 * (WSP_HTTP_HEADERS_MAX + 1) + 2;
    char *b = malloc(n);
    assert_non_null(b);
    memcpy(b, "HTTP/1.1 200 OK\r\n", 17);
    for (size_t i = 0; i <= WSP_HTTP_HEADERS_MAX; i++)
        memcpy(b + 17 + 4 * i, "a:\r\n", 4);
    memcpy(b + n - 2, "\r\n", 2);
    const char *why = NULL;
    assert_int_equal(parse_res(b, n, WSP_HTTP_HEADERS_MAX, &why), WSP_HTTP_ERROR);
    assert_string_equal(why, WHY_MANY);
    /* exactly the capacity: accepted */
    memcpy(b + n - 6, "\r\n", 2);
    assert_int_equal(parse_res(b, n - 4, WSP_HTTP_HEADERS_MAX, &why), (int)n - 4);
    /* and with no room at all, even one header is too many */
    assert_int_equal(parse_res(b, n, 0, &why), WSP_HTTP_ERROR);
    free(b);
}

/* `why` may be NULL; an error still reports. */
static void test_why_optional(void **state)
{
    (void)state;
    char *b = exact_copy(S("HTTP/1.1 200 OK\r\nA : b\r\n\r\n"));
    assert_int_equal(parse_res(b, strlen("HTTP/1.1 200 OK\r\nA : b\r\n\r\n"), 4, NULL),
                     WSP_HTTP_ERROR);
    free(b);
    assert_int_equal(parse_res(NULL, 0, 4, NULL), WSP_HTTP_PARTIAL);
}

static void test_find_count(void **state)
{
    (void)state;
    const wsp_http_header h[] = {
        {"Upgrade", 7, "websocket", 9},
        {"set-cookie", 10, "a=1", 3},
        {"SET-COOKIE", 10, "b=2", 3},
        {"Set-Cookie2", 11, "c=3", 3},
    };
    assert_ptr_equal(wsp_http_find(h, 4, "upgrade"), &h[0]);
    assert_ptr_equal(wsp_http_find(h, 4, "Set-Cookie"), &h[1]);
    assert_null(wsp_http_find(h, 4, "Upgrad"));
    assert_null(wsp_http_find(h, 4, "Upgrades"));
    assert_null(wsp_http_find(h, 0, "Upgrade"));
    assert_int_equal(wsp_http_count(h, 4, "set-cookie"), 2);
    assert_int_equal(wsp_http_count(h, 4, "Set-Cookie2"), 1);
    assert_int_equal(wsp_http_count(h, 4, "nope"), 0);
}

typedef struct token_case {
    const char *value, *token;
    bool want;
} token_case;

static void test_has_token(void **state)
{
    (void)state;
    static const token_case cases[] = {
        {"Upgrade", "upgrade", true},
        {"keep-alive, Upgrade", "upgrade", true},
        {"keep-alive,Upgrade", "UPGRADE", true},
        {" \tupgrade\t , close", "upgrade", true},
        {"a,,b", "b", true},
        {",upgrade,", "upgrade", true},
        {"keep-alive", "upgrade", false},
        {"upgrade2", "upgrade", false},
        {"xupgrade", "upgrade", false},
        {"up grade", "upgrade", false},
        {"upgrade;q=1", "upgrade", false},
        {"", "upgrade", false},
        {" , ", "upgrade", false},
        {"a, b", "", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const token_case *c = &cases[i];
        size_t n = strlen(c->value);
        char *v = exact_copy(c->value, n);
        if (wsp_http_has_token(v, n, c->token) != c->want)
            fail_msg("has_token('%s', '%s') != %d", c->value, c->token, c->want);
        free(v);
    }
}

static void test_eq(void **state)
{
    (void)state;
    assert_true(wsp_http_eq("Host", 4, "host"));
    assert_true(wsp_http_eq("SEC-websocket-KEY", 17, "Sec-WebSocket-Key"));
    assert_true(wsp_http_eq("", 0, ""));
    assert_false(wsp_http_eq("Hos", 3, "host"));
    assert_false(wsp_http_eq("Hostx", 5, "host"));
    assert_false(wsp_http_eq("Host", 3, "host"));
    assert_false(wsp_http_eq("H0st", 4, "host"));
    assert_false(wsp_http_eq("@", 1, "`")); /* not folded: only A-Z */
}

static void test_is_token(void **state)
{
    (void)state;
    assert_true(wsp_http_is_token("Sec-WebSocket-Key", 17));
    assert_true(wsp_http_is_token("!#$%&'*+-.^_`|~09azAZ", 21));
    assert_true(wsp_http_is_token("a b", 1)); /* the length counts */
    assert_false(wsp_http_is_token("", 0));
    assert_false(wsp_http_is_token("a b", 3));
    assert_false(wsp_http_is_token("a:", 2));
    assert_false(wsp_http_is_token("a\0", 2));
    assert_false(wsp_http_is_token("(a)", 3));
    assert_false(wsp_http_is_token("\xc3\xa9", 2));
}

/* What a header value may hold (RFC 9110 5.5) and what a subprotocol list must be (RFC 6455
 * 4.1): the parse-time checks of every command. */
static void test_value_bytes_and_token_lists(void **state)
{
    (void)state;
    assert_null(wsp_http_bad_value_byte("https://a.example:8443"));
    assert_null(wsp_http_bad_value_byte("tab\there \x80\xff obs-text"));
    const char *v = "ok\r\nX: 1";
    assert_ptr_equal(wsp_http_bad_value_byte(v), v + 2);
    assert_non_null(wsp_http_bad_value_byte("\x01"));
    assert_non_null(wsp_http_bad_value_byte("del\x7f"));
    const char *bad;
    size_t bl;
    assert_true(wsp_http_token_list_ok("chat.v1", &bad, &bl));
    assert_true(wsp_http_token_list_ok("a, b ,\tc", &bad, &bl));
    const char *l = "a,,b";
    assert_false(wsp_http_token_list_ok(l, &bad, &bl));
    assert_ptr_equal(bad, l + 2);
    assert_int_equal(bl, 0);
    l = "a,b c";
    assert_false(wsp_http_token_list_ok(l, &bad, &bl));
    assert_ptr_equal(bad, l + 2);
    assert_int_equal(bl, 3);
    assert_false(wsp_http_token_list_ok("", &bad, &bl));
    assert_false(wsp_http_token_list_ok("a,", &bad, &bl));
    assert_false(wsp_http_token_list_ok("a/b", &bad, &bl));
}

/* Basic credentials (RFC 7617), as the exporter's web configuration reads them. */
static void test_basic_decode(void **state)
{
    (void)state;
    char u[32], p[32];
    const char *v = "Basic cHJvbTpwdy0x"; /* prom:pw-1 */
    assert_int_equal(wsp_http_basic_decode(v, strlen(v), u, sizeof u, p, sizeof p), 0);
    assert_string_equal(u, "prom");
    assert_string_equal(p, "pw-1");
    v = "basic   YTpiOmM="; /* a:b:c: the password may hold ':' */
    assert_int_equal(wsp_http_basic_decode(v, strlen(v), u, sizeof u, p, sizeof p), 0);
    assert_string_equal(u, "a");
    assert_string_equal(p, "b:c");
    static const char *const bad[] = {
        "Bearer cHJvbTpwdy0x",
        "Basic",
        "Basic cHJvbQ==" /* no ':' */,
        "Basic cHJv*bTp",
        "Basic YTpi=YQ==" /* data after padding */,
        "Basic YQphOmI=" /* a\na:b */,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(wsp_http_basic_decode(bad[i], strlen(bad[i]), u, sizeof u, p, sizeof p),
                         -1);
    v = "Basic cHJvbTpwdy0x";
    assert_int_equal(wsp_http_basic_decode(v, strlen(v), u, 4, p, sizeof p), -1); /* "prom" */
    assert_int_equal(wsp_http_basic_decode(v, strlen(v), u, 5, p, 4), -1);        /* "pw-1" */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_responses),
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_line_cap),
        cmocka_unit_test(test_head_cap),
        cmocka_unit_test(test_too_many_headers),
        cmocka_unit_test(test_why_optional),
        cmocka_unit_test(test_find_count),
        cmocka_unit_test(test_has_token),
        cmocka_unit_test(test_eq),
        cmocka_unit_test(test_is_token),
        cmocka_unit_test(test_value_bytes_and_token_lists),
        cmocka_unit_test(test_basic_decode),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
