/* url.h - parse ws://, wss:// (and http://, https:// for health checks) URLs. Pure: no I/O. */
#ifndef WSP_URL_H
#define WSP_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

typedef enum wsp_url_scheme {
    WSP_URL_WS,
    WSP_URL_WSS,
    WSP_URL_HTTP,
    WSP_URL_HTTPS,
} wsp_url_scheme;

#define WSP_URL_HOST_MAX 255
#define WSP_URL_TARGET_MAX 4096

typedef struct wsp_url {
    wsp_url_scheme scheme;
    bool tls;                        /* wss or https */
    char host[WSP_URL_HOST_MAX + 1]; /* lower-cased name, or IP literal without brackets */
    bool host_is_ip;                 /* IPv4 or IPv6 literal */
    bool host_is_ipv6;               /* was written [v6] */
    uint16_t port;                   /* explicit, or 80/443 by scheme */
    bool port_explicit;
    char target[WSP_URL_TARGET_MAX + 1]; /* path and query, "/" when empty; no fragment */
} wsp_url;

/* Flags for wsp_url_parse. */
#define WSP_URL_ALLOW_HTTP 0x1u /* accept http:// and https:// besides ws:// and wss:// */

/* Parse `s` into `out`. Accepts scheme case-insensitively, userinfo is refused (credentials
 * never go in URLs), a fragment is refused (RFC 6455 3: fragments MUST NOT be used), IPv6
 * literals in brackets, ports 1-65535. Returns 0, or -1 with err->cls = URL_INVALID and a
 * message naming what is wrong. `out` is written only on success.
 *
 * Also refused: whitespace, control and non-ASCII bytes anywhere (percent-encode them; use the
 * xn-- form of an international name), an empty host or port, a host name whose labels are not
 * letters, digits, '-' and '_' (1-63 bytes each, 253 in all, no trailing dot), a host of only
 * digits and dots that is not a valid IPv4 address, IPv6 zone ids, and a path and query longer
 * than WSP_URL_TARGET_MAX. The path and query are kept byte for byte. */
int wsp_url_parse(const char *s, wsp_url *out, unsigned flags, wsp_err *err);

/* Write the Host header value (host, brackets for IPv6, port only when not the default) into
 * buf. Returns the length, or -1 if it did not fit. */
int wsp_url_host_header(const wsp_url *u, char *buf, unsigned long cap);

/* A listen address as serve and the exporter take it: HOST:PORT, [V6]:PORT, or a V6 literal
 * with a last :PORT; the host copied without brackets into host (cap bytes), the port 0-65535
 * (0: the kernel picks). The host is not checked to be an address here. 0, or -1. */
int wsp_hostport_parse(const char *arg, char *host, size_t cap, unsigned *port);

/* The scheme as a lower-case string ("wss"). */
const char *wsp_url_scheme_name(wsp_url_scheme s);

#endif
