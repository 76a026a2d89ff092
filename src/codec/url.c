/* url.c - see url.h. RFC 3986 syntax as RFC 6455 section 3 narrows it for ws:// and wss://. */
#include "codec/url.h"
#include "util/ascii.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define HOSTNAME_MAX 253 /* RFC 1035 2.3.4, without the trailing dot */
#define LABEL_MAX 63

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alnum(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int ieq(const char *s, size_t len, const char *lit)
{
    if (strlen(lit) != len)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (wsp_ascii_lower(s[i]) != lit[i])
            return 0;
    return 1;
}

static uint16_t default_port(wsp_url_scheme s)
{
    switch (s) {
    case WSP_URL_WS:
    case WSP_URL_HTTP:
        return 80;
    case WSP_URL_WSS:
    case WSP_URL_HTTPS:
        return 443;
    }
    return 0;
}

const char *wsp_url_scheme_name(wsp_url_scheme s)
{
    switch (s) {
    case WSP_URL_WS:
        return "ws";
    case WSP_URL_WSS:
        return "wss";
    case WSP_URL_HTTP:
        return "http";
    case WSP_URL_HTTPS:
        return "https";
    }
    return "?";
}

/* Every byte must be printable ASCII: RFC 3986 2 has no raw spaces, controls or non-ASCII
 * (they are percent-encoded). */
static int check_bytes(const char *s, wsp_err *err)
{
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t')
            return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                               "URL contains whitespace at offset %zu: percent-encode it (%%20)",
                               i);
        if (c < 0x20 || c == 0x7f)
            return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                               "URL contains control byte 0x%02x at offset %zu", c, i);
        if (c >= 0x80)
            return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                               "URL contains non-ASCII byte 0x%02x at offset %zu: "
                               "percent-encode the path, use the punycode (xn--) form of the host",
                               c, i);
    }
    return 0;
}

static int parse_scheme(const char *s, size_t len, unsigned flags, wsp_url_scheme *out,
                        wsp_err *err)
{
    if (ieq(s, len, "ws"))
        *out = WSP_URL_WS;
    else if (ieq(s, len, "wss"))
        *out = WSP_URL_WSS;
    else if (ieq(s, len, "http") || ieq(s, len, "https")) {
        if (!(flags & WSP_URL_ALLOW_HTTP))
            return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                               "scheme '%.*s' is not a WebSocket scheme: use %s://", (int)len, s,
                               len == 5 ? "wss" : "ws");
        *out = len == 5 ? WSP_URL_HTTPS : WSP_URL_HTTP;
    } else {
        return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                           "unsupported scheme '%.*s': use ws:// or wss://",
                           (int)(len > 32 ? 32 : len), s);
    }
    return 0;
}

/* A host name: dot-separated labels of letters, digits, '-' and '_', 1-63 bytes each, 253 in
 * all. A name made only of digits and dots must be a valid IPv4 address (as browsers read it). */
static int check_hostname(const char *h, size_t len, wsp_err *err)
{
    if (len > HOSTNAME_MAX)
        return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                           "host name is %zu bytes long, more than the %d DNS allows", len,
                           HOSTNAME_MAX);
    int numeric = 1;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0)
                return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                                   "host '%.*s' has an empty label (a leading dot or \"..\")",
                                   (int)len, h);
            label = 0;
            continue;
        }
        if (!is_alnum(c) && c != '-' && c != '_')
            return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                               "host '%.*s' contains '%c', which is not allowed in a host name",
                               (int)len, h, c);
        if (!is_digit(c))
            numeric = 0;
        if (++label > LABEL_MAX)
            return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                               "host '%.*s' has a label longer than %d bytes", (int)len, h,
                               LABEL_MAX);
    }
    if (label == 0)
        return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                           "host '%.*s' ends with a dot: drop the final dot", (int)len, h);
    if (numeric)
        return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                           "host '%.*s' is neither a valid IPv4 address nor a host name", (int)len,
                           h);
    return 0;
}

/* RFC 3986 3.2.3: port = *DIGIT; here 1-65535, and not empty after the colon. */
static int parse_port(const char *p, size_t len, uint16_t *out, wsp_err *err)
{
    if (len == 0)
        return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                           "empty port after ':': write a port from 1 to 65535 or drop the colon");
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(p[i]))
            return wsp_err_set(err, WSP_CLASS_URL_INVALID, "port '%.*s' is not a number",
                               (int)(len > 32 ? 32 : len), p);
        if (v <= 65535)
            v = v * 10 + (unsigned long)(p[i] - '0');
    }
    if (v == 0 || v > 65535)
        return wsp_err_set(err, WSP_CLASS_URL_INVALID, "port %.*s is out of range 1-65535",
                           (int)(len > 32 ? 32 : len), p);
    *out = (uint16_t)v;
    return 0;
}

/* authority = host [":" port], host = "[" IPv6 "]" / IPv4 / reg-name (userinfo refused before). */
static int parse_authority(const char *a, size_t len, wsp_url *u, wsp_err *err)
{
    const char *host, *port = NULL;
    size_t host_len, port_len = 0;
    if (len > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', len);
        if (!close)
            return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                               "IPv6 literal is missing its closing ']'");
        host = a + 1;
        host_len = (size_t)(close - host);
        const char *rest = close + 1;
        size_t rest_len = len - (size_t)(rest - a);
        if (rest_len > 0) {
            if (rest[0] != ':')
                return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                                   "unexpected '%c' after the IPv6 literal: write [addr]:port",
                                   rest[0]);
            port = rest + 1;
            port_len = rest_len - 1;
        }
        char tmp[INET6_ADDRSTRLEN + 1];
        unsigned char bin[16];
        if (host_len == 0 || host_len >= sizeof tmp)
            return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                               "IPv6 literal '[%.*s]' is not a valid address",
                               (int)(host_len > 64 ? 64 : host_len), host);
        memcpy(tmp, host, host_len);
        tmp[host_len] = '\0';
        /* inet_pton refuses zone ids (%25eth0) and IPvFuture, which we do not support */
        if (inet_pton(AF_INET6, tmp, bin) != 1)
            return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                               "IPv6 literal '[%s]' is not a valid address", tmp);
        u->host_is_ip = true;
        u->host_is_ipv6 = true;
    } else {
        const char *colon = memchr(a, ':', len);
        host = a;
        host_len = colon ? (size_t)(colon - a) : len;
        if (colon) {
            port = colon + 1;
            port_len = len - host_len - 1;
            if (memchr(port, ':', port_len))
                return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                                   "host has more than one ':': an IPv6 address goes in brackets, "
                                   "e.g. ws://[::1]:8080/");
        }
        if (host_len == 0)
            return wsp_err_set(err, WSP_CLASS_URL_INVALID, "URL has no host");
        char tmp[16];
        struct in_addr v4;
        if (host_len < sizeof tmp) {
            memcpy(tmp, host, host_len);
            tmp[host_len] = '\0';
            u->host_is_ip = inet_pton(AF_INET, tmp, &v4) == 1; /* dotted quad only */
        }
        if (!u->host_is_ip && check_hostname(host, host_len, err) != 0)
            return -1;
    }
    if (host_len > WSP_URL_HOST_MAX) /* unreachable past the checks above; kept as the cap */
        return wsp_err_set(err, WSP_CLASS_URL_INVALID, "host is too long");
    for (size_t i = 0; i < host_len; i++)
        u->host[i] = wsp_ascii_lower(host[i]);
    u->host[host_len] = '\0';
    if (port) {
        if (parse_port(port, port_len, &u->port, err) != 0)
            return -1;
        u->port_explicit = true;
    } else {
        u->port = default_port(u->scheme);
    }
    return 0;
}

int wsp_url_parse(const char *s, wsp_url *out, unsigned flags, wsp_err *err)
{
    if (!s || !*s)
        return wsp_err_set(err, WSP_CLASS_URL_INVALID, "empty URL");
    if (check_bytes(s, err) != 0)
        return -1;
    const char *sep = strstr(s, "://");
    size_t scheme_len = sep ? (size_t)(sep - s) : 0;
    if (!sep || scheme_len == 0 || memchr(s, '/', scheme_len) || memchr(s, '?', scheme_len)) {
        size_t head = strcspn(s, ":");
        if (s[head] == ':' && (ieq(s, head, "ws") || ieq(s, head, "wss") || ieq(s, head, "http") ||
                               ieq(s, head, "https")))
            return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                               "URL has no '//' after '%.*s:': write %.*s://HOST/PATH", (int)head,
                               s, (int)head, s);
        return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                           "URL has no scheme: write ws://HOST/PATH or wss://HOST/PATH");
    }
    wsp_url u; /* built here, copied to `out` only on success */
    memset(&u, 0, sizeof u);
    if (parse_scheme(s, scheme_len, flags, &u.scheme, err) != 0)
        return -1;
    u.tls = u.scheme == WSP_URL_WSS || u.scheme == WSP_URL_HTTPS;

    /* RFC 6455 3: "Fragment identifiers are meaningless in the context of WebSocket URIs and
     * MUST NOT be used on these URIs." */
    const char *auth = sep + 3;
    const char *hash = strchr(auth, '#');
    if (hash)
        return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                           "URL has a fragment ('#' at offset %zu): RFC 6455 section 3 forbids "
                           "fragments in WebSocket URLs; drop it or percent-encode '#' as %%23",
                           (size_t)(hash - s));
    size_t auth_len = strcspn(auth, "/?");
    /* Credentials are refused so they never reach logs, reports or the process list; the
     * message does not repeat them. */
    if (memchr(auth, '@', auth_len))
        return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                           "URL contains credentials (user@host): pass them in a header or a "
                           "token option, never in the URL");
    if (parse_authority(auth, auth_len, &u, err) != 0)
        return -1;

    const char *rest = auth + auth_len;
    size_t rest_len = strlen(rest);
    size_t need = rest_len + (rest[0] == '/' ? 0 : 1); /* "" -> "/", "?q" -> "/?q" */
    if (need > WSP_URL_TARGET_MAX)
        return wsp_err_set(err, WSP_CLASS_URL_INVALID,
                           "path and query are %zu bytes long, more than %d", need,
                           WSP_URL_TARGET_MAX);
    char *t = u.target;
    if (rest[0] != '/')
        *t++ = '/';
    memcpy(t, rest, rest_len);
    t[rest_len] = '\0';
    *out = u;
    return 0;
}

int wsp_url_host_header(const wsp_url *u, char *buf, unsigned long cap)
{
    int n;
    const char *open = u->host_is_ipv6 ? "[" : "", *close = u->host_is_ipv6 ? "]" : "";
    if (u->port != default_port(u->scheme))
        n = snprintf(buf, cap, "%s%s%s:%u", open, u->host, close, (unsigned)u->port);
    else
        n = snprintf(buf, cap, "%s%s%s", open, u->host, close);
    if (n < 0 || (unsigned long)n >= cap)
        return -1;
    return n;
}

int wsp_hostport_parse(const char *arg, char *host, size_t cap, unsigned *port)
{
    const char *colon = strrchr(arg, ':');
    if (!colon || colon == arg)
        return -1;
    const char *h = arg;
    size_t hl = (size_t)(colon - arg);
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            return -1;
        h++;
        hl -= 2;
    }
    const char *p = colon + 1;
    unsigned v = 0;
    if (hl == 0 || hl >= cap || !*p || strlen(p) > 5)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > 65535)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = v;
    return 0;
}
