/* hold.c - see hold.h. */
#include "probe/hold.h"
#include "probe/setup.h"
#include "probe/probe.h"
#include "codec/template.h"

#include "probe/each.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "codec/ws.h"
#include "probe/each.h"
#include "util/duration.h"
#include "util/rand.h"
#include "util/threshold.h"

#define MAX_HANDSHAKING 256 /* upgrades under way at once */

const char *wsp_hold_how_name(wsp_hold_how h)
{
    static const char *const names[] = {"held",         "close_frame",  "fin",  "rst",
                                        "pong_timeout", "never_opened", "other"};
    return h <= WSP_HOLD_OTHER ? names[h] : "other";
}

int wsp_hold_ladder_parse(const char *s, uint64_t *out, size_t cap, size_t *n, wsp_err *err)
{
    *n = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        char el[32];
        uint64_t us;
        if (len == 0 || len >= sizeof el)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "--ping-ladder '%.60s': an empty or overlong element (write "
                               "durations separated by commas: 15s,30s,45s)",
                               s);
        memcpy(el, p, len);
        el[len] = '\0';
        if (wsp_duration_parse(el, &us) != 0 || us < 100000)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "--ping-ladder: '%s' is not a duration of 100ms or more (like 15s, "
                               "1m30s, 500ms)",
                               el);
        if (*n == cap)
            return wsp_err_set(err, WSP_CLASS_USAGE, "--ping-ladder: at most %zu intervals", cap);
        if (*n && us <= out[*n - 1])
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "--ping-ladder: '%s' is not longer than the interval before it "
                               "(a ladder climbs)",
                               el);
        out[(*n)++] = us;
        p += len;
        if (*p == ',' && !*++p)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "--ping-ladder '%.60s': a trailing comma (write 15s,30s)", s);
    }
    if (*n == 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "--ping-ladder: no interval given");
    return 0;
}

/* ---- running ---- */

typedef struct hconn {
    struct hold_run *run;
    unsigned idx; /* into ends */
    wsp_conn *c;
    wsp_auth_conn *ac; /* heap, only with credentials: ten thousand idle slots stay small */
    uv_timer_t timer;  /* the next ping or message, or the next reconnect; idle otherwise */
    bool started, open, done;
    bool waiting;      /* --reconnect: dropped, the next attempt is scheduled */
    bool reopened;     /* this connection is a reconnect (drop_idx says of which drop) */
    bool conv_pending; /* the conversation was sent after the reconnect, no reply yet */
    size_t drop_idx;
    uint64_t t_open, t_drop;
    uint64_t ping_sent; /* the unanswered ping's time (its payload), 0: none */
    size_t next_message;
    wsp_proto *proto; /* --protocol: the conversation on top */
} hconn;

typedef struct hold_run {
    const wsp_hold_config *cfg;
    wsp_hold_result *out;
    uv_loop_t loop;
    uv_timer_t end_timer, grace_timer;
    uv_signal_t sigint;
    hconn *conns;
    wsp_conn_opts *pinned; /* --each-address: the connection options of each address */
    size_t n, next_start, handshaking, live;
    uint64_t t_start;
    bool ending;
} hold_run;

static void start_more(hold_run *r);
static void open_conn(hold_run *r, hconn *h);

static double secs(uint64_t from, uint64_t to)
{
    return from && to && to >= from ? (double)(to - from) / 1e9 : -1.0;
}

static void on_open(wsp_conn *c, void *ud);
static void on_ready(void *ud);
static void on_message(wsp_conn *c, void *ud, const wsp_ws_event *ev);
static void on_proto_msg(void *ud, const wsp_proto_msg *m);
static void on_done(wsp_conn *c, void *ud);
static const wsp_conn_cbs cbs = {.on_open = on_open, .on_message = on_message, .on_done = on_done};

static const wsp_hold_strategy *strategy_of(const hconn *h)
{
    return &h->run->cfg->strategies[h->run->out->ends[h->idx].strategy];
}

/* Message i of the configuration: a text, or under Socket.IO an emit. */
static void send_message(hconn *h, size_t i)
{
    const wsp_hold_config *cfg = h->run->cfg;
    const char *m = cfg->messages[i];
    if (h->proto && cfg->events && cfg->events[i]) {
        /* placeholders filled per emit, as probe and load do; a failure ends the connection
         * loudly (its class and why), never a strategy that silently sends nothing */
        wsp_err e;
        wsp_err_clear(&e);
        size_t len = 0;
        wsp_tmpl_ctx live = wsp_probe_tmpl_ctx(NULL, 0);
        char *args = m[0] ? wsp_tmpl_expand(m, &live, &len, &e) : NULL;
        if ((m[0] && !args) || wsp_proto_emit(h->proto, cfg->events[i], args, false, NULL, &e) != 0)
            wsp_conn_fail(h->c, e.cls, "the emit of '%.100s': %s", cfg->events[i], e.msg);
        free(args);
        return;
    }
    wsp_conn_send(h->c, WSP_WS_OP_TEXT, m, strlen(m));
}

static void tick(uv_timer_t *t)
{
    hconn *h = t->data;
    hold_run *r = h->run;
    const wsp_hold_strategy *st = strategy_of(h);
    if (!h->open || r->ending)
        return;
    uint64_t now = uv_hrtime();
    if (st->kind == WSP_HOLD_PINGS) {
        uint64_t limit = r->cfg->pong_timeout_us ? r->cfg->pong_timeout_us : st->every_us;
        if (h->ping_sent && now - h->ping_sent >= limit * 1000ull) {
            wsp_conn_fail(h->c, WSP_CLASS_WS_PONG_TIMEOUT,
                          "the ping sent %.3f s ago was not answered (pong timeout %.3f s)",
                          (double)(now - h->ping_sent) / 1e9, (double)limit / 1e6);
            return;
        }
        if (!h->ping_sent) {
            uint8_t payload[8];
            for (int b = 0; b < 8; b++)
                payload[b] = (uint8_t)(now >> (56 - 8 * b));
            if (wsp_conn_send(h->c, WSP_WS_OP_PING, payload, sizeof payload) == 0)
                h->ping_sent = now;
        }
    } else if (st->kind == WSP_HOLD_MESSAGES && r->cfg->nmessages) {
        send_message(h, h->next_message++ % r->cfg->nmessages);
    }
}

static void on_open(wsp_conn *c, void *ud)
{
    (void)c;
    hconn *h = ud;
    if (h->ac && h->ac->req.first_message)
        wsp_conn_send(h->c, WSP_WS_OP_TEXT, h->ac->req.first_message,
                      strlen(h->ac->req.first_message));
    if (h->proto)
        wsp_proto_on_open(h->proto); /* open once its handshake is done: on_ready */
    else
        on_ready(h);
}

/* The connection is open (and its protocol's handshake done): its life counts from here. */
static void on_ready(void *ud)
{
    hconn *h = ud;
    hold_run *r = h->run;
    h->open = true;
    h->t_open = uv_hrtime();
    r->handshaking--;
    if (h->reopened) {
        wsp_hold_drop *d = &r->out->drops[h->drop_idx];
        d->reconnect = secs(h->t_drop, h->t_open);
        h->t_drop = 0;
        if (r->cfg->conversation) {
            send_message(h, 0);
            d->conversation = WSP_HOLD_CONV_PENDING;
            h->conv_pending = true;
        }
    }
    const wsp_hold_strategy *st = strategy_of(h);
    if (st->kind != WSP_HOLD_SILENT) {
        uint64_t ms = (st->every_us + 999) / 1000;
        uv_timer_start(&h->timer, tick, ms, ms);
    }
    start_more(r);
}

/* Under a protocol, any of its messages answers the conversation after a reconnect. */
static void on_proto_msg(void *ud, const wsp_proto_msg *m)
{
    hconn *h = ud;
    if (m->kind == WSP_PROTO_MSG_DISCONNECT) {
        wsp_conn_fail(h->c, WSP_CLASS_WS_CLOSED, "the server ended the session (%s)",
                      wsp_proto_get_record(h->proto)->disconnect_reason);
        return;
    }
    if (h->conv_pending) {
        h->run->out->drops[h->drop_idx].conversation = WSP_HOLD_CONV_OK;
        h->conv_pending = false;
    }
}

static void on_message(wsp_conn *c, void *ud, const wsp_ws_event *ev)
{
    (void)c;
    hconn *h = ud;
    if (h->proto && wsp_proto_on_message(h->proto, ev))
        return; /* the protocol's: its messages come back as on_proto_msg */
    if (h->conv_pending && (ev->type == WSP_WS_EV_TEXT || ev->type == WSP_WS_EV_BINARY)) {
        h->run->out->drops[h->drop_idx].conversation = WSP_HOLD_CONV_OK;
        h->conv_pending = false;
    }
    if (ev->type != WSP_WS_EV_PONG || !h->ping_sent || ev->len != 8)
        return;
    for (int b = 0; b < 8; b++)
        if (ev->data[b] != (uint8_t)(h->ping_sent >> (56 - 8 * b)))
            return; /* not our ping's (unsolicited pongs are allowed: RFC 6455 5.5.3) */
    h->ping_sent = 0;
}

static void maybe_stop(hold_run *r)
{
    if (r->live == 0 && r->next_start >= r->n) {
        uv_timer_stop(&r->end_timer);
        uv_timer_stop(&r->grace_timer);
        uv_stop(&r->loop);
    }
}

/* What the record says of the end. */
static void record_end(hconn *h)
{
    hold_run *r = h->run;
    wsp_hold_end *e = &r->out->ends[h->idx];
    const wsp_conn_record *rec = wsp_conn_get_record(h->c);
    uint64_t t_end = rec->t_end ? rec->t_end : uv_hrtime();
    e->cls = rec->err.cls;
    snprintf(e->message, sizeof e->message, "%s", rec->err.msg);
    e->close_code = -1;
    if (!h->open) {
        e->how = WSP_HOLD_NEVER_OPENED;
        e->opened_at = -1;
        return;
    }
    e->opened_at = secs(r->t_start, h->t_open);
    /* the first close frame, either way (the server's, or ours at the end or on giving up):
     * what follows is the closing handshake, not the connection's life */
    uint64_t t_stop = rec->t_close_start ? rec->t_close_start : t_end;
    e->lifetime = secs(h->t_open, t_stop);
    e->since_in = rec->t_last_frame_in ? secs(rec->t_last_frame_in, t_stop) : -1;
    e->since_out = rec->t_last_frame_out ? secs(rec->t_last_frame_out, t_stop) : -1;
    if (rec->closed_by == WSP_CLOSED_BY_CLIENT && r->ending && rec->err.cls == WSP_CLASS_OK) {
        e->how = WSP_HOLD_HELD;
    } else if (rec->closed_by == WSP_CLOSED_BY_SERVER && rec->close_code >= 0 &&
               rec->close_code != WSP_WS_CLOSE_ABNORMAL) {
        e->how = WSP_HOLD_CLOSE_FRAME;
        e->close_code = rec->close_code;
        snprintf(e->close_reason, sizeof e->close_reason, "%s", rec->close_reason);
        if (e->cls == WSP_CLASS_OK)
            e->cls = WSP_CLASS_WS_CLOSED;
    } else if (rec->err.cls == WSP_CLASS_WS_PONG_TIMEOUT) {
        e->how = WSP_HOLD_PONG_TIMEOUT;
    } else if (rec->eof_seen) {
        e->how = rec->eof_error == 0 ? WSP_HOLD_FIN : WSP_HOLD_RST;
    } else {
        e->how = WSP_HOLD_OTHER;
    }
}

static int reconnect_later(hold_run *r, hconn *h, bool was_open);

static void on_done(wsp_conn *c, void *ud)
{
    (void)c;
    hconn *h = ud;
    hold_run *r = h->run;
    if (h->done)
        return;
    h->done = true;
    bool was_open = h->open;
    if (!was_open)
        r->handshaking--;
    uv_timer_stop(&h->timer);
    if (h->proto) {
        wsp_proto_on_done(h->proto);
        wsp_proto_judge(h->proto, wsp_conn_get_record(h->c));
    }
    bool retrying = !was_open && h->t_drop; /* a reconnect attempt failed: the drop's end stands */
    if (!retrying)
        record_end(h);
    if (r->cfg->reconnect && !r->ending && (was_open || retrying) &&
        reconnect_later(r, h, was_open) == 0) {
        start_more(r);
        return;
    }
    h->open = false;
    r->live--;
    if (!r->ending)
        start_more(r);
    maybe_stop(r);
}

static void start_more(hold_run *r)
{
    while (!r->ending && r->next_start < r->n && r->handshaking < MAX_HANDSHAKING) {
        hconn *h = &r->conns[r->next_start++];
        r->live++;
        open_conn(r, h);
    }
}

/* Open (or reopen) a slot's connection, with a fresh token. */
static void open_conn(hold_run *r, hconn *h)
{
    wsp_hold_end *e = &r->out->ends[h->idx];
    wsp_err ae;
    wsp_err_clear(&ae);
    int arc = 0;
    const wsp_conn_opts *base = r->pinned ? &r->pinned[e->address] : r->cfg->conn, *opts = base;
    if (r->cfg->auth && wsp_auth_active(r->cfg->auth)) {
        if (h->ac)
            wsp_auth_conn_cleanup(h->ac);
        else
            h->ac = calloc(1, sizeof *h->ac);
        arc = h->ac ? wsp_auth_conn_init(h->ac, r->cfg->auth, base, &ae)
                    : wsp_err_set(&ae, WSP_CLASS_INTERNAL, "out of memory");
        if (h->ac)
            opts = &h->ac->opts;
    }
    h->c = wsp_conn_new(&r->loop, opts, &cbs, h);
    wsp_proto_free(h->proto); /* a reconnect's protocol starts afresh */
    h->proto = NULL;
    if (h->c && r->cfg->proto && r->cfg->proto->kind != WSP_PROTO_NONE) {
        static const wsp_proto_cbs pcbs = {on_ready, on_proto_msg};
        h->proto = wsp_proto_new(&r->loop, r->cfg->proto, h->c, h->ac ? h->ac->req.app_token : NULL,
                                 opts->timeout_us, &pcbs, h);
        if (!h->proto) {
            wsp_conn_free(h->c);
            h->c = NULL;
        }
    }
    if (!h->c) {
        e->how = WSP_HOLD_NEVER_OPENED;
        e->opened_at = -1;
        e->cls = WSP_CLASS_INTERNAL;
        snprintf(e->message, sizeof e->message, "out of memory");
        h->done = true;
        r->live--;
        return;
    }
    h->started = true;
    h->done = false;
    h->open = false;
    h->ping_sent = 0;
    r->handshaking++;
    wsp_conn_start(h->c);
    if (arc != 0)
        wsp_conn_fail(h->c, ae.cls, "credentials: %s", ae.msg);
}

static void reconnect_cb(uv_timer_t *t)
{
    hconn *h = t->data;
    hold_run *r = h->run;
    if (r->ending || !h->waiting)
        return;
    h->waiting = false;
    h->reopened = true;
    open_conn(r, h);
}

/* --reconnect: note the drop (a fresh one when the connection had been open; another failed
 * attempt otherwise) and schedule the next attempt: 100 ms doubling per failed attempt, at
 * most 5 s, less a random part up to 30 %. 0, or -1 when out of memory. */
static int reconnect_later(hold_run *r, hconn *h, bool was_open)
{
    wsp_hold_result *o = r->out;
    if (h->conv_pending) { /* dropped before the conversation's reply */
        o->drops[h->drop_idx].conversation = WSP_HOLD_CONV_LOST;
        h->conv_pending = false;
    }
    if (was_open) {
        if (o->ndrops == o->drops_cap) {
            size_t cap = o->drops_cap ? o->drops_cap * 2 : 64;
            wsp_hold_drop *d = realloc(o->drops, cap * sizeof *d);
            if (!d)
                return -1;
            o->drops = d;
            o->drops_cap = cap;
        }
        const wsp_hold_end *e = &o->ends[h->idx];
        wsp_hold_drop *d = &o->drops[o->ndrops];
        memset(d, 0, sizeof *d);
        d->address = e->address;
        d->strategy = e->strategy;
        d->index = e->index;
        h->t_drop = uv_hrtime();
        d->at = secs(r->t_start, h->t_drop);
        d->how = e->how;
        d->close_code = e->close_code;
        snprintf(d->close_reason, sizeof d->close_reason, "%s", e->close_reason);
        d->graceful = e->how == WSP_HOLD_CLOSE_FRAME &&
                      (e->close_code == WSP_WS_CLOSE_GOING_AWAY || e->close_code == 1012);
        d->reconnect = -1;
        d->conversation = r->cfg->conversation ? WSP_HOLD_CONV_NOT_SENT : WSP_HOLD_CONV_NONE;
        h->drop_idx = o->ndrops++;
    } else {
        o->drops[h->drop_idx].attempts++;
    }
    unsigned k = o->drops[h->drop_idx].attempts;
    uint64_t ms = 100ull << (k < 6 ? k : 6);
    if (ms > 5000)
        ms = 5000;
    uint8_t rb[2] = {0, 0};
    wsp_rand_bytes(rb, sizeof rb);
    ms -= ms * 3 * (uint64_t)(rb[0] << 8 | rb[1]) / (10 * 65536ull);
    wsp_conn_free(h->c);
    h->c = NULL;
    h->open = false;
    h->waiting = true;
    uv_timer_start(&h->timer, reconnect_cb, ms, 0);
    return 0;
}

static void grace_cb(uv_timer_t *t)
{
    hold_run *r = t->data;
    for (size_t i = 0; i < r->n; i++) /* closing handshakes that never finished */
        if (r->conns[i].started && !r->conns[i].done) {
            hconn *h = &r->conns[i];
            record_end(h);
            h->done = true;
            r->live--;
        }
    uv_stop(&r->loop);
}

static void end_cb(uv_timer_t *t)
{
    hold_run *r = t->data;
    r->ending = true;
    for (size_t i = 0; i < r->n; i++) {
        hconn *h = &r->conns[i];
        if (h->waiting) { /* dropped and not back: its last end stands */
            h->waiting = false;
            uv_timer_stop(&h->timer);
            r->live--;
        } else if (h->started && !h->done) {
            wsp_conn_close(h->c, WSP_WS_CLOSE_NORMAL, "wsprobe hold: the duration is over");
        }
    }
    r->next_start = r->n;
    uv_timer_start(&r->grace_timer, grace_cb, WSP_HOLD_CLOSE_GRACE_US / 1000, 0);
    maybe_stop(r);
}

static void sigint_cb(uv_signal_t *s, int sig)
{
    (void)sig;
    hold_run *r = s->data;
    if (!r->ending)
        end_cb(&r->end_timer);
}

static void walk_close(uv_handle_t *h, void *ud)
{
    (void)ud;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

size_t wsp_hold_connections(const wsp_hold_config *cfg)
{
    return (cfg->naddresses ? cfg->naddresses : 1) * cfg->nstrategies * cfg->per_strategy;
}

static void run_release(hold_run *r)
{
    free(r->conns);
    free(r->pinned);
}

int wsp_hold_run(const wsp_hold_config *cfg, wsp_hold_result *out, wsp_err *err)
{
    memset(out, 0, sizeof *out);
    size_t n = wsp_hold_connections(cfg), na = cfg->naddresses ? cfg->naddresses : 1;
    if (n == 0)
        return wsp_err_set(err, WSP_CLASS_USAGE, "no connections to hold");
    hold_run r = {.cfg = cfg, .out = out, .n = n};
    out->ends = calloc(n, sizeof *out->ends);
    r.conns = calloc(n, sizeof *r.conns);
    if (cfg->naddresses)
        r.pinned = calloc(cfg->naddresses, sizeof *r.pinned);
    if (!out->ends || !r.conns || (cfg->naddresses && !r.pinned)) {
        run_release(&r);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "out of memory");
    }
    out->nends = n;
    for (size_t a = 0; a < cfg->naddresses; a++) { /* shallow: the rest stays the caller's */
        r.pinned[a] = *cfg->conn;
        r.pinned[a].pinned = &cfg->addresses[a].ss;
        r.pinned[a].num_pinned = 1;
    }
    /* interleaved start order (one of each address, then of each strategy, in turn), so every
     * strategy and every backend opens at the same moments and their ends compare; the ends
     * are laid out address by address, strategy by strategy */
    for (size_t i = 0; i < n; i++) {
        size_t a = i % na, j = i / na;
        size_t s = j % cfg->nstrategies, k = j / cfg->nstrategies;
        size_t idx = (a * cfg->nstrategies + s) * cfg->per_strategy + k;
        r.conns[i].run = &r;
        r.conns[i].idx = (unsigned)idx;
        r.conns[i].drop_idx = SIZE_MAX;
        out->ends[idx].address = (unsigned)a;
        out->ends[idx].strategy = (unsigned)s;
        out->ends[idx].index = (unsigned)k + 1;
        out->ends[idx].close_code = -1;
    }
    if (uv_loop_init(&r.loop) != 0) {
        run_release(&r);
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "cannot make an event loop");
    }
    for (size_t i = 0; i < n; i++) {
        uv_timer_init(&r.loop, &r.conns[i].timer);
        r.conns[i].timer.data = &r.conns[i];
    }
    uv_timer_init(&r.loop, &r.end_timer);
    uv_timer_init(&r.loop, &r.grace_timer);
    r.end_timer.data = r.grace_timer.data = &r;
    if (cfg->catch_sigint) {
        uv_signal_init(&r.loop, &r.sigint);
        r.sigint.data = &r;
        uv_signal_start(&r.sigint, sigint_cb, SIGINT);
    }
    r.t_start = uv_hrtime();
    uv_timer_start(&r.end_timer, end_cb, (cfg->duration_us + 999) / 1000, 0);
    start_more(&r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    out->elapsed_s = secs(r.t_start, uv_hrtime());
    for (size_t i = 0; i < n; i++) {
        wsp_proto_free(r.conns[i].proto);
        if (r.conns[i].c)
            wsp_conn_free(r.conns[i].c);
        if (r.conns[i].ac)
            wsp_auth_conn_cleanup(r.conns[i].ac);
        free(r.conns[i].ac);
    }
    uv_walk(&r.loop, walk_close, NULL);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    uv_loop_close(&r.loop);
    run_release(&r);
    return 0;
}

void wsp_hold_result_cleanup(wsp_hold_result *r)
{
    free(r->drops);
    r->drops = NULL;
    r->ndrops = r->drops_cap = 0;
    free(r->ends);
    r->ends = NULL;
    r->nends = 0;
}

/* ---- the analysis ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void summarise(const wsp_hold_result *r, unsigned s, wsp_hold_summary *o)
{
    memset(o, 0, sizeof *o);
    o->close_code = -1;
    double *lt = calloc(r->nends ? r->nends : 1, sizeof *lt);
    size_t nl = 0;
    int codes[8] = {0}, code_n[8] = {0}, ncodes = 0;
    for (size_t i = 0; i < r->nends; i++) {
        const wsp_hold_end *e = &r->ends[i];
        if (e->strategy != s)
            continue;
        o->connections++;
        o->how[e->how]++;
        if (e->how == WSP_HOLD_NEVER_OPENED)
            continue;
        o->opened++;
        if (e->how == WSP_HOLD_HELD) {
            o->held++;
            continue;
        }
        o->ended++;
        if (lt)
            lt[nl++] = e->lifetime;
        if (e->close_code >= 0) {
            int k;
            for (k = 0; k < ncodes && codes[k] != e->close_code; k++)
                ;
            if (k == ncodes && ncodes < 8)
                codes[ncodes++] = e->close_code;
            if (k < 8)
                code_n[k]++;
        }
    }
    if (nl) {
        qsort(lt, nl, sizeof *lt, cmp_double);
        o->min = lt[0];
        o->max = lt[nl - 1];
        o->median = nl % 2 ? lt[nl / 2] : (lt[nl / 2 - 1] + lt[nl / 2]) / 2;
    }
    free(lt);
    size_t best = 0;
    o->dominant = WSP_HOLD_HELD;
    for (int h = WSP_HOLD_CLOSE_FRAME; h <= WSP_HOLD_OTHER; h++)
        if (h != WSP_HOLD_NEVER_OPENED && o->how[h] > best) {
            best = o->how[h];
            o->dominant = (wsp_hold_how)h;
        }
    int bc = 0;
    for (int k = 0; k < ncodes; k++)
        if (code_n[k] > bc) {
            bc = code_n[k];
            o->close_code = codes[k];
        }
}

static const char *how_words(wsp_hold_how h, int code)
{
    static char buf[80];
    switch (h) {
    case WSP_HOLD_CLOSE_FRAME:
        snprintf(buf, sizeof buf, "the server's close frame, code %d", code);
        return buf;
    case WSP_HOLD_FIN:
        return "TCP FIN, no close frame";
    case WSP_HOLD_RST:
        return "TCP reset or socket error, no close frame";
    case WSP_HOLD_PONG_TIMEOUT:
        return "a ping went unanswered";
    case WSP_HOLD_OTHER:
        return "a failure while open";
    case WSP_HOLD_HELD:
    case WSP_HOLD_NEVER_OPENED:
        break;
    }
    return "";
}

static void say(wsp_hold_analysis *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(wsp_hold_analysis *a, const char *fmt, ...)
{
    if (a->nfindings >= WSP_HOLD_MAX_FINDINGS)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->findings[a->nfindings++], sizeof a->findings[0], fmt, ap);
    va_end(ap);
}

static const char *dur_words(double s, char *buf, size_t cap)
{
    if (s >= 120)
        snprintf(buf, cap, "%.3g min", s / 60);
    else
        snprintf(buf, cap, "%.3g s", s);
    return buf;
}

static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return (double)NAN;
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    return v[k ? k - 1 : 0];
}

/* --reconnect: the drops, how graceful, how fast back, the conversations. */
static void reconnects(const wsp_hold_config *cfg, const wsp_hold_result *r, wsp_hold_analysis *a)
{
    double *rt = calloc(r->ndrops ? r->ndrops : 1, sizeof *rt);
    double end = r->elapsed_s > 0 ? r->elapsed_s : (double)cfg->duration_us / 1e6;
    size_t conv_total = 0;
    for (size_t i = 0; i < r->ndrops; i++) {
        const wsp_hold_drop *d = &r->drops[i];
        a->drops++;
        if (d->graceful)
            a->graceful++;
        else
            a->ungraceful++;
        double gap = d->reconnect >= 0 ? d->reconnect : end - d->at;
        if (gap > a->longest_gap)
            a->longest_gap = gap;
        if (d->reconnect >= 0 && rt)
            rt[a->reopened++] = d->reconnect;
        conv_total += d->conversation != WSP_HOLD_CONV_NONE;
        a->conv_sent += d->conversation == WSP_HOLD_CONV_OK ||
                        d->conversation == WSP_HOLD_CONV_LOST ||
                        d->conversation == WSP_HOLD_CONV_PENDING;
        a->conv_ok += d->conversation == WSP_HOLD_CONV_OK;
        a->conv_lost +=
            d->conversation == WSP_HOLD_CONV_LOST || d->conversation == WSP_HOLD_CONV_NOT_SENT;
        a->conv_pending += d->conversation == WSP_HOLD_CONV_PENDING;
    }
    if (rt && a->reopened)
        qsort(rt, a->reopened, sizeof *rt, cmp_double);
    a->reconnect_p50 = rt ? pct(rt, a->reopened, 50) : (double)NAN;
    a->reconnect_p90 = rt ? pct(rt, a->reopened, 90) : (double)NAN;
    a->reconnect_p99 = rt ? pct(rt, a->reopened, 99) : (double)NAN;
    a->reconnect_max = rt ? pct(rt, a->reopened, 100) : (double)NAN;
    free(rt);
    if (!cfg->reconnect)
        return;
    if (!a->drops) {
        say(a, "no connection dropped: nothing to reconnect");
        return;
    }
    char conv[96] = "";
    if (conv_total)
        snprintf(conv, sizeof conv, "; %zu of %zu conversations after a drop lost", a->conv_lost,
                 conv_total);
    say(a,
        "%zu drop%s: %zu graceful (1001 going away or 1012 service restart), %zu without one "
        "(a server killed, or an intermediary that does not drain); %zu reconnected, p50 "
        "%.3g s, max %.3g s; the longest gap %.3g s%s",
        a->drops, a->drops == 1 ? "" : "s", a->graceful, a->ungraceful, a->reopened,
        a->reopened ? a->reconnect_p50 : 0.0, a->reopened ? a->reconnect_max : 0.0, a->longest_gap,
        conv);
}

/* A --threshold's metric: its value (seconds or a count), and whether it is a time. */
static bool metric_value(const char *m, const wsp_hold_analysis *a, double *v, bool *is_time)
{
    static const struct {
        const char *name;
        bool time;
    } known[] = {{"reconnect_p50", true}, {"reconnect_p90", true}, {"reconnect_p99", true},
                 {"reconnect_max", true}, {"gap", true},           {"drops", false},
                 {"graceful", false},     {"ungraceful", false},   {"lost", false}};
    size_t i;
    for (i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i].name) == 0)
            break;
    if (i == sizeof known / sizeof known[0])
        return false;
    *is_time = known[i].time;
    if (!a)
        return true;
    const double vals[] = {a->reconnect_p50,    a->reconnect_p90,      a->reconnect_p99,
                           a->reconnect_max,    a->longest_gap,        (double)a->drops,
                           (double)a->graceful, (double)a->ungraceful, (double)a->conv_lost};
    *v = vals[i];
    return true;
}

static int parse_threshold(const char *text, wsp_threshold_expr *x, double *limit, wsp_err *err)
{
    if (wsp_threshold_split("--threshold", text, x, err) != 0)
        return -1;
    bool is_time;
    double unused;
    if (!metric_value(x->metric, NULL, &unused, &is_time))
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--threshold '%s': unknown metric '%s' for hold (reconnect_p50, "
                           "reconnect_p90, reconnect_p99, reconnect_max, gap; drops, graceful, "
                           "ungraceful, lost)",
                           text, x->metric);
    if (!is_time) {
        if (x->unit[0])
            return wsp_err_set(err, WSP_CLASS_USAGE, "--threshold '%s': a count takes no unit",
                               text);
        *limit = x->number;
        return 0;
    }
    char d[48];
    uint64_t us;
    snprintf(d, sizeof d, "%g%s", x->number, x->unit);
    if (!x->unit[0] || wsp_duration_parse(d, &us) != 0)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--threshold '%s': a time needs a unit (like reconnect_p99<2s)", text);
    *limit = (double)us / 1e6;
    return 0;
}

int wsp_hold_threshold_check(const char *text, wsp_err *err)
{
    wsp_threshold_expr x;
    double limit;
    return parse_threshold(text, &x, &limit, err);
}

/* Whether a threshold holds; a time with nothing measured (no reconnect) does not. */
static bool judge(const char *text, const wsp_hold_analysis *a, double *value)
{
    wsp_threshold_expr x;
    double limit;
    bool is_time;
    *value = (double)NAN;
    if (parse_threshold(text, &x, &limit, NULL) != 0 || !metric_value(x.metric, a, value, &is_time))
        return false;
    return !isnan(*value) && wsp_threshold_holds(x.op, *value, limit);
}

void wsp_hold_analyse(const wsp_hold_config *cfg, const wsp_hold_result *r, wsp_hold_analysis *a)
{
    memset(a, 0, sizeof *a);
    double duration = (double)cfg->duration_us / 1e6;
    char d1[32], d2[32], d3[32];
    size_t never = 0, cls_n[WSP_CLASS_COUNT] = {0};
    for (size_t i = 0; i < r->nends; i++) {
        if (r->ends[i].how == WSP_HOLD_NEVER_OPENED) {
            never++;
            cls_n[r->ends[i].cls]++;
        } else {
            a->opened++;
        }
    }
    for (int c = 0; c < WSP_CLASS_COUNT; c++)
        if (cls_n[c] > cls_n[a->common_cls])
            a->common_cls = (wsp_class)c;
    for (size_t s = 0; s < cfg->nstrategies; s++)
        summarise(r, (unsigned)s, &a->per[s]);

    /* a lifetime cap: every strategy that opened connections lost all of them, at about the
     * same age, whatever it sent */
    bool all_ended = cfg->nstrategies > 1, any_keepalive = false;
    double lo = 1e300, hi = 0;
    for (size_t s = 0; s < cfg->nstrategies; s++) {
        const wsp_hold_summary *p = &a->per[s];
        if (cfg->strategies[s].kind != WSP_HOLD_SILENT)
            any_keepalive = true;
        if (!p->opened || p->held || p->dominant == WSP_HOLD_PONG_TIMEOUT ||
            p->dominant == WSP_HOLD_CLOSE_FRAME) {
            all_ended = false;
            continue;
        }
        lo = p->min < lo ? p->min : lo;
        hi = p->max > hi ? p->max : hi;
    }
    if (all_ended && any_keepalive && hi > 0 && hi - lo <= fmax(1.0, 0.1 * hi)) {
        a->lifetime_cap = true;
        say(a,
            "every connection ends at %s however busy (%s): a lifetime cap, not an idle "
            "timeout (GCP's external load balancer caps a WebSocket at its backend timeout, "
            "30 s by default); reconnect before it, or raise the cap",
            dur_words((lo + hi) / 2, d1, sizeof d1), how_words(a->per[0].dominant, -1));
    }
    bool keepalive_lived = false;
    for (size_t s = 0; s < cfg->nstrategies; s++)
        if (cfg->strategies[s].kind != WSP_HOLD_SILENT && a->per[s].opened &&
            a->per[s].held == a->per[s].opened)
            keepalive_lived = true;
    for (size_t s = 0; s < cfg->nstrategies && !a->lifetime_cap; s++) {
        const wsp_hold_strategy *st = &cfg->strategies[s];
        const wsp_hold_summary *p = &a->per[s];
        if (!p->opened)
            continue;
        const char *what = st->kind == WSP_HOLD_SILENT  ? "silent connections"
                           : st->kind == WSP_HOLD_PINGS ? "connections pinged every"
                                                        : "connections with a message every";
        char every[48] = "";
        if (st->kind != WSP_HOLD_SILENT)
            snprintf(every, sizeof every, " %s",
                     dur_words((double)st->every_us / 1e6, d3, sizeof d3));
        if (p->held == p->opened) {
            say(a, "%s%s stay alive for the whole %s", what, every,
                dur_words(duration, d1, sizeof d1));
            continue;
        }
        double spread = (p->max - p->min) / 2;
        char how[300];
        snprintf(how, sizeof how, "%s", how_words(p->dominant, p->close_code));
        if (p->dominant == WSP_HOLD_FIN || p->dominant == WSP_HOLD_RST) {
            if (st->kind == WSP_HOLD_SILENT && keepalive_lived) {
                a->idle_timeout_s = p->median;
                snprintf(how + strlen(how), sizeof how - strlen(how),
                         ": an intermediary's idle timeout, e.g. nginx proxy_read_timeout, "
                         "HAProxy timeout tunnel or an ALB idle timeout; send a ping at most "
                         "every %s or raise it",
                         dur_words(p->median * 0.8, d2, sizeof d2));
            } else if (st->kind != WSP_HOLD_SILENT) {
                snprintf(how + strlen(how), sizeof how - strlen(how),
                         ": traffic this often does not keep it alive");
            }
        }
        say(a, "%s%s: %zu of %zu end after %s ± %.2g s (%s)%s", what, every, p->ended, p->opened,
            dur_words(p->median, d1, sizeof d1), spread, how,
            p->held ? "; the others lived to the end" : "");
    }
    if (never)
        say(a, "%zu of %zu connections never opened (%s, the most common)", never, r->nends,
            wsp_class_name(a->common_cls));

    /* gates */
    wsp_hold_gate *g = a->gates;
    g[0] = (wsp_hold_gate){.name = "connections", .applies = true, .failed = never, .of = r->nends};
    g[1] = (wsp_hold_gate){.name = "lifetime",
                           .applies = cfg->expect_lifetime_us > 0,
                           .limit_s = (double)cfg->expect_lifetime_us / 1e6};
    g[2] = (wsp_hold_gate){.name = "silent_lifetime",
                           .applies = cfg->expect_silent_lifetime_us > 0,
                           .limit_s = (double)cfg->expect_silent_lifetime_us / 1e6};
    for (size_t i = 0; i < r->nends; i++) {
        const wsp_hold_end *e = &r->ends[i];
        wsp_hold_gate *t = cfg->strategies[e->strategy].kind == WSP_HOLD_SILENT ? &g[2] : &g[1];
        if (e->how == WSP_HOLD_NEVER_OPENED || !t->applies)
            continue;
        t->of++;
        t->failed += wsp_hold_end_short(cfg, e);
    }
    a->ok = true;
    for (int i = 0; i < 3; i++) {
        g[i].ok = !g[i].applies || g[i].failed == 0;
        a->ok &= g[i].ok;
    }
    reconnects(cfg, r, a);
    for (size_t i = 0; i < cfg->nthresholds && i < WSP_HOLD_MAX_THRESHOLDS; i++) {
        a->thresholds[i].text = cfg->thresholds[i];
        a->thresholds[i].ok = judge(cfg->thresholds[i], a, &a->thresholds[i].value);
        a->ok &= a->thresholds[i].ok;
        a->nthresholds++;
    }
}

/* ---- the whole judged ---- */

int wsp_hold_address_view(const wsp_hold_config *cfg, const wsp_hold_result *r, size_t a,
                          wsp_hold_result *view)
{
    size_t per = cfg->nstrategies * cfg->per_strategy;
    memset(view, 0, sizeof *view);
    view->ends = r->ends + a * per;
    view->nends = per;
    view->elapsed_s = r->elapsed_s;
    view->drops = calloc(r->ndrops ? r->ndrops : 1, sizeof *view->drops);
    if (!view->drops)
        return -1;
    for (size_t i = 0; i < r->ndrops; i++)
        if (r->drops[i].address == a)
            view->drops[view->ndrops++] = r->drops[i];
    view->drops_cap = view->ndrops;
    return 0;
}

/* What failed, in words, and the class behind it: the earliest connection that never opened
 * or ended below its gate, else a broken threshold. */
static void failure_words(const wsp_hold_config *cfg, const wsp_hold_result *r,
                          const wsp_hold_analysis *a, wsp_class *cls, char *buf, size_t cap)
{
    *cls = WSP_CLASS_OK;
    buf[0] = '\0';
    if (!a->opened) {
        *cls = a->common_cls;
        const char *msg = "";
        for (size_t i = 0; i < r->nends && !msg[0]; i++)
            if (r->ends[i].cls == a->common_cls)
                msg = r->ends[i].message;
        snprintf(buf, cap, "no connection opened (%s: %.400s)", wsp_class_name(*cls), msg);
        return;
    }
    const wsp_hold_end *first = NULL;
    for (size_t i = 0; i < r->nends; i++) {
        const wsp_hold_end *e = &r->ends[i];
        bool bad = e->how == WSP_HOLD_NEVER_OPENED || wsp_hold_end_short(cfg, e);
        if (bad && (!first || wsp_hold_end_at(e) < wsp_hold_end_at(first)))
            first = e;
    }
    for (int g = 0; g < 3; g++) {
        const wsp_hold_gate *gt = &a->gates[g];
        if (!gt->applies || gt->ok || !first)
            continue;
        *cls = first->cls;
        if (gt->limit_s > 0)
            snprintf(buf, cap,
                     "%zu of %zu connections ended before %.3g s (%s, first: %s#%u %s "
                     "after %.3f s)",
                     gt->failed, gt->of, gt->limit_s, gt->name,
                     cfg->strategies[first->strategy].name, first->index,
                     wsp_hold_how_name(first->how), first->lifetime);
        else
            snprintf(buf, cap, "%zu of %zu connections never opened (%s: %.300s)", gt->failed,
                     gt->of, wsp_class_name(first->cls), first->message);
        return;
    }
    for (size_t i = 0; i < a->nthresholds; i++)
        if (!a->thresholds[i].ok) {
            *cls = a->ungraceful ? WSP_CLASS_WS_DROPPED : WSP_CLASS_WS_CLOSED;
            snprintf(buf, cap, "threshold %s broke (measured %.4g)", a->thresholds[i].text,
                     a->thresholds[i].value);
            return;
        }
}

double wsp_hold_limit_s(const wsp_hold_config *cfg, const wsp_hold_end *e)
{
    bool silent = cfg->strategies[e->strategy].kind == WSP_HOLD_SILENT;
    return (double)(silent ? cfg->expect_silent_lifetime_us : cfg->expect_lifetime_us) / 1e6;
}

bool wsp_hold_end_short(const wsp_hold_config *cfg, const wsp_hold_end *e)
{
    double limit = wsp_hold_limit_s(cfg, e);
    return limit > 0 && e->how != WSP_HOLD_NEVER_OPENED && e->how != WSP_HOLD_HELD &&
           e->lifetime < limit;
}

double wsp_hold_end_at(const wsp_hold_end *e)
{
    return e->opened_at < 0 ? -1 : e->opened_at + e->lifetime;
}

int wsp_hold_analysis_exit_code(const wsp_hold_analysis *a)
{
    return !a->opened ? wsp_class_exit_code(a->common_cls) : a->ok ? 0 : 1;
}

/* ok from the exit code; a failure always has a class (failure_words finds one for every
 * failing gate or threshold: INTERNAL would say it did not). */
static int judged(wsp_hold_verdict *v)
{
    v->ok = v->exit_code == 0;
    if (!v->ok && v->cls == WSP_CLASS_OK)
        v->cls = WSP_CLASS_INTERNAL;
    return 0;
}

int wsp_hold_judge(const wsp_hold_config *cfg, const wsp_hold_result *r, wsp_hold_verdict *v)
{
    memset(v, 0, sizeof *v);
    wsp_hold_analyse(cfg, r, &v->all);
    char why[500];
    if (!cfg->naddresses) {
        v->exit_code = wsp_hold_analysis_exit_code(&v->all);
        failure_words(cfg, r, &v->all, &v->cls, why, sizeof why);
        snprintf(v->summary, sizeof v->summary, "%s",
                 why[0]             ? why
                 : v->all.nfindings ? v->all.findings[0]
                                    : "held");
        return judged(v);
    }
    v->naddresses = cfg->naddresses;
    v->first_failed = cfg->naddresses;
    if (!(v->per = calloc(cfg->naddresses, sizeof *v->per)))
        return -1;
    for (size_t a = 0; a < cfg->naddresses; a++) {
        wsp_hold_result view;
        if (wsp_hold_address_view(cfg, r, a, &view) != 0)
            return -1;
        wsp_hold_analyse(cfg, &view, &v->per[a]);
        if (wsp_hold_analysis_exit_code(&v->per[a]) == 0) {
            v->addresses_ok++;
        } else if (v->first_failed == cfg->naddresses) {
            v->first_failed = a;
            failure_words(cfg, &view, &v->per[a], &v->cls, why, sizeof why);
        }
        free(view.drops);
    }
    if (v->first_failed < cfg->naddresses) {
        v->exit_code = wsp_hold_analysis_exit_code(&v->per[v->first_failed]);
        snprintf(v->summary, sizeof v->summary, "%zu of %zu addresses held; %s: %s",
                 v->addresses_ok, cfg->naddresses, cfg->addresses[v->first_failed].text, why);
    } else if (!v->all.ok) { /* every address held, the whole's thresholds did not */
        v->exit_code = 1;
        failure_words(cfg, r, &v->all, &v->cls, why, sizeof why);
        snprintf(v->summary, sizeof v->summary, "every address held; across them: %s", why);
    } else {
        snprintf(v->summary, sizeof v->summary, "%zu of %zu addresses held", v->addresses_ok,
                 cfg->naddresses);
    }
    return judged(v);
}

void wsp_hold_verdict_cleanup(wsp_hold_verdict *v)
{
    free(v->per);
    v->per = NULL;
}

/* ---- options ---- */

const wsp_opt wsp_hold_opts[] = {
    {"hold:", 0, WSP_OPT_HEADING, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
    {"duration", 0, WSP_OPT_DURATION, WSP_HOLD_OPT_DURATION, "DUR",
     "how long to hold the connections (default 10m)", 0, 0, NULL, "duration", 0},
    {"per-strategy", 0, WSP_OPT_COUNT, WSP_HOLD_OPT_PER_STRATEGY, "N",
     "connections of each strategy (default 2)", 1, 100000, NULL, "per_strategy", 0},
    {"ping-ladder", 0, WSP_OPT_TEXT, WSP_HOLD_OPT_LADDER, "LIST",
     "one strategy per interval: pings every P (default 30s;\ne.g. 15s,30s,45s,90s)", 0, 0, NULL,
     "ping_ladder", 0},
    {"message-every", 0, WSP_OPT_DURATION, WSP_HOLD_OPT_MESSAGE_EVERY, "DUR",
     "a strategy that sends the --send messages every DUR", 0, 0, NULL, "message_every", 0},
    {"no-silent", 0, WSP_OPT_FLAG, WSP_HOLD_OPT_NO_SILENT, NULL, "leave out the silent strategy", 0,
     0, NULL, "no_silent", 0},
    {"expect-lifetime", 0, WSP_OPT_DURATION, WSP_HOLD_OPT_EXPECT_LIFETIME, "DUR",
     "exit 1 when a kept-alive connection (pings, messages)\nends before DUR", 0, 0, NULL,
     "expect_lifetime", 0},
    {"expect-silent-lifetime", 0, WSP_OPT_DURATION, WSP_HOLD_OPT_EXPECT_SILENT_LIFETIME, "DUR",
     "exit 1 when a silent connection ends before DUR", 0, 0, NULL, "expect_silent_lifetime", 0},
    {"reconnect", 0, WSP_OPT_FLAG, WSP_HOLD_OPT_RECONNECT, NULL,
     "reconnect each dropped connection (backoff with jitter)\nand send the first --send "
     "message once it is back:\nrolling-deploy resilience (1001/1012 are graceful)",
     0, 0, NULL, "reconnect", 0},
    {"threshold", 0, WSP_OPT_TEXT, WSP_HOLD_OPT_THRESHOLD, "EXPR",
     "reconnect_p99<2s, ungraceful<1, lost<1, gap<5s, drops<N\n(repeatable; exit 1 when one "
     "breaks)",
     0, 0, NULL, "threshold", WSP_OPT_REPEAT},
    {NULL, 0, 0, 0, NULL, NULL, 0, 0, NULL, NULL, 0},
};

void wsp_hold_setup_init(wsp_hold_setup *s)
{
    memset(s, 0, sizeof *s);
    s->cfg.duration_us = WSP_HOLD_DEFAULT_DURATION_US;
    s->cfg.per_strategy = 2;
}

int wsp_hold_setup_set(wsp_hold_setup *s, const wsp_opt *o, const char *arg, const wsp_opt_value *v,
                       wsp_err *err)
{
    wsp_hold_config *c = &s->cfg;
    switch (o->id) {
    case WSP_HOLD_OPT_DURATION:
        c->duration_us = v->u;
        s->duration_set = true;
        return 0;
    case WSP_HOLD_OPT_PER_STRATEGY:
        c->per_strategy = (unsigned)v->u;
        return 0;
    case WSP_HOLD_OPT_LADDER: {
        uint64_t ladder[WSP_HOLD_MAX_LADDER];
        size_t n;
        if (wsp_hold_ladder_parse(arg, ladder, WSP_HOLD_MAX_LADDER, &n, err) != 0)
            return -1;
        s->ladder = arg;
        return 0;
    }
    case WSP_HOLD_OPT_MESSAGE_EVERY:
        s->message_every = v->u;
        return 0;
    case WSP_HOLD_OPT_NO_SILENT:
        s->no_silent = true;
        return 0;
    case WSP_HOLD_OPT_EXPECT_LIFETIME:
        c->expect_lifetime_us = v->u;
        return 0;
    case WSP_HOLD_OPT_EXPECT_SILENT_LIFETIME:
        c->expect_silent_lifetime_us = v->u;
        return 0;
    case WSP_HOLD_OPT_RECONNECT:
        c->reconnect = true;
        return 0;
    case WSP_HOLD_OPT_THRESHOLD:
        if (c->nthresholds >= WSP_HOLD_MAX_THRESHOLDS)
            return wsp_err_set(err, WSP_CLASS_USAGE, "at most %d thresholds",
                               WSP_HOLD_MAX_THRESHOLDS);
        if (wsp_hold_threshold_check(arg, err) != 0)
            return -1;
        c->thresholds[c->nthresholds++] = arg;
        return 0;
    default:
        return wsp_err_set(err, WSP_CLASS_INTERNAL, "option --%s is not hold's", o->name);
    }
}

int wsp_hold_setup_add_message(wsp_hold_setup *s, const char *text, wsp_err *err)
{
    if (s->nmessages >= WSP_HOLD_MAX_MESSAGES)
        return wsp_err_set(err, WSP_CLASS_USAGE, "at most %d messages to send while holding",
                           WSP_HOLD_MAX_MESSAGES);
    s->events[s->nmessages] = NULL;
    s->messages[s->nmessages++] = text;
    return 0;
}

int wsp_hold_setup_add_emit(wsp_hold_setup *s, const char *event, const char *args, wsp_err *err)
{
    if (wsp_hold_setup_add_message(s, args ? args : "", err) != 0)
        return -1;
    s->events[s->nmessages - 1] = event;
    return 0;
}

/* One value of a plan key: a string, or true for a flag. */
static int set_json_one(wsp_hold_setup *s, const wsp_opt *o, const json_t *v, const char *label,
                        wsp_err *err)
{
    if (o->type == WSP_OPT_FLAG) {
        if (!json_is_boolean(v))
            return wsp_err_set(err, WSP_CLASS_USAGE, "%s: expected true or false", label);
        return json_is_true(v) ? wsp_hold_setup_set(s, o, NULL, NULL, err) : 0;
    }
    if (!json_is_string(v))
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s: expected a string", label);
    wsp_opt_value ov;
    if (wsp_opt_parse(o, label, json_string_value(v), &ov, err) != 0)
        return -1;
    if (wsp_hold_setup_set(s, o, json_string_value(v), &ov, err) != 0) {
        wsp_err inner = *err;
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s: %s", label, inner.msg);
    }
    return 0;
}

bool wsp_hold_plan_key(const char *key)
{
    const wsp_opt *const tables[] = {wsp_hold_opts, NULL};
    return strcmp(key, "send") == 0 || strcmp(key, "emit") == 0 ||
           wsp_opt_by_plan_key(tables, key) != NULL;
}

void wsp_hold_setup_cleanup(wsp_hold_setup *s)
{
    for (size_t i = 0; i < s->nowned; i++)
        free(s->owned[i]);
    s->nowned = 0;
}

/* A plan's emit 'EVENT JSON' (probe/setup.h), parsed and kept by the setup. */
static int add_emit_text(wsp_hold_setup *s, const char *text, const char *label, wsp_err *err)
{
    char *ev = NULL, *args = NULL;
    if (s->nowned + 2 > sizeof s->owned / sizeof s->owned[0])
        return wsp_err_set(err, WSP_CLASS_USAGE, "at most %d messages to send while holding",
                           WSP_HOLD_MAX_MESSAGES);
    if (wsp_probe_emit_spec(label, text, &ev, &args, err) != 0)
        return -1;
    s->owned[s->nowned++] = ev;
    if (args)
        s->owned[s->nowned++] = args;
    return wsp_hold_setup_add_emit(s, ev, args, err);
}

/* One message of `send` or `emit`. */
static int add_json_message(wsp_hold_setup *s, bool emit, const json_t *v, const char *label,
                            wsp_err *err)
{
    if (!json_is_string(v))
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s: expected a string or a list of them", label);
    return emit ? add_emit_text(s, json_string_value(v), label, err)
                : wsp_hold_setup_add_message(s, json_string_value(v), err);
}

int wsp_hold_setup_set_json(wsp_hold_setup *s, const char *key, const json_t *v, const char *label,
                            wsp_err *err)
{
    const wsp_opt *const tables[] = {wsp_hold_opts, NULL};
    const wsp_opt *o = wsp_opt_by_plan_key(tables, key);
    bool emit = strcmp(key, "emit") == 0, send = emit || strcmp(key, "send") == 0;
    if (!wsp_hold_plan_key(key))
        return wsp_err_set(err, WSP_CLASS_USAGE, "%s: not a key of hold", label);
    bool many = send || (o->flags & WSP_OPT_REPEAT);
    if (many && json_is_array(v)) {
        size_t i;
        const json_t *it;
        json_array_foreach(v, i, it)
        {
            int rc = send ? add_json_message(s, emit, it, label, err)
                          : set_json_one(s, o, it, label, err);
            if (rc != 0)
                return -1;
        }
        return 0;
    }
    if (send)
        return add_json_message(s, emit, v, label, err);
    return set_json_one(s, o, v, label, err);
}

int wsp_hold_setup_from_json(wsp_hold_setup *s, const json_t *params, wsp_err *err)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)params, k, v)
    {
        if (strcmp(k, "name") == 0)
            continue;
        char label[96];
        snprintf(label, sizeof label, "hold.%s", k);
        if (wsp_hold_setup_set_json(s, k, v, label, err) != 0)
            return -1;
    }
    return 0;
}

static void add_strategy(wsp_hold_config *c, wsp_hold_kind kind, uint64_t every_us)
{
    wsp_hold_strategy *s = &c->strategies[c->nstrategies++];
    s->kind = kind;
    s->every_us = every_us;
    char d[24];
    /* whole seconds, else milliseconds with as many decimals as it takes: two rungs of a
     * ladder never share a name (100.2ms and 100.7ms) */
    if (every_us % 1000000 == 0)
        snprintf(d, sizeof d, "%llus", (unsigned long long)(every_us / 1000000));
    else if (every_us % 1000 == 0)
        snprintf(d, sizeof d, "%llums", (unsigned long long)(every_us / 1000));
    else
        snprintf(d, sizeof d, "%gms", (double)every_us / 1000.0);
    snprintf(s->name, sizeof s->name, "%s%s",
             kind == WSP_HOLD_SILENT  ? "silent"
             : kind == WSP_HOLD_PINGS ? "ping-"
                                      : "message-",
             kind == WSP_HOLD_SILENT ? "" : d);
}

int wsp_hold_setup_finish(wsp_hold_setup *s, wsp_err *err)
{
    wsp_hold_config *c = &s->cfg;
    uint64_t ladder[WSP_HOLD_MAX_LADDER];
    size_t nl = 0;
    c->nstrategies = 0;
    if (wsp_hold_ladder_parse(s->ladder ? s->ladder : "30s", ladder, WSP_HOLD_MAX_LADDER, &nl,
                              err) != 0)
        return -1;
    if (!s->no_silent)
        add_strategy(c, WSP_HOLD_SILENT, 0);
    for (size_t i = 0; i < nl; i++) {
        if (ladder[i] >= c->duration_us)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "--ping-ladder%s: %.3g s is not shorter than --duration %.3g s: no "
                               "ping would be sent; %s",
                               s->ladder ? "" : " (the default, 30s)", (double)ladder[i] / 1e6,
                               (double)c->duration_us / 1e6,
                               s->ladder ? "shorten the interval or hold longer"
                                         : "give a --ping-ladder of shorter intervals (like "
                                           "5s,10s) or hold longer");
        add_strategy(c, WSP_HOLD_PINGS, ladder[i]);
    }
    if (s->message_every && !s->nmessages)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--message-every needs --send (the messages to send)");
    if (s->nmessages && !s->message_every && !c->reconnect)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "--send needs --message-every (how often to send it) or "
                           "--reconnect (the conversation after each reconnect)");
    c->conversation = c->reconnect && s->nmessages ? s->messages[0] : NULL;
    if (s->message_every) {
        if (s->message_every >= c->duration_us)
            return wsp_err_set(err, WSP_CLASS_USAGE,
                               "--message-every is not shorter than --duration");
        add_strategy(c, WSP_HOLD_MESSAGES, s->message_every);
    }
    c->messages = s->messages;
    c->nmessages = s->nmessages;
    c->events = s->events;
    return wsp_hold_files_check(c, err);
}

int wsp_hold_resolve_addresses(wsp_hold_config *c, const wsp_probe_config *pc, wsp_err *err)
{
    wsp_probe_each each;
    if (wsp_probe_each_resolve(pc, &each, err) != 0)
        return -1;
    c->naddresses = 0;
    for (size_t i = 0; i < each.n && i < WSP_HOLD_MAX_ADDRESSES; i++) {
        c->addresses[i].ss = each.addrs[i];
        snprintf(c->addresses[i].text, sizeof c->addresses[i].text, "%s", each.text[i]);
        c->naddresses++;
    }
    wsp_probe_each_cleanup(&each);
    return wsp_hold_files_check(c, err);
}

int wsp_hold_files_check(const wsp_hold_config *c, wsp_err *err)
{
    size_t n = wsp_hold_connections(c);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && n + 64 > rl.rlim_cur)
        return wsp_err_set(err, WSP_CLASS_USAGE,
                           "%zu connections (%zu strategies x %u%s) need more file descriptors "
                           "than the limit of %llu allows: raise it (ulimit -n %zu) or hold "
                           "fewer (--per-strategy)",
                           n, c->nstrategies, c->per_strategy,
                           c->naddresses ? " x the addresses" : "", (unsigned long long)rl.rlim_cur,
                           n + 64);
    return 0;
}
