/* load.h - `wsprobe load`: many connections and an open-model message schedule on the probe's
 * engine (conn.h), one libuv loop per thread, with honest latency figures.
 *
 * Model. N connections are opened (at --connect-rate per second, or as fast as a bounded number
 * of handshakes in progress allows). Each open connection follows its own send schedule: message
 * k is intended at t0 + k * N / rate, so the total is `rate` messages per second once every
 * connection is open. At most `pipeline` messages are in flight on a connection; a message whose
 * time has come while the window is full waits, and keeps its intended time. Each reply is
 * matched to the message it answers (echo: the same bytes; JSON: the value at a pointer, with
 * {{sent./pointer}} correlation; text: an expected text; any: the next message) and timed twice:
 * from the intended send time (corrected for coordinated omission: a stall that delays sends is
 * charged to every message it delayed) and from the actual send time.
 *
 * Figures. Every latency is a wsp_hist (hist.h), per thread, merged exactly at the end; the
 * result (wsp_load_result, report/loadresult.h) serialises to JSON with the exact histograms, so
 * runs from several agents merge into exact combined percentiles (wsp_load_result_merge).
 * Failures are counted by class (error.h) with close codes and HTTP statuses; a per-second
 * series follows the run.
 *
 * Thresholds ("p99<50ms", "errors<0.1%", "connect_p95<20ms") and a baseline comparison judge a
 * result; both are pure and unit-tested (load/judge.c). */
#ifndef WSP_LOAD_H
#define WSP_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include <jansson.h>

#include "net/conn.h"
#include "probe/auth.h"
#include "probe/proto.h"
#include "report/loadresult.h"
#include "util/error.h"
#include "util/hist.h"

#define WSP_LOAD_MAX_SOURCES 64
#define WSP_LOAD_MAX_THREADS 64
#define WSP_LOAD_MAX_PIPELINE 1024
#define WSP_LOAD_MAX_CONNECTIONS 1000000
#define WSP_LOAD_MAX_THRESHOLDS 32

/* How a reply is matched to the message it answers. */
typedef enum wsp_load_match {
    WSP_LOAD_MATCH_ANY,  /* the next message answers the oldest one in flight */
    WSP_LOAD_MATCH_ECHO, /* the reply equals what was sent */
    WSP_LOAD_MATCH_JSON, /* the JSON value at `expect_pointer` equals `expect_value` (template) */
    WSP_LOAD_MATCH_TEXT, /* the reply equals `expect_text` (template) */
    WSP_LOAD_MATCH_ACK,  /* --protocol socketio --emit-ack: the ack with the emit's id */
} wsp_load_match;

/* Once a second on the calling thread of wsp_load_run, while it runs (the live line). */
typedef struct wsp_load_tick {
    double elapsed_s;
    uint64_t open;           /* connections open now */
    uint64_t opened, failed; /* so far */
    double sent_per_s, matched_per_s;
    uint64_t p50_ns, p99_ns; /* corrected, over the last second */
    uint64_t errors;         /* so far */
    bool warmup;
} wsp_load_tick;

/* What to run. Everything is borrowed for the duration of wsp_load_run. */
typedef struct wsp_load_config {
    const wsp_conn_opts *conn; /* url, TLS context, timeouts, headers, limits, pins */
    const wsp_auth *auth;      /* NULL or inactive: no credentials; else a token per connection */
    const char *url_text;      /* for reports (redacted there) */
    size_t connections;        /* 1..WSP_LOAD_MAX_CONNECTIONS */
    double connect_rate;       /* new connections per second in total; 0: as fast as allowed */
    double rate;               /* messages per second in total; 0: connections only (idle) */
    uint64_t duration_us;      /* measured time, after the warm-up */
    uint64_t warmup_us;        /* sent and matched, not measured */
    unsigned threads;          /* 1..WSP_LOAD_MAX_THREADS */
    unsigned pipeline;         /* messages in flight per connection, 1..WSP_LOAD_MAX_PIPELINE */
    const char *message;       /* template (template.h); required when rate > 0 */
    size_t message_len;
    bool message_binary; /* sent as binary frames (--send-binary), placeholders not filled */
    wsp_load_match match;
    bool strict_order;          /* ECHO, TEXT: a reply that matches nothing in flight is a mismatch
                                 * (default: unrelated, skipped and counted as unexpected) */
    const char *expect_pointer; /* JSON */
    const char *expect_value;   /* JSON: template, may use {{sent./pointer}} */
    const char *expect_text;    /* TEXT: template */
    const struct sockaddr_storage *sources; /* --source-ip addresses (port 0), or NULL */
    size_t num_sources;
    uint64_t reply_timeout_us; /* a reply later than this is a WS_MSG_TIMEOUT; 0: conn timeout */
    /* --ping-interval: a ping on every open connection this often (0: none), its pong timed
     * apart from messages; one later than the reply timeout is a WS_PONG_TIMEOUT */
    uint64_t ping_interval_us;
    uint64_t drain_us; /* wait for replies in flight at the end; 0: 2 s */
    /* wake-ups for sends fall on a grid of this step (0: at each send's time, to the
     * nanosecond); a coarser grid costs less CPU per message and sends up to one step late,
     * which the corrected latency shows */
    uint64_t timer_slack_us; /* WSP_LOAD_SLACK_AUTO: from the rate and the measured latency */
    /* --protocol: every connection does the protocol's handshake (it counts as open once the
     * namespace connected or connection_ack came) and answers its pings. With Socket.IO a
     * message is an emit of `event` whose arguments are `message`; the reply is the ack
     * (MATCH_ACK), or an event named `reply_event` (MATCH_ANY, or MATCH_JSON on its arguments
     * as a JSON array). NULL: plain WebSocket. */
    const wsp_proto_config *proto;
    const char *event;
    const char *reply_event;
    /* --processes: this run is agent `agent_index` of `agents` (0 or 1: a run on its own).
     * Its connection i is connection agents * i + agent_index of the whole run, which places
     * its sends in the whole run's phases; every agent starts at `start_ns` (uv_hrtime(), 0:
     * a few ms from now) so that their seconds line up. */
    unsigned agent_index, agents;
    uint64_t start_ns;
    bool handle_sigint; /* SIGINT ends the run early with a partial result */
    void (*on_tick)(const wsp_load_tick *t, void *ud);
    void *tick_ud;
} wsp_load_config;

/* The default send window: sends due within it leave in one wake-up of their thread. */
#define WSP_LOAD_SLACK_AUTO UINT64_MAX
/* The window the default picks, in us, for `rate` messages per second over `threads` threads
 * and the median latency measured from the actual send in the last second (0: none yet): none
 * under 2,000 sends per second and thread (a wake-up each is cheap there), else 500 us (ten
 * or more sends share each wake-up; each leaves at most that late, which the send lateness
 * and the corrected latency show), widened to a twentieth of the measured latency when that
 * is more, up to WSP_LOAD_SLACK_AUTO_MAX_US (a slow server's replies hide a window that small,
 * and fewer wake-ups cost less). Re-chosen every second. */
#define WSP_LOAD_SLACK_AUTO_US 500
#define WSP_LOAD_SLACK_AUTO_MAX_US 5000
uint64_t wsp_load_auto_slack(double rate, unsigned threads, uint64_t latency_ns);

/* Defaults: 1 connection, no rate, 10 s, 1 thread, pipeline 1, echo off (ANY), the send
 * window automatic. */
void wsp_load_config_init(wsp_load_config *cfg);

/* Run the load to completion (or SIGINT, or every connection gone). Fills `out` (from _new).
 * Returns 0, or -1 with err when it could not start (threads, memory): a run whose
 * connections all failed still returns 0 with the failures counted. */
int wsp_load_run(const wsp_load_config *cfg, wsp_load_result *out, wsp_err *err);

/* ---- past one process (load/procs.c) ---- */

#define WSP_LOAD_MAX_PROCESSES 64

/* Run `cfg` over `processes` worker processes (forked; 2..WSP_LOAD_MAX_PROCESSES), each a load
 * agent with its share of the connections, of both rates and of the threads (at least one),
 * and merge their results into `out` as load-merge does (counters add, histograms merge
 * exactly, the series' percentiles are the maximum over agents). cfg->on_tick gets the agents'
 * ticks added up (the percentiles: the highest agent's). SIGINT is forwarded to the agents,
 * which end early with partial results. Returns 0, or -1 with err when an agent could not
 * start, ended without a result, or the agents could not be merged: a run that is missing a
 * share of its connections is never reported as a whole one. */
int wsp_load_run_processes(const wsp_load_config *cfg, unsigned processes, wsp_load_result *out,
                           wsp_err *err);

/* ---- the schedule (pure) ---- */

/* A connection's send schedule: message k is intended at t0 + k * interval. */
typedef struct wsp_load_sched {
    uint64_t t0, interval_ns, end; /* end: no message intended at or after it (0: none) */
    uint64_t next;                 /* index of the next message */
} wsp_load_sched;

/* interval between two messages of one connection, in ns: connections / rate seconds. */
uint64_t wsp_load_interval_ns(size_t connections, double rate);
/* A connection's first send offset within one interval, spread evenly by its index. */
uint64_t wsp_load_phase_offset(size_t index, uint64_t interval_ns);
/* The intended time of the next message, or UINT64_MAX when the schedule has ended. */
uint64_t wsp_load_sched_next(const wsp_load_sched *s);
/* How many messages are due at `now` and not yet taken. */
uint64_t wsp_load_sched_due(const wsp_load_sched *s, uint64_t now);
/* Take the next message: returns its intended time and advances. */
uint64_t wsp_load_sched_take(wsp_load_sched *s);

/* ---- thresholds (pure) ---- */

/* the order of util/threshold.h wsp_threshold_op */
typedef enum wsp_load_op { WSP_LOAD_LT, WSP_LOAD_LE, WSP_LOAD_GT, WSP_LOAD_GE } wsp_load_op;

typedef enum wsp_load_metric_kind {
    WSP_LOAD_M_LATENCY,     /* a percentile (or max, mean) of a histogram, ns */
    WSP_LOAD_M_ERROR_RATE,  /* errors / attempts of their kind, a fraction */
    WSP_LOAD_M_ERRORS,      /* a count */
    WSP_LOAD_M_RATE,        /* matched replies per second */
    WSP_LOAD_M_CONNECTIONS, /* connections opened */
} wsp_load_metric_kind;

typedef enum wsp_load_hist_sel {
    WSP_LOAD_H_LATENCY,
    WSP_LOAD_H_UNCORRECTED,
    WSP_LOAD_H_PHASE, /* + phase */
    WSP_LOAD_H_PONG,  /* --ping-interval's pong round trips */
} wsp_load_hist_sel;

/* What an error threshold counts: errors of both kinds (a rate: each kind over its own
 * denominator, the worse of the two), or of one kind. */
typedef enum wsp_load_error_scope {
    WSP_LOAD_E_ALL,
    WSP_LOAD_E_CONNECTIONS, /* connection_errors: failed / attempted */
    WSP_LOAD_E_MESSAGES,    /* message_errors: timed out, mismatched or lost / sent */
} wsp_load_error_scope;

typedef struct wsp_load_threshold {
    char text[64]; /* as written */
    wsp_load_metric_kind kind;
    wsp_load_error_scope scope; /* ERROR_RATE, ERRORS */
    wsp_load_hist_sel hist;
    wsp_load_phase phase;
    double percentile; /* 0..100; 100: max; -1: mean */
    wsp_load_op op;
    double limit; /* ns for latencies, a fraction for error rates, else a number */
} wsp_load_threshold;

/* Parse "METRIC OP VALUE": METRIC is p50, p90, p95, p99, p99.9 (or p999), max, mean, each
 * optionally prefixed by uncorrected_ or a phase (resolve_, connect_, tls_, upgrade_,
 * handshake_); or errors (with % a rate, else a count), error_rate, optionally as
 * connection_errors, message_errors (one kind: see wsp_load_error_scope); rate (matched per
 * second), connections (opened). OP is <, <=, >, >=. Latencies need a unit: ns, us, ms, s. Spaces
 * are allowed around the operator. Returns 0, or -1 with err (USAGE) saying what is wrong. */
int wsp_load_threshold_parse(const char *text, wsp_load_threshold *t, wsp_err *err);
/* The metric's value in `r` (ns, fraction, count) into *value; returns whether the threshold
 * holds. A latency with no samples does not hold (*value is NAN). */
bool wsp_load_threshold_eval(const wsp_load_threshold *t, const wsp_load_result *r, double *value);
/* Format a metric value for people: "12.3ms", "0.05%", "20000/s", "42". */
void wsp_load_threshold_format(const wsp_load_threshold *t, double value, char *buf, size_t cap);

/* ---- the default gates (pure) ---- */

/* Without a --threshold of its kind, a run fails (exit 1) when a connection failed or never
 * opened (the ramp did not reach it, or its handshake was unfinished at the end), a message
 * was lost or unanswered, the offered rate was not reached within 5 %, or a ping got no pong
 * in time. A threshold of the
 * kind replaces the gate (wsp_load_gate.replaced_by); docs/load.md has the mapping. */
typedef enum wsp_load_gate_kind {
    WSP_LOAD_GATE_CONNECTIONS, /* connections failed (to open, or dropped later) or never opened */
    WSP_LOAD_GATE_MESSAGES,    /* messages timed out, mismatched or lost (with --rate) */
    WSP_LOAD_GATE_RATE,        /* matched replies per second >= 95 % of --rate */
    WSP_LOAD_GATE_PINGS,       /* pings without a pong in time (with --ping-interval) */
    WSP_LOAD_GATES,
} wsp_load_gate_kind;

#define WSP_LOAD_RATE_GATE 0.95

typedef struct wsp_load_gate {
    const char *name;        /* "connections", "messages", "rate", "pings" */
    bool applies;            /* messages, rate: only when messages were offered (--rate) */
    bool held;               /* what the gate says of the run on its own */
    bool ok;                 /* held, or replaced: it does not fail the run */
    double value, limit;     /* failures and 0 allowed; or matched/s and 95 % of --rate */
    double of;               /* connections asked for, messages sent, --rate */
    double not_opened;       /* connections: of those failing it, never opened (nor failed) */
    const char *replaced_by; /* the text of the --threshold that judges instead, or NULL */
} wsp_load_gate;

/* Evaluate the gates of `r` given the thresholds in force. */
void wsp_load_gates_eval(const wsp_load_result *r, const wsp_load_threshold *th, size_t nth,
                         wsp_load_gate out[WSP_LOAD_GATES]);
/* For people: "20 of 30 failed (66.67%)", "940/s of 1000/s offered (limit 950/s)". */
void wsp_load_gate_format(const wsp_load_gate *g, char *buf, size_t cap);

/* ---- baseline comparison (pure) ---- */

typedef struct wsp_load_tolerance {
    double latency_rel;    /* allowed relative increase of p50 and p99 (0.2: 20 %) */
    uint64_t latency_abs;  /* and an absolute floor in ns below which a change is noise */
    double error_rate_abs; /* allowed increase of each error rate (0.001: 0.1 point) */
} wsp_load_tolerance;

#define WSP_LOAD_COMPARE_ITEMS 4

typedef struct wsp_load_compare_item {
    const char *name; /* "p50", "p99", "connection_error_rate", "message_error_rate" */
    double baseline, current, limit;
    bool regressed;
} wsp_load_compare_item;

typedef struct wsp_load_compare {
    wsp_load_compare_item items[WSP_LOAD_COMPARE_ITEMS];
    bool regressed;
} wsp_load_compare;

/* Compare p50 and p99 (corrected) and the two error rates of `cur` with `base`. */
void wsp_load_compare_results(const wsp_load_result *base, const wsp_load_result *cur,
                              const wsp_load_tolerance *tol, wsp_load_compare *out);

#endif
