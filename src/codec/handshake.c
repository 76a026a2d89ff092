/* handshake.c - see handshake.h. */
#include "codec/handshake.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "util/sha1.h"
#include "util/ascii.h"
#include "util/rand.h"
#include "wsp_config.h"

/* RFC 6455 1.3 */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

int wsp_hs_key_new(char out[WSP_HS_KEY_LEN + 1])
{
    /* RFC 6455 4.1: "a randomly selected 16-byte value that has been base64-encoded" */
    uint8_t nonce[16];
    if (wsp_rand_bytes(nonce, sizeof nonce) != 0)
        return -1;
    EVP_EncodeBlock((unsigned char *)out, nonce, (int)sizeof nonce);
    return 0;
}

void wsp_hs_accept(const char *key, size_t key_len, char out[WSP_HS_ACCEPT_LEN + 1])
{
    uint8_t md[WSP_SHA1_LEN];
    wsp_sha1 s;
    wsp_sha1_init(&s);
    wsp_sha1_update(&s, key, key_len);
    wsp_sha1_update(&s, ws_guid, sizeof ws_guid - 1);
    wsp_sha1_final(&s, md);
    EVP_EncodeBlock((unsigned char *)out, md, WSP_SHA1_LEN);
}

/* ---- the request ---- */

/* Header values may hold visible ASCII, obs-text, SP and HTAB; any other control byte (above
 * all CR and LF, which would end the header and let a value inject others) is refused. The
 * options are checked at parse time too (probe/setup.c); this is the last line. */
static bool safe_value(const char *s)
{
    return wsp_http_bad_value_byte(s) == NULL;
}

/* A request target: visible ASCII only (a space would end it), not empty. */
static bool safe_target(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

/* Length of the field name of an extra "Name: value" line, or 0 when the line is not one. */
static size_t extra_name_len(const char *line)
{
    size_t n = strcspn(line, ":");
    if (line[n] != ':' || !wsp_http_is_token(line, n) || !safe_value(line + n + 1))
        return 0;
    return n;
}

/* Whether an extra line replaces the built-in header `name`. */
static bool overridden(const wsp_hs_request *req, const char *name)
{
    for (size_t i = 0; i < req->num_extra; i++)
        if (wsp_http_eq(req->extra[i], extra_name_len(req->extra[i]), name))
            return true;
    return false;
}

typedef struct out_buf {
    char *buf;
    size_t cap, len;
    bool full;
} out_buf;

static void put(out_buf *o, const char *s)
{
    size_t n = strlen(s);
    if (o->full || n >= o->cap - o->len) { /* keep a byte for the NUL */
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void put_header(out_buf *o, const wsp_hs_request *req, const char *name, const char *value)
{
    if (!value || overridden(req, name))
        return;
    put(o, name);
    put(o, ": ");
    put(o, value);
    put(o, "\r\n");
}

int wsp_hs_build_request(char *buf, size_t cap, const wsp_hs_request *req)
{
    if (!buf || cap == 0 || !req->host_header || !req->target || !req->key ||
        req->num_extra > WSP_HS_MAX_EXTRA)
        return -1;
    const char *ua = req->user_agent ? req->user_agent : "wsprobe/" WSP_VERSION;
    const char *values[] = {req->host_header,
                            req->key,
                            req->origin ? req->origin : "",
                            req->subprotocols ? req->subprotocols : "",
                            req->extensions ? req->extensions : "",
                            ua};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        if (!safe_value(values[i]))
            return -1;
    if (!req->host_header[0] || !safe_target(req->target))
        return -1;
    for (size_t i = 0; i < req->num_extra; i++)
        if (!req->extra[i] || extra_name_len(req->extra[i]) == 0)
            return -1;

    out_buf o = {buf, cap, 0, false};
    buf[0] = '\0';
    /* RFC 6455 4.1, client requirements 1-9 */
    put(&o, "GET ");
    put(&o, req->target);
    put(&o, " HTTP/1.1\r\n");
    put_header(&o, req, "Host", req->host_header);
    put_header(&o, req, "Upgrade", "websocket");
    put_header(&o, req, "Connection", "Upgrade");
    put_header(&o, req, "Sec-WebSocket-Key", req->key);
    put_header(&o, req, "Sec-WebSocket-Version", "13");
    put_header(&o, req, "Origin", req->origin);
    put_header(&o, req, "Sec-WebSocket-Protocol", req->subprotocols);
    put_header(&o, req, "Sec-WebSocket-Extensions", req->extensions);
    if (ua[0])
        put_header(&o, req, "User-Agent", ua);
    for (size_t i = 0; i < req->num_extra; i++) {
        put(&o, req->extra[i]);
        put(&o, "\r\n");
    }
    put(&o, "\r\n");
    if (o.full || o.len > INT_MAX)
        return -1;
    return (int)o.len;
}

/* ---- the response ---- */

static wsp_class fail(wsp_err *err, wsp_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static wsp_class fail(wsp_err *err, wsp_class cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wsp_err_vset(err, cls, fmt, ap);
    va_end(ap);
    return cls;
}

/* Copy peer bytes for a message: printable ASCII kept, anything else as '?', cut at SHOW_MAX
 * with "..." so a hostile header can neither flood the message nor break a JSON report. */
#define SHOW_MAX 200
typedef struct shown {
    char s[SHOW_MAX + 4];
} shown;

static const char *show(shown *dst, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == SHOW_MAX) {
            memcpy(dst->s + o, "...", 3);
            o += 3;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        dst->s[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    dst->s[o] = '\0';
    return dst->s;
}

static wsp_class status_class(int status)
{
    if (status >= 200 && status < 300)
        return WSP_CLASS_UPGRADE_IGNORED;
    if (status >= 300 && status < 400)
        return WSP_CLASS_UPGRADE_REDIRECT;
    if (status == 401 || status == 403 || status == 407)
        return WSP_CLASS_UPGRADE_AUTH;
    if (status == 404 || status == 405 || status == 410)
        return WSP_CLASS_UPGRADE_NOT_FOUND;
    if (status >= 400 && status < 500)
        return WSP_CLASS_UPGRADE_REJECTED;
    if (status >= 500 && status < 600)
        return WSP_CLASS_UPGRADE_SERVER_ERROR;
    return WSP_CLASS_HS_MALFORMED; /* 1xx other than 101, and 600-999 */
}

/* Everything but 101: the status says what happened. */
static wsp_class judge_status(const wsp_http_response *res, wsp_hs_result *out, wsp_err *err)
{
    shown reason, v;
    /* " Forbidden", or "" when the reason is empty */
    char rs[sizeof reason.s + 1] = "";
    if (res->reason_len > 0)
        snprintf(rs, sizeof rs, " %s", show(&reason, res->reason, res->reason_len));
    const int st = res->status;
    const wsp_class cls = status_class(st);
    const wsp_http_header *h;
    if (cls == WSP_CLASS_UPGRADE_IGNORED)
        return fail(err, cls, "got HTTP %d%s without Upgrade", st, rs);
    if (cls == WSP_CLASS_UPGRADE_REDIRECT) {
        h = wsp_http_find(res->headers, res->num_headers, "Location");
        if (!h)
            return fail(err, cls, "server redirected the upgrade: HTTP %d%s without a Location", st,
                        rs);
        out->location = h->value;
        out->location_len = h->value_len;
        show(&v, h->value, h->value_len);
        fail(err, cls, "server redirected the upgrade: HTTP %d%s to '%s'", st, rs, v.s);
        wsp_err_hint(err,
                     "the server redirects to '%s': probe that URL instead (a WebSocket client "
                     "does not follow redirects)",
                     v.s);
        return cls;
    }
    if (st == 426) {
        /* 426 names the versions the server speaks (RFC 6455 4.4). Listing 13 means our
         * request reached it without its upgrade: something in between dropped it. */
        h = wsp_http_find(res->headers, res->num_headers, "Sec-WebSocket-Version");
        if (h && !wsp_http_has_token(h->value, h->value_len, "13")) {
            fail(err, cls, "server refused the upgrade: HTTP %d%s (Sec-WebSocket-Version: %s)", st,
                 rs, show(&v, h->value, h->value_len));
            wsp_err_hint(err, "the server speaks WebSocket version %s, not 13 (RFC 6455)", v.s);
            return cls;
        }
        if (h)
            fail(err, cls, "server refused the upgrade: HTTP %d%s (Sec-WebSocket-Version: %s)", st,
                 rs, show(&v, h->value, h->value_len));
        else
            fail(err, cls, "server refused the upgrade: HTTP %d%s", st, rs);
        wsp_err_hint(err, "the server did not see this request's Upgrade: websocket (wsprobe sends "
                          "it): a proxy or load balancer in front of it drops the Upgrade and "
                          "Connection headers. nginx: proxy_http_version 1.1; proxy_set_header "
                          "Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\"");
        return cls;
    }
    if (st == 429) {
        /* 429 says when to retry */
        h = wsp_http_find(res->headers, res->num_headers, "Retry-After");
        if (h)
            return fail(err, cls, "server refused the upgrade: HTTP %d%s (Retry-After: %s)", st, rs,
                        show(&v, h->value, h->value_len));
    }
    if (cls == WSP_CLASS_UPGRADE_SERVER_ERROR)
        return fail(err, cls, "server failed the upgrade: HTTP %d%s", st, rs);
    if (cls == WSP_CLASS_HS_MALFORMED)
        return fail(err, cls, "got HTTP %d%s where 101 Switching Protocols was expected", st, rs);
    return fail(err, cls, "server refused the upgrade: HTTP %d%s", st, rs); /* 4xx */
}

static bool same(const char *a, const char *b, size_t n, bool icase)
{
    for (size_t i = 0; i < n; i++)
        if (icase ? wsp_ascii_lower(a[i]) != wsp_ascii_lower(b[i]) : a[i] != b[i])
            return false;
    return true;
}

/* The first header named `name`, and whether any header of that name holds `token` in its list
 * (fields of one name combine into one list, RFC 9110 5.3). */
static bool any_has_token(const wsp_http_response *res, const char *name, const char *token,
                          const wsp_http_header **first)
{
    *first = NULL;
    for (size_t i = 0; i < res->num_headers; i++) {
        const wsp_http_header *h = &res->headers[i];
        if (!wsp_http_eq(h->name, h->name_len, name))
            continue;
        if (!*first)
            *first = h;
        if (wsp_http_has_token(h->value, h->value_len, token))
            return true;
    }
    return false;
}

/* The extension name of a list element: what comes before the first ';' or whitespace. */
static size_t ext_name_len(const char *e, size_t len)
{
    size_t n = 0;
    while (n < len && e[n] != ';' && e[n] != ' ' && e[n] != '\t')
        n++;
    return n;
}

/* Whether the offered list `offer` names `item`. Subprotocols compare exactly (RFC 6455 4.1
 * step 6: one of the values the client sent); extension names (parameters ignored) compare
 * case-insensitively, as HTTP tokens. */
static bool offered(const char *offer, const char *item, size_t item_len, bool extension)
{
    if (!offer)
        return false;
    size_t len = strlen(offer), i = 0, es, ee;
    while (i < len) {
        i = wsp_http_list_next(offer, len, i, ',', &es, &ee);
        size_t n = extension ? ext_name_len(offer + es, ee - es) : ee - es;
        if (n == item_len && n > 0 && same(offer + es, item, n, extension))
            return true;
    }
    return false;
}

static wsp_class check_subprotocol(const wsp_http_response *res, const wsp_hs_request *req,
                                   wsp_hs_result *out, wsp_err *err)
{
    /* RFC 6455 4.1 step 6: a subprotocol the client did not offer fails the connection. The
     * server selects one value (4.2.2 step 5.4), so a list or a repeated header is refused too.
     * None chosen is fine here: whether one is required is the caller's policy. */
    const wsp_class cls = WSP_CLASS_HS_NEGOTIATION;
    const char *name = "Sec-WebSocket-Protocol";
    size_t n = wsp_http_count(res->headers, res->num_headers, name);
    if (n == 0)
        return WSP_CLASS_OK;
    if (n > 1)
        return fail(err, cls, "server sent %s %zu times; it must choose one subprotocol", name, n);
    const wsp_http_header *h = wsp_http_find(res->headers, res->num_headers, name);
    shown v;
    show(&v, h->value, h->value_len);
    if (h->value_len == 0)
        return fail(err, cls, "server sent an empty %s", name);
    if (memchr(h->value, ',', h->value_len))
        return fail(err, cls, "server chose several subprotocols '%s'; it must choose one", v.s);
    if (!offered(req->subprotocols, h->value, h->value_len, false)) {
        shown o;
        const char *offer = req->subprotocols ? req->subprotocols : "";
        show(&o, offer, strlen(offer));
        fail(err, cls, "server chose subprotocol '%s' which was not offered (offered: %s)", v.s,
             req->subprotocols ? o.s : "none");
        wsp_err_hint(err,
                     "wsprobe offered %s%s%s; the server must choose one of the offered values "
                     "(RFC 6455 4.1): offer '%s' with --subprotocol if that is what this "
                     "endpoint speaks",
                     req->subprotocols ? "'" : "no subprotocol", req->subprotocols ? o.s : "",
                     req->subprotocols ? "'" : "", v.s);
        return cls;
    }
    out->subprotocol = h->value;
    out->subprotocol_len = h->value_len;
    return WSP_CLASS_OK;
}

static wsp_class check_extensions(const wsp_http_response *res, const wsp_hs_request *req,
                                  wsp_hs_result *out, wsp_err *err)
{
    /* RFC 6455 4.1 step 5: an extension the client did not offer fails the connection. The
     * header may be split over several fields (9.1). */
    const wsp_class cls = WSP_CLASS_HS_NEGOTIATION;
    for (size_t k = 0; k < res->num_headers; k++) {
        const wsp_http_header *h = &res->headers[k];
        if (!wsp_http_eq(h->name, h->name_len, "Sec-WebSocket-Extensions"))
            continue;
        if (!out->extensions) {
            out->extensions = h->value;
            out->extensions_len = h->value_len;
        }
        size_t i = 0, es, ee;
        while (i < h->value_len) {
            i = wsp_http_list_next(h->value, h->value_len, i, ',', &es, &ee);
            if (ee == es)
                continue; /* empty list elements are allowed (RFC 9110 5.6.1) */
            size_t n = ext_name_len(h->value + es, ee - es);
            shown v;
            if (n == 0)
                return fail(err, cls,
                            "server sent Sec-WebSocket-Extensions element '%s' without "
                            "a name",
                            show(&v, h->value + es, ee - es));
            if (!offered(req->extensions, h->value + es, n, true))
                return fail(err, cls, "server chose extension '%s' which was not offered",
                            show(&v, h->value + es, n));
        }
    }
    return WSP_CLASS_OK;
}

/* Case-insensitive search for an ASCII phrase in bytes that need not be NUL-terminated. */
static bool has_phrase(const char *data, size_t len, const char *phrase)
{
    size_t n = strlen(phrase);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (same(data + i, phrase, n, true))
            return true;
    return false;
}

void wsp_hs_refine_refusal(wsp_err *err, int status, const char *body, size_t body_len)
{
    /* what TLS servers answer to plain HTTP on their port: nginx, Go's net/http, Apache */
    static const char *const tls_port[] = {
        "plain HTTP request was sent to HTTPS port",
        "Client sent an HTTP request to an HTTPS server",
        "speaking plain HTTP to an SSL-enabled server port",
    };
    if (!err || !body || status < 400 || status >= 500)
        return;
    for (size_t i = 0; i < sizeof tls_port / sizeof tls_port[0]; i++) {
        if (has_phrase(body, body_len, tls_port[i])) {
            size_t l = strlen(err->msg);
            snprintf(err->msg + l, sizeof err->msg - l, ": the server says this port expects TLS");
            wsp_err_hint(err, "this port speaks TLS: use wss:// instead of ws://");
            return;
        }
    }
}

const char *wsp_hs_reserved_header(const char *line)
{
    static const struct {
        const char *name, *advice;
    } reserved[] = {
        {"Host", "the Host header comes from the URL; to reach another address under this "
                 "name, use --resolve HOST:PORT:ADDRESS"},
        {"Upgrade", "it is part of the handshake wsprobe writes (RFC 6455 4.1)"},
        {"Connection", "it is part of the handshake wsprobe writes (RFC 6455 4.1)"},
        {"Sec-WebSocket-Key", "wsprobe makes a fresh key per connection and checks the "
                              "server's Accept against it"},
        {"Sec-WebSocket-Version", "wsprobe speaks version 13 (RFC 6455) and says so"},
        {"Sec-WebSocket-Accept", "it is a response header"},
        {"Sec-WebSocket-Protocol", "use --subprotocol LIST: wsprobe then checks the server's "
                                   "choice against what was offered"},
        {"Sec-WebSocket-Extensions", "wsprobe offers only extensions it speaks (it checks the "
                                     "server's answer against its offer); an offer it could not "
                                     "honour would make a healthy server fail"},
    };
    const char *colon = strchr(line, ':');
    size_t n = colon ? (size_t)(colon - line) : strlen(line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (wsp_http_eq(line, n, reserved[i].name))
            return reserved[i].advice;
    return NULL;
}

wsp_class wsp_hs_check_response(const wsp_http_response *res, const wsp_hs_request *req,
                                wsp_hs_result *out, wsp_err *err)
{
    memset(out, 0, sizeof *out);
    if (res->status != 101)
        return judge_status(res, out, err);
    /* RFC 6455 4.1: the upgrade is an HTTP/1.1 mechanism; an HTTP/1.0 101 is not an answer
     * to it (RFC 9110 15.2.2: a server must not switch protocols for an HTTP/1.0 request) */
    if (res->minor_version < 1)
        return fail(err, WSP_CLASS_HS_MALFORMED,
                    "HTTP/1.%d 101: RFC 6455 4.1 requires HTTP/1.1 or later for the upgrade",
                    res->minor_version);

    /* RFC 6455 4.1 steps 2 and 3 */
    const wsp_class bad_headers = WSP_CLASS_HS_BAD_HEADERS;
    const wsp_http_header *h;
    shown v;
    if (!any_has_token(res, "Upgrade", "websocket", &h)) {
        if (!h)
            return fail(err, bad_headers, "HTTP 101 without an Upgrade header");
        return fail(err, bad_headers, "Upgrade is '%s', expected 'websocket'",
                    show(&v, h->value, h->value_len));
    }
    if (!any_has_token(res, "Connection", "upgrade", &h)) {
        if (!h)
            return fail(err, bad_headers, "HTTP 101 without a Connection header");
        return fail(err, bad_headers, "Connection is '%s', expected the token 'Upgrade'",
                    show(&v, h->value, h->value_len));
    }

    /* RFC 6455 4.1 step 4 */
    const wsp_class bad_accept = WSP_CLASS_HS_BAD_ACCEPT;
    size_t n = wsp_http_count(res->headers, res->num_headers, "Sec-WebSocket-Accept");
    if (n == 0)
        return fail(err, bad_accept, "HTTP 101 without Sec-WebSocket-Accept");
    if (n > 1)
        return fail(err, bad_accept, "Sec-WebSocket-Accept appears %zu times, expected once", n);
    if (!req->key)
        return fail(err, WSP_CLASS_INTERNAL, "no Sec-WebSocket-Key to check the Accept against");
    char want[WSP_HS_ACCEPT_LEN + 1];
    wsp_hs_accept(req->key, strlen(req->key), want);
    h = wsp_http_find(res->headers, res->num_headers, "Sec-WebSocket-Accept");
    if (h->value_len != WSP_HS_ACCEPT_LEN || memcmp(h->value, want, WSP_HS_ACCEPT_LEN) != 0)
        return fail(err, bad_accept, "Sec-WebSocket-Accept is '%s', expected '%s'",
                    show(&v, h->value, h->value_len), want);

    /* RFC 6455 4.1 steps 5 and 6; `out` gets the negotiated values only when both hold */
    wsp_hs_result got;
    memset(&got, 0, sizeof got);
    wsp_class cls = check_subprotocol(res, req, &got, err);
    if (cls == WSP_CLASS_OK)
        cls = check_extensions(res, req, &got, err);
    if (cls == WSP_CLASS_OK)
        *out = got;
    return cls;
}
