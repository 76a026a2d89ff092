/* test_conn.c - one client connection (wsp_conn) on a real libuv loop against a scripted peer
 * on the same loop: a uv_tcp server on 127.0.0.1 port 0 that reads the upgrade request, answers
 * a correct 101 (Sec-WebSocket-Accept from wsp_hs_accept) or a scripted refusal, then sends
 * scripted frames. The peer decodes what the client sends with its own small frame reader
 * (masks checked and removed here, not by ws.c), so the tests assert on the bytes on the wire.
 *
 * Cases: an echo then our close acknowledged; the server closing first (4001 and a reason, a
 * close without status, control bytes in the reason); the server's close crossing ours; a drop
 * after the 101; a refused port; a server that never answers; a ping answered with the same
 * payload; a masked server frame; a refusal with a body; a bad Accept. Each run is bounded: the
 * connection's own timeouts (opts.timeout_us 1 s, deadline 2 s) and a 3 s guard that fails the
 * test if the loop is still busy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include <uv.h>

#include "net/conn.h"
#include "codec/handshake.h"
#include "codec/url.h"

#define MS 1000ull
#define GUARD_MS 3000

/* ---- the scripted peer ---- */

typedef enum script {
    S_ECHO,          /* echo data frames; answer a close with the same payload */
    S_CLOSE_FIRST,   /* with the 101: close 4001 "bye now" */
    S_CLOSE_CTRL,    /* with the 101: close 4002 with control bytes in the reason */
    S_CLOSE_EMPTY,   /* with the 101: a close frame without status */
    S_CROSS_1011,    /* answer the client's close with a close 1011 of its own */
    S_DROP,          /* close the TCP connection right after the 101 */
    S_SILENT,        /* read the request, never answer */
    S_PING,          /* with the 101: a ping; when the pong arrives, close 1000 */
    S_MASKED,        /* with the 101: a masked text frame (servers must not mask) */
    S_REFUSE,        /* 403 with a body */
    S_BAD_ACCEPT,    /* a 101 whose Sec-WebSocket-Accept is for another key */
    S_DEAF,          /* a 101, then nothing: the client's close is never answered */
    S_DROP_ON_CLOSE, /* the client's close is answered by closing TCP, without a close frame */
} script;

#define PING_PAYLOAD "ping\x00\xff\x01 payload"
#define PING_LEN (sizeof PING_PAYLOAD - 1)

typedef struct frame {
    bool fin, masked;
    uint8_t opcode;
    uint8_t payload[256]; /* unmasked */
    size_t len;
} frame;

typedef struct peer {
    uv_loop_t *loop;
    script mode;
    uv_tcp_t listener;
    bool listening;
    uv_tcp_t conn;
    bool accepted, conn_open;
    int port;
    uint8_t in[65536];
    size_t in_len;
    size_t head_len; /* the request head, once complete */
    size_t parsed;   /* frame bytes decoded after the head */
    frame frames[16];
    size_t nframes;
    bool bad_frame; /* something the client sent did not decode */
    bool eof;
} peer;

typedef struct pwrite {
    uv_write_t req;
    peer *p;
    bool then_close;
    uint8_t data[];
} pwrite;

static void peer_conn_closed(uv_handle_t *h)
{
    peer *p = h->data;
    p->conn_open = false;
}

static void peer_close_conn(peer *p)
{
    if (p->accepted && !uv_is_closing((uv_handle_t *)&p->conn))
        uv_close((uv_handle_t *)&p->conn, peer_conn_closed);
}

static void peer_write_cb(uv_write_t *req, int status)
{
    (void)status;
    pwrite *w = (pwrite *)req;
    if (w->then_close)
        peer_close_conn(w->p);
    free(w);
}

static void peer_send(peer *p, const void *data, size_t len, bool then_close)
{
    if (uv_is_closing((uv_handle_t *)&p->conn))
        return;
    pwrite *w = malloc(sizeof *w + len);
    assert_non_null(w);
    w->p = p;
    w->then_close = then_close;
    memcpy(w->data, data, len);
    uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)len);
    assert_int_equal(uv_write(&w->req, (uv_stream_t *)&p->conn, &b, 1, peer_write_cb), 0);
}

/* A server frame (unmasked unless `mask`), payload under 126 bytes. Returns its length. */
static size_t make_frame(uint8_t *out, uint8_t opcode, const void *payload, size_t len, bool mask)
{
    assert_true(len < 126);
    size_t o = 0;
    out[o++] = (uint8_t)(0x80 | opcode);
    out[o++] = (uint8_t)((mask ? 0x80 : 0) | len);
    static const uint8_t key[4] = {0x11, 0x22, 0x33, 0x44};
    if (mask) {
        memcpy(out + o, key, 4);
        o += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[o + i] = (uint8_t)(((const uint8_t *)payload)[i] ^ (mask ? key[i % 4] : 0));
    return o + len;
}

static size_t make_close(uint8_t *out, int code, const char *reason)
{
    uint8_t pl[125] = {0};
    size_t n = 0;
    if (code >= 0) {
        pl[n++] = (uint8_t)(code >> 8);
        pl[n++] = (uint8_t)code;
        size_t r = strlen(reason);
        memcpy(pl + n, reason, r);
        n += r;
    }
    return make_frame(out, 0x8, pl, n, false);
}

/* Decode the client's frames in p->in after the head: every client frame must be masked. */
static void peer_decode(peer *p)
{
    for (;;) {
        const uint8_t *b = p->in + p->head_len + p->parsed;
        size_t avail = p->in_len - p->head_len - p->parsed;
        if (avail < 2)
            return;
        size_t len = b[1] & 0x7f, hl = 2;
        if (len == 126) {
            if (avail < 4)
                return;
            len = (size_t)b[2] << 8 | b[3];
            hl = 4;
        } else if (len == 127) {
            p->bad_frame = true; /* nothing in these tests is that large */
            return;
        }
        bool masked = b[1] & 0x80;
        if (masked)
            hl += 4;
        if (avail < hl + len)
            return;
        if (p->nframes == sizeof p->frames / sizeof p->frames[0] || len > 256) {
            p->bad_frame = true;
            return;
        }
        frame *f = &p->frames[p->nframes++];
        f->fin = b[0] & 0x80;
        f->opcode = b[0] & 0x0f;
        f->masked = masked;
        f->len = len;
        for (size_t i = 0; i < len; i++)
            f->payload[i] = (uint8_t)(b[hl + i] ^ (masked ? b[hl - 4 + i % 4] : 0));
        p->parsed += hl + len;

        /* react */
        uint8_t out[256];
        size_t n;
        switch (p->mode) {
        case S_ECHO:
            if (f->opcode == 0x1 || f->opcode == 0x2) {
                n = make_frame(out, f->opcode, f->payload, f->len, false);
                peer_send(p, out, n, false);
            } else if (f->opcode == 0x8) {
                n = make_frame(out, 0x8, f->payload, f->len, false);
                peer_send(p, out, n, false);
            }
            break;
        case S_CROSS_1011:
            if (f->opcode == 0x8) {
                n = make_close(out, 1011, "crossed");
                peer_send(p, out, n, false);
            }
            break;
        case S_DROP_ON_CLOSE:
            if (f->opcode == 0x8)
                peer_close_conn(p);
            break;
        case S_PING:
            if (f->opcode == 0xA) {
                n = make_close(out, 1000, "");
                peer_send(p, out, n, false);
            }
            break;
        case S_CLOSE_FIRST:
        case S_CLOSE_CTRL:
        case S_CLOSE_EMPTY:
        case S_DROP:
        case S_SILENT:
        case S_MASKED:
        case S_REFUSE:
        case S_BAD_ACCEPT:
        case S_DEAF:
            break;
        }
        if (!p->accepted || uv_is_closing((uv_handle_t *)&p->conn))
            return;
    }
}

static bool header_value(const peer *p, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *h = (const char *)p->in;
    for (size_t i = 0; i + 2 + nl < p->head_len; i++) {
        if (h[i] == '\n' && strncasecmp(h + i + 1, name, nl) == 0 && h[i + 1 + nl] == ':') {
            size_t v = i + 2 + nl;
            while (h[v] == ' ')
                v++;
            size_t e = v;
            while (e < p->head_len && h[e] != '\r')
                e++;
            snprintf(out, cap, "%.*s", (int)(e - v), h + v);
            return true;
        }
    }
    return false;
}

static void peer_answer(peer *p)
{
    char key[64] = "", accept[WSP_HS_ACCEPT_LEN + 1];
    assert_true(header_value(p, "Sec-WebSocket-Key", key, sizeof key));
    if (p->mode == S_BAD_ACCEPT)
        wsp_hs_accept("AAAAAAAAAAAAAAAAAAAAAA==", 24, accept);
    else
        wsp_hs_accept(key, strlen(key), accept);
    uint8_t out[1024];
    int n = snprintf((char *)out, sizeof out,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    size_t o = (size_t)n;
    /* frames that come in the same write as the 101 (conn.c must parse them after on_open) */
    switch (p->mode) {
    case S_CLOSE_FIRST:
        o += make_close(out + o, 4001, "bye now");
        break;
    case S_CLOSE_CTRL:
        o += make_close(out + o, 4002, "a\x1b[2Jb\x7f\xc2\x85\xc3\xa9");
        break;
    case S_CLOSE_EMPTY:
        o += make_close(out + o, -1, NULL);
        break;
    case S_PING:
        o += make_frame(out + o, 0x9, PING_PAYLOAD, PING_LEN, false);
        break;
    case S_MASKED:
        o += make_frame(out + o, 0x1, "masked", 6, true);
        break;
    case S_REFUSE:
        o = (size_t)snprintf((char *)out, sizeof out,
                             "HTTP/1.1 403 Forbidden\r\nContent-Length: 14\r\n"
                             "Content-Type: text/plain\r\n\r\nno entry\x01 here");
        break;
    case S_ECHO:
    case S_CROSS_1011:
    case S_DROP:
    case S_SILENT:
    case S_BAD_ACCEPT:
    case S_DEAF:
    case S_DROP_ON_CLOSE:
        break;
    }
    peer_send(p, out, o, p->mode == S_DROP);
}

static void peer_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    peer *p = h->data;
    static char scratch[64];
    size_t room = sizeof p->in - p->in_len;
    if (room == 0) {
        p->bad_frame = true; /* more than any case sends: keep reading, keep nothing */
        *buf = uv_buf_init(scratch, sizeof scratch);
        return;
    }
    *buf = uv_buf_init((char *)p->in + p->in_len, (unsigned)room);
}

static void peer_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    peer *p = s->data;
    if (nread < 0) {
        p->eof = true;
        peer_close_conn(p);
        return;
    }
    if (buf->base != (char *)p->in + p->in_len)
        return;
    p->in_len += (size_t)nread;
    if (!p->head_len) {
        for (size_t i = 3; i < p->in_len; i++)
            if (memcmp(p->in + i - 3, "\r\n\r\n", 4) == 0) {
                p->head_len = i + 1;
                break;
            }
        if (!p->head_len)
            return;
        if (p->mode != S_SILENT)
            peer_answer(p);
    }
    peer_decode(p);
}

static void peer_on_connection(uv_stream_t *server, int status)
{
    peer *p = server->data;
    assert_int_equal(status, 0);
    assert_false(p->accepted); /* one connection per test */
    uv_tcp_init(p->loop, &p->conn);
    p->conn.data = p;
    assert_int_equal(uv_accept(server, (uv_stream_t *)&p->conn), 0);
    p->accepted = p->conn_open = true;
    uv_read_start((uv_stream_t *)&p->conn, peer_alloc, peer_read);
}

static void listener_closed(uv_handle_t *h)
{
    peer *p = h->data;
    p->listening = false;
}

static void peer_start(peer *p, uv_loop_t *loop, script mode)
{
    memset(p, 0, sizeof *p);
    p->loop = loop;
    p->mode = mode;
    uv_tcp_init(loop, &p->listener);
    p->listener.data = p;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&p->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&p->listener, 4, peer_on_connection), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    assert_int_equal(uv_tcp_getsockname(&p->listener, (struct sockaddr *)&ss, &len), 0);
    p->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    p->listening = true;
}

static void peer_stop_listening(peer *p)
{
    if (p->listening && !uv_is_closing((uv_handle_t *)&p->listener))
        uv_close((uv_handle_t *)&p->listener, listener_closed);
}

/* A port where nothing listens: bound, read, closed. */
static int free_port(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t t;
    uv_tcp_init(&loop, &t);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&t, (const struct sockaddr *)&a, 0), 0);
    struct sockaddr_storage ss;
    int len = sizeof ss;
    assert_int_equal(uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len), 0);
    int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    return port;
}

/* ---- the client side ---- */

typedef enum action {
    A_NOTHING, /* wait for the server */
    A_HELLO,   /* send "hello"; close 1000 "done" when a message comes back */
    A_CLOSE,   /* close 1000 at once */
} action;

typedef struct run {
    uv_loop_t loop;
    peer peer;
    bool with_peer;
    uv_timer_t guard;
    bool hung;
    wsp_url url;
    wsp_conn_opts opts;
    wsp_conn *conn;
    action act;
    int opens, dones;
    wsp_conn_phase phase_at_done;
    wsp_conn_record rec; /* a copy taken in on_done; its pointers cleared */
    char body[WSP_CONN_BODY_MAX + 1];
    size_t body_len;
    char head[WSP_CONN_HEAD_KEEP + 1];
    char address[48];
    char msg[64];
    size_t msg_len;
    int messages;
} run;

static void on_open(wsp_conn *c, void *ud)
{
    run *r = ud;
    r->opens++;
    assert_int_equal(wsp_conn_get_phase(c), WSP_PHASE_OPEN);
    if (r->act == A_HELLO)
        assert_int_equal(wsp_conn_send(c, WSP_WS_OP_TEXT, "hello", 5), 0);
    else if (r->act == A_CLOSE)
        wsp_conn_close(c, 1000, NULL);
}

static void on_message(wsp_conn *c, void *ud, const wsp_ws_event *ev)
{
    run *r = ud;
    r->messages++;
    snprintf(r->msg, sizeof r->msg, "%.*s", (int)ev->len, (const char *)ev->data);
    r->msg_len = ev->len;
    if (r->act == A_HELLO)
        wsp_conn_close(c, 1000, "done");
}

static void on_done(wsp_conn *c, void *ud)
{
    run *r = ud;
    r->dones++;
    r->phase_at_done = wsp_conn_get_phase(c);
    wsp_conn_record *rec = wsp_conn_get_record(c);
    r->rec = *rec;
    if (rec->http_body) {
        r->body_len = rec->http_body_len;
        memcpy(r->body, rec->http_body, rec->http_body_len);
    }
    if (rec->http_head)
        snprintf(r->head, sizeof r->head, "%s", rec->http_head);
    if (rec->used_address >= 0)
        snprintf(r->address, sizeof r->address, "%s", rec->addresses[rec->used_address]);
    r->rec.http_body = r->rec.http_head = r->rec.location = NULL;
    r->rec.addresses = NULL;
    r->rec.tls = NULL;
    wsp_conn_free(c);
    r->conn = NULL;
    if (r->with_peer)
        peer_stop_listening(&r->peer);
}

static void guard_cb(uv_timer_t *t)
{
    run *r = t->data;
    r->hung = true;
    if (r->conn) {
        wsp_conn_free(r->conn);
        r->conn = NULL;
    }
    if (r->with_peer) {
        peer_stop_listening(&r->peer);
        peer_close_conn(&r->peer);
    }
}

static const wsp_conn_cbs cbs = {on_open, on_message, on_done};

/* Run one connection to its end. port < 0: a peer with `mode` on a fresh port. */
static void run_conn(run *r, script mode, action act, int port, uint64_t timeout_us)
{
    memset(r, 0, sizeof *r);
    assert_int_equal(uv_loop_init(&r->loop), 0);
    r->act = act;
    if (port < 0) {
        peer_start(&r->peer, &r->loop, mode);
        r->with_peer = true;
        port = r->peer.port;
    }
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/chat?room=1", port);
    wsp_err e;
    assert_int_equal(wsp_url_parse(url, &r->url, 0, &e), 0);
    r->opts.url = &r->url;
    r->opts.family = AF_UNSPEC;
    r->opts.timeout_us = timeout_us;
    r->opts.deadline_us = 2000 * MS;
    uv_timer_init(&r->loop, &r->guard);
    r->guard.data = r;
    uv_timer_start(&r->guard, guard_cb, GUARD_MS, 0);
    uv_unref((uv_handle_t *)&r->guard); /* the loop ends when the connection and peer do */
    r->conn = wsp_conn_new(&r->loop, &r->opts, &cbs, r);
    assert_non_null(r->conn);
    wsp_conn_start(r->conn);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&r->guard, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&r->loop), 0); /* every handle closed */
    if (r->hung)
        fail_msg("the connection or the peer was still busy after %d ms", GUARD_MS);
    assert_int_equal(r->dones, 1);
    assert_int_equal(r->phase_at_done, WSP_PHASE_DONE);
    if (r->with_peer)
        assert_false(r->peer.bad_frame);
}

static void expect_class(const run *r, wsp_class want)
{
    if (r->rec.err.cls != want)
        fail_msg("class %s (%s), want %s", wsp_class_name(r->rec.err.cls), r->rec.err.msg,
                 wsp_class_name(want));
    if (want != WSP_CLASS_OK) {
        assert_true(r->rec.err.msg[0] != '\0');
        assert_true(r->rec.err.hint[0] != '\0');
    } else {
        assert_string_equal(r->rec.err.msg, "");
    }
}

/* The close frame the peer received from the client, as frame index i. */
static void expect_client_close(const run *r, size_t i, int code, const char *reason)
{
    assert_true(r->peer.nframes > i);
    const frame *f = &r->peer.frames[i];
    assert_int_equal(f->opcode, 0x8);
    assert_true(f->fin);
    assert_true(f->masked);
    if (code < 0) {
        assert_int_equal(f->len, 0);
        return;
    }
    assert_true(f->len >= 2);
    assert_int_equal(f->payload[0] << 8 | f->payload[1], code);
    assert_int_equal(f->len - 2, strlen(reason));
    assert_memory_equal(f->payload + 2, reason, f->len - 2);
}

/* Phase times never go backwards. */
static void expect_times_in_order(const wsp_conn_record *rec)
{
    const uint64_t t[] = {rec->t_start,    rec->t_resolved,    rec->t_connected, rec->t_request,
                          rec->t_upgraded, rec->t_close_start, rec->t_closed,    rec->t_end};
    uint64_t last = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (!t[i])
            continue;
        if (t[i] < last)
            fail_msg("time %zu goes backwards", i);
        last = t[i];
    }
}

/* ---- cases ---- */

static void test_echo_then_our_close(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_ECHO, A_HELLO, -1, 1000 * MS);
    expect_class(r, WSP_CLASS_OK);
    assert_int_equal(r->opens, 1);
    assert_int_equal(r->messages, 1);
    assert_int_equal(r->msg_len, 5);
    assert_string_equal(r->msg, "hello");
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_CLIENT);
    assert_int_equal(r->rec.close_code, 1000);
    assert_string_equal(r->rec.close_reason, "done");
    assert_true(r->rec.close_acknowledged);
    assert_true(r->rec.network);
    assert_true(r->rec.handshake_completed);
    assert_int_equal(r->rec.http_status, 101);
    assert_int_equal(r->rec.http_minor, 1);
    assert_string_equal(r->rec.http_reason, "Switching Protocols");
    assert_non_null(strstr(r->head, "Sec-WebSocket-Accept: "));
    assert_string_equal(r->address, "127.0.0.1");
    assert_int_equal(r->rec.port, r->peer.port);
    assert_false(r->rec.tls_used);
    /* frames both ways: our text and close, its echo and close */
    assert_int_equal(r->rec.sent_frames, 2);
    assert_int_equal(r->rec.received_frames, 2);
    assert_int_equal(r->rec.sent_bytes, (2 + 4 + 5) + (2 + 4 + 2 + 4));
    assert_int_equal(r->rec.received_bytes, (2 + 5) + (2 + 2 + 4));
    assert_int_equal(r->rec.tx_bytes, r->peer.in_len);
    assert_true(r->rec.rx_bytes > r->rec.received_bytes);
    assert_true(r->rec.t_first_message && r->rec.t_closed && r->rec.t_end);
    expect_times_in_order(&r->rec);
    /* the wire as the peer saw it */
    assert_true(r->peer.head_len > 0);
    assert_memory_equal(r->peer.in, "GET /chat?room=1 HTTP/1.1\r\n", 27);
    char host[64], want_host[64];
    assert_true(header_value(&r->peer, "Host", host, sizeof host));
    snprintf(want_host, sizeof want_host, "127.0.0.1:%d", r->peer.port);
    assert_string_equal(host, want_host);
    assert_int_equal(r->peer.nframes, 2);
    const frame *f = &r->peer.frames[0];
    assert_int_equal(f->opcode, 0x1);
    assert_true(f->fin && f->masked);
    assert_int_equal(f->len, 5);
    assert_memory_equal(f->payload, "hello", 5);
    expect_client_close(r, 1, 1000, "done");
    assert_true(r->peer.eof); /* the client ended the TCP connection */
    free(r);
}

static void test_server_closes_first(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_CLOSE_FIRST, A_NOTHING, -1, 1000 * MS);
    expect_class(r, WSP_CLASS_WS_CLOSED);
    assert_int_equal(r->opens, 1);
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_SERVER);
    assert_int_equal(r->rec.close_code, 4001);
    assert_string_equal(r->rec.close_reason, "bye now");
    assert_true(r->rec.close_acknowledged);
    assert_int_equal(r->rec.failed_phase, WSP_PHASE_OPEN);
    assert_non_null(strstr(r->rec.err.msg, "4001"));
    assert_non_null(strstr(r->rec.err.msg, "bye now"));
    /* RFC 6455 5.5.1: we answered, echoing the code */
    assert_int_equal(r->peer.nframes, 1);
    expect_client_close(r, 0, 4001, "");
    assert_int_equal(r->rec.received_frames, 1);
    assert_int_equal(r->rec.sent_frames, 1);
    expect_times_in_order(&r->rec);
    free(r);
}

/* The peer's reason, valid UTF-8, loses its control bytes (C0, DEL, C1) and keeps the rest. */
static void test_server_close_reason_sanitised(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_CLOSE_CTRL, A_NOTHING, -1, 1000 * MS);
    expect_class(r, WSP_CLASS_WS_CLOSED);
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_SERVER);
    assert_int_equal(r->rec.close_code, 4002);
    assert_string_equal(r->rec.close_reason, "a?[2Jb??\xc3\xa9");
    assert_null(strchr(r->rec.err.msg, '\x1b'));
    free(r);
}

static void test_server_close_without_status(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_CLOSE_EMPTY, A_NOTHING, -1, 1000 * MS);
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_SERVER);
    assert_int_equal(r->rec.close_code, 1005); /* RFC 6455 7.1.5 */
    assert_string_equal(r->rec.close_reason, "");
    assert_true(r->rec.close_acknowledged);
    expect_class(r, WSP_CLASS_WS_CLOSED);
    /* our answer carries no status either */
    assert_int_equal(r->peer.nframes, 1);
    expect_client_close(r, 0, -1, NULL);
    free(r);
}

/* Ours was on the wire when the server's 1011 came: that close is the server's, not an
 * acknowledgement, and its code is never replaced by ours. */
static void test_server_close_crosses_ours(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_CROSS_1011, A_CLOSE, -1, 1000 * MS);
    expect_class(r, WSP_CLASS_WS_CLOSED);
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_SERVER);
    assert_int_equal(r->rec.close_code, 1011);
    assert_string_equal(r->rec.close_reason, "crossed");
    assert_true(r->rec.close_acknowledged);
    assert_non_null(strstr(r->rec.err.msg, "1011"));
    /* one close frame from us only (RFC 6455 5.5.1) */
    assert_int_equal(r->peer.nframes, 1);
    expect_client_close(r, 0, 1000, "");
    assert_int_equal(r->rec.sent_frames, 1);
    free(r);
}

static void test_server_drops_after_101(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_DROP, A_NOTHING, -1, 1000 * MS);
    expect_class(r, WSP_CLASS_WS_DROPPED);
    assert_int_equal(r->opens, 1);
    assert_true(r->rec.handshake_completed);
    assert_int_equal(r->rec.close_code, 1006);
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_SERVER);
    assert_false(r->rec.close_acknowledged);
    assert_int_equal(r->rec.failed_phase, WSP_PHASE_OPEN);
    assert_int_equal(r->peer.nframes, 0);
    free(r);
}

static void test_refused_port(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    int port = free_port();
    run_conn(r, S_ECHO, A_NOTHING, port, 1000 * MS);
    expect_class(r, WSP_CLASS_TCP_REFUSED);
    assert_int_equal(r->opens, 0);
    assert_false(r->rec.network);
    assert_false(r->rec.handshake_completed);
    assert_int_equal(r->rec.failed_phase, WSP_PHASE_CONNECT);
    assert_int_equal(r->rec.err.sys_errno, UV_ECONNREFUSED);
    assert_int_equal(r->rec.close_code, -1);
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_NONE);
    assert_int_equal(r->rec.http_status, 0);
    assert_int_equal(r->rec.num_addresses, 1);
    assert_string_equal(r->address, "127.0.0.1");
    assert_int_equal(r->rec.t_connected, 0);
    assert_int_equal(r->rec.tx_bytes, 0);
    char want[64];
    snprintf(want, sizeof want, "port %d", port);
    assert_non_null(strstr(r->rec.err.msg, want));
    free(r);
}

static void test_upgrade_never_answered(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_SILENT, A_NOTHING, -1, 300 * MS);
    expect_class(r, WSP_CLASS_HS_TIMEOUT);
    assert_int_equal(r->opens, 0);
    assert_true(r->rec.network);
    assert_false(r->rec.handshake_completed);
    assert_int_equal(r->rec.failed_phase, WSP_PHASE_UPGRADE);
    assert_int_equal(r->rec.http_status, 0);
    assert_true(r->peer.head_len > 0); /* the request did arrive */
    assert_int_equal(r->rec.close_code, -1);
    /* it waited for the phase timeout, not less */
    double waited = wsp_conn_ms(r->rec.t_request, r->rec.t_end);
    if (waited < 250.0)
        fail_msg("gave up after %.1f ms with a 300 ms timeout", waited);
    free(r);
}

static void test_ping_answered_with_same_payload(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_PING, A_NOTHING, -1, 1000 * MS);
    expect_class(r, WSP_CLASS_OK);
    assert_int_equal(r->messages, 0); /* pings are answered, not handed to the owner */
    assert_int_equal(r->peer.nframes, 2);
    const frame *f = &r->peer.frames[0];
    assert_int_equal(f->opcode, 0xA);
    assert_true(f->fin && f->masked);
    assert_int_equal(f->len, PING_LEN);
    assert_memory_equal(f->payload, PING_PAYLOAD, PING_LEN);
    /* and the raw bytes: header, a mask, the masked payload */
    const uint8_t *raw = r->peer.in + r->peer.head_len;
    assert_int_equal(raw[0], 0x8A);
    assert_int_equal(raw[1], 0x80 | PING_LEN);
    for (size_t i = 0; i < PING_LEN; i++)
        assert_int_equal(raw[6 + i] ^ raw[2 + i % 4], (uint8_t)PING_PAYLOAD[i]);
    /* then the server's close 1000, echoed */
    expect_client_close(r, 1, 1000, "");
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_SERVER);
    assert_int_equal(r->rec.close_code, 1000);
    assert_int_equal(r->rec.received_frames, 2);
    assert_int_equal(r->rec.sent_frames, 2);
    free(r);
}

/* A masked frame from a server breaks RFC 6455 5.1: WS_PROTOCOL, our close says 1002. */
static void test_masked_server_frame(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_MASKED, A_NOTHING, -1, 1000 * MS);
    expect_class(r, WSP_CLASS_WS_PROTOCOL);
    assert_int_equal(r->messages, 0);
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_CLIENT);
    assert_int_equal(r->rec.close_code, 1002);
    assert_int_equal(r->peer.nframes, 1);
    expect_client_close(r, 0, 1002, "");
    free(r);
}

static void test_refusal_keeps_body(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_REFUSE, A_NOTHING, -1, 1000 * MS);
    expect_class(r, WSP_CLASS_UPGRADE_AUTH);
    assert_int_equal(r->opens, 0);
    assert_false(r->rec.handshake_completed);
    assert_int_equal(r->rec.http_status, 403);
    assert_string_equal(r->rec.http_reason, "Forbidden");
    assert_int_equal(r->rec.failed_phase, WSP_PHASE_UPGRADE);
    assert_int_equal(r->body_len, 14);
    assert_memory_equal(r->body, "no entry\x01 here", 14);
    assert_int_equal(r->rec.close_code, -1);
    assert_int_equal(r->rec.sent_frames, 0);
    free(r);
}

static void test_bad_accept(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_BAD_ACCEPT, A_HELLO, -1, 1000 * MS);
    expect_class(r, WSP_CLASS_HS_BAD_ACCEPT);
    assert_int_equal(r->opens, 0);
    assert_false(r->rec.handshake_completed);
    assert_int_equal(r->rec.http_status, 101);
    assert_int_equal(r->peer.nframes, 0); /* nothing was sent on a WebSocket never opened */
    free(r);
}

/* conn.h: our close waits for the server's at most one phase timeout, and the verdict stays as
 * it is; the record says the close was not acknowledged. */
static void test_our_close_never_answered(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_DEAF, A_CLOSE, -1, 300 * MS);
    expect_class(r, WSP_CLASS_OK);
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_CLIENT);
    assert_int_equal(r->rec.close_code, 1000);
    assert_false(r->rec.close_acknowledged);
    assert_true(r->rec.t_closed != 0);
    double waited = wsp_conn_ms(r->rec.t_close_start, r->rec.t_closed);
    if (waited < 250.0)
        fail_msg("gave up waiting for the close after %.1f ms with a 300 ms timeout", waited);
    expect_client_close(r, 0, 1000, "");
    free(r);
}

static void test_drop_while_closing(void **state)
{
    (void)state;
    run *r = malloc(sizeof *r);
    assert_non_null(r);
    run_conn(r, S_DROP_ON_CLOSE, A_CLOSE, -1, 1000 * MS);
    expect_class(r, WSP_CLASS_OK);
    assert_int_equal(r->rec.closed_by, WSP_CLOSED_BY_CLIENT);
    assert_int_equal(r->rec.close_code, 1000);
    assert_false(r->rec.close_acknowledged);
    assert_true(r->rec.t_closed != 0);
    expect_client_close(r, 0, 1000, "");
    free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_then_our_close),
        cmocka_unit_test(test_server_closes_first),
        cmocka_unit_test(test_server_close_reason_sanitised),
        cmocka_unit_test(test_server_close_without_status),
        cmocka_unit_test(test_server_close_crosses_ours),
        cmocka_unit_test(test_server_drops_after_101),
        cmocka_unit_test(test_refused_port),
        cmocka_unit_test(test_upgrade_never_answered),
        cmocka_unit_test(test_ping_answered_with_same_payload),
        cmocka_unit_test(test_masked_server_frame),
        cmocka_unit_test(test_refusal_keeps_body),
        cmocka_unit_test(test_bad_accept),
        cmocka_unit_test(test_our_close_never_answered),
        cmocka_unit_test(test_drop_while_closing),
    };
    return cmocka_run_group_tests_name("conn", tests, NULL, NULL);
}
