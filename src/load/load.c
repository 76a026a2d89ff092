/* load.c - the load engine: worker threads, one libuv loop each, driving wsp_conn connections
 * on an open-model schedule. See load.h.
 *
 * Per worker: the connections it owns live in one array (no allocation per message beyond the
 * engine's write request and a template's expansion); the connections whose next message is due
 * sit in a binary heap ordered by that time; a timerfd (nanosecond resolution, unlike libuv's
 * millisecond timers) wakes the loop when the earliest is due, so sends leave on time and the
 * corrected latency is not inflated by timer granularity. Figures go into per-worker histograms,
 * merged exactly when the worker ends; once a second each worker adds its last second to the
 * shared series under a mutex. */
#define _GNU_SOURCE
#include "load/load.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <uv.h>

#include "probe/probe.h"
#include "util/excerpt.h"
#include "codec/jsonptr.h"
#include "codec/ws.h"
#include "util/redact.h"
#include "codec/template.h"

#define SEC_NS 1000000000ull
#define SERIES_RING 16
#define MAX_PENDING_PER_WORKER 256 /* handshakes in progress without --connect-rate */
#define MAX_PENDING_RATED 8192
#define CLOSE_GRACE_MS 2000
#define INTERRUPT_DRAIN_MS 500
#define DEFAULT_DRAIN_MS 2000
#define WBUF_SIZE 65536 /* frames due at once on one connection, sent in one write */

enum { ST_IDLE, ST_CONNECTING, ST_OPEN, ST_DONE };
enum { STAGE_RUN, STAGE_DRAIN, STAGE_CLOSE, STAGE_FINISHED };

typedef struct inflight {
    uint64_t intended, sent;
    char *msg; /* owned expansion, or NULL: the configured message */
    size_t len;
    char *key; /* owned expected key (JSON, TEXT), or NULL: the shared one */
    size_t key_len;
    int64_t ack_id; /* MATCH_ACK: the emit's ack id */
    bool measured;
} inflight;

typedef wsp_auth_conn lauth; /* a connection's options with its own token */

struct worker;

typedef struct lconn {
    wsp_conn *c;
    struct worker *w;
    uint32_t gidx;
    uint32_t heap_pos; /* UINT32_MAX: not in the heap */
    uint8_t state;
    bool phases_done;
    uint16_t head, count;
    wsp_load_sched sched;
    inflight *ring; /* pipeline entries, allocated at the first send */
    lauth *auth;
    uint64_t ping_next; /* --ping-interval: when the next ping is due */
    uint64_t ping_sent; /* the unanswered ping's send time (its payload), 0: none */
    wsp_proto *proto;   /* --protocol: the conversation on top */
} lconn;

typedef struct counters {
    uint64_t conn_attempted, conn_opened, conn_failed, conn_unfinished;
    uint64_t msg_sent, msg_matched, msg_mismatched, msg_timeout, msg_lost, msg_unsent,
        msg_unexpected;
    uint64_t ping_sent, ping_answered, ping_timeout, ping_unfinished; /* measured ones */
    uint64_t by_class[WSP_CLASS_COUNT];
    uint64_t close_codes[WSP_LOAD_CLOSE_CODES];
    uint64_t http_status[WSP_LOAD_HTTP_STATUSES];
    char first_error[WSP_CLASS_COUNT][160];
} counters;

struct run;

typedef struct worker {
    struct run *run;
    unsigned id;
    pthread_t thread;
    bool thread_started;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t second, starter, stage_timer, ping_timer;
    uv_poll_t tpoll;
    uv_prepare_t prep;
    int tfd;
    uint64_t armed; /* the time the timerfd is set for; 0: disarmed */
    uint8_t *wbuf;  /* WBUF_SIZE: the batch being built */
    size_t wlen;
    unsigned wcount;
    const char *wone; /* the batch's message when it holds one */
    size_t wone_len;
    lconn *conns;
    size_t n, next_start, pending, open, live;
    uint64_t inflight_total;
    lconn **heap;
    size_t heap_n;
    wsp_conn_opts *opts; /* one per source address */
    size_t nopts;
    int stage;
    bool loop_ok;
    bool idle_reported;
    unsigned sec_index;
    uint64_t sec_sent, sec_matched, sec_errors, sec_opened;
    counters k;
    wsp_hist lat, unc, late, phase[WSP_LOAD_PH_COUNT], sec_lat, sec_unc, pong;
} worker;

typedef struct run {
    const wsp_load_config *cfg;
    worker *workers;
    unsigned nw;
    uint64_t t_start, t_measure, t_end;
    uint64_t interval_ns;
    _Atomic uint64_t slack_ns; /* the send window now; re-chosen each second when automatic */
    uint64_t slack_max_ns;     /* the widest it was (the report's figure) */
    uint64_t reply_timeout_ns;
    bool msg_vars, key_vars;
    char *static_key; /* the expected key when it does not depend on the message */
    size_t static_key_len;
    atomic_int stop; /* 0 running, 1 end, 2 interrupted (SIGINT), 3 second SIGINT */
    atomic_uint idle, finished;
    pthread_mutex_t mu;
    uint64_t peak_open;
    atomic_ullong open_now, opened_total, failed_total, errors_total;
    /* the series */
    wsp_load_second *series;
    size_t nseries, cap;
    unsigned *contrib;
    bool *final;
    wsp_hist *ring; /* SERIES_RING per-second histograms, corrected; then as many uncorrected */
    long last_final;
    uv_loop_t main_loop;
    uv_async_t main_wake;
    uv_signal_t sigint;
    uv_timer_t tick;
    uv_timer_t mem; /* the memory sample, in the middle of the measured window */
    uint64_t rss_base_kib, rss_mid_kib, mid_open;
    bool main_closing;
    bool main_ok;
    wsp_load_result *out;
} run;

/* ---- the schedule ---- */

uint64_t wsp_load_interval_ns(size_t connections, double rate)
{
    if (rate <= 0 || connections == 0)
        return 0;
    double ns = (double)connections * 1e9 / rate;
    if (ns < 1)
        ns = 1;
    if (ns > 1e18)
        ns = 1e18;
    return (uint64_t)ns;
}

uint64_t wsp_load_phase_offset(size_t index, uint64_t interval_ns)
{
    /* the golden-ratio sequence spreads any number of connections evenly over the interval */
    double f = fmod((double)index * 0.6180339887498949, 1.0);
    return (uint64_t)(f * (double)interval_ns);
}

uint64_t wsp_load_sched_next(const wsp_load_sched *s)
{
    if (!s->interval_ns)
        return UINT64_MAX;
    uint64_t t = s->t0 + s->next * s->interval_ns;
    if (s->end && t >= s->end)
        return UINT64_MAX;
    return t;
}

uint64_t wsp_load_sched_due(const wsp_load_sched *s, uint64_t now)
{
    if (!s->interval_ns || now < s->t0)
        return 0;
    uint64_t last = now;
    if (s->end && last >= s->end)
        last = s->end - 1;
    if (last < s->t0)
        return 0;
    uint64_t upto = (last - s->t0) / s->interval_ns + 1; /* messages 0..upto-1 are due */
    return upto > s->next ? upto - s->next : 0;
}

uint64_t wsp_load_sched_take(wsp_load_sched *s)
{
    uint64_t t = s->t0 + s->next * s->interval_ns;
    s->next++;
    return t;
}

/* ---- the heap of due times ---- */

static uint64_t due_of(const lconn *lc)
{
    return wsp_load_sched_next(&lc->sched);
}

static void heap_swap(worker *w, size_t a, size_t b)
{
    lconn *t = w->heap[a];
    w->heap[a] = w->heap[b];
    w->heap[b] = t;
    w->heap[a]->heap_pos = (uint32_t)a;
    w->heap[b]->heap_pos = (uint32_t)b;
}

static void heap_up(worker *w, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (due_of(w->heap[p]) <= due_of(w->heap[i]))
            break;
        heap_swap(w, i, p);
        i = p;
    }
}

static void heap_down(worker *w, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < w->heap_n && due_of(w->heap[l]) < due_of(w->heap[m]))
            m = l;
        if (r < w->heap_n && due_of(w->heap[r]) < due_of(w->heap[m]))
            m = r;
        if (m == i)
            return;
        heap_swap(w, i, m);
        i = m;
    }
}

static void heap_remove(worker *w, lconn *lc)
{
    if (lc->heap_pos == UINT32_MAX)
        return;
    size_t i = lc->heap_pos;
    lc->heap_pos = UINT32_MAX;
    w->heap_n--;
    if (i == w->heap_n)
        return;
    w->heap[i] = w->heap[w->heap_n];
    w->heap[i]->heap_pos = (uint32_t)i;
    heap_up(w, i);
    heap_down(w, w->heap[i]->heap_pos);
}

/* Put the connection in the heap at its next due time (or fix its position). */
static void heap_set(worker *w, lconn *lc)
{
    if (lc->heap_pos == UINT32_MAX) {
        lc->heap_pos = (uint32_t)w->heap_n;
        w->heap[w->heap_n++] = lc;
        heap_up(w, lc->heap_pos);
    } else {
        heap_up(w, lc->heap_pos);
        heap_down(w, lc->heap_pos);
    }
}

/* Arm the timerfd for the earliest due time; a syscall only when that time changes. */
static void arm_timerfd(worker *w)
{
    uint64_t t = 0;
    if (w->heap_n && w->stage == STAGE_RUN) {
        t = due_of(w->heap[0]);
        if (t == UINT64_MAX)
            t = 0;
        else if (t == 0)
            t = 1;
        else {
            uint64_t slack = atomic_load_explicit(&w->run->slack_ns, memory_order_relaxed);
            if (slack)
                t = (t + slack - 1) / slack * slack;
        }
    }
    if (t == w->armed)
        return;
    w->armed = t;
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(t / SEC_NS);
    its.it_value.tv_nsec = (long)(t % SEC_NS);
    timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* ---- counting ---- */

static void count_error(worker *w, wsp_class cls, const char *msg)
{
    w->k.by_class[cls]++;
    w->sec_errors++;
    atomic_fetch_add(&w->run->errors_total, 1);
    if (msg && !w->k.first_error[cls][0])
        snprintf(w->k.first_error[cls], sizeof w->k.first_error[cls], "%s", msg);
}

static void record_phases(worker *w, lconn *lc)
{
    if (lc->phases_done || !lc->c)
        return;
    lc->phases_done = true;
    const wsp_conn_record *r = wsp_conn_get_record(lc->c);
    if (r->t_resolved && r->t_resolved >= r->t_start)
        wsp_hist_record(&w->phase[WSP_LOAD_PH_RESOLVE], r->t_resolved - r->t_start);
    if (r->t_connected && r->t_resolved && r->t_connected >= r->t_resolved)
        wsp_hist_record(&w->phase[WSP_LOAD_PH_CONNECT], r->t_connected - r->t_resolved);
    uint64_t ready = wsp_conn_t_ready(r);
    if (r->tls_used && r->t_tls && ready && r->t_tls >= ready)
        wsp_hist_record(&w->phase[WSP_LOAD_PH_TLS], r->t_tls - ready);
    if (r->t_upgraded && r->t_request && r->t_upgraded >= r->t_request)
        wsp_hist_record(&w->phase[WSP_LOAD_PH_UPGRADE], r->t_upgraded - r->t_request);
    if (r->handshake_completed && r->t_upgraded >= r->t_start)
        wsp_hist_record(&w->phase[WSP_LOAD_PH_HANDSHAKE], r->t_upgraded - r->t_start);
}

/* ---- messages ---- */

static void inflight_release(inflight *f)
{
    free(f->msg);
    free(f->key);
    f->msg = NULL;
    f->key = NULL;
}

/* Remove entry `i` (0 = oldest) from the ring, keeping the order of the others. */
static void ring_remove(worker *w, lconn *lc, unsigned i)
{
    unsigned cap = w->run->cfg->pipeline;
    inflight_release(&lc->ring[(lc->head + i) % cap]);
    if (i == 0) {
        lc->head = (uint16_t)((lc->head + 1) % cap);
    } else {
        for (unsigned j = i; j + 1 < lc->count; j++)
            lc->ring[(lc->head + j) % cap] = lc->ring[(lc->head + j + 1) % cap];
    }
    lc->count--;
    w->inflight_total--;
}

/* The comparable form of a JSON value: 's' + the string, or 'j' + compact JSON. */
static char *json_key(json_t *v, size_t *len)
{
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        char *k = malloc(n + 2);
        if (!k)
            return NULL;
        k[0] = 's';
        memcpy(k + 1, json_string_value(v), n);
        k[n + 1] = '\0';
        *len = n + 1;
        return k;
    }
    char *d = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (!d)
        return NULL;
    size_t n = strlen(d);
    char *k = malloc(n + 2);
    if (k) {
        k[0] = 'j';
        memcpy(k + 1, d, n + 1);
        *len = n + 1;
    }
    free(d);
    return k;
}

/* The expected value as written (after placeholders): JSON when it parses, else a string
 * (the rule of probe --expect-json). */
static char *value_key(const char *text, size_t tlen, size_t *len)
{
    json_error_t je;
    json_t *v = json_loadb(text, tlen, JSON_DECODE_ANY, &je);
    if (!v)
        v = json_stringn(text, tlen);
    if (!v)
        return NULL;
    char *k = json_key(v, len);
    json_decref(v);
    return k;
}

static int make_key(run *r, const char *msg, size_t len, char **key, size_t *klen)
{
    const wsp_load_config *c = r->cfg;
    *key = NULL;
    if (c->match != WSP_LOAD_MATCH_JSON && c->match != WSP_LOAD_MATCH_TEXT)
        return 0;
    if (!r->key_vars)
        return 0;
    wsp_tmpl_ctx ctx = wsp_probe_tmpl_ctx(msg, len);
    wsp_err e;
    size_t n = 0;
    char *x = wsp_tmpl_expand(c->match == WSP_LOAD_MATCH_JSON ? c->expect_value : c->expect_text,
                              &ctx, &n, &e);
    if (!x)
        return -1;
    if (c->match == WSP_LOAD_MATCH_TEXT) {
        *key = x;
        *klen = n;
        return 0;
    }
    *key = value_key(x, n, klen);
    free(x);
    return *key ? 0 : -1;
}

static void conn_pump(lconn *lc, uint64_t now);
static void begin_close(worker *w);
static void maybe_finish(worker *w);
static void check_stage(worker *w);

/* Text frames, or binary ones for --send-binary. */
static unsigned msg_opcode(const worker *w)
{
    return w->run->cfg->message_binary ? WSP_WS_OP_BINARY : WSP_WS_OP_TEXT;
}

/* Frames due on one connection at one moment leave in one write: a batch of two or more is
 * encoded here (masked, RFC 6455 5.3, a fresh key per frame) and handed to the connection as
 * bytes; a single message goes through wsp_conn_send. A failed send shows up as the
 * connection's end, which counts what was in flight as lost. */
static void batch_flush(lconn *lc)
{
    worker *w = lc->w;
    if (w->wcount == 1)
        wsp_conn_send(lc->c, msg_opcode(w), w->wone, w->wone_len);
    else if (w->wcount > 1)
        wsp_conn_send_raw(lc->c, w->wbuf, w->wlen);
    w->wcount = 0;
    w->wlen = 0;
}

/* Append a frame to the batch; false when it does not fit (or the encoder failed). */
static bool batch_encode(worker *w, const char *msg, size_t len)
{
    if (w->wlen + len + WSP_WS_HEADER_MAX > WBUF_SIZE)
        return false;
    long n = wsp_ws_frame_encode(w->wbuf + w->wlen, WBUF_SIZE - w->wlen, true, msg_opcode(w), msg,
                                 len, true);
    if (n < 0)
        return false;
    w->wlen += (size_t)n;
    return true;
}

static void batch_add(lconn *lc, const char *msg, size_t len)
{
    worker *w = lc->w;
    if (w->wbuf && w->wcount == 1) {
        /* a second frame: the first is encoded only now, so a lone message is encoded once */
        if (!batch_encode(w, w->wone, w->wone_len))
            batch_flush(lc);
    }
    if (w->wcount >= 1) {
        if (batch_encode(w, msg, len)) {
            w->wcount++;
            return;
        }
        batch_flush(lc);
    }
    if (!w->wbuf || len + WSP_WS_HEADER_MAX > WBUF_SIZE || wsp_conn_compressing(lc->c)) {
        /* a compressed connection sends each message through the connection, which deflates */
        wsp_conn_send(lc->c, msg_opcode(w), msg, len);
        return;
    }
    w->wcount = 1; /* held until a second one comes, or the flush */
    w->wone = msg;
    w->wone_len = len;
    w->wlen = 0;
}

static void send_one(lconn *lc, uint64_t intended)
{
    worker *w = lc->w;
    run *r = w->run;
    const wsp_load_config *c = r->cfg;
    unsigned cap = c->pipeline;
    if (!lc->ring) {
        lc->ring = calloc(cap, sizeof *lc->ring);
        if (!lc->ring) {
            count_error(w, WSP_CLASS_INTERNAL, "out of memory");
            wsp_conn_fail(lc->c, WSP_CLASS_INTERNAL, "out of memory");
            return;
        }
    }
    const char *msg = c->message;
    size_t len = c->message_len;
    char *own = NULL;
    wsp_err e;
    if (r->msg_vars) {
        wsp_tmpl_ctx live = wsp_probe_tmpl_ctx(NULL, 0);
        own = wsp_tmpl_expand(c->message, &live, &len, &e);
        if (!own) {
            count_error(w, WSP_CLASS_INTERNAL, "a placeholder in --message could not be filled");
            return;
        }
        msg = own;
    }
    inflight *f = &lc->ring[(lc->head + lc->count) % cap];
    memset(f, 0, sizeof *f);
    if (make_key(r, msg, len, &f->key, &f->key_len) != 0) {
        free(own);
        count_error(w, WSP_CLASS_WS_EXPECT_MISMATCH,
                    "the expected value could not be made from the message sent");
        return;
    }
    f->intended = intended;
    f->msg = own;
    f->len = len;
    f->measured = intended >= r->t_measure;
    f->sent = uv_hrtime();
    if (f->measured) /* how late it leaves: the client's own share of the corrected latency */
        wsp_hist_record(&w->late, f->sent > intended ? f->sent - intended : 0);
    lc->count++;
    w->inflight_total++;
    w->sec_sent++;
    if (f->measured)
        w->k.msg_sent++;
    if (lc->proto) {
        /* an emit: its arguments are the message (one write each: the ack id is per emit) */
        if (wsp_proto_emit(lc->proto, c->event, len ? msg : NULL, c->match == WSP_LOAD_MATCH_ACK,
                           &f->ack_id, &e) != 0)
            count_error(w, e.cls, e.msg);
        return;
    }
    batch_add(lc, msg, len);
}

/* Send what is due while the window allows, then (re)place the connection in the heap. */
static void conn_pump(lconn *lc, uint64_t now)
{
    worker *w = lc->w;
    unsigned cap = w->run->cfg->pipeline;
    while (lc->state == ST_OPEN && w->stage == STAGE_RUN && lc->count < cap) {
        uint64_t t = wsp_load_sched_next(&lc->sched);
        if (t > now)
            break;
        wsp_load_sched_take(&lc->sched);
        send_one(lc, t);
    }
    batch_flush(lc);
    if (lc->state == ST_OPEN && w->stage == STAGE_RUN && lc->count < cap &&
        wsp_load_sched_next(&lc->sched) != UINT64_MAX)
        heap_set(w, lc);
    else
        heap_remove(w, lc);
}

static void complete(lconn *lc, unsigned i, uint64_t now)
{
    worker *w = lc->w;
    inflight *f = &lc->ring[(lc->head + i) % w->run->cfg->pipeline];
    uint64_t corr = now > f->intended ? now - f->intended : 0;
    uint64_t unc = now > f->sent ? now - f->sent : 0;
    wsp_hist_record(&w->sec_lat, corr);
    wsp_hist_record(&w->sec_unc, unc);
    w->sec_matched++;
    if (f->measured) {
        w->k.msg_matched++;
        wsp_hist_record(&w->lat, corr);
        wsp_hist_record(&w->unc, unc);
    }
    ring_remove(w, lc, i);
}

static void mismatch(lconn *lc, const wsp_ws_event *ev)
{
    worker *w = lc->w;
    char ex[96], m[160];
    wsp_excerpt(ex, 81, ev->data, ev->len); /* 80 characters */
    snprintf(m, sizeof m, "a reply did not match the message in flight: \"%s\"", ex);
    if (lc->ring[lc->head].measured)
        w->k.msg_mismatched++;
    count_error(w, WSP_CLASS_WS_EXPECT_MISMATCH, m);
    ring_remove(w, lc, 0);
}

static bool same_bytes(const wsp_ws_event *ev, const char *s, size_t n)
{
    return ev->len == n && memcmp(ev->data, s, n) == 0;
}

/* ---- pings (--ping-interval) ---- */

static bool ping_measured(const run *r, uint64_t sent)
{
    return sent >= r->t_measure && sent < r->t_end;
}

/* A pong that carries the unanswered ping's payload (its send time) answers it; any other
 * (unsolicited, RFC 6455 5.5.3, or late after its timeout) is ignored. */
static void on_pong(lconn *lc, const wsp_ws_event *ev)
{
    worker *w = lc->w;
    uint8_t want[8];
    for (int i = 0; i < 8; i++)
        want[i] = (uint8_t)(lc->ping_sent >> (56 - 8 * i));
    if (!lc->ping_sent || ev->len != 8 || memcmp(ev->data, want, 8) != 0)
        return;
    if (ping_measured(w->run, lc->ping_sent)) {
        w->k.ping_answered++;
        wsp_hist_record(&w->pong, uv_hrtime() - lc->ping_sent);
    }
    lc->ping_sent = 0;
}

/* Every tick: late pongs are WS_PONG_TIMEOUT; each open connection whose ping is due and has
 * none unanswered sends one (a ping never waits behind another). */
static void ping_cb(uv_timer_t *t)
{
    worker *w = t->data;
    run *r = w->run;
    if (w->stage != STAGE_RUN && w->stage != STAGE_DRAIN)
        return;
    uint64_t now = uv_hrtime();
    uint64_t interval = r->cfg->ping_interval_us * 1000ull;
    for (size_t i = 0; i < w->n; i++) {
        lconn *lc = &w->conns[i];
        if (lc->state != ST_OPEN)
            continue;
        if (lc->ping_sent && now - lc->ping_sent >= r->reply_timeout_ns) {
            if (ping_measured(r, lc->ping_sent))
                w->k.ping_timeout++;
            count_error(w, WSP_CLASS_WS_PONG_TIMEOUT, "no pong came within the reply timeout");
            lc->ping_sent = 0;
        }
        if (w->stage != STAGE_RUN || lc->ping_sent || now < lc->ping_next || now >= r->t_end)
            continue;
        uint8_t payload[8];
        for (int b = 0; b < 8; b++)
            payload[b] = (uint8_t)(now >> (56 - 8 * b));
        if (wsp_conn_send(lc->c, WSP_WS_OP_PING, payload, sizeof payload) != 0)
            continue;
        lc->ping_sent = now;
        if (ping_measured(r, now))
            w->k.ping_sent++;
        lc->ping_next += interval;
        if (lc->ping_next <= now) /* fell behind (a stall): the next one an interval on */
            lc->ping_next = now + interval;
    }
}

static void after_reply(lconn *lc, uint64_t now);
static void match_reply(lconn *lc, const wsp_ws_event *ev, json_t *args, int64_t ack_id);

static void on_message(wsp_conn *c, void *ud, const wsp_ws_event *ev)
{
    (void)c;
    lconn *lc = ud;
    if (ev->type == WSP_WS_EV_PONG) {
        on_pong(lc, ev);
        return;
    }
    if (lc->proto && wsp_proto_on_message(lc->proto, ev))
        return; /* the protocol's: replies come back as on_proto_msg */
    if (ev->type != WSP_WS_EV_TEXT && ev->type != WSP_WS_EV_BINARY)
        return;
    match_reply(lc, ev, NULL, -1);
}

/* A Socket.IO ack or event: the reply to an emit (MATCH_ACK by its id; an event named
 * reply_event, its arguments judged by MATCH_JSON). Anything else is unexpected. */
static void on_proto_msg(void *ud, const wsp_proto_msg *m)
{
    lconn *lc = ud;
    const wsp_load_config *cfg = lc->w->run->cfg;
    wsp_ws_event ev = {.type = WSP_WS_EV_TEXT, .data = m->raw, .len = m->raw_len};
    if (m->kind == WSP_PROTO_MSG_ACK && cfg->match == WSP_LOAD_MATCH_ACK)
        match_reply(lc, &ev, m->args, m->ack_id);
    else if (m->kind == WSP_PROTO_MSG_EVENT && cfg->reply_event &&
             strcmp(m->name, cfg->reply_event) == 0 && cfg->match != WSP_LOAD_MATCH_ACK)
        match_reply(lc, &ev, m->args, -1);
    else if (m->kind == WSP_PROTO_MSG_DISCONNECT)
        wsp_conn_fail(lc->c, WSP_CLASS_WS_CLOSED, "the server ended the Socket.IO session");
    else
        lc->w->k.msg_unexpected++;
}

/* A reply: the message `ev`, or under a protocol the arguments `args` of an event or of the
 * ack `ack_id`. */
static void match_reply(lconn *lc, const wsp_ws_event *ev, json_t *args, int64_t ack_id)
{
    worker *w = lc->w;
    run *r = w->run;
    const wsp_load_config *cfg = r->cfg;
    uint64_t now = uv_hrtime();
    if (lc->count == 0) {
        w->k.msg_unexpected++;
        return;
    }
    unsigned cap = cfg->pipeline;
    switch (cfg->match) {
    case WSP_LOAD_MATCH_ACK: {
        unsigned hit = UINT32_MAX;
        for (unsigned i = 0; i < lc->count && hit == UINT32_MAX; i++)
            if (lc->ring[(lc->head + i) % cap].ack_id == ack_id)
                hit = i;
        if (hit != UINT32_MAX)
            complete(lc, hit, now);
        else
            w->k.msg_unexpected++; /* the ack of a message already given up */
        break;
    }
    case WSP_LOAD_MATCH_ANY:
        complete(lc, 0, now);
        break;
    case WSP_LOAD_MATCH_ECHO: {
        unsigned hit = UINT32_MAX;
        for (unsigned i = 0; i < lc->count; i++) {
            const inflight *f = &lc->ring[(lc->head + i) % cap];
            if (same_bytes(ev, f->msg ? f->msg : cfg->message, f->len)) {
                hit = i;
                break;
            }
        }
        if (hit != UINT32_MAX)
            complete(lc, hit, now);
        else if (cfg->strict_order)
            mismatch(lc, ev);
        else
            w->k.msg_unexpected++; /* a greeting, a broadcast: skipped, as probe does */
        break;
    }
    case WSP_LOAD_MATCH_TEXT: {
        const inflight *f = &lc->ring[lc->head];
        if (same_bytes(ev, f->key ? f->key : r->static_key,
                       f->key ? f->key_len : r->static_key_len))
            complete(lc, 0, now);
        else if (cfg->strict_order)
            mismatch(lc, ev);
        else
            w->k.msg_unexpected++;
        break;
    }
    case WSP_LOAD_MATCH_JSON: {
        json_error_t je;
        json_t *doc =
            args ? json_incref(args) : json_loadb((const char *)ev->data, ev->len, 0, &je);
        json_t *v = doc ? wsp_jsonptr_get(doc, cfg->expect_pointer) : NULL;
        size_t klen = 0;
        char *key = v ? json_key(v, &klen) : NULL;
        json_decref(doc);
        unsigned hit = UINT32_MAX;
        for (unsigned i = 0; key && i < lc->count; i++) {
            const inflight *f = &lc->ring[(lc->head + i) % cap];
            const char *k = f->key ? f->key : r->static_key;
            size_t kl = f->key ? f->key_len : r->static_key_len;
            if (kl == klen && memcmp(k, key, kl) == 0) {
                hit = i;
                break;
            }
        }
        free(key);
        if (hit == UINT32_MAX)
            w->k.msg_unexpected++; /* unrelated (a broadcast): skipped, as probe does */
        else
            complete(lc, hit, now);
        break;
    }
    }
    after_reply(lc, now);
}

static void after_reply(lconn *lc, uint64_t now)
{
    worker *w = lc->w;
    if (lc->state == ST_OPEN)
        conn_pump(lc, now);
    if (w->stage == STAGE_DRAIN && w->inflight_total == 0)
        begin_close(w);
    else
        arm_timerfd(w);
}

/* ---- connections ---- */

static void on_open(wsp_conn *c, void *ud);
static void on_done(wsp_conn *c, void *ud);
static void on_ready(void *ud);
static const wsp_conn_cbs load_cbs = {on_open, on_message, on_done};

static void lauth_free(lauth *a)
{
    if (!a)
        return;
    wsp_auth_conn_cleanup(a);
    free(a);
}

/* Free a connection with what is its own: its protocol first (whose timer must not fire on a
 * freed connection), its credential. */
static void lconn_release(lconn *lc)
{
    wsp_proto_free(lc->proto);
    lc->proto = NULL;
    wsp_conn_free(lc->c);
    lc->c = NULL;
    lauth_free(lc->auth);
    lc->auth = NULL;
}

/* A token per connection, placed as the configuration says (probe/auth.h). */
static lauth *make_auth(worker *w, const wsp_conn_opts *base, wsp_err *e)
{
    lauth *a = calloc(1, sizeof *a);
    if (!a) {
        wsp_err_set(e, WSP_CLASS_INTERNAL, "out of memory");
        return NULL;
    }
    if (wsp_auth_conn_init(a, w->run->cfg->auth, base, e) != 0) {
        lauth_free(a);
        return NULL;
    }
    return a;
}

static void start_conn(worker *w, lconn *lc)
{
    const wsp_conn_opts *o = &w->opts[lc->gidx % w->nopts];
    w->k.conn_attempted++;
    lc->state = ST_CONNECTING;
    w->pending++;
    w->live++;
    if (w->run->cfg->auth && wsp_auth_active(w->run->cfg->auth)) {
        wsp_err e;
        wsp_err_clear(&e);
        lc->auth = make_auth(w, o, &e);
        if (!lc->auth) {
            char m[160];
            snprintf(m, sizeof m, "credentials: %.140s", e.msg);
            w->k.conn_failed++;
            atomic_fetch_add(&w->run->failed_total, 1);
            count_error(w, e.cls == WSP_CLASS_OK ? WSP_CLASS_INTERNAL : e.cls, m);
            lc->state = ST_DONE;
            w->pending--;
            w->live--;
            return;
        }
        o = &lc->auth->opts;
    }
    lc->c = wsp_conn_new(&w->loop, o, &load_cbs, lc);
    const wsp_proto_config *pc = w->run->cfg->proto;
    if (lc->c && pc && pc->kind != WSP_PROTO_NONE) {
        static const wsp_proto_cbs pcbs = {on_ready, on_proto_msg};
        lc->proto = wsp_proto_new(&w->loop, pc, lc->c, lc->auth ? lc->auth->req.app_token : NULL,
                                  o->timeout_us, &pcbs, lc);
        if (!lc->proto) {
            wsp_conn_free(lc->c);
            lc->c = NULL;
        }
    }
    if (!lc->c) {
        w->k.conn_failed++;
        atomic_fetch_add(&w->run->failed_total, 1);
        count_error(w, WSP_CLASS_INTERNAL, "out of memory");
        lauth_free(lc->auth);
        lc->auth = NULL;
        lc->state = ST_DONE;
        w->pending--;
        w->live--;
        return;
    }
    wsp_conn_start(lc->c);
}

static void on_open(wsp_conn *c, void *ud)
{
    lconn *lc = ud;
    if (lc->auth && lc->auth->req.first_message) {
        const char *m = lc->auth->req.first_message;
        wsp_conn_send(c, WSP_WS_OP_TEXT, m, strlen(m));
    }
    if (lc->proto)
        wsp_proto_on_open(lc->proto); /* open once its handshake is done: on_ready */
    else
        on_ready(lc);
}

/* The connection is open (and its protocol's handshake done): it counts, and sends. */
static void on_ready(void *ud)
{
    lconn *lc = ud;
    worker *w = lc->w;
    run *r = w->run;
    lc->state = ST_OPEN;
    w->pending--;
    w->open++;
    w->sec_opened++;
    w->k.conn_opened++;
    atomic_fetch_add(&r->open_now, 1);
    atomic_fetch_add(&r->opened_total, 1);
    record_phases(w, lc);
    if (r->cfg->ping_interval_us) {
        uint64_t iv = r->cfg->ping_interval_us * 1000ull;
        lc->ping_next = uv_hrtime() + wsp_load_phase_offset(lc->gidx, iv);
        lc->ping_sent = 0;
    }
    if (r->interval_ns && w->stage == STAGE_RUN) {
        uint64_t now = uv_hrtime();
        lc->sched.interval_ns = r->interval_ns;
        lc->sched.t0 = now + wsp_load_phase_offset(lc->gidx, r->interval_ns);
        lc->sched.end = r->t_end;
        lc->sched.next = 0;
        conn_pump(lc, now);
        arm_timerfd(w);
    }
}

static void on_done(wsp_conn *c, void *ud)
{
    lconn *lc = ud;
    worker *w = lc->w;
    run *r = w->run;
    wsp_conn_record *rec = wsp_conn_get_record(c);
    bool was_open = lc->state == ST_OPEN;
    if (lc->proto) {
        wsp_proto_on_done(lc->proto);
        wsp_proto_judge(lc->proto, rec); /* the protocol's classes */
    }
    record_phases(w, lc);
    wsp_class cls = rec->err.cls;
    const char *msg = rec->err.msg;
    char m[160];
    if (cls == WSP_CLASS_OK && was_open && w->stage == STAGE_RUN) {
        /* the server ended a connection the run still needed */
        cls = rec->closed_by == WSP_CLOSED_BY_SERVER ? WSP_CLASS_WS_CLOSED : WSP_CLASS_WS_DROPPED;
        snprintf(m, sizeof m, "the server closed the connection during the run (code %d)",
                 rec->close_code);
        msg = m;
    }
    if (rec->closed_by == WSP_CLOSED_BY_SERVER && rec->close_code >= 0 &&
        rec->close_code < WSP_LOAD_CLOSE_CODES)
        w->k.close_codes[rec->close_code]++;
    if (rec->http_status > 0 && rec->http_status != 101 &&
        rec->http_status < WSP_LOAD_HTTP_STATUSES)
        w->k.http_status[rec->http_status]++;
    if (was_open) {
        w->open--;
        atomic_fetch_sub(&r->open_now, 1);
    } else {
        w->pending--;
    }
    if (cls != WSP_CLASS_OK) {
        if (!was_open || w->stage == STAGE_RUN) {
            w->k.conn_failed++;
            atomic_fetch_add(&r->failed_total, 1);
        }
        count_error(w, cls, msg);
    }
    /* what was in flight is lost with the connection */
    while (lc->count) {
        inflight *f = &lc->ring[lc->head];
        if (f->measured) {
            w->k.msg_lost++;
            count_error(w, cls != WSP_CLASS_OK ? cls : WSP_CLASS_WS_DROPPED,
                        "a message in flight was lost with its connection");
        }
        ring_remove(w, lc, 0);
    }
    if (was_open && w->stage == STAGE_RUN) {
        uint64_t due = wsp_load_sched_due(&lc->sched, uv_hrtime());
        w->k.msg_unsent += due;
    }
    heap_remove(w, lc);
    free(lc->ring);
    lc->ring = NULL;
    lc->state = ST_DONE;
    w->live--;
    lconn_release(lc);
    if (w->stage == STAGE_CLOSE)
        maybe_finish(w);
    else if (w->live == 0 && w->next_start >= w->n)
        check_stage(w); /* the last one gone: say so now, not at the next second */
}

/* ---- the worker's timers ---- */

static void starter_cb(uv_timer_t *t)
{
    worker *w = t->data;
    run *r = w->run;
    const wsp_load_config *cfg = r->cfg;
    if (w->stage != STAGE_RUN) {
        uv_timer_stop(t);
        return;
    }
    uint64_t now = uv_hrtime();
    size_t allow;
    if (cfg->connect_rate > 0) {
        double share = cfg->connect_rate * (double)w->n / (double)cfg->connections;
        /* (the starter's first wake-up may come a little before t_start: no wrap-around into
         * an hour's worth of connections due at once) */
        double el = now > r->t_start ? (double)(now - r->t_start) / 1e9 : 0.0;
        size_t due = (size_t)(el * share) + 1;
        if (due > w->n)
            due = w->n;
        allow = due > w->next_start ? due - w->next_start : 0;
        if (w->pending + allow > MAX_PENDING_RATED)
            allow = w->pending < MAX_PENDING_RATED ? MAX_PENDING_RATED - w->pending : 0;
    } else {
        allow = w->pending < MAX_PENDING_PER_WORKER ? MAX_PENDING_PER_WORKER - w->pending : 0;
    }
    while (allow-- > 0 && w->next_start < w->n && w->stage == STAGE_RUN) {
        lconn *lc = &w->conns[w->next_start++];
        start_conn(w, lc);
    }
    if (w->next_start >= w->n)
        uv_timer_stop(t);
}

/* One second's percentiles, corrected (h) and uncorrected (u); both emptied for reuse. */
static void second_percentiles(wsp_load_second *e, wsp_hist *h, wsp_hist *u)
{
    e->p50_ns = wsp_hist_percentile(h, 50);
    e->p99_ns = wsp_hist_percentile(h, 99);
    e->max_ns = h->max;
    e->u_p50_ns = wsp_hist_percentile(u, 50);
    e->u_p99_ns = wsp_hist_percentile(u, 99);
    wsp_hist_init(h);
    wsp_hist_init(u);
}

static void flush_second(worker *w)
{
    run *r = w->run;
    unsigned s = w->sec_index++;
    pthread_mutex_lock(&r->mu);
    if (s >= r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        while (nc <= s)
            nc *= 2;
        wsp_load_second *ns = realloc(r->series, nc * sizeof *ns);
        unsigned *cn = ns ? realloc(r->contrib, nc * sizeof *cn) : NULL;
        bool *fn = cn ? realloc(r->final, nc * sizeof *fn) : NULL;
        if (ns)
            r->series = ns;
        if (cn)
            r->contrib = cn;
        if (fn)
            r->final = fn;
        if (!fn) {
            pthread_mutex_unlock(&r->mu);
            goto reset;
        }
        memset(r->series + r->cap, 0, (nc - r->cap) * sizeof *ns);
        memset(r->contrib + r->cap, 0, (nc - r->cap) * sizeof *cn);
        memset(r->final + r->cap, 0, (nc - r->cap) * sizeof *fn);
        r->cap = nc;
    }
    if (s >= r->nseries)
        r->nseries = s + 1;
    if (!r->final[s]) {
        wsp_load_second *e = &r->series[s];
        e->sent += w->sec_sent;
        e->matched += w->sec_matched;
        e->errors += w->sec_errors;
        e->opened += w->sec_opened;
        e->open += w->open;
        wsp_hist *h = &r->ring[s % SERIES_RING], *u = &r->ring[SERIES_RING + s % SERIES_RING];
        wsp_hist_merge(h, &w->sec_lat);
        wsp_hist_merge(u, &w->sec_unc);
        if (++r->contrib[s] >= r->nw) {
            second_percentiles(e, h, u);
            r->final[s] = true;
            if ((long)s > r->last_final)
                r->last_final = (long)s;
        }
    }
    {
        uint64_t o = atomic_load(&r->open_now);
        if (o > r->peak_open)
            r->peak_open = o;
    }
    pthread_mutex_unlock(&r->mu);
reset:
    w->sec_sent = w->sec_matched = w->sec_errors = w->sec_opened = 0;
    wsp_hist_init(&w->sec_lat);
    wsp_hist_init(&w->sec_unc);
}

static void check_timeouts(worker *w, uint64_t now)
{
    run *r = w->run;
    if (!w->inflight_total)
        return;
    unsigned cap = r->cfg->pipeline;
    for (size_t i = 0; i < w->n; i++) {
        lconn *lc = &w->conns[i];
        if (lc->state != ST_OPEN || !lc->count)
            continue;
        bool changed = false;
        while (lc->count && now - lc->ring[lc->head % cap].sent >= r->reply_timeout_ns) {
            if (lc->ring[lc->head].measured)
                w->k.msg_timeout++;
            count_error(w, WSP_CLASS_WS_MSG_TIMEOUT, "no reply came within the reply timeout");
            ring_remove(w, lc, 0);
            changed = true;
        }
        if (changed)
            conn_pump(lc, now);
    }
    arm_timerfd(w);
}

static void stage_timer_cb(uv_timer_t *t)
{
    worker *w = t->data;
    if (w->stage == STAGE_RUN)
        return;
    if (w->stage == STAGE_DRAIN) {
        begin_close(w);
        return;
    }
    if (w->stage == STAGE_CLOSE) {
        /* the close grace is over: release whatever is left */
        for (size_t i = 0; i < w->n; i++) {
            lconn *lc = &w->conns[i];
            if (lc->c) {
                lconn_release(lc);
                free(lc->ring);
                lc->ring = NULL;
                if (lc->state == ST_OPEN) {
                    w->open--;
                    atomic_fetch_sub(&w->run->open_now, 1);
                }
                lc->state = ST_DONE;
                w->live--;
            }
        }
        maybe_finish(w);
    }
}

static void begin_close(worker *w)
{
    w->stage = STAGE_CLOSE;
    uint64_t now = uv_hrtime();
    for (size_t i = 0; i < w->n; i++) {
        lconn *lc = &w->conns[i];
        /* replies still missing are timeouts */
        while (lc->count) {
            if (lc->ring[lc->head].measured)
                w->k.msg_timeout++;
            count_error(w, WSP_CLASS_WS_MSG_TIMEOUT, "no reply came before the run ended");
            ring_remove(w, lc, 0);
        }
        if (lc->ping_sent && ping_measured(w->run, lc->ping_sent))
            w->k.ping_unfinished++; /* not late yet: neither answered nor an error */
        lc->ping_sent = 0;
        (void)now;
        if (lc->state == ST_OPEN) {
            wsp_conn_close(lc->c, WSP_WS_CLOSE_NORMAL, NULL);
        } else if (lc->state == ST_CONNECTING) {
            /* still in its handshake (the protocol's too) when the run ended: neither opened
             * nor failed, counted apart (the connections gate counts it as not opened) */
            w->k.conn_unfinished++;
            lconn_release(lc);
            lc->state = ST_DONE;
            w->pending--;
            w->live--;
        }
    }
    uv_timer_start(&w->stage_timer, stage_timer_cb, CLOSE_GRACE_MS, 0);
    maybe_finish(w);
}

static void begin_drain(worker *w, uint64_t drain_ms)
{
    if (w->stage != STAGE_RUN)
        return;
    w->stage = STAGE_DRAIN;
    uv_timer_stop(&w->starter);
    uint64_t now = uv_hrtime();
    uint64_t upto = now < w->run->t_end ? now : w->run->t_end;
    for (size_t i = 0; i < w->n; i++) {
        lconn *lc = &w->conns[i];
        if (lc->state == ST_OPEN)
            w->k.msg_unsent += wsp_load_sched_due(&lc->sched, upto);
        heap_remove(w, lc);
    }
    arm_timerfd(w);
    if (w->inflight_total == 0 || drain_ms == 0)
        begin_close(w);
    else
        uv_timer_start(&w->stage_timer, stage_timer_cb, drain_ms, 0);
}

static void close_handle(uv_handle_t *h)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    close_handle(h);
}

static void maybe_finish(worker *w)
{
    if (w->stage != STAGE_CLOSE || w->live > 0)
        return;
    w->stage = STAGE_FINISHED;
    uv_timer_stop(&w->stage_timer);
    flush_second(w);
    close_handle((uv_handle_t *)&w->second);
    close_handle((uv_handle_t *)&w->ping_timer);
    close_handle((uv_handle_t *)&w->starter);
    close_handle((uv_handle_t *)&w->stage_timer);
    close_handle((uv_handle_t *)&w->wake);
    uv_poll_stop(&w->tpoll);
    close_handle((uv_handle_t *)&w->tpoll);
    uv_prepare_stop(&w->prep);
    close_handle((uv_handle_t *)&w->prep);
}

static uint64_t drain_ms_for(const run *r)
{
    int stop = atomic_load(&r->stop);
    if (stop >= 3)
        return 0;
    if (stop == 2)
        return INTERRUPT_DRAIN_MS;
    if (r->cfg->drain_us)
        return (r->cfg->drain_us + 999) / 1000;
    uint64_t ms = r->reply_timeout_ns / 1000000;
    return ms < DEFAULT_DRAIN_MS ? ms : DEFAULT_DRAIN_MS;
}

static void check_stage(worker *w)
{
    run *r = w->run;
    uint64_t now = uv_hrtime();
    int stop = atomic_load(&r->stop);
    if (w->stage == STAGE_RUN && (stop || now >= r->t_end))
        begin_drain(w, drain_ms_for(r));
    else if (w->stage == STAGE_DRAIN && (w->inflight_total == 0 || stop >= 3))
        begin_close(w);
    else if (w->stage == STAGE_CLOSE)
        maybe_finish(w);
    if (w->stage == STAGE_RUN && !w->idle_reported && w->live == 0 && w->next_start >= w->n) {
        /* every connection is gone and none is left to start: nothing more can happen here */
        w->idle_reported = true;
        atomic_fetch_add(&r->idle, 1);
        uv_async_send(&r->main_wake);
    }
}

static void second_cb(uv_timer_t *t)
{
    worker *w = t->data;
    if (w->stage == STAGE_FINISHED)
        return;
    flush_second(w);
    check_timeouts(w, uv_hrtime());
    check_stage(w);
}

static void wake_cb(uv_async_t *a)
{
    worker *w = a->data;
    check_stage(w);
}

static void pump_due(worker *w);

static void prep_cb(uv_prepare_t *p)
{
    pump_due(p->data);
}

static void tpoll_cb(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    worker *w = p->data;
    /* it fired; no read() to clear it: re-arming (or disarming) with timerfd_settime resets the
     * expiry count, so the one syscall below both clears and sets it */
    w->armed = UINT64_MAX;
    pump_due(w);
    arm_timerfd(w);
}

/* Send everything due. Runs when the timerfd fires and before the loop sleeps, so sends that
 * come due while replies are being handled leave without a wake-up of their own. */
static void pump_due(worker *w)
{
    if (w->stage != STAGE_RUN || !w->heap_n)
        return;
    uint64_t now = uv_hrtime();
    if (now >= w->run->t_end) {
        check_stage(w);
        return;
    }
    while (w->heap_n && due_of(w->heap[0]) <= now) {
        lconn *lc = w->heap[0];
        conn_pump(lc, now);
        if (lc->heap_pos == 0 && due_of(lc) <= now)
            heap_remove(w, lc); /* defensive: never spin on one connection */
    }
    arm_timerfd(w);
}

static void end_timer_cb(uv_timer_t *t)
{
    worker *w = t->data;
    uint64_t now = uv_hrtime();
    if (w->stage == STAGE_RUN && !atomic_load(&w->run->stop) && now < w->run->t_end) {
        /* libuv's millisecond clock fired a little early: wait for the rest */
        uv_timer_start(t, end_timer_cb, (w->run->t_end - now + 999999) / 1000000, 0);
        return;
    }
    check_stage(w);
    if (w->stage == STAGE_DRAIN)
        check_stage(w);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run *r = w->run;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    uv_update_time(&w->loop); /* its clock is from uv_loop_init: timers would fire early */
    uint64_t now = uv_hrtime();
    uint64_t to_start = r->t_start > now ? (r->t_start - now) / 1000000 : 0;
    uv_timer_start(&w->starter, starter_cb, to_start, 1);
    uv_timer_start(&w->second, second_cb, to_start + 1000, 1000);
    if (r->cfg->ping_interval_us) {
        /* a tenth of the interval, 5 ms to 500 ms: pings leave at most that late */
        uint64_t tick = r->cfg->ping_interval_us / 10000;
        tick = tick < 5 ? 5 : tick > 500 ? 500 : tick;
        uv_timer_start(&w->ping_timer, ping_cb, to_start + tick, tick);
    }
    uint64_t to_end = r->t_end > now ? (r->t_end - now + 999999) / 1000000 : 0;
    uv_timer_start(&w->stage_timer, end_timer_cb, to_end, 0);
    uv_poll_start(&w->tpoll, UV_READABLE, tpoll_cb);
    if (r->interval_ns)
        uv_prepare_start(&w->prep, prep_cb);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    atomic_fetch_add(&r->finished, 1);
    uv_async_send(&r->main_wake);
    return NULL;
}

/* ---- the main thread ---- */

static void stop_all(run *r, int how)
{
    int cur = atomic_load(&r->stop);
    if (how <= cur)
        return;
    atomic_store(&r->stop, how);
    for (unsigned i = 0; i < r->nw; i++)
        uv_async_send(&r->workers[i].wake);
}

static void sigint_mask(int how)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(how, &set, NULL);
}

static void main_close(run *r)
{
    if (r->main_closing)
        return;
    r->main_closing = true;
    close_handle((uv_handle_t *)&r->main_wake);
    close_handle((uv_handle_t *)&r->tick);
    close_handle((uv_handle_t *)&r->mem);
    if (r->cfg->handle_sigint) {
        /* from here a SIGINT waits (blocked) instead of killing a run that is writing its
         * report: an agent of load --processes is still to send it */
        sigint_mask(SIG_BLOCK);
        uv_signal_stop(&r->sigint);
        close_handle((uv_handle_t *)&r->sigint);
    }
}

static void main_wake_cb(uv_async_t *a)
{
    run *r = a->data;
    if (atomic_load(&r->finished) >= r->nw) {
        main_close(r);
        return;
    }
    if (atomic_load(&r->idle) >= r->nw)
        stop_all(r, 1);
}

static void sigint_cb(uv_signal_t *s, int signum)
{
    (void)signum;
    run *r = s->data;
    stop_all(r, atomic_load(&r->stop) >= 2 ? 3 : 2);
}

/* The process's resident memory now, in KiB (0: unreadable). */
static uint64_t rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    int n = f ? fscanf(f, "%llu %llu", &size, &resident) : 0;
    if (f)
        fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page / 1024 : 0;
}

/* Memory per connection is read while they are all open and working, not at the peak (closing
 * thousands of sessions at the end makes a transient one): the RSS in the middle of the
 * measured window less the RSS before the run allocated anything, over the connections open. */
static void mem_cb(uv_timer_t *t)
{
    run *r = t->data;
    if (atomic_load(&r->stop) != 0)
        return;
    r->mid_open = atomic_load(&r->open_now);
    r->rss_mid_kib = rss_kib();
}

/* The automatic window, re-chosen from the last second's median latency (from the send). */
static void rechoose_slack(run *r)
{
    if (r->cfg->timer_slack_us != WSP_LOAD_SLACK_AUTO || r->last_final < 0)
        return;
    pthread_mutex_lock(&r->mu);
    uint64_t lat = r->series[r->last_final].u_p50_ns;
    pthread_mutex_unlock(&r->mu);
    uint64_t ns = wsp_load_auto_slack(r->cfg->rate, r->nw, lat) * 1000ull;
    atomic_store(&r->slack_ns, ns);
    if (ns > r->slack_max_ns)
        r->slack_max_ns = ns;
}

static void tick_cb(uv_timer_t *t)
{
    run *r = t->data;
    rechoose_slack(r);
    if (!r->cfg->on_tick)
        return;
    wsp_load_tick k;
    memset(&k, 0, sizeof k);
    uint64_t now = uv_hrtime();
    k.elapsed_s = (double)(now - r->t_start) / 1e9;
    k.warmup = now < r->t_measure;
    k.open = atomic_load(&r->open_now);
    k.opened = atomic_load(&r->opened_total);
    k.failed = atomic_load(&r->failed_total);
    k.errors = atomic_load(&r->errors_total);
    pthread_mutex_lock(&r->mu);
    if (r->last_final >= 0) {
        const wsp_load_second *e = &r->series[r->last_final];
        k.sent_per_s = (double)e->sent;
        k.matched_per_s = (double)e->matched;
        k.p50_ns = e->p50_ns;
        k.p99_ns = e->p99_ns;
    }
    pthread_mutex_unlock(&r->mu);
    r->cfg->on_tick(&k, r->cfg->tick_ud);
}

static void worker_cleanup(worker *w)
{
    if (w->conns) {
        for (size_t i = 0; i < w->n; i++) {
            free(w->conns[i].ring);
            lauth_free(w->conns[i].auth);
        }
    }
    free(w->conns);
    free(w->heap);
    free(w->opts);
    free(w->wbuf);
    if (w->tfd >= 0)
        close(w->tfd);
}

static int worker_init(run *r, worker *w, unsigned id, wsp_err *err)
{
    const wsp_load_config *cfg = r->cfg;
    w->run = r;
    w->id = id;
    w->tfd = -1;
    size_t n = cfg->connections / r->nw + (id < cfg->connections % r->nw ? 1 : 0);
    w->n = n;
    w->conns = calloc(n ? n : 1, sizeof *w->conns);
    w->heap = calloc(n ? n : 1, sizeof *w->heap);
    w->nopts = cfg->num_sources ? cfg->num_sources : 1;
    w->opts = calloc(w->nopts, sizeof *w->opts);
    w->wbuf = cfg->rate > 0 ? malloc(WBUF_SIZE) : NULL;
    if (!w->conns || !w->heap || !w->opts || (cfg->rate > 0 && !w->wbuf))
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory for %zu connections", n);
    for (size_t i = 0; i < w->nopts; i++) {
        w->opts[i] = *cfg->conn;
        w->opts[i].tls_facts_on_failure = true; /* nothing here reports a good certificate */
        if (cfg->num_sources)
            w->opts[i].bind_addr = (const struct sockaddr *)&cfg->sources[i];
    }
    for (size_t i = 0; i < n; i++) {
        w->conns[i].w = w;
        size_t local = i * r->nw + id; /* this agent's connection index */
        w->conns[i].gidx =
            (uint32_t)(cfg->agents > 1 ? local * cfg->agents + cfg->agent_index : local);
        w->conns[i].heap_pos = UINT32_MAX;
    }
    wsp_hist_init(&w->lat);
    wsp_hist_init(&w->pong);
    wsp_hist_init(&w->unc);
    wsp_hist_init(&w->late);
    wsp_hist_init(&w->sec_lat);
    wsp_hist_init(&w->sec_unc);
    for (int p = 0; p < WSP_LOAD_PH_COUNT; p++)
        wsp_hist_init(&w->phase[p]);
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->tfd < 0)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "timerfd_create failed (errno %d)", errno);
    if (uv_loop_init(&w->loop) != 0)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "cannot make an event loop");
    w->loop_ok = true;
    uv_async_init(&w->loop, &w->wake, wake_cb);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->second);
    uv_timer_init(&w->loop, &w->ping_timer);
    w->ping_timer.data = w;
    uv_timer_init(&w->loop, &w->starter);
    uv_timer_init(&w->loop, &w->stage_timer);
    w->second.data = w->starter.data = w->stage_timer.data = w;
    uv_poll_init(&w->loop, &w->tpoll, w->tfd);
    w->tpoll.data = w;
    uv_prepare_init(&w->loop, &w->prep);
    w->prep.data = w;
    return 0;
}

static void merge_counters(wsp_load_result *o, const counters *k)
{
    o->conn_attempted += k->conn_attempted;
    o->conn_opened += k->conn_opened;
    o->conn_failed += k->conn_failed;
    o->conn_unfinished += k->conn_unfinished;
    o->msg_sent += k->msg_sent;
    o->msg_matched += k->msg_matched;
    o->msg_mismatched += k->msg_mismatched;
    o->msg_timeout += k->msg_timeout;
    o->msg_lost += k->msg_lost;
    o->msg_unsent += k->msg_unsent;
    o->msg_unexpected += k->msg_unexpected;
    o->ping_sent += k->ping_sent;
    o->ping_answered += k->ping_answered;
    o->ping_timeout += k->ping_timeout;
    o->ping_unfinished += k->ping_unfinished;
    for (int c = 0; c < WSP_CLASS_COUNT; c++) {
        o->by_class[c] += k->by_class[c];
        if (!o->first_error[c][0] && k->first_error[c][0]) {
            char *red = wsp_redact(k->first_error[c], strlen(k->first_error[c]), NULL);
            snprintf(o->first_error[c], sizeof o->first_error[c], "%s", red ? red : "[redacted]");
            free(red);
        }
    }
    for (int c = 0; c < WSP_LOAD_CLOSE_CODES; c++)
        o->close_codes[c] += k->close_codes[c];
    for (int c = 0; c < WSP_LOAD_HTTP_STATUSES; c++)
        o->http_status[c] += k->http_status[c];
}

void wsp_load_config_init(wsp_load_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->connections = 1;
    cfg->duration_us = 10 * 1000000ull;
    cfg->threads = 1;
    cfg->pipeline = 1;
    cfg->match = WSP_LOAD_MATCH_ANY;
    cfg->timer_slack_us = WSP_LOAD_SLACK_AUTO;
}

uint64_t wsp_load_auto_slack(double rate, unsigned threads, uint64_t latency_ns)
{
    double per_thread = rate / (threads ? threads : 1);
    if (per_thread < 2000)
        return 0;
    /* a twentieth: the window's own lateness stays well under the tenth of the latency at
     * which the run says the client adds latency */
    uint64_t us = latency_ns / 20000;
    if (us <= WSP_LOAD_SLACK_AUTO_US)
        return WSP_LOAD_SLACK_AUTO_US;
    return us < WSP_LOAD_SLACK_AUTO_MAX_US ? us : WSP_LOAD_SLACK_AUTO_MAX_US;
}

static double tv_s(const struct timeval *t)
{
    return (double)t->tv_sec + (double)t->tv_usec / 1e6;
}

static const char *match_name(wsp_load_match m)
{
    switch (m) {
    case WSP_LOAD_MATCH_ANY:
        return "any";
    case WSP_LOAD_MATCH_ECHO:
        return "echo";
    case WSP_LOAD_MATCH_JSON:
        return "json";
    case WSP_LOAD_MATCH_TEXT:
        return "text";
    case WSP_LOAD_MATCH_ACK:
        return "ack";
    }
    return "any";
}

/* The expected value, when it does not depend on each message: its key, made once. */
static int static_key(run *r, const wsp_load_config *cfg, wsp_err *err)
{
    if (cfg->match != WSP_LOAD_MATCH_JSON && cfg->match != WSP_LOAD_MATCH_TEXT)
        return 0;
    const char *t = cfg->match == WSP_LOAD_MATCH_JSON ? cfg->expect_value : cfg->expect_text;
    if (!t)
        return wsp_err_set(err, WSP_CLASS_USAGE, "no expected value");
    r->key_vars = wsp_tmpl_has_vars(t);
    if (r->key_vars)
        return 0;
    if (cfg->match == WSP_LOAD_MATCH_TEXT) {
        r->static_key = strdup(t);
        r->static_key_len = strlen(t);
    } else {
        r->static_key = value_key(t, strlen(t), &r->static_key_len);
    }
    return r->static_key ? 0 : wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
}

/* The run's result from the workers' counters and histograms and the per-second series. */
static void collect(run *r, const wsp_load_config *cfg, wsp_load_result *out, uint64_t t_done,
                    const struct rusage *ru0, const struct rusage *ru1)
{
    snprintf(out->url, sizeof out->url, "%s", cfg->url_text ? cfg->url_text : "");
    out->target_connections = cfg->connections;
    out->rate = cfg->rate;
    out->connect_rate = cfg->connect_rate;
    out->duration_s = (double)cfg->duration_us / 1e6;
    out->warmup_s = (double)cfg->warmup_us / 1e6;
    out->threads = r->nw;
    out->pipeline = cfg->pipeline;
    out->ping_interval_s = (double)cfg->ping_interval_us / 1e6;
    snprintf(out->match, sizeof out->match, "%s", match_name(cfg->match));
    out->agents = 1;
    out->interrupted = atomic_load(&r->stop) >= 2;
    /* t_start is set a few ms ahead so that every worker starts at once: a run that ends
     * before it (every connection refused at once) took no time, never a wrapped one */
    out->elapsed_s = t_done > r->t_start ? (double)(t_done - r->t_start) / 1e9 : 0.0;
    out->client_cpu_s =
        tv_s(&ru1->ru_utime) - tv_s(&ru0->ru_utime) + tv_s(&ru1->ru_stime) - tv_s(&ru0->ru_stime);
    out->client_rss_kib = (uint64_t)ru1->ru_maxrss;
    out->timer_slack_us = r->slack_max_ns / 1000;
    if (r->rss_mid_kib && r->rss_base_kib) {
        out->rss_base_kib = r->rss_base_kib;
        out->rss_measured_kib = r->rss_mid_kib;
        out->rss_measured_open = r->mid_open;
    }
    uint64_t mend = t_done < r->t_end ? t_done : r->t_end;
    out->measured_s = mend > r->t_measure ? (double)(mend - r->t_measure) / 1e9 : 0.0;
    for (unsigned i = 0; i < r->nw; i++) {
        worker *w = &r->workers[i];
        merge_counters(out, &w->k);
        wsp_hist_merge(&out->latency, &w->lat);
        wsp_hist_merge(&out->latency_uncorrected, &w->unc);
        wsp_hist_merge(&out->send_lateness, &w->late);
        wsp_hist_merge(&out->pong, &w->pong);
        for (int p = 0; p < WSP_LOAD_PH_COUNT; p++)
            wsp_hist_merge(&out->phase[p], &w->phase[p]);
    }
    out->conn_peak_open = r->peak_open;
    /* the seconds not every worker finished (the last one) */
    for (size_t s = 0; s < r->nseries; s++) {
        if (!r->final[s])
            second_percentiles(&r->series[s], &r->ring[s % SERIES_RING],
                               &r->ring[SERIES_RING + s % SERIES_RING]);
        if (r->series[s].open > out->conn_peak_open)
            out->conn_peak_open = r->series[s].open;
    }
    if (out->conn_peak_open == 0 && out->conn_opened)
        out->conn_peak_open = out->conn_opened;
    free(out->series);
    out->series = r->series;
    out->nseries = r->nseries;
    r->series = NULL;
}

/* Close every loop that was made and free the run. */
static void run_free(run *r)
{
    if (r->workers) {
        for (unsigned i = 0; i < r->nw; i++) {
            worker *w = &r->workers[i];
            if (w->loop_ok) {
                /* close what is still open (the loop ran to its end when the thread ran) */
                uv_walk(&w->loop, walk_close, NULL);
                uv_run(&w->loop, UV_RUN_DEFAULT);
                uv_loop_close(&w->loop);
            }
            worker_cleanup(w);
        }
    }
    if (r->main_ok) {
        uv_walk(&r->main_loop, walk_close, NULL);
        uv_run(&r->main_loop, UV_RUN_DEFAULT);
        uv_loop_close(&r->main_loop);
    }
    pthread_mutex_destroy(&r->mu);
    free(r->series);
    free(r->contrib);
    free(r->final);
    free(r->ring);
    free(r->workers);
    free(r->static_key);
    free(r);
}

int wsp_load_run(const wsp_load_config *cfg, wsp_load_result *out, wsp_err *err)
{
    if (!cfg->conn || cfg->connections == 0 || cfg->connections > WSP_LOAD_MAX_CONNECTIONS ||
        cfg->threads == 0 || cfg->threads > WSP_LOAD_MAX_THREADS || cfg->pipeline == 0 ||
        cfg->pipeline > WSP_LOAD_MAX_PIPELINE || (cfg->rate > 0 && !cfg->message))
        return wsp_err_set(err, WSP_CLASS_USAGE, "impossible load parameters");
    run *r = calloc(1, sizeof *r);
    if (!r)
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    int rc = -1;
    r->rss_base_kib = rss_kib(); /* before the connections' memory */
    r->cfg = cfg;
    r->out = out;
    r->last_final = -1;
    r->nw = cfg->threads;
    if ((size_t)r->nw > cfg->connections)
        r->nw = (unsigned)cfg->connections;
    r->interval_ns = wsp_load_interval_ns(cfg->connections, cfg->rate);
    uint64_t slack_us = cfg->timer_slack_us == WSP_LOAD_SLACK_AUTO
                            ? wsp_load_auto_slack(cfg->rate, r->nw, 0)
                            : cfg->timer_slack_us;
    atomic_store(&r->slack_ns, slack_us * 1000ull);
    r->slack_max_ns = slack_us * 1000ull;
    out->timer_slack_auto = cfg->timer_slack_us == WSP_LOAD_SLACK_AUTO;
    uint64_t rt = cfg->reply_timeout_us ? cfg->reply_timeout_us : cfg->conn->timeout_us;
    r->reply_timeout_ns = (rt ? rt : WSP_PROBE_DEFAULT_TIMEOUT_US) * 1000ull;
    r->msg_vars = cfg->message && !cfg->message_binary && wsp_tmpl_has_vars(cfg->message);
    pthread_mutex_init(&r->mu, NULL);
    r->ring = calloc(2 * SERIES_RING, sizeof *r->ring);
    r->workers = calloc(r->nw, sizeof *r->workers);
    if (!r->ring || !r->workers) {
        wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
        goto out;
    }
    if (static_key(r, cfg, err) != 0)
        goto out;
    for (unsigned i = 0; i < r->nw; i++)
        if (worker_init(r, &r->workers[i], i, err) != 0)
            goto out;
    if (uv_loop_init(&r->main_loop) != 0) {
        wsp_err_set(err, WSP_CLASS_INTERNAL, "cannot make an event loop");
        goto out;
    }
    r->main_ok = true;
    uv_async_init(&r->main_loop, &r->main_wake, main_wake_cb);
    r->main_wake.data = r;
    uv_timer_init(&r->main_loop, &r->tick);
    uv_timer_init(&r->main_loop, &r->mem);
    r->tick.data = r->mem.data = r;
    if (cfg->handle_sigint) {
        uv_signal_init(&r->main_loop, &r->sigint);
        r->sigint.data = r;
        uv_signal_start(&r->sigint, sigint_cb, SIGINT);
        /* an agent of load --processes was forked with SIGINT blocked: it may come now */
        sigint_mask(SIG_UNBLOCK);
    }
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    /* every worker (and every agent) starts at the same instant */
    r->t_start = cfg->start_ns > uv_hrtime() ? cfg->start_ns : uv_hrtime() + 5000000ull;
    r->t_measure = r->t_start + cfg->warmup_us * 1000ull;
    r->t_end = r->t_measure + cfg->duration_us * 1000ull;
    uv_timer_start(&r->tick, tick_cb, 1005, 1000);
    uint64_t mid = r->t_measure + cfg->duration_us * 500ull, now = uv_hrtime();
    uv_timer_start(&r->mem, mem_cb, mid > now ? (mid - now) / 1000000 : 0, 0);
    unsigned started = 0;
    for (; started < r->nw; started++) {
        if (pthread_create(&r->workers[started].thread, NULL, worker_main, &r->workers[started]) !=
            0)
            break;
        r->workers[started].thread_started = true;
    }
    if (started < r->nw) {
        /* the threads that did start end at once */
        atomic_fetch_add(&r->finished, r->nw - started);
        stop_all(r, 3);
    }
    uv_run(&r->main_loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < r->nw; i++)
        if (r->workers[i].thread_started)
            pthread_join(r->workers[i].thread, NULL);
    uint64_t t_done = uv_hrtime();
    getrusage(RUSAGE_SELF, &ru1);
    if (started < r->nw) {
        wsp_err_set(err, WSP_CLASS_INTERNAL, "could not start %u threads", r->nw);
        goto out;
    }

    collect(r, cfg, out, t_done, &ru0, &ru1);
    rc = 0;
out:
    run_free(r);
    return rc;
}
