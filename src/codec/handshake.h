/* handshake.h - the opening handshake of RFC 6455 section 4, both sides. Pure: the key's
 * randomness comes from rand.h, I/O is the caller's. */
#ifndef WSP_HANDSHAKE_H
#define WSP_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"
#include "codec/http.h"

#define WSP_HS_KEY_LEN 24    /* base64 of 16 bytes */
#define WSP_HS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */
#define WSP_HS_MAX_EXTRA 32  /* extra headers in a request */

/* Make a fresh Sec-WebSocket-Key: 16 random bytes (rand.h), base64. `out` gets 24 chars + NUL.
 * Returns 0, or -1 if the generator failed. */
int wsp_hs_key_new(char out[WSP_HS_KEY_LEN + 1]);

/* Sec-WebSocket-Accept for a key (RFC 6455 4.2.2 step 5.4): base64(SHA-1(key + GUID)).
 * `key` is the header value as sent, `out` gets 28 chars + NUL. */
void wsp_hs_accept(const char *key, size_t key_len, char out[WSP_HS_ACCEPT_LEN + 1]);

typedef struct wsp_hs_request {
    const char *host_header;             /* Host value, from wsp_url_host_header */
    const char *target;                  /* path and query */
    const char *key;                     /* from wsp_hs_key_new */
    const char *origin;                  /* NULL: no Origin header */
    const char *subprotocols;            /* NULL, or comma-separated list as sent */
    const char *extensions;              /* NULL, or the Sec-WebSocket-Extensions value to offer */
    const char *extra[WSP_HS_MAX_EXTRA]; /* full "Name: value" lines, no CRLF */
    size_t num_extra;
    const char *user_agent; /* NULL for the default */
} wsp_hs_request;

/* Write the GET upgrade request into buf. Returns its length, or -1 if it did not fit or a
 * value contains CR or LF (header injection).
 *
 * Details: buf is NUL-terminated and the length returned does not count the NUL (cap must hold
 * it). Every value is refused (-1) when it holds any control byte other than HTAB; the target
 * must be non-empty visible ASCII; each extra line must be "Name: value" with a token name. An
 * extra line whose name is one of the headers written here (Host, Upgrade, Connection,
 * Sec-WebSocket-Key, Sec-WebSocket-Version, Origin, Sec-WebSocket-Protocol,
 * Sec-WebSocket-Extensions, User-Agent) replaces that header; wsp_hs_check_response still
 * judges against req's own fields. user_agent "" sends no User-Agent. `req` is only read. */
int wsp_hs_build_request(char *buf, size_t cap, const wsp_hs_request *req);

/* Sharpen a refusal's message and hint with what its body says (the first bytes kept by the
 * caller): a TLS server's answer to plain HTTP on its port ("The plain HTTP request was sent
 * to HTTPS port") means the URL wants wss://. Leaves `err` alone otherwise. */
void wsp_hs_refine_refusal(wsp_err *err, int status, const char *body, size_t body_len);

/* Whether a user-given "Name: value" line names a header the client itself must write for the
 * handshake to mean what it says (Host, Upgrade, Connection, Sec-WebSocket-Key,
 * Sec-WebSocket-Version, Sec-WebSocket-Accept, Sec-WebSocket-Protocol,
 * Sec-WebSocket-Extensions). Returns advice naming the option to use instead, or NULL when
 * the header is the user's to set. */
const char *wsp_hs_reserved_header(const char *line);

/* What the response negotiated, pointing into the response buffer. */
typedef struct wsp_hs_result {
    const char *subprotocol; /* NULL if none */
    size_t subprotocol_len;
    const char *extensions; /* NULL if none */
    size_t extensions_len;
    const char *location; /* for 3xx */
    size_t location_len;
} wsp_hs_result;

/* Judge a parsed response to a request (RFC 6455 4.1, the client's checks, in order):
 * status 101 else the status classes (2xx UPGRADE_IGNORED, 3xx UPGRADE_REDIRECT, 401/403/407
 * UPGRADE_AUTH, 404/405/410 UPGRADE_NOT_FOUND, other 4xx UPGRADE_REJECTED, 5xx
 * UPGRADE_SERVER_ERROR, 1xx other than 101 HS_MALFORMED); then Upgrade: websocket and a Connection
 * with the upgrade token (HS_BAD_HEADERS); then exactly one Sec-WebSocket-Accept equal to the
 * expected one (HS_BAD_ACCEPT); then a subprotocol that was offered and an extension that was
 * offered (HS_NEGOTIATION). Returns OK (0) with `out` filled, or the class with `err` set.
 *
 * Details: `out` is zeroed first. On 3xx it gets the Location although the result is an error;
 * the subprotocol and extensions are set only when the result is OK. A subprotocol must equal
 * one offered (case-sensitive); none chosen is not an error here. Extension names compare
 * case-insensitively and their parameters are not judged; with several Sec-WebSocket-Extensions
 * fields `out->extensions` is the first. Peer text quoted in messages is cut to 200 bytes, with
 * bytes that are not printable ASCII shown as '?'. */
wsp_class wsp_hs_check_response(const wsp_http_response *res, const wsp_hs_request *req,
                                wsp_hs_result *out, wsp_err *err);

#endif
