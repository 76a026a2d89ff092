/* http.h - HTTP/1.1 message-head parsers for the upgrade handshake (client: response; server:
 * request). Pure and zero-allocation in the manner of picohttpparser: results point into the
 * caller's buffer, which must outlive them.
 *
 * Return contract of the parse functions:
 *   > 0              the head is complete; the value is the number of bytes it took (through the
 *                    blank line). Bytes after it belong to the next layer (WebSocket frames,
 *                    a body).
 *   WSP_HTTP_PARTIAL the head is not complete yet: call again with more bytes (the whole buffer
 *                    from the start, not only the new bytes).
 *   WSP_HTTP_ERROR   malformed, or over a cap; `*why` (if not NULL) gets a static sentence.
 *
 * Caps (each an error, never a truncation): a line longer than WSP_HTTP_LINE_MAX, more headers
 * than the caller's array, a head longer than WSP_HTTP_HEAD_MAX. A caller that buffers must stop
 * reading at WSP_HTTP_HEAD_MAX bytes and call the parser, which then reports the error.
 *
 * Control bytes, a bare CR and the caps are reported as soon as they are seen, even in an
 * incomplete head. On PARTIAL and ERROR the result struct is left as it was, except that
 * entries of the headers array may have been written: num_headers still holds the capacity,
 * so the same struct can be passed again when more bytes arrive.
 */
#ifndef WSP_HTTP_H
#define WSP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define WSP_HTTP_PARTIAL (-2)
#define WSP_HTTP_ERROR (-1)

#define WSP_HTTP_LINE_MAX 8192
#define WSP_HTTP_HEAD_MAX 65536
#define WSP_HTTP_HEADERS_MAX 100

typedef struct wsp_http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing whitespace removed */
    size_t value_len;
} wsp_http_header;

typedef struct wsp_http_response {
    int minor_version; /* 1 for HTTP/1.1, 0 for HTTP/1.0 */
    int status;        /* 100..999 */
    const char *reason;
    size_t reason_len;
    wsp_http_header *headers; /* caller's array */
    size_t num_headers;       /* in: capacity of headers; out: count */
} wsp_http_response;

typedef struct wsp_http_request {
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    int minor_version;
    wsp_http_header *headers;
    size_t num_headers; /* in: capacity; out: count */
} wsp_http_request;

/* Parse a status line and headers. Accepts CRLF and bare LF line ends; refuses obsolete line
 * folding, NUL and other control bytes, header names that are not tokens, and status lines that
 * are not "HTTP/1.x NNN reason". */
int wsp_http_parse_response(const char *buf, size_t len, wsp_http_response *res, const char **why);

/* Parse a request line and headers, same rules. */
int wsp_http_parse_request(const char *buf, size_t len, wsp_http_request *req, const char **why);

/* First header named `name` (case-insensitive), or NULL. */
const wsp_http_header *wsp_http_find(const wsp_http_header *h, size_t n, const char *name);
/* How many headers are named `name`. */
size_t wsp_http_count(const wsp_http_header *h, size_t n, const char *name);
/* Whether a comma-separated header value contains `token` (case-insensitive, whitespace
 * around elements ignored), e.g. Connection: keep-alive, Upgrade. */
bool wsp_http_has_token(const char *value, size_t len, const char *token);
/* Case-insensitive comparison of a counted string with a C string. */
bool wsp_http_eq(const char *s, size_t len, const char *lit);
/* Whether s[0..len) is a token (RFC 9110 5.6.2: one or more tchar), as a header name must be. */
bool wsp_http_is_token(const char *s, size_t len);
/* The first byte of the NUL-terminated s that a header field value may not hold (RFC 9110
 * 5.5: CR, LF and every other control byte but HTAB, and DEL), or NULL when there is none. */
const char *wsp_http_bad_value_byte(const char *s);
/* One element of a `delim`-separated list (',' for header lists, ';' for extension
 * parameters) starting at s[i], trimmed of spaces and tabs: [*es, *ee). A delimiter inside a
 * quoted-string (RFC 9110 5.6.4) does not split. Returns where the next element starts; the
 * list is over once that passes len (a trailing delimiter leaves one empty element). */
size_t wsp_http_list_next(const char *s, size_t len, size_t i, char delim, size_t *es, size_t *ee);
/* Whether every element of a comma-separated list (optional whitespace around each) is a token,
 * as Sec-WebSocket-Protocol's are (RFC 6455 4.1). When one is not (an empty one included),
 * returns false with *bad and *bad_len on it. */
bool wsp_http_token_list_ok(const char *list, const char **bad, size_t *bad_len);

/* The credentials of an Authorization header value "Basic BASE64(user:password)" (RFC 7617):
 * the scheme case-insensitive, the user without ':', neither holding a control byte, each
 * NUL-terminated into its buffer. 0, or -1 when the value is not that or does not fit. */
int wsp_http_basic_decode(const char *value, size_t len, char *user, size_t ucap, char *pass,
                          size_t pcap);

#endif
