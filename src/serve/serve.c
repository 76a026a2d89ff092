/* serve.c - the reference server's event loop. See serve.h.
 *
 * One libuv loop. Memory per connection: its record (the TCP handle, one timer, the frame
 * parser, a few counters: about 1 KiB); the TLS session only on TLS listeners; the request head
 * only while it arrives in pieces (a head that comes in one read is judged in place); the
 * parser's reassembly buffer only while a message needs one. Reads land in one buffer per loop
 * and are processed before the read callback returns. Writes go straight to the socket
 * (uv_try_write) and only what the kernel does not take is copied and queued; a client whose
 * queue passes write_queue_max is dropped.
 *
 * Closing: after an HTTP refusal or a close frame the server half-closes its side and reads
 * (discarding) until the peer closes or a linger timer ends, so that unread input never turns
 * the close into a reset that could destroy the answer in flight.
 */
#include "serve/serve.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <uv.h>

#include "net/tls.h"
#include "util/clock.h"
#include "util/files.h"
#include "util/proc.h"
#include "codec/ws.h"
#include "wsp_config.h"

#define READ_BUF 65536
#define HEAD_FIRST 2048
#define LINGER_MS 2000
#define SHUTDOWN_GRACE_MS 2000
#define NO_LIMITS_MAX_MESSAGE (64u << 20) /* the machine's own protection, even when unsafe */
#define ROOM_BUCKETS 256
#define IP_BUCKETS 1024
#define LIMIT_LOG_MS 1000 /* at most one log line per limit per second */

static uint8_t read_buf[READ_BUF];
static uint8_t plain_buf[READ_BUF];
static char out_buf[READ_BUF];
#define FRAME_COALESCE 16384 /* a TLS record's worth */
static uint8_t frame_buf[FRAME_COALESCE + WSP_WS_HEADER_MAX];

typedef enum cstate {
    CS_TLS,     /* TLS handshake */
    CS_HEAD,    /* waiting for the request head */
    CS_RESPOND, /* an HTTP answer was sent; lingering until the peer closes */
    CS_OPEN,    /* WebSocket */
    CS_CLOSING, /* we sent a close frame: waiting for the peer's */
    CS_LINGER,  /* close handshake done or failed: half-closed, discarding input */
    CS_DEAD,    /* handles closing */
} cstate;

typedef struct srv srv;
typedef struct sconn sconn;

/* What a connection can be evicted as when the server is full, in the order victims are taken
 * (QK_NONE: never: an authenticated WebSocket, or a connection being closed). */
typedef enum qkind {
    QK_ENDING,    /* an answer was sent or the close handshake is under way */
    QK_HANDSHAKE, /* TLS or the request head still arriving */
    QK_ANON,      /* an open WebSocket without a token (--unsafe-no-auth) */
    QK_COUNT,
    QK_NONE = QK_COUNT,
} qkind;

typedef struct cqueue {
    sconn *head, *tail; /* oldest at the head */
} cqueue;

/* The limits whose hits are counted in /health and logged (one line a second at most). */
typedef enum limit_id {
    LIM_MAX_CONNS_EVICT, /* a connection closed to make room at --max-conns */
    LIM_MAX_CONNS_REFUSE,
    LIM_PER_IP,       /* 503 or dropped at accept: --max-conns-per-ip */
    LIM_RATE,         /* closed 1008: --rate-limit */
    LIM_WRITE_QUEUE,  /* dropped: --write-queue-max */
    LIM_QUEUED_BYTES, /* dropped: --max-queued-bytes */
    LIM_IDLE,         /* closed 1001: --idle-timeout */
    LIM_HANDSHAKE,    /* 408 or dropped in TLS: --handshake-timeout */
    LIM_COUNT,
} limit_id;

static const struct {
    const char *counter; /* /health's counters */
    const char *option;
    const char *action;
} limit_info[LIM_COUNT] = {
    [LIM_MAX_CONNS_EVICT] = {"evicted", "max-conns",
                             "oldest ending, handshaking or anonymous "
                             "connection closed to make room"},
    [LIM_MAX_CONNS_REFUSE] = {"refused_full", "max-conns",
                              "new connection refused: nothing could be evicted"},
    [LIM_PER_IP] = {"refused_per_ip", "max-conns-per-ip", "connection from one address refused"},
    [LIM_RATE] = {"rate_limited", "rate-limit", "connection closed 1008"},
    [LIM_WRITE_QUEUE] = {"write_queue_dropped", "write-queue-max",
                         "client that does not read dropped"},
    [LIM_QUEUED_BYTES] = {"queued_bytes_dropped", "max-queued-bytes",
                          "client over its share of the queue budget dropped"},
    [LIM_IDLE] = {"idle_closed", "idle-timeout", "idle connection closed 1001"},
    [LIM_HANDSHAKE] = {"handshake_timeouts", "handshake-timeout", "unfinished handshake closed"},
};

typedef struct ipent {
    struct ipent *next;
    int family;
    uint8_t addr[16];
    unsigned tcp; /* TCP connections from this address */
    unsigned ws;  /* of which open WebSockets */
} ipent;

typedef struct room {
    struct room *next;
    sconn *members;
    size_t count;
    char name[];
} room;

struct sconn {
    uv_tcp_t tcp; /* handle data: this record */
    uv_timer_t timer;
    srv *s;
    sconn *prev, *next;   /* every connection, oldest first */
    sconn *qprev, *qnext; /* the eviction queue of kind `q` */
    sconn *rprev, *rnext; /* members of the room */
    room *room;
    ipent *ip;
    wsp_tls *tls; /* NULL on a plaintext listener */
    char *head;   /* the request head, only while it arrives in pieces */
    uint32_t head_len, head_cap;
    uint64_t id;
    uint64_t t_accept; /* uv_now, ms */
    uint64_t t_active; /* last frame from the client */
    uint64_t t_expire; /* 0, or when the token expires (uv_now ms) */
    uint64_t t_linger; /* when lingering ends */
    double tokens;     /* rate limiter */
    uint64_t t_tokens;
    uint64_t frames_seen; /* parser.frames already charged to the rate limiter */
    uint64_t data_seen;   /* parser.data_bytes already seen (activity) */
    size_t queued;        /* bytes in uv_write requests not yet completed */
    unsigned errors;      /* consecutive chat errors */
    int handles;          /* open libuv handles (tcp, timer) */
    uint16_t port;
    uint8_t state;
    bool parser_init;
    bool shut; /* write side shut down */
    bool ws_counted;
    bool anon; /* opened without a token */
    uint8_t q; /* qkind */
    wsp_ws_parser parser;
    wsp_pmd *pmd; /* heap, when permessage-deflate was agreed (its zlib state per message) */
    char sub[WSP_SERVE_SUB_MAX + 1];
};

typedef struct listener {
    uv_tcp_t tcp;
    srv *s;
    bool tls;
    bool open;
    char url[128];
    char host[64];
    unsigned port;
} listener;

/* --workers: what one worker process serves with (NULL: a process serving alone). */
typedef struct worker_plan {
    unsigned index, count;
    int fds[2 * WSP_SERVE_LISTEN_MAX]; /* its listening sockets, bound by the supervisor */
} worker_plan;

struct srv {
    uv_loop_t *loop;
    const worker_plan *plan;
    const wsp_serve_config *cfg;
    bool json_log_failed; /* said once */
    wsp_serve_policy pol;
    /* effective limits (unsafe-no-limits applied) */
    uint64_t max_message;
    unsigned rate;
    unsigned max_per_ip;
    uint64_t hs_timeout_ms;
    uint64_t idle_ms;
    size_t wq_max;
    size_t max_conns;  /* never 0: the file limit's ceiling at most */
    uint64_t q_budget; /* 0 off */
    uint64_t queued;   /* bytes queued to live connections */
    uint64_t queued_peak;
    uv_check_t trim; /* runs the budget trim after the loop's I/O, never inside a write */
    bool trim_armed;
    uint64_t hits[LIM_COUNT];
    uint64_t logged_at[LIM_COUNT]; /* uv_now of the last line, 0 never */
    uint64_t unlogged[LIM_COUNT];  /* hits since that line */
    cqueue q[QK_COUNT];
    listener ls[2 * WSP_SERVE_LISTEN_MAX];
    size_t num_ls;
    uv_signal_t sigterm, sigint;
    uv_timer_t grace;
    bool stopping;
    sconn *conns, *conns_tail;
    size_t num_conns, num_ws;
    uint64_t next_id;
    uint64_t t_start;
    room *rooms[ROOM_BUCKETS];
    ipent *ips[IP_BUCKETS];
};

typedef struct wbuf {
    uv_write_t req;
    size_t len;
    char data[];
} wbuf;

/* ---- logging ---- */

static void peer_str(const sconn *c, char *out, size_t cap)
{
    char a[64] = "?";
    if (c->ip && c->ip->family == AF_INET6)
        uv_inet_ntop(AF_INET6, c->ip->addr, a, sizeof a);
    else if (c->ip)
        uv_inet_ntop(AF_INET, c->ip->addr, a, sizeof a);
    if (c->ip && c->ip->family == AF_INET6)
        snprintf(out, cap, "[%s]:%u", a, c->port);
    else
        snprintf(out, cap, "%s:%u", a, c->port);
}

/* Print one event, even with --quiet. `fields` (taken) holds the event's details; never a token
 * or a secret. */
static void log_line(srv *s, sconn *c, const char *event, json_t *fields)
{
    json_t *o = json_object();
    if (!o) {
        json_decref(fields);
        return;
    }
    char peer[96];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    json_object_set_new(o, "ts", json_real((double)ts.tv_sec + (double)ts.tv_nsec / 1e9));
    json_object_set_new(o, "event", json_string(event));
    if (s->plan)
        json_object_set_new(o, "worker", json_integer((json_int_t)s->plan->index + 1));
    if (c) {
        peer_str(c, peer, sizeof peer);
        json_object_set_new(o, "conn", json_integer((json_int_t)c->id));
        json_object_set_new(o, "peer", json_string(peer));
        json_object_set_new(o, "tls", json_boolean(c->tls != NULL));
    }
    if (fields)
        json_object_update(o, fields);
    json_decref(fields);
    if (s->cfg->json_log) {
        char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(16));
        if (line && (fprintf(s->cfg->json_log, "%s\n", line) < 0 || fflush(s->cfg->json_log))) {
            char eb[128];
            strerror_r(errno, eb, sizeof eb);
            if (!s->json_log_failed) /* said once; the exit says OUTPUT_FAILED (cmd_serve.c) */
                fprintf(stderr, "wsprobe serve: cannot write the JSON log: %s\n", eb);
            s->json_log_failed = true;
        }
        free(line);
    }
    if (s->cfg->log_json) {
        char *line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(16));
        if (line)
            fprintf(stderr, "%s\n", line);
        free(line);
    } else {
        char line[1024];
        size_t n = (size_t)snprintf(line, sizeof line, "wsprobe serve:");
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            if (strcmp(k, "ts") == 0 || n >= sizeof line - 1)
                continue;
            char val[256];
            if (json_is_string(v)) {
                /* peer-controlled text (room, sub): printable ASCII only, quoted if spaced */
                const char *sv = json_string_value(v);
                size_t j = 0;
                bool quote = false;
                for (size_t i = 0; sv[i] && j + 2 < sizeof val; i++) {
                    unsigned char ch = (unsigned char)sv[i];
                    quote |= ch == ' ';
                    val[j++] = (ch >= 0x20 && ch < 0x7f && ch != '"') ? (char)ch : '?';
                }
                val[j] = '\0';
                n += (size_t)snprintf(line + n, sizeof line - n, quote ? " %s=\"%s\"" : " %s=%s", k,
                                      val);
            } else {
                char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
                n += (size_t)snprintf(line + n, sizeof line - n, " %s=%s", k, d ? d : "?");
                free(d);
            }
        }
        fprintf(stderr, "%s\n", line);
    }
    json_decref(o);
}

/* A per-connection event: not with --quiet. */
static void log_event(srv *s, sconn *c, const char *event, json_t *fields)
{
    if (s->cfg->quiet) {
        json_decref(fields);
        return;
    }
    log_line(s, c, event, fields);
}

/* A limit bit: count it for /health and log it, at most one line a second per limit (a flood
 * must not become a log flood); the line says how many hits it stands for. */
static void limit_hit(srv *s, sconn *c, limit_id id)
{
    uint64_t now = uv_now(s->loop);
    s->hits[id]++;
    s->unlogged[id]++;
    if (s->logged_at[id] && now - s->logged_at[id] < LIMIT_LOG_MS)
        return;
    log_line(s, c, "limit",
             json_pack("{s:s,s:s,s:I,s:I}", "limit", limit_info[id].option, "action",
                       limit_info[id].action, "count", (json_int_t)s->unlogged[id], "total",
                       (json_int_t)s->hits[id]));
    s->logged_at[id] = now ? now : 1;
    s->unlogged[id] = 0;
}

/* ---- per-address accounting ---- */

static unsigned ip_hash(int family, const uint8_t *a)
{
    size_t n = family == AF_INET6 ? 16 : 4;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ a[i]) * 16777619u;
    return h % IP_BUCKETS;
}

static ipent *ip_get(srv *s, const struct sockaddr_storage *ss, uint16_t *port)
{
    uint8_t a[16] = {0};
    int fam = ss->ss_family;
    if (fam == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        memcpy(a, &s6->sin6_addr, 16);
        *port = ntohs(s6->sin6_port);
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        memcpy(a, &s4->sin_addr, 4);
        *port = ntohs(s4->sin_port);
        fam = AF_INET;
    }
    unsigned b = ip_hash(fam, a);
    for (ipent *e = s->ips[b]; e; e = e->next)
        if (e->family == fam && memcmp(e->addr, a, 16) == 0)
            return e;
    ipent *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    e->family = fam;
    memcpy(e->addr, a, 16);
    e->next = s->ips[b];
    s->ips[b] = e;
    return e;
}

static void ip_put(srv *s, ipent *e)
{
    if (!e || --e->tcp > 0)
        return;
    unsigned b = ip_hash(e->family, e->addr);
    for (ipent **pp = &s->ips[b]; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            free(e);
            return;
        }
}

/* ---- rooms ---- */

static unsigned room_hash(const char *name)
{
    uint32_t h = 2166136261u;
    for (; *name; name++)
        h = (h ^ (uint8_t)*name) * 16777619u;
    return h % ROOM_BUCKETS;
}

static int room_join(srv *s, sconn *c, const char *name)
{
    unsigned b = room_hash(name);
    room *r = s->rooms[b];
    while (r && strcmp(r->name, name) != 0)
        r = r->next;
    if (!r) {
        size_t n = strlen(name);
        r = calloc(1, sizeof *r + n + 1);
        if (!r)
            return -1;
        memcpy(r->name, name, n + 1);
        r->next = s->rooms[b];
        s->rooms[b] = r;
    }
    c->room = r;
    c->rprev = NULL;
    c->rnext = r->members;
    if (r->members)
        r->members->rprev = c;
    r->members = c;
    r->count++;
    return 0;
}

static void room_leave(srv *s, sconn *c)
{
    room *r = c->room;
    if (!r)
        return;
    if (c->rprev)
        c->rprev->rnext = c->rnext;
    else
        r->members = c->rnext;
    if (c->rnext)
        c->rnext->rprev = c->rprev;
    c->room = NULL;
    c->rprev = c->rnext = NULL;
    if (--r->count == 0) {
        unsigned b = room_hash(r->name);
        for (room **pp = &s->rooms[b]; *pp; pp = &(*pp)->next)
            if (*pp == r) {
                *pp = r->next;
                free(r);
                break;
            }
    }
}

/* ---- eviction queues ---- */

static qkind kind_of(const sconn *c)
{
    switch ((cstate)c->state) {
    case CS_TLS:
    case CS_HEAD:
        return QK_HANDSHAKE;
    case CS_RESPOND:
    case CS_CLOSING:
    case CS_LINGER:
        return QK_ENDING;
    case CS_OPEN:
        return c->anon ? QK_ANON : QK_NONE;
    case CS_DEAD:
        break;
    }
    return QK_NONE;
}

static void q_remove(srv *s, sconn *c)
{
    if (c->q == QK_NONE)
        return;
    cqueue *q = &s->q[c->q];
    if (c->qprev)
        c->qprev->qnext = c->qnext;
    else
        q->head = c->qnext;
    if (c->qnext)
        c->qnext->qprev = c->qprev;
    else
        q->tail = c->qprev;
    c->qprev = c->qnext = NULL;
    c->q = QK_NONE;
}

/* Every state change goes through here, so that the eviction queues stay true. A connection
 * joins the tail of its kind's queue when it changes kind (CLOSING to LINGER keeps its place). */
static void set_state(sconn *c, cstate st)
{
    c->state = (uint8_t)st;
    qkind k = kind_of(c);
    if (k == (qkind)c->q)
        return;
    srv *s = c->s;
    q_remove(s, c);
    if (k == QK_NONE)
        return;
    cqueue *q = &s->q[k];
    c->q = (uint8_t)k;
    c->qprev = q->tail;
    c->qnext = NULL;
    if (q->tail)
        q->tail->qnext = c;
    else
        q->head = c;
    q->tail = c;
}

/* ---- connection lifetime ---- */

static void maybe_finish_shutdown(srv *s);

static void conn_release(uv_handle_t *h)
{
    sconn *c = h->data;
    if (--c->handles > 0)
        return;
    srv *s = c->s;
    if (c->parser_init)
        wsp_ws_parser_cleanup(&c->parser);
    if (c->pmd) {
        wsp_pmd_cleanup(c->pmd);
        free(c->pmd);
    }
    if (c->tls) {
        wsp_tls_cleanup(c->tls);
        free(c->tls);
    }
    free(c->head);
    free(c);
    maybe_finish_shutdown(s);
}

/* Close now: pending writes are dropped. Safe to call more than once. */
static void conn_abort(sconn *c, const char *why)
{
    if (c->state == CS_DEAD)
        return;
    srv *s = c->s;
    if (why && c->state != CS_LINGER && c->state != CS_RESPOND)
        log_event(s, c, "drop", json_pack("{s:s}", "reason", why));
    room_leave(s, c);
    if (c->ws_counted) {
        c->ws_counted = false;
        s->num_ws--;
        if (c->ip)
            c->ip->ws--;
    }
    ip_put(s, c->ip);
    c->ip = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        s->conns_tail = c->prev;
    c->prev = c->next = NULL;
    s->num_conns--;
    s->queued -= c->queued; /* the requests complete (cancelled) after this; see write_cb */
    c->queued = 0;
    set_state(c, CS_DEAD);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, conn_release);
    uv_close((uv_handle_t *)&c->tcp, conn_release);
}

static void timer_cb(uv_timer_t *t);

static void arm(sconn *c, uint64_t at_ms)
{
    uint64_t now = uv_now(c->s->loop);
    uv_timer_start(&c->timer, timer_cb, at_ms > now ? at_ms - now : 1, 0);
}

/* libuv's buffers are not const, but uv_try_write only reads them. */
static char *unconst(const void *p)
{
    char *q;
    memcpy(&q, &p, sizeof q);
    return q;
}

static void write_cb(uv_write_t *req, int status)
{
    (void)status; /* a failed write shows up as a read error or EOF */
    wbuf *w = (wbuf *)req;
    sconn *c = req->handle->data;
    if (c->state != CS_DEAD) { /* a dead one's bytes left the budget in conn_abort */
        c->queued -= w->len;
        c->s->queued -= w->len;
    }
    free(w);
}

static void trim_cb(uv_check_t *h);

/* --max-queued-bytes: drop the clients over their share (the budget divided by the
 * connections), oldest first, until `need` more bytes fit in the budget. `except` (the writer)
 * is left alone. Callers never walk a list that this may change: a broadcast walks a snapshot
 * (a dropped member is only marked dead until the loop releases it), and none runs during
 * shutdown, whose loop walks the connections. */
static void trim(srv *s, const sconn *except, size_t need)
{
    sconn *c = s->conns;
    while (c && s->queued + need > s->q_budget) {
        sconn *next = c->next;
        uint64_t share = s->q_budget / (s->num_conns ? s->num_conns : 1);
        if (c != except && c->queued > share) {
            limit_hit(s, c, LIM_QUEUED_BYTES);
            conn_abort(c, "over its share of --max-queued-bytes: the client does not read");
        }
        c = next;
    }
}

/* Whether `rest` more bytes may be queued to c under --max-queued-bytes: not when the total
 * would pass the budget and c would pass its share of it. */
static bool budget_allows(srv *s, const sconn *c, size_t rest)
{
    if (!s->q_budget || s->queued + rest <= s->q_budget)
        return true;
    uint64_t share = s->q_budget / (s->num_conns ? s->num_conns : 1);
    return c->queued + rest <= share;
}

/* Bytes to the socket: straight to the kernel when nothing is queued, the rest copied and
 * queued. A client whose queue passes the cap is dropped (it does not read). */
static int raw_write(sconn *c, const void *a, size_t alen, const void *b, size_t blen)
{
    if (c->state == CS_DEAD)
        return -1;
    uv_buf_t bufs[2] = {uv_buf_init(unconst(a), (unsigned)alen),
                        uv_buf_init(unconst(b), (unsigned)blen)};
    unsigned nb = blen ? 2 : 1;
    size_t done = 0, total = alen + blen;
    int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, nb);
    if (r >= 0)
        done = (size_t)r;
    else if (r != UV_EAGAIN && r != UV_ENOSYS) {
        conn_abort(c, "write failed");
        return -1;
    }
    if (done == total)
        return 0;
    size_t rest = total - done;
    srv *s = c->s;
    if (!budget_allows(s, c, rest)) {
        limit_hit(s, c, LIM_QUEUED_BYTES);
        conn_abort(c, "over its share of --max-queued-bytes: the client does not read");
        return -1;
    }
    /* Within its share, but the total would pass the budget: the clients over theirs go first,
     * so the budget holds (every client within its share sums to the budget at most). */
    if (s->q_budget && s->queued + rest > s->q_budget && !s->stopping)
        trim(s, c, rest);
    wbuf *w = malloc(sizeof *w + rest);
    if (!w) {
        conn_abort(c, "out of memory");
        return -1;
    }
    w->len = rest;
    size_t off = 0;
    if (done < alen) {
        memcpy(w->data, (const char *)a + done, alen - done);
        off = alen - done;
        if (blen)
            memcpy(w->data + off, b, blen);
    } else {
        memcpy(w->data, (const char *)b + (done - alen), rest);
    }
    uv_buf_t wb = uv_buf_init(w->data, (unsigned)rest);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &wb, 1, write_cb) != 0) {
        free(w);
        conn_abort(c, "write failed");
        return -1;
    }
    c->queued += rest;
    s->queued += rest;
    if (s->queued > s->queued_peak)
        s->queued_peak = s->queued;
    if (s->wq_max && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > s->wq_max) {
        limit_hit(s, c, LIM_WRITE_QUEUE);
        conn_abort(c, "write queue over its cap: the client does not read");
        return -1;
    }
    if (s->q_budget && s->queued > s->q_budget && !s->trim_armed) {
        s->trim_armed = true; /* the trim runs after this round of I/O, not inside a write */
        uv_check_start(&s->trim, trim_cb);
    }
    return 0;
}

static int flush_tls(sconn *c)
{
    size_t n;
    while (c->state != CS_DEAD && (n = wsp_tls_pending_out(c->tls)) > 0) {
        size_t got = wsp_tls_take_out(c->tls, out_buf, sizeof out_buf);
        if (got == 0)
            break;
        if (raw_write(c, out_buf, got, NULL, 0) != 0)
            return -1;
    }
    return c->state == CS_DEAD ? -1 : 0;
}

/* Plaintext to the peer, through TLS when the connection has it. */
static int net_write(sconn *c, const void *a, size_t alen, const void *b, size_t blen)
{
    if (c->state == CS_DEAD)
        return -1;
    if (!c->tls)
        return raw_write(c, a, alen, b, blen);
    wsp_err e;
    if (wsp_tls_write(c->tls, a, alen, &e) != 0 || (blen && wsp_tls_write(c->tls, b, blen, &e))) {
        conn_abort(c, "TLS write failed");
        return -1;
    }
    return flush_tls(c);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    (void)status;
    free(req);
}

/* Half-close after what is queued and discard input until the peer closes or lingering ends. */
static void conn_linger(sconn *c, cstate st)
{
    if (c->state == CS_DEAD)
        return;
    set_state(c, st);
    room_leave(c->s, c);
    if (!c->shut && c->tls && c->tls->handshake_done) {
        /* RFC 8446 6.1: close_notify before the TCP FIN, so the peer sees no truncation. */
        ERR_clear_error();
        SSL_shutdown(c->tls->ssl);
        ERR_clear_error();
        if (flush_tls(c) != 0)
            return;
    }
    if (!c->shut) {
        c->shut = true;
        uv_shutdown_t *req = malloc(sizeof *req);
        if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, shutdown_cb) != 0) {
            free(req);
            conn_abort(c, NULL);
            return;
        }
    }
    c->t_linger = uv_now(c->s->loop) + LINGER_MS;
    arm(c, c->t_linger);
}

static int send_frame(sconn *c, unsigned opcode, const void *data, size_t len)
{
    uint8_t hdr[WSP_WS_HEADER_MAX];
    unsigned rsv = 0;
    if (c->pmd && len > 0 && (opcode == WSP_WS_OP_TEXT || opcode == WSP_WS_OP_BINARY)) {
        /* RFC 7692 7.2.1; an empty message goes as it is */
        const uint8_t *z;
        size_t zl;
        if (wsp_pmd_compress(c->pmd, data, len, &z, &zl) != 0) {
            conn_abort(c, "out of memory");
            return -1;
        }
        data = z;
        len = zl;
        rsv = 0x40;
    }
    /* RFC 6455 5.1: a server MUST NOT mask the frames it sends. */
    size_t hl = wsp_ws_header_encode(hdr, true, opcode, rsv, len, NULL);
    int rc;
    if (len <= FRAME_COALESCE) {
        /* One buffer: one write(2) instead of writev(2), and one TLS record instead of two. */
        memcpy(frame_buf, hdr, hl);
        if (len)
            memcpy(frame_buf + hl, data, len);
        rc = net_write(c, frame_buf, hl + len, NULL, 0);
    } else {
        rc = net_write(c, hdr, hl, data, len);
    }
    if (rsv && c->pmd)
        wsp_pmd_trim(c->pmd); /* written or queued (copied): nothing held while idle */
    return rc;
}

/* Start the closing handshake (RFC 6455 7.1.2). With `failed` (the parser refused the input,
 * 7.1.7) nothing more can be parsed, so the server half-closes at once. */
static void ws_close(sconn *c, unsigned code, const char *reason, bool failed)
{
    if (c->state != CS_OPEN)
        return;
    uint8_t payload[WSP_WS_CONTROL_MAX];
    size_t plen = wsp_ws_close_payload(payload, code, reason);
    log_event(c->s, c, "close",
              json_pack("{s:i,s:s,s:s}", "code", (int)code, "reason", reason ? reason : "", "by",
                        "server"));
    room_leave(c->s, c);
    if (send_frame(c, WSP_WS_OP_CLOSE, payload, plen) != 0)
        return;
    if (failed) {
        conn_linger(c, CS_LINGER);
        return;
    }
    set_state(c, CS_CLOSING);
    c->t_linger = uv_now(c->s->loop) + LINGER_MS;
    arm(c, c->t_linger);
}

/* ---- the HTTP side ---- */

static char *health_body(srv *s)
{
    json_t *unsafe = json_array();
    for (unsigned bit = 1; bit <= WSP_SERVE_UNSAFE_LAST; bit <<= 1)
        if (s->pol.unsafe & bit)
            json_array_append_new(unsafe, json_string(wsp_serve_unsafe_name(bit)));
    json_t *counters = json_object();
    for (int i = 0; i < LIM_COUNT; i++)
        json_object_set_new(counters, limit_info[i].counter, json_integer((json_int_t)s->hits[i]));
    /* The limits in force (0: off), so a monitor can tell how close the server is to them. */
    json_t *limits =
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "max_conns", (json_int_t)s->max_conns,
                  "max_conns_per_ip", (json_int_t)s->max_per_ip, "max_queued_bytes",
                  (json_int_t)s->q_budget, "write_queue_max", (json_int_t)s->wq_max, "rate_limit",
                  (json_int_t)s->rate, "max_message", (json_int_t)s->max_message);
    json_t *o = json_pack("{s:s,s:s,s:f,s:I,s:I,s:I,s:I,s:o,s:o,s:o}", "status", "ok", "version",
                          WSP_VERSION, "uptime_s", (double)(uv_now(s->loop) - s->t_start) / 1000.0,
                          "connections", (json_int_t)s->num_conns, "websockets",
                          (json_int_t)s->num_ws, "queued_bytes", (json_int_t)s->queued,
                          "queued_bytes_peak", (json_int_t)s->queued_peak, "unsafe", unsafe,
                          "limits", limits, "counters", counters);
    if (o) /* what compression holds (0 while every connection is idle) */
        json_object_set_new(o, "zlib_streams", json_integer((json_int_t)wsp_pmd_live_streams()));
    if (o && s->plan) { /* one worker's view: its connections, its share of the limits */
        json_object_set_new(o, "worker", json_integer((json_int_t)s->plan->index + 1));
        json_object_set_new(o, "workers", json_integer((json_int_t)s->plan->count));
    }
    char *body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    if (!body)
        return NULL;
    size_t n = strlen(body);
    char *nl = realloc(body, n + 2);
    if (!nl) {
        free(body);
        return NULL;
    }
    nl[n] = '\n';
    nl[n + 1] = '\0';
    return nl;
}

static void respond(sconn *c, const wsp_serve_decision *d, int status, const char *reason)
{
    char head[1024];
    char *body = NULL;
    int st = status ? status : d->status;
    if (st == 200)
        body = health_body(c->s);
    long n = wsp_serve_render(d, status, reason, c->tls != NULL, body, head, sizeof head);
    free(body);
    log_event(c->s, c, st == 200 ? "health" : "refused",
              json_pack("{s:i,s:s}", "status", st, "reason",
                        reason      ? reason
                        : d->reason ? d->reason
                                    : ""));
    if (n > 0 && net_write(c, head, (size_t)n, NULL, 0) != 0)
        return;
    conn_linger(c, CS_RESPOND);
}

static void ws_input(sconn *c, const uint8_t *data, size_t len);

static void upgrade(sconn *c, const wsp_serve_decision *d, const uint8_t *rest, size_t rest_len)
{
    srv *s = c->s;
    if (s->max_per_ip && c->ip && c->ip->ws >= s->max_per_ip) {
        limit_hit(s, c, LIM_PER_IP);
        respond(c, d, 503, "too many connections from this address");
        return;
    }
    char head[WSP_SERVE_HEAD_MAX + 512];
    long n = wsp_serve_render(d, 0, NULL, c->tls != NULL, NULL, head, sizeof head);
    if (n < 0) {
        respond(c, d, 431, "subprotocol too long to echo");
        return;
    }
    if (room_join(s, c, d->room) != 0) {
        conn_abort(c, "out of memory");
        return;
    }
    wsp_ws_limits lim = {.max_frame = s->max_message, .max_message = s->max_message};
    if (d->pmd) {
        c->pmd = malloc(sizeof *c->pmd);
        if (!c->pmd) {
            conn_abort(c, "out of memory");
            return;
        }
        /* the inflated size is held to --max-message (a decompression bomb is closed 1009)
         * unless --unsafe-no-inflate-limit, and even then to the machine's own ceiling */
        wsp_pmd_init_server(c->pmd, &d->pmd_params,
                            s->pol.unsafe & WSP_SERVE_UNSAFE_NO_INFLATE_LIMIT
                                ? NO_LIMITS_MAX_MESSAGE
                                : s->max_message);
        lim.allowed_rsv = 0x40; /* RFC 7692 6: RSV1 marks a compressed message */
    }
    wsp_ws_parser_init(&c->parser, WSP_WS_ROLE_SERVER, &lim);
    c->parser_init = true;
    c->anon = d->token_source == WSP_SERVE_TOKEN_NONE;
    set_state(c, CS_OPEN);
    c->ws_counted = true;
    s->num_ws++;
    if (c->ip)
        c->ip->ws++;
    snprintf(c->sub, sizeof c->sub, "%s", d->sub);
    uint64_t now = uv_now(s->loop);
    c->t_active = now;
    c->tokens = s->rate;
    c->t_tokens = now;
    if (d->has_exp) {
        /* The token's life, on the loop's clock; the connection ends with it (closed 1008). */
        int64_t left = d->exp + s->pol.leeway_s - (int64_t)time(NULL);
        c->t_expire = now + (left > 0 ? (uint64_t)left * 1000 : 1);
    }
    log_event(s, c, "open",
              json_pack("{s:s,s:s,s:s}", "room", d->room, "sub", d->sub, "token",
                        wsp_serve_token_source_name(d->token_source)));
    if (net_write(c, head, (size_t)n, NULL, 0) != 0)
        return;
    uv_timer_stop(&c->timer);
    uint64_t next = UINT64_MAX;
    if (s->idle_ms)
        next = now + s->idle_ms;
    if (c->t_expire && c->t_expire < next)
        next = c->t_expire;
    if (next != UINT64_MAX)
        arm(c, next);
    if (rest_len)
        ws_input(c, rest, rest_len);
}

static void head_input(sconn *c, const uint8_t *data, size_t len)
{
    srv *s = c->s;
    const char *buf;
    size_t blen, take = len;
    if (c->head_len == 0) {
        buf = (const char *)data; /* judged in place when it came in one piece */
        blen = len;
    } else {
        size_t need = c->head_len + len;
        if (need > WSP_SERVE_HEAD_MAX)
            need = WSP_SERVE_HEAD_MAX;
        if (need > c->head_cap) {
            size_t cap = c->head_cap;
            while (cap < need)
                cap *= 2;
            if (cap > WSP_SERVE_HEAD_MAX)
                cap = WSP_SERVE_HEAD_MAX;
            char *nh = realloc(c->head, cap);
            if (!nh) {
                conn_abort(c, "out of memory");
                return;
            }
            c->head = nh;
            c->head_cap = (uint32_t)cap;
        }
        take = need - c->head_len;
        memcpy(c->head + c->head_len, data, take);
        c->head_len += (uint32_t)take;
        buf = c->head;
        blen = c->head_len;
    }
    wsp_serve_decision d;
    int r = wsp_serve_decide(&s->pol, buf, blen, c->tls != NULL, (int64_t)time(NULL), &d);
    if (r == WSP_HTTP_PARTIAL) {
        if (c->head_len == 0) {
            size_t cap = HEAD_FIRST;
            while (cap < len)
                cap *= 2;
            if (cap > WSP_SERVE_HEAD_MAX)
                cap = WSP_SERVE_HEAD_MAX;
            c->head = malloc(cap);
            if (!c->head) {
                conn_abort(c, "out of memory");
                return;
            }
            c->head_cap = (uint32_t)cap;
            c->head_len = (uint32_t)(len < cap ? len : cap);
            memcpy(c->head, data, c->head_len);
        }
        return;
    }
    switch (d.route) {
    case WSP_SERVE_ROUTE_REFUSE:
    case WSP_SERVE_ROUTE_HEALTH:
        respond(c, &d, 0, NULL);
        break;
    case WSP_SERVE_ROUTE_UPGRADE: {
        /* Frames that came with the head belong to the WebSocket. When the head was buffered
         * they sit after it in c->head, which lives until the connection is released. */
        const uint8_t *rest = (const uint8_t *)buf + d.head_len;
        size_t rest_len = blen - d.head_len;
        upgrade(c, &d, rest, rest_len);
        if (take < len && (c->state == CS_OPEN || c->state == CS_CLOSING))
            ws_input(c, data + take, len - take); /* what did not fit the head buffer */
        if (c->state != CS_DEAD && c->head) {
            free(c->head);
            c->head = NULL;
            c->head_len = c->head_cap = 0;
        }
        break;
    }
    }
}

/* ---- the WebSocket side ---- */

/* Take `n` frames from the connection's bucket (--rate-limit frames a second, a burst of as
 * many). False when the bucket does not hold them. */
static bool rate_take(sconn *c, uint64_t n)
{
    srv *s = c->s;
    if (!s->rate || n == 0)
        return true;
    uint64_t now = uv_now(s->loop);
    c->tokens += (double)(now - c->t_tokens) * s->rate / 1000.0;
    c->t_tokens = now;
    if (c->tokens > s->rate)
        c->tokens = s->rate;
    if (c->tokens < (double)n)
        return false;
    c->tokens -= (double)n;
    return true;
}

static void chat_message(sconn *c, const wsp_ws_event *ev)
{
    srv *s = c->s;
    wsp_serve_chat_result res;
    if (ev->type == WSP_WS_EV_BINARY) {
        res.reply = strdup("{\"type\":\"error\",\"error\":\"binary messages are not part of the "
                           "chat protocol\"}");
        res.broadcast = NULL;
        res.error = true;
        if (!res.reply) {
            ws_close(c, WSP_WS_CLOSE_INTERNAL, "out of memory", false);
            return;
        }
    } else if (wsp_serve_chat_handle((const char *)ev->data, ev->len, c->sub,
                                     c->room ? c->room->name : "default",
                                     !(s->pol.unsafe & WSP_SERVE_UNSAFE_NO_SANITIZE), &res) != 0) {
        ws_close(c, WSP_WS_CLOSE_INTERNAL, "out of memory", false);
        return;
    }
    if (res.reply)
        send_frame(c, WSP_WS_OP_TEXT, res.reply, strlen(res.reply));
    if (res.broadcast && c->room) {
        /* A snapshot of the members: a write may drop any of them (a queue over its cap or
         * its share of the budget), which takes it out of the room's list. */
        size_t bl = strlen(res.broadcast), n = 0;
        sconn **members = malloc(c->room->count * sizeof *members);
        if (!members) {
            wsp_serve_chat_result_cleanup(&res);
            ws_close(c, WSP_WS_CLOSE_INTERNAL, "out of memory", false);
            return;
        }
        for (sconn *m = c->room->members; m; m = m->rnext)
            members[n++] = m;
        for (size_t i = 0; i < n; i++)
            send_frame(members[i], WSP_WS_OP_TEXT, res.broadcast, bl); /* dead ones: no-op */
        free(members);
    }
    if (res.error) {
        c->errors++;
        if (s->cfg->max_errors && c->errors >= s->cfg->max_errors && c->state == CS_OPEN)
            ws_close(c, WSP_WS_CLOSE_POLICY, "too many invalid messages", false);
    } else {
        c->errors = 0;
    }
    wsp_serve_chat_result_cleanup(&res);
}

/* A compressed message, inflated in place of the event's data within the cap; text checked
 * as UTF-8 after. On a failure the connection is failed (1009 past the cap, 1007 for data that
 * does not inflate or is not UTF-8) and -1 returned. */
static int inflate_event(sconn *c, wsp_ws_event *ev)
{
    const uint8_t *out;
    size_t n;
    const char *why = "";
    wsp_pmd_rc rc = wsp_pmd_inflate(c->pmd, ev->data, ev->len, &out, &n, &why);
    if (rc == WSP_PMD_OK && ev->type == WSP_WS_EV_TEXT && !wsp_utf8_valid(out, n))
        rc = WSP_PMD_CORRUPT;
    if (rc == WSP_PMD_TOO_BIG) {
        ws_close(c, WSP_WS_CLOSE_TOO_BIG, "message too big once inflated", true);
        return -1;
    }
    if (rc != WSP_PMD_OK) {
        ws_close(c, rc == WSP_PMD_NOMEM ? WSP_WS_CLOSE_INTERNAL : WSP_WS_CLOSE_BAD_DATA,
                 rc == WSP_PMD_NOMEM ? "out of memory" : "invalid compressed data", true);
        return -1;
    }
    ev->data = out;
    ev->len = n;
    ev->compressed = false;
    return 0;
}

static void ws_input(sconn *c, const uint8_t *data, size_t len)
{
    wsp_ws_event ev;
    do {
        if (c->state != CS_OPEN && c->state != CS_CLOSING)
            return;
        size_t used = wsp_ws_parse(&c->parser, data, len, &ev);
        data += used;
        len -= used;
        /* Every frame counts toward the rate limit, whatever its kind: pings, pongs and empty
         * continuations too (one read can hold ten thousand of them). A flood is failed at
         * once: the rest of its input is discarded, not parsed. */
        uint64_t frames = c->parser.frames - c->frames_seen;
        c->frames_seen = c->parser.frames;
        if (ev.type != WSP_WS_EV_CLOSE && !rate_take(c, frames)) {
            limit_hit(c->s, c, LIM_RATE);
            if (c->state == CS_OPEN)
                ws_close(c, WSP_WS_CLOSE_POLICY, "rate limit exceeded", true);
            else
                conn_linger(c, CS_LINGER);
            return;
        }
        /* Activity (the idle timer): a message, a ping, or payload of a message under way. A
         * pong was not asked for (the server sends no pings) and an empty fragment carries
         * nothing, so neither keeps a connection alive. */
        bool progress = c->parser.data_bytes != c->data_seen;
        c->data_seen = c->parser.data_bytes;
        if (progress || ev.type == WSP_WS_EV_TEXT || ev.type == WSP_WS_EV_BINARY ||
            ev.type == WSP_WS_EV_PING)
            c->t_active = uv_now(c->s->loop);
        if (c->state == CS_CLOSING && ev.type != WSP_WS_EV_CLOSE && ev.type != WSP_WS_EV_ERROR &&
            ev.type != WSP_WS_EV_NONE)
            continue; /* 7.1.2: after our close, only the peer's close matters */
        switch (ev.type) {
        case WSP_WS_EV_NONE:
            break;
        case WSP_WS_EV_TEXT:
        case WSP_WS_EV_BINARY:
            if (ev.compressed && inflate_event(c, &ev) != 0)
                return;
            if (c->s->cfg->echo)
                send_frame(c, ev.type == WSP_WS_EV_TEXT ? WSP_WS_OP_TEXT : WSP_WS_OP_BINARY,
                           ev.data, ev.len);
            else
                chat_message(c, &ev);
            if (c->pmd && c->state != CS_DEAD)
                wsp_pmd_trim(c->pmd);
            break;
        case WSP_WS_EV_PING:
            send_frame(c, WSP_WS_OP_PONG, ev.data, ev.len); /* RFC 6455 5.5.3 */
            break;
        case WSP_WS_EV_PONG:
            break;
        case WSP_WS_EV_CLOSE:
            if (c->state == CS_OPEN) {
                /* RFC 6455 5.5.1: answer with a close frame echoing the status code. */
                uint8_t payload[2];
                size_t plen = 0;
                if (ev.close_code >= 0) {
                    payload[0] = (uint8_t)(ev.close_code >> 8);
                    payload[1] = (uint8_t)ev.close_code;
                    plen = 2;
                }
                log_event(c->s, c, "close",
                          json_pack("{s:i,s:s}", "code", ev.close_code, "by", "client"));
                if (send_frame(c, WSP_WS_OP_CLOSE, payload, plen) != 0)
                    return;
            }
            /* 7.1.1: the closing handshake is complete; the server closes TCP first. */
            conn_linger(c, CS_LINGER);
            return;
        case WSP_WS_EV_ERROR:
            if (c->state == CS_OPEN) {
                /* 7.1.7: fail the connection with the code the rule names. */
                json_t *f = json_pack("{s:s}", "error", ev.error);
                log_event(c->s, c, "protocol_error", f);
                ws_close(c, ev.error_close_code, ev.error, true);
            } else {
                conn_linger(c, CS_LINGER);
            }
            return;
        }
    } while (ev.type != WSP_WS_EV_NONE);
}

static void plain_input(sconn *c, const uint8_t *data, size_t len)
{
    switch ((cstate)c->state) {
    case CS_HEAD:
        head_input(c, data, len);
        break;
    case CS_OPEN:
    case CS_CLOSING:
        ws_input(c, data, len);
        break;
    case CS_TLS:
    case CS_RESPOND:
    case CS_LINGER:
    case CS_DEAD:
        break;
    }
}

/* ---- reading ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init((char *)read_buf, sizeof read_buf);
}

static void plaintext_on_tls_port(sconn *c)
{
    static const char msg[] = "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                              "Content-Length: 54\r\nConnection: close\r\n\r\n"
                              "{\"error\":\"plain HTTP sent to a TLS port\",\"status\":400}";
    log_event(c->s, c, "refused",
              json_pack("{s:i,s:s}", "status", 400, "reason", "plain HTTP on the TLS port"));
    wsp_tls_cleanup(c->tls);
    free(c->tls);
    c->tls = NULL;
    if (raw_write(c, msg, sizeof msg - 1, NULL, 0) == 0)
        conn_linger(c, CS_RESPOND);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    sconn *c = st->data;
    if (nread == 0 || c->state == CS_DEAD)
        return;
    if (nread < 0) {
        if (c->state == CS_OPEN)
            log_event(c->s, c, "close",
                      json_pack("{s:i,s:s,s:s}", "code", 1006, "by", "client", "reason",
                                "connection lost without a close frame"));
        conn_abort(c, NULL);
        return;
    }
    if (c->state == CS_RESPOND || c->state == CS_LINGER)
        return; /* discarded while lingering */
    if (!c->tls) {
        plain_input(c, (const uint8_t *)buf->base, (size_t)nread);
        return;
    }
    wsp_err e;
    wsp_err_clear(&e);
    if (wsp_tls_feed(c->tls, buf->base, (size_t)nread, &e) != 0) {
        if (e.cls == WSP_CLASS_TLS_TO_PLAINTEXT && c->state == CS_TLS)
            plaintext_on_tls_port(c);
        else
            conn_abort(c, "TLS input refused");
        return;
    }
    if (c->state == CS_TLS) {
        int r = wsp_tls_handshake(c->tls, &e);
        if (flush_tls(c) != 0)
            return;
        if (r < 0) {
            conn_abort(c, "TLS handshake failed");
            return;
        }
        if (r == 0)
            return;
        set_state(c, CS_HEAD);
    }
    while (c->state != CS_DEAD && c->state != CS_RESPOND && c->state != CS_LINGER) {
        ssize_t n = wsp_tls_read(c->tls, plain_buf, sizeof plain_buf, &e);
        if (n > 0) {
            plain_input(c, plain_buf, (size_t)n);
            continue;
        }
        if (flush_tls(c) != 0) /* key updates, alerts */
            return;
        if (n == 0)
            return;
        if (n == -2 && c->state == CS_OPEN)
            log_event(c->s, c, "close",
                      json_pack("{s:i,s:s,s:s}", "code", 1006, "by", "client", "reason",
                                "TLS closed without a close frame"));
        conn_abort(c, n == -2 ? NULL : "TLS read failed");
        return;
    }
}

/* ---- timers ---- */

static void timer_cb(uv_timer_t *t)
{
    sconn *c = t->data;
    srv *s = c->s;
    uint64_t now = uv_now(s->loop);
    switch ((cstate)c->state) {
    case CS_TLS:
        limit_hit(s, c, LIM_HANDSHAKE);
        conn_abort(c, "handshake timeout (TLS)");
        break;
    case CS_HEAD: {
        limit_hit(s, c, LIM_HANDSHAKE);
        wsp_serve_decision d;
        memset(&d, 0, sizeof d);
        respond(c, &d, 408, "handshake timeout");
        break;
    }
    case CS_OPEN: {
        if (c->t_expire && now >= c->t_expire) {
            ws_close(c, WSP_WS_CLOSE_POLICY, "token expired", false);
            break;
        }
        uint64_t idle_at = s->idle_ms ? c->t_active + s->idle_ms : UINT64_MAX;
        if (now >= idle_at) {
            limit_hit(s, c, LIM_IDLE);
            ws_close(c, WSP_WS_CLOSE_GOING_AWAY, "idle timeout", false);
            break;
        }
        uint64_t next = idle_at;
        if (c->t_expire && c->t_expire < next)
            next = c->t_expire;
        if (next != UINT64_MAX)
            arm(c, next);
        break;
    }
    case CS_CLOSING:
    case CS_RESPOND:
    case CS_LINGER:
        conn_abort(c, NULL);
        break;
    case CS_DEAD:
        break;
    }
}

/* ---- the global limits ---- */

/* Sent before anything was read, to a client refused for the server's sake. */
static const char busy_503[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                               "Retry-After: 1\r\nConnection: close\r\n\r\n";

/* --max-queued-bytes, after a round of I/O: while the total is over the budget, drop the
 * clients over their share, oldest first. (A write never drops other clients itself: its
 * caller may be walking a room.) */
static void trim_cb(uv_check_t *h)
{
    srv *s = h->data;
    uv_check_stop(h);
    s->trim_armed = false;
    if (!s->stopping)
        trim(s, NULL, 0);
}

/* Make room for one connection at --max-conns: close the oldest connection that is ending,
 * else the oldest unfinished handshake, else the oldest anonymous WebSocket (with a best-effort
 * 503 or close 1013 first). False when there was nothing to close. */
static bool evict_one(srv *s)
{
    for (int k = 0; k < QK_COUNT; k++) {
        sconn *v = s->q[k].head;
        if (!v)
            continue;
        limit_hit(s, v, LIM_MAX_CONNS_EVICT);
        if (v->state == CS_HEAD) {
            net_write(v, busy_503, sizeof busy_503 - 1, NULL, 0);
        } else if (v->state == CS_OPEN) {
            uint8_t payload[WSP_WS_CONTROL_MAX];
            size_t plen = wsp_ws_close_payload(payload, WSP_WS_CLOSE_TRY_AGAIN,
                                               "server at its connection limit");
            send_frame(v, WSP_WS_OP_CLOSE, payload, plen);
        }
        conn_abort(v, NULL);
        return true;
    }
    return false;
}

/* ---- accepting ---- */

static void on_connection(uv_stream_t *server, int status)
{
    listener *l = server->data;
    srv *s = l->s;
    if (status < 0 || s->stopping)
        return;
    sconn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        c->state = CS_DEAD;
        uv_close((uv_handle_t *)&c->timer, conn_release);
        uv_close((uv_handle_t *)&c->tcp, conn_release);
        return;
    }
    /* At --max-conns, room is made before this one joins a queue (it must not evict itself). */
    bool full = s->num_conns >= s->max_conns && !evict_one(s);
    c->id = ++s->next_id;
    c->q = QK_NONE;
    c->prev = s->conns_tail;
    if (s->conns_tail)
        s->conns_tail->next = c;
    else
        s->conns = c;
    s->conns_tail = c;
    s->num_conns++;
    c->t_accept = uv_now(s->loop);
    set_state(c, l->tls ? CS_TLS : CS_HEAD);
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl);
    c->ip = ip_get(s, &ss, &c->port);
    if (!c->ip) {
        conn_abort(c, "out of memory");
        return;
    }
    c->ip->tcp++;
    if (full) {
        /* Nothing to evict: every slot is an authenticated WebSocket. A 503 on plaintext, sent
         * at once; the socket goes with it, since lingering would pass the cap. */
        limit_hit(s, c, LIM_MAX_CONNS_REFUSE);
        if (!l->tls)
            raw_write(c, busy_503, sizeof busy_503 - 1, NULL, 0);
        conn_abort(c, NULL);
        return;
    }
    /* Handshaking sockets count too, so one address cannot hold the accept queue. */
    if (s->max_per_ip && c->ip->tcp > 2 * s->max_per_ip + 16) {
        /* Over the hard cap: on plaintext, still answer 503 (before reading anything) so the
         * client learns why; TLS would cost a handshake, so those are cut. */
        limit_hit(s, c, LIM_PER_IP);
        if (!l->tls) {
            log_event(s, c, "refused",
                      json_pack("{s:i,s:s}", "status", 503, "reason",
                                "too many TCP connections from this address"));
            if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0 &&
                net_write(c, busy_503, sizeof busy_503 - 1, NULL, 0) == 0)
                conn_linger(c, CS_RESPOND);
            else
                conn_abort(c, NULL);
            return;
        }
        conn_abort(c, "too many TCP connections from this address");
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (l->tls) {
        wsp_err e;
        c->tls = malloc(sizeof *c->tls);
        if (!c->tls || wsp_tls_init_server(c->tls, s->cfg->tls_ctx, &e) != 0) {
            free(c->tls);
            c->tls = NULL;
            conn_abort(c, "cannot start TLS");
            return;
        }
    }
    if (s->hs_timeout_ms)
        arm(c, c->t_accept + s->hs_timeout_ms);
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        conn_abort(c, "cannot read");
}

/* ---- shutdown ---- */

static void close_quiet(uv_handle_t *h)
{
    (void)h;
}

static void maybe_finish_shutdown(srv *s)
{
    if (!s->stopping || s->num_conns > 0)
        return;
    if (!uv_is_closing((uv_handle_t *)&s->grace)) {
        uv_close((uv_handle_t *)&s->trim, close_quiet);
        uv_close((uv_handle_t *)&s->grace, close_quiet);
        uv_close((uv_handle_t *)&s->sigterm, close_quiet);
        uv_close((uv_handle_t *)&s->sigint, close_quiet);
    }
}

static void grace_cb(uv_timer_t *t)
{
    srv *s = t->data;
    while (s->conns)
        conn_abort(s->conns, "shutdown grace period over");
    maybe_finish_shutdown(s);
}

static void signal_cb(uv_signal_t *h, int signum)
{
    srv *s = h->data;
    if (s->stopping)
        return;
    s->stopping = true;
    log_event(s, NULL, "shutdown",
              json_pack("{s:s,s:I}", "signal", signum == SIGTERM ? "SIGTERM" : "SIGINT",
                        "connections", (json_int_t)s->num_conns));
    for (size_t i = 0; i < s->num_ls; i++)
        if (s->ls[i].open) {
            s->ls[i].open = false;
            uv_close((uv_handle_t *)&s->ls[i].tcp, close_quiet);
        }
    sconn *c = s->conns;
    while (c) {
        sconn *next = c->next;
        if (c->state == CS_OPEN)
            ws_close(c, WSP_WS_CLOSE_GOING_AWAY, "server shutting down", false);
        else if (c->state != CS_CLOSING)
            conn_abort(c, NULL);
        c = next;
    }
    uv_timer_start(&s->grace, grace_cb, SHUTDOWN_GRACE_MS, 0);
    maybe_finish_shutdown(s);
}

/* ---- starting ---- */

static int write_port_file(const listener *ls, size_t num_ls, const char *ws_path, const char *path,
                           wsp_err *err)
{
    json_t *o = json_object(), *arr = json_array();
    if (!o || !arr) {
        json_decref(o);
        json_decref(arr);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < num_ls; i++) {
        const listener *l = &ls[i];
        const char *scheme = l->tls ? "wss" : "ws";
        json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:s}", "scheme", scheme, "host", l->host,
                                             "port", (int)l->port, "url", l->url));
        if (!json_object_get(o, scheme))
            json_object_set_new(o, scheme, json_integer(l->port));
    }
    json_object_set_new(o, "listeners", arr);
    json_object_set_new(o, "pid", json_integer((json_int_t)getpid()));
    json_object_set_new(o, "path", json_string(ws_path));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    /* a regular file is replaced whole (a reader never sees half); a device is written */
    int rc = wsp_file_write("--port-file", path, text, strlen(text), err);
    free(text);
    return rc;
}

static int parse_listen_addr(const wsp_serve_listen *spec, unsigned port,
                             struct sockaddr_storage *ss, wsp_err *err)
{
    memset(ss, 0, sizeof *ss);
    bool v6 = strchr(spec->host, ':') != NULL;
    int r = v6 ? uv_ip6_addr(spec->host, (int)port, (struct sockaddr_in6 *)ss)
               : uv_ip4_addr(spec->host, (int)port, (struct sockaddr_in *)ss);
    if (r != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s %s: not an IP address",
                           spec->tls ? "--tls-listen" : "--listen", spec->host);
    return 0;
}

static int listen_failed(const wsp_serve_listen *spec, int r, wsp_err *err)
{
    bool v6 = strchr(spec->host, ':') != NULL;
    wsp_err_set(err, WSP_CLASS_USAGE, "cannot listen on %s%s%s:%u: %s", v6 ? "[" : "", spec->host,
                v6 ? "]" : "", spec->port, uv_strerror(r));
    wsp_err_hint(err, "pick another port (0 lets the kernel choose one) or stop what holds it");
    err->sys_errno = r;
    return -1;
}

/* What a bound listener is called (its URL, with the port the kernel gave). */
static void describe_listener(listener *l, const wsp_serve_listen *spec, unsigned port,
                              const char *path)
{
    bool v6 = strchr(spec->host, ':') != NULL;
    l->tls = spec->tls;
    l->port = port;
    snprintf(l->host, sizeof l->host, "%s", spec->host);
    snprintf(l->url, sizeof l->url, "%s://%s%s%s:%u%s", spec->tls ? "wss" : "ws", v6 ? "[" : "",
             spec->host, v6 ? "]" : "", port, path);
}

static unsigned sockaddr_port(const struct sockaddr_storage *ss)
{
    return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
                                           : ((const struct sockaddr_in *)ss)->sin_port);
}

/* Listener number s->num_ls: bound here, or (a worker) the supervisor's socket taken over. */
static int bind_listener(srv *s, const wsp_serve_listen *spec, wsp_err *err)
{
    listener *l = &s->ls[s->num_ls];
    struct sockaddr_storage ss;
    if (parse_listen_addr(spec, spec->port, &ss, err) != 0)
        return -1;
    bool v6 = ss.ss_family == AF_INET6;
    uv_tcp_init(s->loop, &l->tcp);
    l->tcp.data = l;
    l->s = s;
    l->open = true;
    int r = s->plan ? uv_tcp_open(&l->tcp, s->plan->fds[s->num_ls])
                    : uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss, v6 ? UV_TCP_IPV6ONLY : 0);
    s->num_ls++;
    if (r == 0)
        r = uv_listen((uv_stream_t *)&l->tcp, 4096, on_connection);
    if (r != 0)
        return listen_failed(spec, r, err);
    int sl = sizeof ss;
    uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &sl);
    describe_listener(l, spec, sockaddr_port(&ss), s->pol.path);
    return 0;
}

void wsp_serve_config_init(wsp_serve_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->policy.path = "/ws";
    cfg->policy.alg = WSP_JWT_ALG_HS256;
    cfg->policy.leeway_s = 5;
    cfg->max_message = 64 * 1024;
    cfg->rate = 50;
    cfg->max_conns_per_ip = 64;
    cfg->handshake_timeout_us = 5 * 1000000ull;
    cfg->idle_timeout_us = 60 * 1000000ull;
    cfg->write_queue_max = 1u << 20;
    cfg->max_queued_bytes = WSP_SERVE_QUEUED_DEFAULT;
    cfg->max_errors = 5;
}

static void close_all_cb(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, close_quiet);
}

/* A worker's share of a global limit (0 stays off; check_shares refused a limit too small to
 * give each worker at least 1). */
static uint64_t limit_share(uint64_t limit, const worker_plan *plan)
{
    return plan ? limit / plan->count : limit;
}

/* Serve in this process: alone (plan NULL), or as one worker. */
static int serve_one(const wsp_serve_config *cfg, const worker_plan *plan, wsp_err *err)
{
    srv *s = calloc(1, sizeof *s);
    if (!s)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    s->loop = uv_default_loop();
    s->cfg = cfg;
    s->plan = plan;
    s->pol = cfg->policy;
    bool nolimits = (cfg->policy.unsafe & WSP_SERVE_UNSAFE_NO_LIMITS) != 0;
    s->max_message = nolimits ? NO_LIMITS_MAX_MESSAGE : cfg->max_message;
    s->rate = nolimits ? 0 : cfg->rate;
    s->max_per_ip = nolimits ? 0 : (unsigned)limit_share(cfg->max_conns_per_ip, plan);
    s->hs_timeout_ms = nolimits ? 0 : (cfg->handshake_timeout_us + 999) / 1000;
    s->idle_ms = nolimits ? 0 : (cfg->idle_timeout_us + 999) / 1000;
    s->wq_max = cfg->write_queue_max;
    if (s->wq_max && s->wq_max < 2 * s->max_message + 65536)
        s->wq_max = 2 * s->max_message + 65536; /* an echo of the largest message must fit */
    s->q_budget = nolimits ? 0 : limit_share(cfg->max_queued_bytes, plan);
    if (s->q_budget && s->q_budget < s->wq_max)
        s->q_budget = s->wq_max; /* one client's cap must fit in the whole */
    /* Past the file limit accept(2) fails and libuv drops whoever comes next: the cap stays
     * below it, with a reserve for listeners, logs and the loop's own descriptors. */
    struct rlimit rl = {0};
    size_t ceiling = 1u << 20;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        ceiling = rl.rlim_cur > 2 * WSP_SERVE_FD_RESERVE ? rl.rlim_cur - WSP_SERVE_FD_RESERVE
                                                         : rl.rlim_cur / 2;
    if (ceiling > (1u << 20))
        ceiling = 1u << 20;
    s->max_conns = ceiling;
    uint64_t max_conns = limit_share(cfg->max_conns, plan);
    if (!nolimits && max_conns && max_conns < ceiling)
        s->max_conns = max_conns;
    else if (!nolimits && max_conns > ceiling)
        fprintf(stderr,
                "wsprobe serve: --max-conns %u%s is over what the file limit allows (ulimit -n "
                "%llu, %d kept in reserve): using %zu\n",
                cfg->max_conns, plan ? " (this worker's share)" : "",
                (unsigned long long)rl.rlim_cur, WSP_SERVE_FD_RESERVE, ceiling);
    s->t_start = uv_now(s->loop);
    signal(SIGPIPE, SIG_IGN);

    /* Signals first: a supervisor may signal as soon as the ports are announced. */
    uv_signal_init(s->loop, &s->sigterm);
    uv_signal_init(s->loop, &s->sigint);
    uv_timer_init(s->loop, &s->grace);
    uv_check_init(s->loop, &s->trim);
    s->sigterm.data = s->sigint.data = s->grace.data = s;
    s->trim.data = s;
    uv_signal_start(&s->sigterm, signal_cb, SIGTERM);
    uv_signal_start(&s->sigint, signal_cb, SIGINT);
    if (plan) { /* forked with them blocked (serve_workers): they may come now */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGCHLD);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
    }
    int rc = 0;
    for (size_t i = 0; i < cfg->num_listen && rc == 0; i++)
        rc = bind_listener(s, &cfg->listen[i], err);
    if (rc == 0 && !plan) /* (a supervisor announces its workers' listeners) */
        for (size_t i = 0; i < s->num_ls; i++)
            fprintf(stderr, "wsprobe serve: listening on %s\n", s->ls[i].url);
    if (rc == 0 && cfg->port_file && !plan)
        rc = write_port_file(s->ls, s->num_ls, s->pol.path, cfg->port_file, err);
    if (rc == 0) {
        fflush(stderr);
        uv_run(s->loop, UV_RUN_DEFAULT);
        log_event(s, NULL, "stopped", NULL);
    }
    /* Close whatever is left (listeners after a failed start) and let the loop release it. */
    uv_walk(s->loop, close_all_cb, NULL);
    uv_run(s->loop, UV_RUN_DEFAULT);
    for (size_t b = 0; b < IP_BUCKETS; b++)
        while (s->ips[b]) {
            ipent *e = s->ips[b];
            s->ips[b] = e->next;
            free(e);
        }
    for (size_t b = 0; b < ROOM_BUCKETS; b++)
        while (s->rooms[b]) {
            room *r = s->rooms[b];
            s->rooms[b] = r->next;
            free(r);
        }
    uv_loop_close(s->loop);
    free(s);
    return rc;
}

/* ---- --workers: N processes on SO_REUSEPORT listeners ---- */

/* A listening socket for `spec` on `port` (0: the kernel picks), in the SO_REUSEPORT group of
 * its address when `group`; else a plain bound socket, which fails when anything at all holds
 * the port. */
static int listen_socket(const wsp_serve_listen *spec, unsigned port, bool group, int *fd_out,
                         unsigned *port_out, wsp_err *err)
{
    struct sockaddr_storage ss;
    if (parse_listen_addr(spec, port, &ss, err) != 0)
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0)
        return listen_failed(spec, -errno, err);
    socklen_t sl =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (group && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 || (group && listen(fd, 4096) != 0) ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
        int e = errno;
        close(fd);
        return listen_failed(spec, -e, err);
    }
    *fd_out = fd;
    *port_out = sockaddr_port(&ss);
    return 0;
}

/* A port held by anything at all, a SO_REUSEPORT group of another process included (which
 * would otherwise take a share of the connections silently): a plain bind says so. */
static int port_free(const wsp_serve_listen *spec, wsp_err *err)
{
    int fd;
    unsigned port;
    if (listen_socket(spec, spec->port, false, &fd, &port, err) != 0)
        return -1;
    close(fd);
    return 0;
}

/* Each worker has 1/N of every global limit: one too small to share is refused, not rounded up
 * (N workers with a share of 1 would hold N connections under --max-conns 2). */
static int check_shares(const wsp_serve_config *cfg, wsp_err *err)
{
    unsigned n = cfg->workers;
    if (cfg->policy.unsafe & WSP_SERVE_UNSAFE_NO_LIMITS)
        return 0;
    if (cfg->max_conns && cfg->max_conns < n)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--max-conns %u is less than one connection per worker (--workers %u)",
                           cfg->max_conns, n);
    if (cfg->max_conns_per_ip && cfg->max_conns_per_ip < n)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--max-conns-per-ip %u is less than one per worker (--workers %u): "
                           "each worker counts the addresses it serves",
                           cfg->max_conns_per_ip, n);
    uint64_t wq = cfg->write_queue_max;
    if (wq && wq < 2 * cfg->max_message + 65536)
        wq = 2 * cfg->max_message + 65536; /* as serve_one raises it */
    if (cfg->max_queued_bytes && cfg->max_queued_bytes / n < wq)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--max-queued-bytes %llu over %u workers leaves each less than one "
                           "client's --write-queue-max (%llu)",
                           (unsigned long long)cfg->max_queued_bytes, n, (unsigned long long)wq);
    return 0;
}

static void forward(const pid_t *pids, unsigned n, int sig)
{
    for (unsigned i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], sig);
}

/* Until every worker ended: SIGTERM and SIGINT forwarded; a worker that ends on its own stops
 * the others (a server at a fraction of its capacity is not the one that was asked for). */
static int supervise_workers(pid_t *pids, unsigned n, const sigset_t *set, wsp_err *err)
{
    unsigned left = 0;
    for (unsigned i = 0; i < n; i++)
        left += pids[i] > 0;
    bool stopping = false;
    uint64_t kill_at = 0;
    int rc = 0;
    while (left > 0) {
        struct timespec to = {0, 200000000};
        int sig = sigtimedwait(set, NULL, &to);
        if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
            stopping = true;
            forward(pids, n, sig);
            kill_at = wsp_clock_mono_ns() + (SHUTDOWN_GRACE_MS + 5000) * 1000000ull;
        }
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            unsigned i = 0;
            while (i < n && pids[i] != pid)
                i++;
            if (i == n)
                continue;
            pids[i] = 0;
            left--;
            bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            if (stopping && clean)
                continue;
            char why[96];
            wsp_proc_status_text(st, why, sizeof why);
            fprintf(stderr, "wsprobe serve: worker %u of %u (pid %d) %s%s\n", i + 1, n, (int)pid,
                    why, stopping ? "" : ": stopping the others");
            if (rc == 0)
                rc = wsp_err_set(err,
                                 WIFEXITED(st) && WEXITSTATUS(st) ==
                                                      wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED)
                                     ? WSP_CLASS_OUTPUT_FAILED
                                     : WSP_CLASS_INTERNAL,
                                 "worker %u of %u %s", i + 1, n, why);
            if (!stopping) {
                stopping = true;
                forward(pids, n, SIGTERM);
                kill_at = wsp_clock_mono_ns() + (SHUTDOWN_GRACE_MS + 5000) * 1000000ull;
            }
        }
        if (stopping && wsp_clock_mono_ns() >= kill_at) {
            forward(pids, n, SIGKILL); /* past the grace period and then some */
            kill_at = UINT64_MAX;
        }
    }
    return rc;
}

static int serve_workers(const wsp_serve_config *cfg, wsp_err *err)
{
    unsigned n = cfg->workers;
    size_t nl = cfg->num_listen;
    static int fds[2 * WSP_SERVE_LISTEN_MAX][WSP_SERVE_MAX_WORKERS];
    listener ls[2 * WSP_SERVE_LISTEN_MAX];
    memset(ls, 0, sizeof ls);
    for (size_t i = 0; i < nl; i++)
        for (unsigned k = 0; k < n; k++)
            fds[i][k] = -1;
    /* Blocked before anything is announced: a supervisor of ours may signal as soon as the port
     * file exists; the signals wait for sigtimedwait here, and in the workers for their
     * handlers (serve_one unblocks them). */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, &old);
    int rc = check_shares(cfg, err);
    for (size_t i = 0; i < nl && rc == 0; i++) {
        unsigned port = cfg->listen[i].port;
        if (port)
            rc = port_free(&cfg->listen[i], err);
        for (unsigned k = 0; k < n && rc == 0; k++)
            rc = listen_socket(&cfg->listen[i], port, true, &fds[i][k], &port, err);
        describe_listener(&ls[i], &cfg->listen[i], port, cfg->policy.path);
    }
    if (rc == 0)
        for (size_t i = 0; i < nl; i++)
            fprintf(stderr, "wsprobe serve: listening on %s (%u workers)\n", ls[i].url, n);
    if (rc == 0 && cfg->port_file)
        rc = write_port_file(ls, nl, cfg->policy.path, cfg->port_file, err);
    pid_t pids[WSP_SERVE_MAX_WORKERS] = {0};
    for (unsigned k = 0; k < n && rc == 0; k++) {
        pid_t pid = wsp_proc_fork(SIGTERM, true);
        if (pid == 0) {
            worker_plan plan = {.index = k, .count = n};
            for (size_t i = 0; i < nl; i++) {
                plan.fds[i] = fds[i][k];
                for (unsigned j = 0; j < n; j++)
                    if (j != k)
                        close(fds[i][j]);
            }
            wsp_err e;
            wsp_err_clear(&e);
            int wrc = serve_one(cfg, &plan, &e);
            if (wrc != 0)
                fprintf(stderr, "wsprobe serve: worker %u: %s\n", k + 1, e.msg);
            bool lost = cfg->json_log && (ferror(cfg->json_log) || fflush(cfg->json_log) != 0);
            fflush(stderr);
            _exit(wrc != 0 ? 70 : lost ? wsp_class_exit_code(WSP_CLASS_OUTPUT_FAILED) : 0);
        }
        if (pid < 0) {
            rc = wsp_err_set(err, WSP_CLASS_INTERNAL, "could not start worker %u of %u (errno %d)",
                             k + 1, n, errno);
            forward(pids, n, SIGTERM);
        } else {
            pids[k] = pid;
        }
    }
    for (size_t i = 0; i < nl; i++) /* the workers hold them now */
        for (unsigned k = 0; k < n; k++)
            if (fds[i][k] >= 0)
                close(fds[i][k]);
    wsp_err werr;
    wsp_err_clear(&werr);
    int src = supervise_workers(pids, n, &set, &werr); /* (reaps what started, even on error) */
    if (rc == 0 && src != 0) {
        *err = werr;
        rc = -1;
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

int wsp_serve_run(const wsp_serve_config *cfg, wsp_err *err)
{
    if (cfg->num_listen == 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "no listener");
    for (size_t i = 0; i < cfg->num_listen; i++)
        if (cfg->listen[i].tls && !cfg->tls_ctx)
            return wsp_err_set(err, WSP_CLASS_USAGE, "a TLS listener needs a certificate");
    if (cfg->workers > WSP_SERVE_MAX_WORKERS)
        return wsp_err_set(err, WSP_CLASS_USAGE, "at most %d workers", WSP_SERVE_MAX_WORKERS);
    return cfg->workers > 1 ? serve_workers(cfg, err) : serve_one(cfg, NULL, err);
}
