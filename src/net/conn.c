/* conn.c - the client connection state machine. See conn.h.
 *
 * Memory: a connection owns its record, the response head while upgrading, and its frame
 * parser. Reads land in a per-thread buffer (they are processed before the read callback
 * returns), so an idle connection costs its struct, the socket and the parser only. */
#include "net/conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/excerpt.h"
#include "util/rand.h"
#include "codec/utf8.h"
#include "codec/handshake.h"
#include "codec/http.h"

#define READ_BUF 65536
#define HE_DELAY_MS 250 /* RFC 8305 5: the Connection Attempt Delay */
#define BODY_GRACE_MS 200

static _Thread_local uint8_t read_buf[READ_BUF];
static _Thread_local uint8_t plain_buf[READ_BUF];
static _Thread_local uint8_t link_buf[READ_BUF]; /* plaintext from an https:// proxy's TLS */

/* Opening a tunnel through a proxy (heap, from the start until the tunnel is open). */
typedef struct proxy_state {
    char host[WSP_URL_HOST_MAX + 1]; /* the tunnel's target: a name or an address */
    uint16_t port;
    bool resolving_target; /* socks5://: the first lookup is the endpoint's name */
    bool tls_pending;      /* https://: the TLS handshake with the proxy is under way */
    bool request_sent;
    wsp_socks5 s5;
    char *head; /* CONNECT's answer head, WSP_PROXY_HEAD_MAX cap */
    size_t head_len;
    size_t received; /* bytes from the proxy so far */
} proxy_state;

/* What the handshake needs from the request until the response is judged. */
typedef struct hs_state {
    char key[WSP_HS_KEY_LEN + 1];
    char host_header[300];
    char pmd_offer[160];
    wsp_hs_request req;
} hs_state;

struct wsp_conn {
    uv_loop_t *loop;
    const wsp_conn_opts *o;
    const wsp_conn_cbs *cb;
    void *ud;
    wsp_conn_phase phase;
    wsp_conn_record rec;

    uv_timer_t timer;
    uv_tcp_t *tcp; /* current attempt; heap, freed by its close callback */
    int open_handles;
    bool freed;
    bool done_called;
    bool shutting_down;

    wsp_dns_query *dnsq;
    struct sockaddr_storage *addrs; /* heap while connecting */
    struct attempt *att;            /* heap while connecting: one per address */
    int nactive;                    /* attempts connecting now */
    uv_timer_t *he_timer;           /* heap, with two or more addresses: the next attempt */
    int num_addrs;
    int next_addr;
    wsp_err *connect_err; /* heap, the last connect failure */

    bool tls_active;
    wsp_tls *tls; /* heap, for wss:// and https:// */

    proxy_state *px;  /* heap while a proxy's tunnel is being opened */
    bool ptls_active; /* TLS to an https:// proxy carries everything below the endpoint's */
    wsp_tls *ptls;    /* heap */

    struct hs_state *hs; /* heap from the request until the response is judged */
    char *head;          /* response head being received, WSP_HTTP_HEAD_MAX cap */
    size_t head_len;
    bool collecting_body;
    size_t body_expected; /* Content-Length of a non-101 answer, or SIZE_MAX if unknown */

    bool parser_init;
    wsp_ws_parser parser;
    wsp_pmd *pmd;      /* heap, when permessage-deflate was agreed */
    int close_sent;    /* the code of the close frame we sent (1005: none), or -1 */
    uint64_t trace_id; /* --trace: this connection's number in the process */
};

/* One address's connection attempt; several race (Happy Eyeballs, RFC 8305). */
typedef struct attempt {
    wsp_conn *c;
    uv_tcp_t *tcp; /* NULL when closed, or the winner's (then c->tcp too) */
} attempt;

typedef struct write_req {
    uv_write_t req;
    wsp_conn *c;
    size_t len;
    uint8_t data[];
} write_req;

const char *wsp_conn_phase_name(wsp_conn_phase p)
{
    switch (p) {
    case WSP_PHASE_RESOLVE:
        return "resolve";
    case WSP_PHASE_CONNECT:
        return "connect";
    case WSP_PHASE_PROXY:
        return "proxy";
    case WSP_PHASE_TLS:
        return "tls";
    case WSP_PHASE_UPGRADE:
        return "upgrade";
    case WSP_PHASE_OPEN:
        return "open";
    case WSP_PHASE_CLOSING:
        return "close";
    case WSP_PHASE_DONE:
        return "done";
    }
    return "unknown";
}

uint64_t wsp_conn_t_ready(const wsp_conn_record *r)
{
    return r->proxy && r->proxy->t_tunnel ? r->proxy->t_tunnel : r->t_connected;
}

/* ---- --trace ---- */

static void trace_head(wsp_conn *c, bool outgoing, const char *data, size_t len)
{
    const wsp_conn_tracer *t = c->o->tracer;
    if (t)
        t->head(t->ud, c->trace_id, uv_hrtime() - c->rec.t_start, outgoing, data, len);
}

static void trace_event(wsp_conn *c, const wsp_conn_trace_event *ev)
{
    const wsp_conn_tracer *t = c->o->tracer;
    if (t)
        t->event(t->ud, c->trace_id, uv_hrtime() - c->rec.t_start, ev);
}

/* The parser's hook: an incoming frame's header. */
static void trace_parsed_frame(void *ud, bool fin, unsigned opcode, unsigned rsv, bool masked,
                               uint64_t len)
{
    wsp_conn_trace_event ev = {.kind = WSP_TRACE_FRAME,
                               .opcode = opcode,
                               .fin = fin,
                               .rsv1 = (rsv & 4u) != 0,
                               .masked = masked,
                               .length = len};
    trace_event(ud, &ev);
}

/* An incoming message or control frame as delivered. */
static void trace_delivered(wsp_conn *c, unsigned opcode, const wsp_ws_event *ev)
{
    if (!c->o->tracer)
        return;
    wsp_conn_trace_event te = {.kind = WSP_TRACE_MESSAGE,
                               .opcode = opcode,
                               .fin = true,
                               .compressed = ev->compressed,
                               .length = ev->len,
                               .data = ev->data,
                               .data_len = ev->len,
                               .frames = ev->frames ? ev->frames : 1,
                               .close_code = opcode == WSP_WS_OP_CLOSE ? ev->close_code : -1};
    trace_event(c, &te);
}

/* Whether this connection goes through a proxy (not merely has one configured). */
static bool via_proxy(const wsp_conn *c)
{
    return c->o->proxy && c->o->proxy->kind != WSP_PROXY_NONE;
}

double wsp_conn_ms(uint64_t from_ns, uint64_t to_ns)
{
    if (!from_ns || !to_ns || to_ns < from_ns)
        return 0.0;
    return (double)(to_ns - from_ns) / 1e6;
}

static void maybe_release(wsp_conn *c)
{
    if (c->freed && c->open_handles == 0) {
        if (c->parser_init)
            wsp_ws_parser_cleanup(&c->parser);
        if (c->pmd) {
            wsp_pmd_cleanup(c->pmd);
            free(c->pmd);
        }
        free(c->rec.pmd);
        if (c->tls_active)
            wsp_tls_cleanup(c->tls);
        free(c->tls);
        if (c->ptls_active)
            wsp_tls_cleanup(c->ptls);
        free(c->ptls);
        if (c->px)
            free(c->px->head);
        free(c->px);
        free(c->rec.proxy);
        free(c->head);
        free(c->rec.http_head);
        free(c->rec.http_body);
        free(c->rec.location);
        free(c->rec.after_101);
        free(c->rec.tls);
        free(c->rec.addresses);
        free(c->rec.attempts);
        free(c->att);
        free(c->addrs);
        free(c->connect_err);
        free(c->hs);
        free(c);
    }
}

static void handle_closed(uv_handle_t *h)
{
    wsp_conn *c = h->data;
    if (h != (uv_handle_t *)&c->timer) /* the sockets and the attempt timer are heap */
        free(h);
    c->open_handles--;
    maybe_release(c);
}

/* Close the attempts still connecting (not the winner: it is c->tcp) and the attempt timer. */
static void close_attempts(wsp_conn *c)
{
    for (int i = 0; c->att && i < c->num_addrs; i++) {
        uv_tcp_t *t = c->att[i].tcp;
        c->att[i].tcp = NULL;
        if (t && t != c->tcp && !uv_is_closing((uv_handle_t *)t))
            uv_close((uv_handle_t *)t, handle_closed);
    }
    c->nactive = 0;
    if (c->he_timer) {
        uv_timer_stop(c->he_timer);
        if (!uv_is_closing((uv_handle_t *)c->he_timer))
            uv_close((uv_handle_t *)c->he_timer, handle_closed);
        c->he_timer = NULL;
    }
}

static void close_tcp(wsp_conn *c)
{
    if (c->tcp) {
        uv_tcp_t *t = c->tcp;
        c->tcp = NULL;
        if (!uv_is_closing((uv_handle_t *)t))
            uv_close((uv_handle_t *)t, handle_closed);
    }
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status;
    uv_handle_t *h = (uv_handle_t *)req->handle;
    wsp_conn *c = h->data;
    free(req);
    if (c->tcp == (uv_tcp_t *)h)
        close_tcp(c);
}

/* The verdict is final: stop timers and reading, let pending writes (a close frame) drain,
 * then close the socket, and tell the owner. */
static void finish(wsp_conn *c)
{
    if (c->phase == WSP_PHASE_DONE)
        return;
    c->phase = WSP_PHASE_DONE;
    c->rec.t_end = uv_hrtime();
    uv_timer_stop(&c->timer);
    close_attempts(c);
    if (c->dnsq) {
        wsp_dns_cancel(c->dnsq);
        c->dnsq = NULL;
    }
    if (c->tcp) {
        uv_read_stop((uv_stream_t *)c->tcp);
        /* A graceful shutdown waits for queued writes to drain; a peer that stopped reading
         * would keep them queued (and this process alive) forever: close at once instead. */
        uv_shutdown_t *req = NULL;
        if (c->rec.network && uv_stream_get_write_queue_size((uv_stream_t *)c->tcp) == 0)
            req = malloc(sizeof *req);
        if (!req || uv_shutdown(req, (uv_stream_t *)c->tcp, shutdown_cb) != 0) {
            free(req);
            close_tcp(c);
        }
    }
    free(c->head);
    c->head = NULL;
    if (c->rec.http_body && c->rec.err.cls != WSP_CLASS_OK)
        wsp_hs_refine_refusal(&c->rec.err, c->rec.http_status, c->rec.http_body,
                              c->rec.http_body_len);
    if (!c->freed && !c->done_called) {
        c->done_called = true;
        if (c->cb->on_done)
            c->cb->on_done(c, c->ud);
    }
}

/* Keep the first failure (later ones are consequences) and the phase it happened in. */
static void record_failure(wsp_conn *c, wsp_class cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void record_failure(wsp_conn *c, wsp_class cls, const char *fmt, va_list ap)
{
    if (c->rec.err.cls == WSP_CLASS_OK) {
        wsp_err_vset(&c->rec.err, cls, fmt, ap);
        c->rec.failed_phase = c->phase;
    }
}

/* Record the first failure and finish. */
static void fail(wsp_conn *c, wsp_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(wsp_conn *c, wsp_class cls, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record_failure(c, cls, fmt, ap);
    va_end(ap);
    finish(c);
}

/* fail() with a hint of its own instead of the class's default. The hint is in the record
 * before the owner hears of the verdict (finish calls on_done). */
static void fail_hinted(wsp_conn *c, wsp_class cls, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_hinted(wsp_conn *c, wsp_class cls, const char *hint, const char *fmt, ...)
{
    bool first = c->rec.err.cls == WSP_CLASS_OK;
    va_list ap;
    va_start(ap, fmt);
    record_failure(c, cls, fmt, ap);
    va_end(ap);
    if (first)
        wsp_err_hint(&c->rec.err, "%s", hint);
    finish(c);
}

static void fail_err(wsp_conn *c, const wsp_err *e)
{
    if (c->rec.err.cls == WSP_CLASS_OK) {
        c->rec.err = *e;
        c->rec.failed_phase = c->phase;
    }
    finish(c);
}

/* ---- timers ---- */

static void timer_cb(uv_timer_t *t);
static void classify_connect_error(wsp_conn *c, int status, const char *addr);
static void try_next_address(wsp_conn *c);

static void arm_timer(wsp_conn *c, uint64_t limit_us)
{
    uint64_t ms = limit_us ? (limit_us + 999) / 1000 : 0;
    if (c->o->deadline_us) {
        uint64_t elapsed_us = (uv_hrtime() - c->rec.t_start) / 1000;
        uint64_t left = elapsed_us >= c->o->deadline_us ? 0 : c->o->deadline_us - elapsed_us;
        uint64_t left_ms = (left + 999) / 1000;
        if (!ms || left_ms < ms)
            ms = left_ms ? left_ms : 1;
    }
    if (ms)
        uv_timer_start(&c->timer, timer_cb, ms, 0);
    else
        uv_timer_stop(&c->timer);
}

static void arm_phase_timer(wsp_conn *c)
{
    arm_timer(c, c->o->timeout_us);
}

static double timeout_s(const wsp_conn *c)
{
    return (double)c->o->timeout_us / 1e6;
}

static void timer_cb(uv_timer_t *t)
{
    wsp_conn *c = t->data;
    switch (c->phase) {
    case WSP_PHASE_RESOLVE:
        if (via_proxy(c) && !c->px->resolving_target)
            fail(c, WSP_CLASS_PROXY_UNREACHABLE,
                 "no answer from the resolver for the proxy's name '%s' within %.3gs",
                 c->o->proxy->host, timeout_s(c));
        else
            fail(c, WSP_CLASS_DNS_TEMPFAIL, "no answer from the resolver for '%s' within %.3gs",
                 c->o->url->host, timeout_s(c));
        break;
    case WSP_PHASE_CONNECT:
        /* every attempt still connecting is silent: each has had its phase time */
        for (int i = 0; c->att && i < c->num_addrs; i++)
            if (c->att[i].tcp) {
                c->rec.attempts[i] = WSP_ATTEMPT_TIMEOUT;
                classify_connect_error(c, UV_ETIMEDOUT, c->rec.addresses[i]);
                uv_close((uv_handle_t *)c->att[i].tcp, handle_closed);
                c->att[i].tcp = NULL;
            }
        c->nactive = 0;
        if (c->next_addr < c->num_addrs) {
            try_next_address(c);
            break;
        }
        fail(c, via_proxy(c) ? WSP_CLASS_PROXY_UNREACHABLE : WSP_CLASS_TCP_TIMEOUT,
             "no answer to the TCP connection to %s%s port %u within %.3gs%s",
             via_proxy(c) ? "the proxy at " : "",
             c->rec.used_address >= 0 ? c->rec.addresses[c->rec.used_address] : "?", c->rec.port,
             timeout_s(c), c->num_addrs > 1 ? " (all addresses tried)" : "");
        break;
    case WSP_PHASE_PROXY:
        if (c->px && c->px->tls_pending)
            fail(c, WSP_CLASS_PROXY_UNREACHABLE,
                 "the proxy %s accepted the connection but the TLS handshake with it did not "
                 "complete within %.3gs",
                 c->o->proxy->shown, timeout_s(c));
        else
            fail(c, WSP_CLASS_PROXY_UNREACHABLE,
                 "the proxy %s accepted the connection but did not open the tunnel within "
                 "%.3gs (%zu bytes of an answer)",
                 c->o->proxy->shown, timeout_s(c), c->px ? c->px->received : 0);
        break;
    case WSP_PHASE_TLS:
        fail(c, WSP_CLASS_TLS_HANDSHAKE, "the TLS handshake did not complete within %.3gs",
             timeout_s(c));
        break;
    case WSP_PHASE_UPGRADE:
        if (c->collecting_body)
            finish(c); /* the class was decided from the status; the body is a courtesy */
        else if (c->head_len == 0)
            fail(c, WSP_CLASS_HS_TIMEOUT,
                 "the server accepted the connection but sent no response within %.3gs",
                 timeout_s(c));
        else
            fail(c, WSP_CLASS_HS_TIMEOUT,
                 "the response was incomplete after %.3gs (%zu bytes received, no end of headers)",
                 timeout_s(c), c->head_len);
        break;
    case WSP_PHASE_OPEN:
        fail(c, WSP_CLASS_WS_MSG_TIMEOUT,
             "the overall deadline passed while the connection was open");
        break;
    case WSP_PHASE_CLOSING:
        c->rec.close_acknowledged = false;
        c->rec.t_closed = uv_hrtime();
        finish(c);
        break;
    case WSP_PHASE_DONE:
        break;
    }
}

/* ---- writing ---- */

static void on_eof(wsp_conn *c, ssize_t nread);

static void write_cb(uv_write_t *req, int status)
{
    write_req *w = (write_req *)req;
    wsp_conn *c = w->c;
    free(w);
    /* EPIPE or ECONNRESET: the peer went away while we wrote. That is the end of the
     * connection, judged like an end of input in this phase (with SIGPIPE ignored by main). A
     * cancelled write belongs to a socket being closed by us. */
    if (status < 0 && status != UV_ECANCELED && c->phase != WSP_PHASE_DONE)
        on_eof(c, status);
}

static int raw_write(wsp_conn *c, const void *data, size_t len)
{
    if (!c->tcp || len == 0)
        return c->tcp ? 0 : -1;
    write_req *w = malloc(sizeof *w + len);
    if (!w)
        return -1;
    w->c = c;
    w->len = len;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)c->tcp, &b, 1, write_cb) != 0) {
        free(w);
        return -1;
    }
    c->rec.tx_bytes += len;
    return 0;
}

/* Move whatever a TLS session wants to send onward: onto the socket, or, for the endpoint's
 * session inside an https:// proxy's, into the proxy's session. */
static int flush_session(wsp_conn *c, wsp_tls *t)
{
    size_t n;
    if (t == c->tls && c->ptls_active) {
        uint8_t chunk[16384];
        while ((n = wsp_tls_take_out(t, chunk, sizeof chunk)) > 0) {
            wsp_err e;
            if (wsp_tls_write(c->ptls, chunk, n, &e) != 0)
                return -1;
        }
        return flush_session(c, c->ptls);
    }
    while ((n = wsp_tls_pending_out(t)) > 0) {
        write_req *w = malloc(sizeof *w + n);
        if (!w)
            return -1;
        w->c = c;
        w->len = wsp_tls_take_out(t, w->data, n);
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
        if (!c->tcp || uv_write(&w->req, (uv_stream_t *)c->tcp, &b, 1, write_cb) != 0) {
            free(w);
            return -1;
        }
        c->rec.tx_bytes += w->len;
    }
    return 0;
}

/* Encrypt plaintext with a session and send its records onward. */
static int session_write(wsp_conn *c, wsp_tls *t, const void *data, size_t len)
{
    wsp_err e;
    if (wsp_tls_write(t, data, len, &e) != 0)
        return -1;
    return flush_session(c, t); /* tx_bytes counts the records there, as rx_bytes does */
}

/* Write to the next hop: the proxy's TLS session when there is one, else the socket. */
static int link_write(wsp_conn *c, const void *data, size_t len)
{
    return c->ptls_active ? session_write(c, c->ptls, data, len) : raw_write(c, data, len);
}

/* Write to the endpoint: through its TLS session when there is one, else to the next hop. */
static int net_write(wsp_conn *c, const void *data, size_t len)
{
    return c->tls_active ? session_write(c, c->tls, data, len) : link_write(c, data, len);
}

/* ---- the upgrade ---- */

static void send_request(wsp_conn *c)
{
    char req[16384];
    c->phase = WSP_PHASE_UPGRADE;
    hs_state *hs = c->hs = calloc(1, sizeof *c->hs);
    if (!hs) {
        fail(c, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    if (wsp_url_host_header(c->o->url, hs->host_header, sizeof hs->host_header) < 0) {
        fail(c, WSP_CLASS_URL_INVALID, "host name too long");
        return;
    }
    hs->req.host_header = hs->host_header;
    hs->req.target = c->o->url->target;
    hs->req.origin = c->o->origin;
    hs->req.subprotocols = c->o->subprotocols;
    hs->req.extensions = c->o->extensions;
    if (c->o->compress) {
        if (!c->rec.pmd)
            c->rec.pmd = calloc(1, sizeof *c->rec.pmd);
        if (!c->rec.pmd ||
            wsp_pmd_format(&c->o->compress_params, hs->pmd_offer, sizeof hs->pmd_offer) < 0) {
            fail(c, WSP_CLASS_INTERNAL, "out of memory");
            return;
        }
        snprintf(c->rec.pmd->offered, sizeof c->rec.pmd->offered, "%s", hs->pmd_offer);
        hs->req.extensions = hs->pmd_offer;
    }
    hs->req.num_extra = 0;
    for (size_t i = 0; i < c->o->num_headers && i < WSP_HS_MAX_EXTRA; i++)
        hs->req.extra[hs->req.num_extra++] = c->o->headers[i];
    int n;
    if (c->o->http_only) {
        n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: wsprobe\r\nAccept: */*\r\n"
                     "Connection: close\r\n",
                     c->o->url->target, hs->host_header);
        for (size_t i = 0; i < hs->req.num_extra && n > 0 && (size_t)n < sizeof req; i++)
            n += snprintf(req + n, sizeof req - (size_t)n, "%s\r\n", hs->req.extra[i]);
        if (n > 0 && (size_t)n < sizeof req)
            n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
        if (n <= 0 || (size_t)n >= sizeof req)
            n = -1;
    } else {
        if (wsp_hs_key_new(hs->key) != 0) {
            fail(c, WSP_CLASS_INTERNAL, "the random generator failed");
            return;
        }
        hs->req.key = hs->key;
        n = wsp_hs_build_request(req, sizeof req, &hs->req);
    }
    if (n < 0) {
        fail(c, WSP_CLASS_USAGE,
             "the upgrade request is too large or a header value contains "
             "a line break");
        return;
    }
    c->head = malloc(WSP_HTTP_HEAD_MAX);
    if (!c->head) {
        fail(c, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    c->head_len = 0;
    if (c->o->trace)
        c->o->trace(c->o->trace_ud, true, req, (size_t)n);
    trace_head(c, true, req, (size_t)n);
    c->rec.t_request = uv_hrtime();
    if (net_write(c, req, (size_t)n) != 0) {
        fail(c, WSP_CLASS_WS_DROPPED, "could not send the upgrade request");
        return;
    }
    arm_phase_timer(c);
}

static void ws_input(wsp_conn *c, const uint8_t *data, size_t len);

static size_t content_length(const wsp_http_response *res)
{
    const wsp_http_header *h = wsp_http_find(res->headers, res->num_headers, "content-length");
    if (!h)
        return SIZE_MAX;
    size_t v = 0;
    for (size_t i = 0; i < h->value_len; i++) {
        if (h->value[i] < '0' || h->value[i] > '9' || v > (SIZE_MAX - 9) / 10)
            return SIZE_MAX;
        v = v * 10 + (size_t)(h->value[i] - '0');
    }
    return v;
}

static void keep_body(wsp_conn *c, const char *data, size_t len)
{
    if (!c->rec.http_body && !(c->rec.http_body = malloc(WSP_CONN_BODY_MAX))) {
        finish(c);
        return;
    }
    size_t room = WSP_CONN_BODY_MAX - c->rec.http_body_len;
    if (len > room)
        len = room;
    memcpy(c->rec.http_body + c->rec.http_body_len, data, len);
    c->rec.http_body_len += len;
    if (c->rec.http_body_len >= WSP_CONN_BODY_MAX ||
        (c->body_expected != SIZE_MAX && c->rec.http_body_len >= c->body_expected))
        finish(c);
}

/* The server's answer to the permessage-deflate offer (RFC 7692 7): a broken one fails the
 * handshake with the parameter named (HS_NEGOTIATION); an accepted one makes the state. */
static int agree_pmd(wsp_conn *c, const wsp_hs_result *hr)
{
    wsp_pmd_params agreed;
    char why[256] = "";
    int r = wsp_pmd_check_response(&c->o->compress_params, hr->extensions, hr->extensions_len,
                                   &agreed, why, sizeof why);
    if (r < 0) {
        c->rec.failed_phase = WSP_PHASE_UPGRADE;
        fail_hinted(c, WSP_CLASS_HS_NEGOTIATION,
                    "the server's permessage-deflate does not follow RFC 7692 section 7: fix its "
                    "extension settings, or probe without --compress to see the rest",
                    "permessage-deflate: %s", why);
        return -1;
    }
    if (r == 0)
        return 0; /* declined: messages go uncompressed, the report says so */
    c->pmd = malloc(sizeof *c->pmd);
    if (!c->pmd) {
        fail(c, WSP_CLASS_INTERNAL, "out of memory");
        return -1;
    }
    wsp_pmd_init(c->pmd, &agreed,
                 c->o->limits.max_message ? c->o->limits.max_message : WSP_WS_DEFAULT_MAX);
    c->rec.pmd->accepted = true;
    wsp_pmd_params_format(&agreed, c->rec.pmd->params, sizeof c->rec.pmd->params);
    return 0;
}

static void upgrade_input(wsp_conn *c, const uint8_t *data, size_t len)
{
    if (c->collecting_body) {
        keep_body(c, (const char *)data, len);
        return;
    }
    size_t room = WSP_HTTP_HEAD_MAX - c->head_len;
    size_t take = len < room ? len : room;
    size_t before = c->head_len;
    memcpy(c->head + c->head_len, data, take);
    c->head_len += take;
    /* The parser reads the whole head on each call: call it when a line ended, while the first
     * bytes arrive (not HTTP at all is seen at once), every 4 KiB (an endless line) and at the
     * cap; a peer that sends one byte at a time then costs lines, not bytes. */
    if (!memchr(data, '\n', take) && before >= 16 && before / 4096 == c->head_len / 4096 &&
        c->head_len < WSP_HTTP_HEAD_MAX)
        return;

    wsp_http_header hdrs[WSP_HTTP_HEADERS_MAX];
    wsp_http_response res;
    memset(&res, 0, sizeof res);
    res.headers = hdrs;
    res.num_headers = WSP_HTTP_HEADERS_MAX;
    const char *why = NULL;
    int n = wsp_http_parse_response(c->head, c->head_len, &res, &why);
    if (n == WSP_HTTP_PARTIAL) {
        if (c->head_len >= WSP_HTTP_HEAD_MAX)
            fail(c, WSP_CLASS_HS_MALFORMED, "the response head exceeds %d bytes without ending",
                 WSP_HTTP_HEAD_MAX);
        return;
    }
    if (n < 0) {
        char first[64];
        wsp_excerpt_line(first, sizeof first, c->head, c->head_len);
        fail(c, WSP_CLASS_HS_MALFORMED, "the response is not valid HTTP: %s (starts \"%s\")",
             why ? why : "malformed", first);
        return;
    }
    /* the head is complete */
    c->rec.t_upgraded = uv_hrtime();
    c->rec.http_status = res.status;
    c->rec.http_minor = res.minor_version;
    snprintf(c->rec.http_reason, sizeof c->rec.http_reason, "%.*s", (int)res.reason_len,
             res.reason);
    size_t keep = (size_t)n < WSP_CONN_HEAD_KEEP ? (size_t)n : WSP_CONN_HEAD_KEEP;
    c->rec.http_head = malloc(keep + 1);
    if (c->rec.http_head) {
        memcpy(c->rec.http_head, c->head, keep);
        c->rec.http_head[keep] = '\0';
        c->rec.http_head_len = keep;
    }
    if (c->o->trace)
        c->o->trace(c->o->trace_ud, false, c->head, (size_t)n);
    trace_head(c, false, c->head, (size_t)n);

    /* what follows the head: the end of the head buffer, then what did not fit in it */
    const uint8_t *rest = (const uint8_t *)c->head + n;
    size_t rest_len = c->head_len - (size_t)n;
    const uint8_t *more = data + take;
    size_t more_len = len - take;

    if (c->o->http_only) {
        if (res.status >= 200 && res.status <= 299) {
            c->rec.handshake_completed = true;
            finish(c);
            return;
        }
    }
    wsp_hs_result hr;
    memset(&hr, 0, sizeof hr);
    wsp_err e;
    wsp_err_clear(&e);
    wsp_class cls = wsp_hs_check_response(&res, &c->hs->req, &hr, &e);
    if (hr.location && hr.location_len && !c->rec.location)
        c->rec.location = strndup(hr.location, hr.location_len < 1024 ? hr.location_len : 1024);
    if (cls != WSP_CLASS_OK || res.status != 101) {
        if (cls == WSP_CLASS_OK)
            wsp_err_set(&e, WSP_CLASS_HS_MALFORMED, "unexpected status %d", res.status);
        c->rec.err = e;
        c->rec.failed_phase = WSP_PHASE_UPGRADE;
        if (res.status == 101) {
            finish(c);
            return;
        }
        /* keep the first bytes of the body for the report, briefly */
        c->collecting_body = true;
        c->body_expected = content_length(&res);
        if (c->body_expected == 0) {
            finish(c);
            return;
        }
        arm_timer(c, BODY_GRACE_MS * 1000ull); /* never past the deadline */
        if (rest_len)
            keep_body(c, (const char *)rest, rest_len);
        if (more_len && c->phase != WSP_PHASE_DONE)
            keep_body(c, (const char *)more, more_len);
        return;
    }
    /* RFC 6455 4.1: the connection is now open */
    if (hr.subprotocol)
        snprintf(c->rec.subprotocol, sizeof c->rec.subprotocol, "%.*s", (int)hr.subprotocol_len,
                 hr.subprotocol);
    if (hr.extensions)
        snprintf(c->rec.extensions, sizeof c->rec.extensions, "%.*s", (int)hr.extensions_len,
                 hr.extensions);
    wsp_ws_limits lim = c->o->limits;
    if (c->o->compress && agree_pmd(c, &hr) != 0)
        return;
    if (c->pmd)
        lim.allowed_rsv |= 0x40; /* RFC 7692 6: RSV1 marks a compressed message */
    c->rec.handshake_completed = true;
    c->phase = WSP_PHASE_OPEN;
    free(c->hs);
    c->hs = NULL;
    wsp_ws_parser_init(&c->parser, WSP_WS_ROLE_CLIENT, &lim);
    c->parser_init = true;
    if (c->o->tracer) {
        c->parser.on_frame = trace_parsed_frame;
        c->parser.on_frame_ud = c;
    }
    /* frames that came with the head must be parsed after on_open; keep them aside */
    uint8_t *early = NULL;
    size_t early_len = rest_len + more_len;
    if (early_len) {
        early = malloc(early_len);
        if (!early) {
            fail(c, WSP_CLASS_INTERNAL, "out of memory");
            return;
        }
        memcpy(early, rest, rest_len);
        memcpy(early + rest_len, more, more_len);
    }
    free(c->head);
    c->head = NULL;
    c->head_len = 0;
    if (c->o->deadline_us)
        arm_timer(c, 0);
    else
        uv_timer_stop(&c->timer);
    if (c->cb->on_open)
        c->cb->on_open(c, c->ud);
    if (early && (c->phase == WSP_PHASE_OPEN || c->phase == WSP_PHASE_CLOSING))
        ws_input(c, early, early_len);
    free(early);
}

/* ---- frames ---- */

/* One masked frame; with rsv1 the first (and only) frame of a compressed message. */
static int send_frame_rsv(wsp_conn *c, unsigned opcode, const void *data, size_t len, bool rsv1)
{
    size_t cap = len + WSP_WS_HEADER_MAX;
    uint8_t stackbuf[512];
    uint8_t *buf = cap <= sizeof stackbuf ? stackbuf : malloc(cap);
    if (!buf)
        return -1;
    long n = -1;
    if (!rsv1) {
        n = wsp_ws_frame_encode(buf, cap, true, opcode, data, len, true);
    } else {
        uint8_t key[4];
        if (wsp_rand_bytes(key, sizeof key) == 0) {
            size_t hl = wsp_ws_header_encode(buf, true, opcode, 0x40, len, key);
            memcpy(buf + hl, data, len);
            wsp_ws_mask(buf + hl, len, key, 0);
            n = (long)(hl + len);
        }
    }
    int rc = -1;
    if (n > 0 && net_write(c, buf, (size_t)n) == 0) {
        c->rec.sent_frames++;
        c->rec.sent_bytes += (uint64_t)n;
        if (opcode != WSP_WS_OP_CLOSE)
            c->rec.t_last_frame_out = uv_hrtime();
        rc = 0;
        wsp_conn_trace_event ev = {.kind = WSP_TRACE_FRAME,
                                   .outgoing = true,
                                   .opcode = opcode,
                                   .fin = true,
                                   .rsv1 = rsv1,
                                   .masked = true,
                                   .length = len,
                                   .data = data,
                                   .data_len = len};
        trace_event(c, &ev);
    }
    if (buf != stackbuf)
        free(buf);
    return rc;
}

static int send_frame(wsp_conn *c, unsigned opcode, const void *data, size_t len)
{
    return send_frame_rsv(c, opcode, data, len, false);
}

static void send_close_frame(wsp_conn *c, unsigned code, const char *reason)
{
    uint8_t payload[WSP_WS_CONTROL_MAX];
    size_t plen = wsp_ws_close_payload(payload, code, reason);
    send_frame(c, WSP_WS_OP_CLOSE, payload, plen);
}

/* The peer's close reason, valid UTF-8 (the parser checked) but possibly holding terminal
 * control sequences: C0 controls, DEL and C1 controls (U+0080-U+009F) become '?'. */
static void keep_close_reason(wsp_conn *c, const uint8_t *r, size_t len)
{
    size_t o = 0, cap = sizeof c->rec.close_reason - 1;
    for (size_t i = 0; i < len && o < cap; i++) {
        uint8_t b = r[i];
        if (b == 0xC2 && i + 1 < len && r[i + 1] >= 0x80 && r[i + 1] <= 0x9F) {
            c->rec.close_reason[o++] = '?';
            i++;
        } else if (b < 0x20 || b == 0x7F) {
            c->rec.close_reason[o++] = '?';
        } else if (b >= 0xC0 && o + 4 > cap) {
            break; /* never cut a multi-byte character */
        } else {
            c->rec.close_reason[o++] = (char)b;
        }
    }
    c->rec.close_reason[o] = '\0';
}

/* A close frame from the server (RFC 6455 7.1.5: no status code reads as 1005).
 *
 * After ours was sent, it acknowledges ours only when it carries our code or no status
 * (7.1.2); any other code is the server's own close that crossed ours on the wire, and is
 * reported as the server's, with its code and reason. Before ours was sent, it is the
 * server's close: we answer it (5.5.1, echoing the code) and the connection ends. A server's
 * close with a code other than 1000 or 1001 fails the connection (WS_CLOSED); whether a
 * 1000/1001 came too early for the conversation is the owner's judgement. */
static void on_ws_close(wsp_conn *c, const wsp_ws_event *ev)
{
    uint64_t now = uv_hrtime();
    int code = ev->close_code >= 0 ? ev->close_code : WSP_WS_CLOSE_NO_STATUS;
    if (c->phase == WSP_PHASE_CLOSING && (ev->close_code < 0 || code == c->close_sent)) {
        c->rec.close_acknowledged = true;
        c->rec.t_closed = now;
        finish(c);
        return;
    }
    bool crossed = c->phase == WSP_PHASE_CLOSING;
    c->rec.closed_by = WSP_CLOSED_BY_SERVER;
    c->rec.close_code = code;
    keep_close_reason(c, ev->data, ev->len);
    if (!crossed) {
        c->rec.t_close_start = now;
        send_close_frame(c, ev->close_code >= 0 ? (unsigned)ev->close_code : 0, NULL);
        c->close_sent = code;
    }
    /* both close frames have been exchanged: the closing handshake is complete */
    c->rec.close_acknowledged = true;
    c->rec.t_closed = uv_hrtime();
    if (code != WSP_WS_CLOSE_NORMAL && code != WSP_WS_CLOSE_GOING_AWAY)
        fail_hinted(c, WSP_CLASS_WS_CLOSED, wsp_ws_close_hint(code),
                    "the server closed the connection with code %d%s%s%s%s", code,
                    c->rec.close_reason[0] ? " (\"" : "", c->rec.close_reason,
                    c->rec.close_reason[0] ? "\")" : "",
                    crossed ? " while our close was on its way" : "");
    else
        finish(c);
}

/* RFC 6455 7.1.7: the server broke a rule; our close frame carries the code the rule names,
 * unless ours is already sent (5.5.1: one close frame per side). */
static void close_failing(wsp_conn *c, unsigned code)
{
    if (c->phase == WSP_PHASE_CLOSING)
        return;
    send_close_frame(c, code, NULL);
    c->close_sent = (int)code;
    c->rec.closed_by = WSP_CLOSED_BY_CLIENT;
    c->rec.close_code = (int)code;
}

/* A message that came with RSV1 is inflated in place of the event's data, within
 * --max-message (a bomb is refused before it is held); text is checked as UTF-8 after. On a
 * failure the connection is failed (WS_PROTOCOL, close 1009 or 1007) and -1 returned. */
static int inflate_event(wsp_conn *c, wsp_ws_event *ev)
{
    wsp_conn_pmd_record *pr = c->rec.pmd;
    pr->received_wire += ev->len;
    if (!ev->compressed) {
        pr->received_inflated += ev->len;
        return 0;
    }
    const uint8_t *out;
    size_t n;
    const char *why = "";
    wsp_pmd_rc rc = wsp_pmd_inflate(c->pmd, ev->data, ev->len, &out, &n, &why);
    unsigned code = rc == WSP_PMD_TOO_BIG ? WSP_WS_CLOSE_TOO_BIG : WSP_WS_CLOSE_BAD_DATA;
    if (rc == WSP_PMD_OK && ev->type == WSP_WS_EV_TEXT && !wsp_utf8_valid(out, n)) {
        rc = WSP_PMD_CORRUPT;
        why = "the inflated text message is not UTF-8 (RFC 6455 8.1)";
    }
    if (rc != WSP_PMD_OK) {
        close_failing(c, code);
        if (rc == WSP_PMD_TOO_BIG)
            fail_hinted(c, WSP_CLASS_WS_PROTOCOL,
                        "raise --max-message if messages this large are expected; otherwise the "
                        "server sends more than its clients accept",
                        "permessage-deflate: a message of %zu compressed bytes inflates past the "
                        "limit of %llu bytes",
                        ev->len, (unsigned long long)c->pmd->max_inflated);
        else
            fail(c, WSP_CLASS_WS_PROTOCOL, "permessage-deflate: %s", why);
        return -1;
    }
    pr->received_inflated += n;
    pr->received_compressed_messages++;
    ev->data = out;
    ev->len = n;
    ev->compressed = false;
    return 0;
}

static void ws_input(wsp_conn *c, const uint8_t *data, size_t len)
{
    const uint8_t *start = data;
    size_t start_len = len;
    bool first_bytes = c->rec.received_bytes == 0 && len > 0;
    c->rec.received_bytes += len;
    /* until the parser says NONE, even with no bytes left: that call releases a large
     * reassembly buffer (ws.h) */
    while (c->phase == WSP_PHASE_OPEN || c->phase == WSP_PHASE_CLOSING) {
        wsp_ws_event ev;
        size_t used = wsp_ws_parse(&c->parser, data, len, &ev);
        data += used;
        len -= used;
        if (ev.type != WSP_WS_EV_NONE && ev.type != WSP_WS_EV_ERROR && ev.type != WSP_WS_EV_CLOSE)
            c->rec.t_last_frame_in = uv_hrtime();
        switch (ev.type) {
        case WSP_WS_EV_NONE:
            return;
        case WSP_WS_EV_TEXT:
        case WSP_WS_EV_BINARY:
            c->rec.received_frames += ev.frames ? ev.frames : 1;
            c->rec.received_messages++;
            if (!c->rec.t_first_message)
                c->rec.t_first_message = uv_hrtime();
            if (c->pmd && inflate_event(c, &ev) != 0)
                return;
            trace_delivered(c, ev.type == WSP_WS_EV_TEXT ? WSP_WS_OP_TEXT : WSP_WS_OP_BINARY, &ev);
            if (c->phase == WSP_PHASE_OPEN && c->cb->on_message)
                c->cb->on_message(c, c->ud, &ev);
            if (c->pmd)
                wsp_pmd_trim(c->pmd); /* the owner is done with the message */
            break;
        case WSP_WS_EV_PING:
            c->rec.received_frames++;
            trace_delivered(c, WSP_WS_OP_PING, &ev);
            if (c->phase == WSP_PHASE_OPEN)
                send_frame(c, WSP_WS_OP_PONG, ev.data, ev.len); /* RFC 6455 5.5.3 */
            break;
        case WSP_WS_EV_PONG:
            c->rec.received_frames++;
            trace_delivered(c, WSP_WS_OP_PONG, &ev);
            if (c->phase == WSP_PHASE_OPEN && c->cb->on_message)
                c->cb->on_message(c, c->ud, &ev);
            break;
        case WSP_WS_EV_CLOSE:
            c->rec.received_frames++;
            trace_delivered(c, WSP_WS_OP_CLOSE, &ev);
            on_ws_close(c, &ev);
            return;
        case WSP_WS_EV_ERROR:
            close_failing(c, ev.error_close_code);
            if (first_bytes && ev.error_close_code != WSP_WS_CLOSE_TOO_BIG) {
                /* nothing parsed yet: the bytes themselves say most (an HTTP answer after
                 * the 101 is a proxy or a server writing a second response) */
                char ex[80];
                wsp_excerpt(ex, sizeof ex, start, start_len < 60 ? start_len : 60);
                bool http = start_len >= 5 && memcmp(start, "HTTP/", 5) == 0;
                size_t keep =
                    start_len < WSP_CONN_AFTER_101_MAX ? start_len : WSP_CONN_AFTER_101_MAX;
                if (http && !c->rec.after_101 && (c->rec.after_101 = malloc(keep))) {
                    memcpy(c->rec.after_101, start, keep);
                    c->rec.after_101_len = keep;
                }
                fail_hinted(c, WSP_CLASS_WS_PROTOCOL,
                            http ? "an HTTP response came where WebSocket frames belong: a proxy "
                                   "or the server answered the request a second time after the "
                                   "101; check what sits in front of the endpoint"
                                 : wsp_class_default_hint(WSP_CLASS_WS_PROTOCOL),
                            "the server broke RFC 6455: %s; the first bytes after the 101: \"%s\"",
                            ev.error, ex);
                return;
            }
            if (ev.error_close_code == WSP_WS_CLOSE_TOO_BIG) {
                /* not a broken server: a message above the limit this client was given */
                fail_hinted(c, WSP_CLASS_WS_PROTOCOL,
                            "raise --max-message if messages this large are expected; otherwise "
                            "the server sends more than its clients accept",
                            "the server sent a message larger than the limit of %llu bytes (%s)",
                            (unsigned long long)c->o->limits.max_message, ev.error);
                return;
            }
            fail(c, WSP_CLASS_WS_PROTOCOL, "the server broke RFC 6455: %s", ev.error);
            return;
        }
    }
}

/* ---- reading ---- */

static void plain_input(wsp_conn *c, const uint8_t *data, size_t len)
{
    switch (c->phase) {
    case WSP_PHASE_UPGRADE:
        upgrade_input(c, data, len);
        break;
    case WSP_PHASE_OPEN:
    case WSP_PHASE_CLOSING:
        ws_input(c, data, len);
        break;
    case WSP_PHASE_RESOLVE:
    case WSP_PHASE_CONNECT:
    case WSP_PHASE_PROXY:
    case WSP_PHASE_TLS:
    case WSP_PHASE_DONE:
        break;
    }
}

static void tls_established(wsp_conn *c)
{
    c->rec.t_tls = uv_hrtime();
    c->rec.tls_done = true;
    wsp_tls_get_info(c->tls, c->rec.tls);
    if (c->o->min_cert_days > 0 && c->rec.tls->have_cert &&
        c->rec.tls->days_left < c->o->min_cert_days) {
        fail(c, WSP_CLASS_CERT_EXPIRED,
             "the certificate expires in %d days, fewer than --min-cert-days %d",
             c->rec.tls->days_left, c->o->min_cert_days);
        return;
    }
    if (c->o->tls_facts_on_failure) {
        free(c->rec.tls);
        c->rec.tls = NULL;
    }
    send_request(c);
}

static void on_eof(wsp_conn *c, ssize_t nread)
{
    if (!c->rec.eof_seen) {
        c->rec.eof_seen = true;
        c->rec.eof_error = nread == UV_EOF ? 0 : (int)nread;
    }
    char eb[96] = "";
    if (nread != UV_EOF)
        snprintf(eb, sizeof eb, " (%s)", uv_strerror((int)nread));
    switch (c->phase) {
    case WSP_PHASE_TLS:
        fail(c, WSP_CLASS_TLS_HANDSHAKE,
             "the server closed the connection during the TLS handshake%s", eb);
        break;
    case WSP_PHASE_UPGRADE:
        if (c->collecting_body)
            finish(c);
        else if (c->head_len == 0) {
            char hint[400];
            if (c->o->subprotocols)
                snprintf(hint, sizeof hint,
                         "wsprobe offered the subprotocol(s) '%.200s': some servers "
                         "(libwebsockets) close without a byte when they speak none of them; "
                         "check the name, or leave --subprotocol out",
                         c->o->subprotocols);
            fail_hinted(c, WSP_CLASS_HS_NO_RESPONSE,
                        c->o->subprotocols ? hint
                                           : wsp_class_default_hint(WSP_CLASS_HS_NO_RESPONSE),
                        "the server closed the connection without answering the upgrade "
                        "request%s",
                        eb);
        } else
            fail(c, WSP_CLASS_HS_MALFORMED,
                 "the server closed the connection in the middle of the response head "
                 "(%zu bytes)%s",
                 c->head_len, eb);
        break;
    case WSP_PHASE_OPEN:
        /* RFC 6455 7.1.5: a connection that ended without a close frame is 1006 */
        c->rec.closed_by = WSP_CLOSED_BY_SERVER;
        c->rec.close_code = WSP_WS_CLOSE_ABNORMAL;
        c->rec.t_close_start = c->rec.t_closed = uv_hrtime();
        fail(c, WSP_CLASS_WS_DROPPED, "the connection was closed without a close frame%s", eb);
        break;
    case WSP_PHASE_CLOSING:
        c->rec.t_closed = uv_hrtime();
        finish(c);
        break;
    case WSP_PHASE_PROXY:
        if (c->px && c->px->tls_pending)
            fail(c, WSP_CLASS_PROXY_PROTOCOL,
                 "the proxy %s closed the connection during the TLS handshake%s (is it an "
                 "https:// proxy?)",
                 c->o->proxy->shown, eb);
        else if (c->px && c->px->received == 0)
            fail(c, WSP_CLASS_PROXY_PROTOCOL,
                 "the proxy %s closed the connection without answering the tunnel request%s",
                 c->o->proxy->shown, eb);
        else
            fail(c, WSP_CLASS_PROXY_PROTOCOL,
                 "the proxy %s closed the connection in the middle of its answer to the tunnel "
                 "request (%zu bytes)%s",
                 c->o->proxy->shown, c->px ? c->px->received : 0, eb);
        break;
    case WSP_PHASE_RESOLVE:
    case WSP_PHASE_CONNECT:
    case WSP_PHASE_DONE:
        finish(c);
        break;
    }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init((char *)read_buf, sizeof read_buf);
}

static void proxy_input(wsp_conn *c, const uint8_t *data, size_t len);
static void proxy_tls_established(wsp_conn *c);
static void proxy_fail_tls(wsp_conn *c, const wsp_err *e);

static void link_input(wsp_conn *c, const uint8_t *data, size_t len);

/* A TLS failure: the endpoint's (with what the handshake saw), or the proxy's. */
static void tls_failed(wsp_conn *c, wsp_tls *t, const wsp_err *e)
{
    if (t == c->ptls) {
        proxy_fail_tls(c, e);
        return;
    }
    if (c->phase == WSP_PHASE_TLS)
        wsp_tls_get_info(c->tls, c->rec.tls);
    fail_err(c, e);
}

/* Ciphertext for a TLS session: the endpoint's (its plaintext goes to the WebSocket), or an
 * https:// proxy's (its plaintext is the next hop's: link_input). Advances the handshake
 * first while there is one. */
static void tls_input(wsp_conn *c, wsp_tls *t, bool handshaking, const uint8_t *data, size_t len)
{
    bool proxy = t == c->ptls;
    uint8_t *buf = proxy ? link_buf : plain_buf;
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_tls_feed(t, data, len, &e) != 0) {
        tls_failed(c, t, &e);
        return;
    }
    if (handshaking) {
        int r = wsp_tls_handshake(t, &e);
        flush_session(c, t);
        if (r < 0) {
            tls_failed(c, t, &e);
            return;
        }
        if (r == 0)
            return;
        if (proxy)
            proxy_tls_established(c);
        else
            tls_established(c);
        if (c->phase == WSP_PHASE_DONE)
            return;
    }
    for (;;) {
        ssize_t n = wsp_tls_read(t, buf, READ_BUF, &e);
        if (n > 0) {
            if (proxy)
                link_input(c, buf, (size_t)n);
            else
                plain_input(c, buf, (size_t)n);
            if (c->phase == WSP_PHASE_DONE)
                return;
            continue;
        }
        flush_session(c, t); /* key updates, alerts */
        if (n == 0)
            return;
        if (n == -2) {
            on_eof(c, UV_EOF);
            return;
        }
        tls_failed(c, t, &e);
        return;
    }
}

/* Bytes from the next hop (the socket, or an https:// proxy's TLS): the tunnel's opening, or
 * the endpoint's TLS records, or its plaintext. */
static void link_input(wsp_conn *c, const uint8_t *data, size_t len)
{
    if (c->phase == WSP_PHASE_PROXY)
        proxy_input(c, data, len);
    else if (c->tls_active)
        tls_input(c, c->tls, c->phase == WSP_PHASE_TLS, data, len);
    else
        plain_input(c, data, len);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    wsp_conn *c = s->data;
    if (nread == 0 || c->phase == WSP_PHASE_DONE)
        return;
    if (nread < 0) {
        on_eof(c, nread);
        return;
    }
    c->rec.rx_bytes += (uint64_t)nread;
    if (c->ptls_active)
        tls_input(c, c->ptls, c->px && c->px->tls_pending, (const uint8_t *)buf->base,
                  (size_t)nread);
    else
        link_input(c, (const uint8_t *)buf->base, (size_t)nread);
}

/* ---- through a proxy ---- */

/* A TLS failure with an https:// proxy: its class, said to be the proxy's; plain HTTP where
 * TLS was expected is the wrong kind of proxy (PROXY_PROTOCOL). */
static void proxy_fail_tls(wsp_conn *c, const wsp_err *e)
{
    wsp_err pe = *e;
    if (e->cls == WSP_CLASS_TLS_TO_PLAINTEXT) {
        wsp_err_set(&pe, WSP_CLASS_PROXY_PROTOCOL,
                    "the proxy %s answered TLS in plaintext: it is not an https:// proxy",
                    c->o->proxy->shown);
        wsp_err_hint(&pe, "write http:// for a proxy that speaks plain HTTP CONNECT");
    } else {
        snprintf(pe.msg, sizeof pe.msg, "the TLS session with the proxy %.150s: %.320s",
                 c->o->proxy->shown, e->msg);
    }
    fail_err(c, &pe);
}

/* The tunnel is open: the endpoint's TLS or upgrade starts inside it, and bytes the proxy
 * sent after its answer are the endpoint's. */
static void start_endpoint(wsp_conn *c);

static void tunnel_open(wsp_conn *c, const uint8_t *rest, size_t rest_len)
{
    c->rec.proxy->t_tunnel = uv_hrtime();
    proxy_state *px = c->px;
    c->px = NULL;
    start_endpoint(c);
    if (rest_len > 0 && c->phase != WSP_PHASE_DONE)
        link_input(c, rest, rest_len);
    free(px->head);
    free(px);
}

static void send_tunnel_request(wsp_conn *c)
{
    proxy_state *px = c->px;
    const wsp_proxy *p = c->o->proxy;
    px->request_sent = true;
    if (p->kind == WSP_PROXY_SOCKS5 || p->kind == WSP_PROXY_SOCKS5H) {
        uint8_t out[WSP_SOCKS5_OUT_MAX];
        size_t n;
        wsp_err e;
        if (wsp_socks5_begin(&px->s5, p, px->host, px->port, out, &n, &e) != 0) {
            fail_err(c, &e);
            return;
        }
        if (link_write(c, out, n) != 0)
            fail(c, WSP_CLASS_PROXY_UNREACHABLE, "could not write to the proxy %s", p->shown);
        return;
    }
    char req[1200];
    int n = wsp_proxy_connect_request(req, sizeof req, p, px->host, px->port);
    px->head = malloc(WSP_PROXY_HEAD_MAX);
    if (n < 0 || !px->head) {
        fail(c, WSP_CLASS_INTERNAL, n < 0 ? "the CONNECT request does not fit" : "out of memory");
        return;
    }
    trace_head(c, true, req, (size_t)n); /* the tracer redacts Proxy-Authorization */
    int w = link_write(c, req, (size_t)n);
    memset(req, 0, sizeof req); /* it may hold Proxy-Authorization */
    if (w != 0)
        fail(c, WSP_CLASS_PROXY_UNREACHABLE, "could not write to the proxy %s", p->shown);
}

static void proxy_tls_established(wsp_conn *c)
{
    c->px->tls_pending = false;
    send_tunnel_request(c);
}

static void connect_answer(wsp_conn *c, const uint8_t *data, size_t len)
{
    proxy_state *px = c->px;
    const wsp_proxy *p = c->o->proxy;
    size_t room = WSP_PROXY_HEAD_MAX - px->head_len;
    size_t take = len < room ? len : room;
    bool first = px->head_len == 0;
    memcpy(px->head + px->head_len, data, take);
    px->head_len += take;
    /* the parser reads the whole head: call it when a line ended, on the first bytes (not
     * HTTP at all is seen at once) and at the cap, so a proxy that trickles bytes costs lines */
    if (!first && px->head_len < WSP_PROXY_HEAD_MAX && !memchr(data, '\n', take))
        return;
    wsp_http_header hdrs[WSP_HTTP_HEADERS_MAX];
    wsp_http_response res = {.headers = hdrs, .num_headers = WSP_HTTP_HEADERS_MAX};
    const char *why = NULL;
    int n = wsp_http_parse_response(px->head, px->head_len, &res, &why);
    if (n == WSP_HTTP_PARTIAL && px->head_len < WSP_PROXY_HEAD_MAX)
        return;
    if (n < 0) {
        char ex[200];
        wsp_excerpt(ex, sizeof ex, px->head, px->head_len < 120 ? px->head_len : 120);
        if (n == WSP_HTTP_PARTIAL)
            fail(c, WSP_CLASS_PROXY_PROTOCOL,
                 "the proxy %s answered CONNECT with more than %d bytes and no end of headers",
                 p->shown, WSP_PROXY_HEAD_MAX);
        else
            fail(c, WSP_CLASS_PROXY_PROTOCOL,
                 "the proxy %s answered CONNECT with something that is not HTTP (%s): %s", p->shown,
                 why ? why : "malformed", ex);
        return;
    }
    c->rec.proxy->status = res.status;
    trace_head(c, false, px->head, (size_t)n);
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_proxy_connect_judge(p, &res, c->rec.proxy->tunnel_target, &e) != 0) {
        fail_err(c, &e);
        return;
    }
    /* bytes of this read after the head (a 2xx to CONNECT has no body: RFC 9110 9.3.6) */
    size_t consumed = (size_t)n - (px->head_len - take);
    tunnel_open(c, data + consumed, len - consumed);
}

static void socks_answer(wsp_conn *c, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        uint8_t out[WSP_SOCKS5_OUT_MAX];
        size_t used, n;
        wsp_err e;
        wsp_err_clear(&e);
        int r = wsp_socks5_feed(&c->px->s5, data + off, len - off, &used, out, &n, &e);
        off += used;
        c->rec.proxy->socks_reply = c->px->s5.reply;
        if (r < 0) {
            fail_err(c, &e);
            return;
        }
        if (n > 0 && link_write(c, out, n) != 0) {
            fail(c, WSP_CLASS_PROXY_UNREACHABLE, "could not write to the proxy %s",
                 c->o->proxy->shown);
            return;
        }
        if (r == 1) {
            tunnel_open(c, data + off, len - off);
            return;
        }
        if (used == 0 && n == 0)
            return;
    }
}

static void proxy_input(wsp_conn *c, const uint8_t *data, size_t len)
{
    proxy_state *px = c->px;
    px->received += len;
    if (!px->request_sent) {
        fail(c, WSP_CLASS_PROXY_PROTOCOL, "the proxy %s spoke before it was asked (%zu bytes)",
             c->o->proxy->shown, len);
        return;
    }
    if (c->o->proxy->kind == WSP_PROXY_SOCKS5 || c->o->proxy->kind == WSP_PROXY_SOCKS5H)
        socks_answer(c, data, len);
    else
        connect_answer(c, data, len);
}

/* TCP to the proxy is up: TLS with it (https://), then the tunnel request. */
static void start_proxy(wsp_conn *c)
{
    c->phase = WSP_PHASE_PROXY;
    arm_phase_timer(c);
    const wsp_proxy *p = c->o->proxy;
    if (p->kind != WSP_PROXY_HTTPS) {
        send_tunnel_request(c);
        return;
    }
    wsp_err e;
    if (!c->o->tls_ctx) {
        fail(c, WSP_CLASS_INTERNAL, "no TLS context for an https:// proxy");
        return;
    }
    if (!(c->ptls = calloc(1, sizeof *c->ptls))) {
        fail(c, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    if (wsp_tls_init_client(c->ptls, c->o->tls_ctx, p->host, p->host_is_ip, c->o->tls_verify, &e) !=
        0) {
        proxy_fail_tls(c, &e);
        return;
    }
    c->ptls_active = true;
    c->px->tls_pending = true;
    int r = wsp_tls_handshake(c->ptls, &e); /* writes the ClientHello */
    flush_session(c, c->ptls);
    if (r < 0)
        proxy_fail_tls(c, &e);
}

/* ---- connecting ---- */

static void classify_connect_error(wsp_conn *c, int status, const char *addr)
{
    if (!c->connect_err && !(c->connect_err = calloc(1, sizeof *c->connect_err)))
        return;
    wsp_err *e = c->connect_err;
    switch (status) {
    case UV_ECONNREFUSED:
        wsp_err_set(e, WSP_CLASS_TCP_REFUSED, "connection refused by %s port %u", addr,
                    c->rec.port);
        break;
    case UV_ETIMEDOUT:
        wsp_err_set(e, WSP_CLASS_TCP_TIMEOUT, "the TCP connection to %s port %u timed out", addr,
                    c->rec.port);
        break;
    case UV_EMFILE:
    case UV_ENFILE:
    case UV_ENOBUFS:
    case UV_ENOMEM:
        wsp_err_set(e, WSP_CLASS_INTERNAL,
                    "no socket for %s port %u: %s (a limit of this machine, "
                    "not of the network)",
                    addr, c->rec.port, uv_strerror(status));
        wsp_err_hint(e, "raise the open-file limit (ulimit -n) or run fewer connections at once");
        break;
    case UV_ENETUNREACH:
    case UV_EHOSTUNREACH:
    case UV_EADDRNOTAVAIL:
    case UV_EAFNOSUPPORT:
        wsp_err_set(e, WSP_CLASS_NET_UNREACHABLE, "cannot reach %s port %u: %s", addr, c->rec.port,
                    uv_strerror(status));
        break;
    default:
        wsp_err_set(e, WSP_CLASS_NET_UNREACHABLE, "connecting to %s port %u: %s", addr, c->rec.port,
                    uv_strerror(status));
        break;
    }
    e->sys_errno = status;
    if (via_proxy(c) && e->cls != WSP_CLASS_INTERNAL) {
        char m[sizeof e->msg];
        snprintf(m, sizeof m, "%s", e->msg);
        wsp_err_set(e, WSP_CLASS_PROXY_UNREACHABLE, "the proxy %.200s: %.300s", c->o->proxy->shown,
                    m);
        e->sys_errno = status;
    }
}

static void connect_cb(uv_connect_t *req, int status)
{
    attempt *a = req->data;
    wsp_conn *c = a->c;
    free(req);
    if (status == UV_ECANCELED || c->phase != WSP_PHASE_CONNECT || !a->tcp)
        return; /* closed by us: a lost race, a timeout, the end */
    int i = (int)(a - c->att);
    if (status < 0) {
        c->rec.attempts[i] = WSP_ATTEMPT_FAILED;
        classify_connect_error(c, status, c->rec.addresses[i]);
        uv_close((uv_handle_t *)a->tcp, handle_closed);
        a->tcp = NULL;
        c->nactive--;
        /* RFC 8305 5: a failure starts the next attempt at once */
        if (c->next_addr < c->num_addrs || c->nactive == 0)
            try_next_address(c);
        return;
    }
    /* the first to connect wins; the others are abandoned */
    c->tcp = a->tcp;
    c->rec.used_address = i;
    c->rec.attempts[i] = WSP_ATTEMPT_WON;
    for (int k = 0; k < c->num_addrs; k++)
        if (k != i && c->att[k].tcp)
            c->rec.attempts[k] = WSP_ATTEMPT_ABANDONED;
    close_attempts(c);
    c->rec.network = true;
    c->rec.t_connected = uv_hrtime();
    free(c->addrs); /* the addresses not tried are no longer needed */
    c->addrs = NULL;
    uv_tcp_nodelay(c->tcp, 1);
    uv_read_start((uv_stream_t *)c->tcp, alloc_cb, read_cb);
    if (via_proxy(c))
        start_proxy(c);
    else
        start_endpoint(c);
}

/* The byte stream to the endpoint is there (TCP, or a proxy's tunnel): TLS, or the upgrade. */
static void start_endpoint(wsp_conn *c)
{
    if (c->o->url->tls) {
        wsp_err e;
        if (!c->o->tls_ctx) {
            fail(c, WSP_CLASS_INTERNAL, "no TLS context for a TLS URL");
            return;
        }
        if (!(c->rec.tls = calloc(1, sizeof *c->rec.tls)) ||
            !(c->tls = calloc(1, sizeof *c->tls))) {
            fail(c, WSP_CLASS_INTERNAL, "out of memory");
            return;
        }
        if (wsp_tls_init_client(c->tls, c->o->tls_ctx, c->o->url->host, c->o->url->host_is_ip,
                                c->o->tls_verify, &e) != 0) {
            fail_err(c, &e);
            return;
        }
        c->tls_active = true;
        c->rec.tls_used = true;
        c->phase = WSP_PHASE_TLS;
        arm_phase_timer(c);
        int r = wsp_tls_handshake(c->tls, &e); /* writes the ClientHello */
        flush_session(c, c->tls);
        if (r < 0)
            fail_err(c, &e);
        return;
    }
    send_request(c);
}

static void he_cb(uv_timer_t *t)
{
    wsp_conn *c = t->data;
    if (c->phase == WSP_PHASE_CONNECT && c->next_addr < c->num_addrs)
        try_next_address(c);
}

/* Start the next address's attempt (Happy Eyeballs: it races the ones still connecting, and
 * the one after it starts HE_DELAY_MS later unless one wins first); with none left and none
 * connecting, the connection fails with the last attempt's error. */
static void try_next_address(wsp_conn *c)
{
    if (c->next_addr >= c->num_addrs) {
        if (c->nactive > 0)
            return; /* the others may still connect */
        if (!c->connect_err) {
            fail(c, WSP_CLASS_INTERNAL, "out of memory");
            return;
        }
        if (c->num_addrs > 1) {
            size_t l = strlen(c->connect_err->msg);
            snprintf(c->connect_err->msg + l, sizeof c->connect_err->msg - l,
                     " (all %d addresses tried)", c->num_addrs);
        }
        fail_err(c, c->connect_err);
        return;
    }
    int i = c->next_addr++;
    if (c->rec.used_address < 0 || c->nactive == 0)
        c->rec.used_address = i; /* the address a failure is reported for, until one wins */
    uv_tcp_t *tcp = malloc(sizeof *tcp);
    uv_connect_t *req = malloc(sizeof *req);
    if (!tcp || !req) {
        free(tcp);
        free(req);
        fail(c, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    /* With a source address, make the socket now so that connect() can pick the port for this
     * destination (IP_BIND_ADDRESS_NO_PORT): bind() with port 0 searches the whole ephemeral
     * range under a lock for every socket, which made 10,000 bound connections cost 5.7
     * CPU-seconds (issue 7). */
    if (!c->o->bind_addr || uv_tcp_init_ex(c->loop, tcp, c->o->bind_addr->sa_family) != 0)
        uv_tcp_init(c->loop, tcp);
    tcp->data = c;
    c->open_handles++;
    c->att[i].c = c;
    c->att[i].tcp = tcp;
    req->data = &c->att[i];
    int rc = 0;
    if (c->o->bind_addr) {
#ifdef IP_BIND_ADDRESS_NO_PORT
        uv_os_fd_t fd;
        int one = 1;
        if (uv_fileno((const uv_handle_t *)tcp, &fd) == 0)
            setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
        rc = uv_tcp_bind(tcp, c->o->bind_addr, 0);
    }
    if (rc == 0)
        rc = uv_tcp_connect(req, tcp, (const struct sockaddr *)&c->addrs[i], connect_cb);
    if (rc != 0) {
        free(req);
        c->rec.attempts[i] = WSP_ATTEMPT_FAILED;
        classify_connect_error(c, rc, c->rec.addresses[i]);
        uv_close((uv_handle_t *)tcp, handle_closed);
        c->att[i].tcp = NULL;
        try_next_address(c);
        return;
    }
    c->nactive++;
    arm_phase_timer(c); /* the newest attempt's phase time */
    if (c->he_timer && c->next_addr < c->num_addrs)
        uv_timer_start(c->he_timer, he_cb, HE_DELAY_MS, 0);
}

/* RFC 8305 4: interleave the families, IPv6 first, each in the resolver's order. */
static void interleave(struct sockaddr_storage *a, int n)
{
    struct sockaddr_storage tmp[WSP_DNS_MAX_ADDRS];
    int v6[WSP_DNS_MAX_ADDRS], v4[WSP_DNS_MAX_ADDRS], n6 = 0, n4 = 0, k = 0;
    if (n < 2 || n > WSP_DNS_MAX_ADDRS)
        return;
    for (int i = 0; i < n; i++) {
        if (a[i].ss_family == AF_INET6)
            v6[n6++] = i;
        else
            v4[n4++] = i;
    }
    if (!n6 || !n4)
        return;
    for (int i = 0; i < n6 || i < n4; i++) {
        if (i < n6)
            tmp[k++] = a[v6[i]];
        if (i < n4)
            tmp[k++] = a[v4[i]];
    }
    memcpy(a, tmp, (size_t)n * sizeof *a);
}

static void use_addresses(wsp_conn *c, const struct sockaddr_storage *addrs, int n)
{
    c->num_addrs = 0;
    size_t cap = n < WSP_DNS_MAX_ADDRS ? (size_t)(n > 0 ? n : 1) : WSP_DNS_MAX_ADDRS;
    c->addrs = calloc(cap, sizeof *c->addrs);
    c->rec.addresses = calloc(cap, sizeof *c->rec.addresses);
    if (!c->addrs || !c->rec.addresses) {
        fail(c, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    struct sockaddr_storage order[WSP_DNS_MAX_ADDRS];
    int no = 0;
    for (int i = 0; i < n && no < (int)cap; i++)
        if (c->o->family == AF_UNSPEC || addrs[i].ss_family == c->o->family)
            order[no++] = addrs[i];
    interleave(order, no);
    for (int i = 0; i < no; i++) {
        int fam = order[i].ss_family;
        c->addrs[c->num_addrs] = order[i];
        if (fam == AF_INET)
            ((struct sockaddr_in *)&c->addrs[c->num_addrs])->sin_port = htons(c->rec.port);
        else
            ((struct sockaddr_in6 *)&c->addrs[c->num_addrs])->sin6_port = htons(c->rec.port);
        wsp_dns_addr_str((const struct sockaddr *)&order[i], c->rec.addresses[c->num_addrs],
                         sizeof c->rec.addresses[0]);
        c->num_addrs++;
    }
    c->rec.num_addresses = c->num_addrs;
    c->rec.t_resolved = uv_hrtime();
    if (c->num_addrs == 0) {
        fail(c, via_proxy(c) ? WSP_CLASS_PROXY_UNREACHABLE : WSP_CLASS_NET_UNREACHABLE,
             "no address of the requested family for '%s'",
             via_proxy(c) ? c->o->proxy->host : c->o->url->host);
        return;
    }
    c->att = calloc((size_t)c->num_addrs, sizeof *c->att);
    c->rec.attempts = calloc((size_t)c->num_addrs, sizeof *c->rec.attempts);
    if (!c->att || !c->rec.attempts) {
        fail(c, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    if (c->num_addrs > 1) {
        c->he_timer = malloc(sizeof *c->he_timer);
        if (!c->he_timer) {
            fail(c, WSP_CLASS_INTERNAL, "out of memory");
            return;
        }
        uv_timer_init(c->loop, c->he_timer);
        c->he_timer->data = c;
        c->open_handles++;
    }
    c->phase = WSP_PHASE_CONNECT;
    try_next_address(c);
}

static void resolve_proxy(wsp_conn *c);

static void dns_cb(void *ud, const wsp_dns_result *res, const wsp_err *err)
{
    wsp_conn *c = ud;
    c->dnsq = NULL;
    if (c->phase != WSP_PHASE_RESOLVE)
        return;
    if (via_proxy(c) && c->px->resolving_target) {
        /* socks5://: the endpoint's name resolved here; the proxy gets its first address */
        c->px->resolving_target = false;
        if (!res) {
            c->rec.t_resolved = uv_hrtime();
            fail_err(c, err);
            return;
        }
        int i;
        for (i = 0; i < res->num_addrs; i++)
            if (c->o->family == AF_UNSPEC || res->addrs[i].ss_family == c->o->family)
                break;
        if (i == res->num_addrs) {
            fail(c, WSP_CLASS_NET_UNREACHABLE, "no address of the requested family for '%s'",
                 c->o->url->host);
            return;
        }
        wsp_dns_addr_str((const struct sockaddr *)&res->addrs[i], c->px->host, sizeof c->px->host);
        snprintf(c->rec.proxy->tunnel_target, sizeof c->rec.proxy->tunnel_target,
                 strchr(c->px->host, ':') ? "[%s]:%u" : "%s:%u", c->px->host, c->px->port);
        resolve_proxy(c);
        return;
    }
    if (!res) {
        c->rec.t_resolved = uv_hrtime();
        if (via_proxy(c)) {
            wsp_err pe;
            wsp_err_set(&pe, WSP_CLASS_PROXY_UNREACHABLE, "the proxy's name: %s", err->msg);
            fail_err(c, &pe);
            return;
        }
        fail_err(c, err);
        return;
    }
    use_addresses(c, res->addrs, res->num_addrs);
}

/* Look a name up (the endpoint's, or a proxy's) for port; the answer comes to dns_cb. */
static void lookup(wsp_conn *c, const char *host, uint16_t port)
{
    wsp_dns_opts dopts = {
        .family = c->o->family, .servers = c->o->dns_servers, .timeout_us = c->o->timeout_us};
    wsp_err e;
    wsp_err_clear(&e);
    c->dnsq = wsp_dns_resolve(c->loop, host, port, &dopts, dns_cb, c, &e);
    if (!c->dnsq)
        fail_err(c, &e);
}

/* An IP literal as the one address to connect to. */
static void use_literal(wsp_conn *c, const char *host, uint16_t port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(host, ':'))
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss);
    else
        uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
    use_addresses(c, &ss, 1);
}

static void resolve_proxy(wsp_conn *c)
{
    const wsp_proxy *p = c->o->proxy;
    if (p->host_is_ip)
        use_literal(c, p->host, p->port);
    else
        lookup(c, p->host, p->port);
}

/* Through a proxy: name the tunnel's target (a pinned address, an IP literal, the name, or
 * for socks5:// the name resolved here first), then resolve the proxy. */
static void start_via_proxy(wsp_conn *c)
{
    const wsp_url *u = c->o->url;
    proxy_state *px = c->px = calloc(1, sizeof *c->px);
    if (!px) {
        fail(c, WSP_CLASS_INTERNAL, "out of memory");
        return;
    }
    px->port = u->port;
    c->rec.port = c->o->proxy->port;
    snprintf(px->host, sizeof px->host, "%s", u->host);
    for (int i = 0; i < c->o->num_pinned; i++) {
        int fam = c->o->pinned[i].ss_family;
        if (c->o->family == AF_UNSPEC || fam == c->o->family) {
            wsp_dns_addr_str((const struct sockaddr *)&c->o->pinned[i], px->host, sizeof px->host);
            break;
        }
    }
    bool literal = u->host_is_ip || c->o->num_pinned > 0;
    snprintf(c->rec.proxy->tunnel_target, sizeof c->rec.proxy->tunnel_target,
             strchr(px->host, ':') ? "[%s]:%u" : "%s:%u", px->host, px->port);
    if (c->o->proxy->kind == WSP_PROXY_SOCKS5 && !literal) {
        px->resolving_target = true;
        lookup(c, u->host, u->port);
        return;
    }
    resolve_proxy(c);
}

wsp_conn *wsp_conn_new(uv_loop_t *loop, const wsp_conn_opts *opts, const wsp_conn_cbs *cbs,
                       void *ud)
{
    wsp_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->loop = loop;
    c->o = opts;
    c->cb = cbs;
    c->ud = ud;
    c->phase = WSP_PHASE_RESOLVE;
    c->rec.used_address = -1;
    c->rec.close_code = -1;
    c->close_sent = -1;
    c->rec.port = opts->url->port;
    wsp_err_clear(&c->rec.err);
    if (opts->tracer) {
        static atomic_uint_fast64_t next_id;
        c->trace_id = atomic_fetch_add(&next_id, 1) + 1;
    }
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    c->open_handles = 1;
    return c;
}

void wsp_conn_start(wsp_conn *c)
{
    c->rec.t_start = uv_hrtime();
    arm_phase_timer(c);
    if (c->o->proxy) {
        if (!(c->rec.proxy = calloc(1, sizeof *c->rec.proxy))) {
            fail(c, WSP_CLASS_INTERNAL, "out of memory");
            return;
        }
        c->rec.proxy->proxy = c->o->proxy;
        c->rec.proxy->socks_reply = -1;
        if (via_proxy(c)) {
            start_via_proxy(c);
            return;
        }
    }
    if (c->o->num_pinned > 0) {
        use_addresses(c, c->o->pinned, c->o->num_pinned);
        return;
    }
    if (c->o->url->host_is_ip) {
        use_literal(c, c->o->url->host, c->o->url->port);
        return;
    }
    lookup(c, c->o->url->host, c->o->url->port);
}

bool wsp_conn_compressing(const wsp_conn *c)
{
    return c->pmd != NULL;
}

int wsp_conn_send(wsp_conn *c, unsigned opcode, const void *data, size_t len)
{
    if (c->phase != WSP_PHASE_OPEN)
        return -1;
    bool data_frame = opcode == WSP_WS_OP_TEXT || opcode == WSP_WS_OP_BINARY;
    if (data_frame)
        c->rec.sent_messages++;
    if (!c->pmd || !data_frame)
        return send_frame(c, opcode, data, len);
    wsp_conn_pmd_record *pr = c->rec.pmd;
    pr->sent_inflated += len;
    if (len == 0) { /* an empty message goes as it is (RFC 7692 allows either) */
        return send_frame(c, opcode, data, len);
    }
    const uint8_t *z;
    size_t zl;
    if (wsp_pmd_compress(c->pmd, data, len, &z, &zl) != 0) {
        fail(c, WSP_CLASS_INTERNAL, "cannot compress a message: out of memory");
        return -1;
    }
    pr->sent_wire += zl;
    pr->sent_compressed_messages++;
    int rc = send_frame_rsv(c, opcode, z, zl, true);
    if (c->pmd)
        wsp_pmd_trim(c->pmd); /* nothing held between messages (load keeps thousands) */
    return rc;
}

int wsp_conn_send_raw(wsp_conn *c, const void *data, size_t len)
{
    if (c->phase != WSP_PHASE_OPEN && c->phase != WSP_PHASE_UPGRADE)
        return -1;
    c->rec.sent_bytes += len;
    wsp_conn_trace_event ev = {
        .kind = WSP_TRACE_RAW, .outgoing = true, .length = len, .data = data, .data_len = len};
    trace_event(c, &ev);
    return net_write(c, data, len);
}

void wsp_conn_close(wsp_conn *c, unsigned code, const char *reason)
{
    if (c->phase == WSP_PHASE_DONE || c->phase == WSP_PHASE_CLOSING)
        return;
    if (c->phase != WSP_PHASE_OPEN) {
        finish(c);
        return;
    }
    c->phase = WSP_PHASE_CLOSING;
    c->rec.closed_by = WSP_CLOSED_BY_CLIENT;
    c->close_sent = code ? (int)code : WSP_WS_CLOSE_NO_STATUS;
    c->rec.close_code = c->close_sent;
    snprintf(c->rec.close_reason, sizeof c->rec.close_reason, "%s", reason ? reason : "");
    c->rec.t_close_start = uv_hrtime();
    send_close_frame(c, code, reason);
    arm_phase_timer(c);
}

void wsp_conn_fail(wsp_conn *c, wsp_class cls, const char *fmt, ...)
{
    if (c->phase == WSP_PHASE_DONE)
        return;
    va_list ap;
    va_start(ap, fmt);
    record_failure(c, cls, fmt, ap);
    va_end(ap);
    if (c->phase == WSP_PHASE_OPEN)
        wsp_conn_close(c, WSP_WS_CLOSE_NORMAL, NULL);
    else
        finish(c);
}

void wsp_conn_free(wsp_conn *c)
{
    if (!c || c->freed)
        return;
    c->freed = true;
    if (c->dnsq) {
        wsp_dns_cancel(c->dnsq);
        c->dnsq = NULL;
    }
    close_attempts(c);
    if (c->phase != WSP_PHASE_DONE) {
        c->phase = WSP_PHASE_DONE;
        close_tcp(c);
    } else if (c->tcp && !c->rec.network) {
        close_tcp(c);
    }
    /* a shutdown in flight closes the socket from its callback */
    uv_timer_stop(&c->timer);
    if (!uv_is_closing((uv_handle_t *)&c->timer))
        uv_close((uv_handle_t *)&c->timer, handle_closed);
}

wsp_conn_phase wsp_conn_get_phase(const wsp_conn *c)
{
    return c->phase;
}

wsp_conn_record *wsp_conn_get_record(wsp_conn *c)
{
    return &c->rec;
}

void *wsp_conn_get_ud(const wsp_conn *c)
{
    return c->ud;
}
