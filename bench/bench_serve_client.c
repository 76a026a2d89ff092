/* bench_serve_client.c - the load client of bench/bench_serve.sh: one libuv loop, N WebSocket
 * connections to a loopback server.
 *
 *   bench_serve_client echo HOST PORT PATH N SECONDS [BIND_BASE]
 *       every connection sends a 32-byte text message as soon as the previous echo came back
 *       (closed loop) for SECONDS; prints one JSON line: round trips, per second, p50/p99 us.
 *   bench_serve_client idle HOST PORT PATH N SECONDS [BIND_BASE]
 *       opens N connections (at most 256 handshakes in flight), prints {"open":n,...} once all
 *       are settled, holds them for SECONDS, exits.
 *
 * BIND_BASE (e.g. 127.0.0.1) spreads the source addresses over 127.0.0.1..127.0.0.16 so 10,000
 * connections never run out of ephemeral ports. The path may carry ?token=... The frames are
 * masked with a fixed key (the server does not judge the key's randomness) to keep the client
 * cheap; this is a benchmark tool, not a conforming client. Never fails on time. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define PAYLOAD 32
#define MAX_SAMPLES (32u << 20)
#define INFLIGHT 256

typedef struct cl {
    uv_tcp_t tcp;
    uv_connect_t conn;
    int state; /* 0 connecting, 1 handshake, 2 open, 3 dead */
    char buf[4096];
    size_t len;
    uint64_t t_sent;
} cl;

static uv_loop_t *loop;
static const char *host, *path;
static int port, n_conns, seconds;
static int echo_mode;
static cl *conns;
static int started, settled, opened, failed;
static uint64_t round_trips, errors;
static uint32_t *samples;
static size_t n_samples;
static uint8_t frame[6 + PAYLOAD];
static char request[8192];
static size_t request_len;
static const char *bind_base;
static int stopping;

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    cl *c = h->data;
    (void)sz;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len));
}

static void write_cb(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void send_bytes(cl *c, const void *p, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)n);
    if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) == (int)n)
        return;
    uv_write_t *w = malloc(sizeof *w);
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, write_cb); /* static data: no copy needed */
}

static void send_msg(cl *c)
{
    c->t_sent = uv_hrtime();
    send_bytes(c, frame, sizeof frame);
}

static void start_next(void);

static void settle(cl *c, int ok)
{
    settled++;
    if (ok)
        opened++;
    else
        failed++;
    if (!echo_mode && settled == n_conns) {
        printf("{\"open\":%d,\"failed\":%d}\n", opened, failed);
        fflush(stdout);
    }
    start_next();
    (void)c;
}

static void dead(cl *c)
{
    if (c->state == 3)
        return;
    if (c->state < 2)
        settle(c, 0);
    else
        errors++;
    c->state = 3;
    uv_close((uv_handle_t *)&c->tcp, NULL);
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    cl *c = s->data;
    (void)b;
    if (n < 0) {
        dead(c);
        return;
    }
    c->len += (size_t)n;
    if (c->state == 1) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end) {
            if (c->len == sizeof c->buf)
                dead(c);
            return;
        }
        if (c->len < 12 || memcmp(c->buf + 9, "101", 3) != 0) {
            dead(c);
            return;
        }
        size_t used = (size_t)(end + 4 - c->buf);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        c->state = 2;
        settle(c, 1);
        if (echo_mode && !stopping)
            send_msg(c);
    }
    while (c->state == 2 && c->len >= 2) {
        size_t pl = c->buf[1] & 0x7f, off = 2;
        if (pl == 126) {
            if (c->len < 4)
                return;
            pl = (size_t)((uint8_t)c->buf[2] << 8 | (uint8_t)c->buf[3]);
            off = 4;
        } else if (pl == 127) {
            dead(c);
            return;
        }
        if (c->len < off + pl)
            return;
        int opcode = c->buf[0] & 0x0f;
        memmove(c->buf, c->buf + off + pl, c->len - off - pl);
        c->len -= off + pl;
        if (opcode == 8) {
            dead(c);
            return;
        }
        if (echo_mode && !stopping) {
            uint64_t us = (uv_hrtime() - c->t_sent) / 1000;
            round_trips++;
            if (n_samples < MAX_SAMPLES)
                samples[n_samples++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
            send_msg(c);
        }
    }
}

static void connect_cb(uv_connect_t *req, int status)
{
    cl *c = req->data;
    if (status < 0) {
        dead(c);
        return;
    }
    c->state = 1;
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    send_bytes(c, request, request_len);
}

static void start_one(int i)
{
    cl *c = &conns[i];
    struct sockaddr_in sa;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->conn.data = c;
    if (bind_base) {
        struct sockaddr_in local;
        uv_ip4_addr(bind_base, 0, &local);
        uint32_t a = ntohl(local.sin_addr.s_addr) + (uint32_t)(i % 16);
        local.sin_addr.s_addr = htonl(a);
        uv_tcp_bind(&c->tcp, (const struct sockaddr *)&local, 0);
    }
    uv_ip4_addr(host, port, &sa);
    if (uv_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)&sa, connect_cb) != 0)
        dead(c);
}

static void start_next(void)
{
    while (started < n_conns && started - settled < INFLIGHT)
        start_one(started++);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void stop_cb(uv_timer_t *t)
{
    stopping = 1;
    uv_stop(t->loop);
}

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: %s echo|idle HOST PORT PATH N SECONDS [BIND_BASE]\n", argv[0]);
        return 2;
    }
    echo_mode = strcmp(argv[1], "echo") == 0;
    host = argv[2];
    port = (int)strtol(argv[3], NULL, 10);
    path = argv[4];
    n_conns = (int)strtol(argv[5], NULL, 10);
    seconds = (int)strtol(argv[6], NULL, 10);
    bind_base = argc > 7 ? argv[7] : NULL;
    loop = uv_default_loop();
    conns = calloc((size_t)n_conns, sizeof *conns);
    samples = echo_mode ? malloc(MAX_SAMPLES * sizeof *samples) : NULL;
    if (!conns || (echo_mode && !samples))
        return 1;
    request_len = (size_t)snprintf(request, sizeof request,
                                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                                   "Connection: Upgrade\r\nSec-WebSocket-Key: "
                                   "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                                   path, host, port);
    frame[0] = 0x81;
    frame[1] = 0x80 | PAYLOAD;
    memcpy(frame + 2, "\x37\xfa\x21\x3d", 4);
    for (int i = 0; i < PAYLOAD; i++)
        frame[6 + i] = (uint8_t)('a' + i % 26) ^ frame[2 + i % 4];
    start_next();
    uv_timer_t stop;
    uv_timer_init(loop, &stop);
    uint64_t t0 = uv_hrtime();
    uv_timer_start(&stop, stop_cb, (uint64_t)seconds * 1000, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    if (echo_mode) {
        qsort(samples, n_samples, sizeof *samples, cmp_u32);
        uint32_t p50 = n_samples ? samples[n_samples / 2] : 0;
        uint32_t p99 = n_samples ? samples[(size_t)((double)n_samples * 0.99)] : 0;
        printf("{\"connections\":%d,\"open\":%d,\"seconds\":%.2f,\"round_trips\":%llu,"
               "\"per_second\":%.0f,\"p50_us\":%u,\"p99_us\":%u,\"errors\":%llu}\n",
               n_conns, opened, secs, (unsigned long long)round_trips, (double)round_trips / secs,
               p50, p99, (unsigned long long)errors);
    }
    return 0;
}
